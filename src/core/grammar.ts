/**
 * The sweep command grammar, shared by the CLI and Slack: targets, then `key:value` (or `key=value`) options.
 * README, "Using the CLI", shows it in use. Every error is one sentence naming the bad token and a valid example.
 */
import { addSweepPorts, describePorts } from './ports.js';
import { parseDiagTokens, parseTraceTokens } from './trace-grammar.js';
import type { DiagRequest } from './trace-grammar.js';
import type { TraceRequest } from './trace.js';
import { ConfigError, EmptySweepError, InvalidOptionError, InvalidTargetError, SweepTooLargeError } from './errors.js';
import { DEFAULT_OPTIONS, SWEEP_LIMITS, VANTAGES } from './request.js';
import type { SweepOptions, SweepRequest, TargetSpec, Vantages } from './request.js';
import { AddressSet, parseTargetToken, quoteToken } from './targets.js';
import { parseWatchCommand } from './watch-grammar.js';
import type { WatchCommand } from './watch-grammar.js';

/** Default cap on the distinct addresses of one sweep: 65,536 (an IPv4 /16 is 65,534 probed addresses). */
export const DEFAULT_MAX_ADDRESSES = SWEEP_LIMITS.addresses.default;

export interface GrammarLimits {
  /** Most distinct addresses one sweep may probe (names are counted later, once resolved); default 65,536. */
  maxAddresses?: number;
}

export type Command =
  | { kind: 'help' }
  | { kind: 'agents' }
  | { kind: 'history'; target?: string }
  /** The channel's own baselines (saved with save:NAME or the button). */
  | { kind: 'baselines' }
  /** Deletes the channel's baseline `name` (lower-cased, as save:NAME stores it). */
  | { kind: 'forget'; name: string }
  | { kind: 'sweep'; request: SweepRequest }
  | { kind: 'trace'; request: TraceRequest }
  | { kind: 'diag'; request: DiagRequest }
  | WatchCommand;

type NumericKey = 'count' | 'timeout' | 'retries' | 'rate' | 'interval';

interface NumericRule {
  field: 'count' | 'timeoutMs' | 'retries' | 'rate' | 'intervalMs';
  min: number;
  max: number;
  example: string;
  /** Accepts a `ms` or `s` suffix (value in milliseconds). */
  duration?: boolean;
}

const NUMERIC_RULES: Readonly<Record<NumericKey, NumericRule>> = {
  count: { field: 'count', ...SWEEP_LIMITS.count, example: 'count:5' },
  timeout: { field: 'timeoutMs', ...SWEEP_LIMITS.timeoutMs, example: 'timeout:800', duration: true },
  retries: { field: 'retries', ...SWEEP_LIMITS.retries, example: 'retries:2' },
  rate: { field: 'rate', ...SWEEP_LIMITS.rate, example: 'rate:5000' },
  interval: { field: 'intervalMs', ...SWEEP_LIMITS.intervalMs, example: 'interval:200', duration: true },
};

/** Every option key, in the order describeRequest writes them. */
export const OPTION_KEYS = ['tcp', 'count', 'timeout', 'retries', 'rate', 'interval', 'dns', 'vpc', 'from', 'save', 'compare'] as const;
type OptionKey = (typeof OPTION_KEYS)[number];

const OPTION_EXAMPLES: Readonly<Record<OptionKey, string>> = {
  tcp: 'tcp:22,5432',
  count: NUMERIC_RULES.count.example,
  timeout: NUMERIC_RULES.timeout.example,
  retries: NUMERIC_RULES.retries.example,
  rate: NUMERIC_RULES.rate.example,
  interval: NUMERIC_RULES.interval.example,
  vpc: 'vpc:prod',
  from: 'from:all',
  save: 'save:before-cutover',
  compare: 'compare:before-cutover',
  dns: 'dns:on',
};

const VPC_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** Baseline names (save:NAME, compare:NAME). */
export const BASELINE_NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const WHOLE_NUMBER = /^[0-9]+$/;
const DURATION = /^([0-9]+)(ms|s)?$/;
/** A key made only of letters (and `_`): `dead:beef::1` still has to be tried as an IPv6 address first. */
const OPTION_SHAPE = /^([a-z_]+):(.*)$/is;
const DASH_PREFIX = /^[-\u2010-\u2015\u2212]+/;
const QUOTES = /^[`"'\u2018\u2019\u201c\u201d]+|[`"'\u2018\u2019\u201c\u201d]+$/g;
const INVISIBLE_SEPARATORS = /[\u200b-\u200d\u2060]/g;

function isOptionKey(key: string): key is OptionKey {
  return (OPTION_KEYS as readonly string[]).includes(key);
}

function formatCount(value: bigint | number): string {
  return value.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/**
 * Undoes what Slack does to a message: `<http://db.example.com|db.example.com>` becomes its label, `<mailto:…>`
 * and `<http://…>` lose their scheme, and odd spaces (non-breaking, zero-width) become plain spaces. Then splits on
 * whitespace and strips the quotes and backticks around each word.
 */
export function tokenize(text: string): string[] {
  const unwrapped = text
    .replace(/<([^<>|]*)\|([^<>]*)>/g, '$2')
    .replace(/<([^<>|]*)>/g, (_match, inner: string) => inner.replace(/^(https?|mailto|ftp):(\/\/)?/i, '').replace(/\/$/, ''))
    .replace(INVISIBLE_SEPARATORS, ' ');
  const tokens: string[] = [];
  for (const word of quotedValues(unwrapped).split(/\s+/)) {
    const token = word.replace(QUOTES, '').replaceAll(KEPT_SPACE, ' ');
    if (token !== '') {
      tokens.push(token);
    }
  }
  return tokens;
}

/** Stands for a space inside a quoted option value while the text is split on spaces. */
const KEPT_SPACE = '\u0000';
/** An option's value in quotes: `save:"before cutover"`, `compare:'x'`, with straight or curly quotes. */
const QUOTED_VALUE = /\b([a-z_]+:)(?:"([^"]*)"|'([^']*)'|\u201c([^\u201d]*)\u201d|\u2018([^\u2019]*)\u2019)/gi;

/** Each quoted option value made one word, without its quotes: what it says is then judged whole, spaces and all. */
function quotedValues(text: string): string {
  return text.replace(QUOTED_VALUE, (_match, key: string, ...values: (string | undefined)[]) => {
    const value = values.slice(0, 4).find((v) => v !== undefined) ?? '';
    return `${key}${value.replace(/\s/g, KEPT_SPACE)}`;
  });
}

const VALID_KEYS_TEXT = OPTION_KEYS.join(', ');

function unknownOptionError(token: string, key: string): InvalidOptionError {
  const portsHint = /^ports?$/i.test(key) ? ' (ports go in tcp:, e.g. tcp:22)' : '';
  return new InvalidOptionError(
    `${quoteToken(token)} is not a known option or target: ${quoteToken(key)} is not an option${portsHint}; valid options are ${VALID_KEYS_TEXT}, e.g. count:5`,
  );
}

function dashOptionError(token: string): InvalidOptionError {
  const bare = token.replace(DASH_PREFIX, '');
  const match = /^([^:=]*)[:=]?(.*)$/s.exec(bare);
  const key = (match?.[1] ?? '').toLowerCase();
  const value = match?.[2] ?? '';
  const example = isOptionKey(key) ? (value !== '' && !/\s/.test(value) ? `${key}:${value}` : OPTION_EXAMPLES[key]) : 'count:5';
  if (bare === '') {
    return new InvalidOptionError(
      `${quoteToken(token)} on its own is not valid: write a range without spaces, e.g. 10.0.3.5-20, and options as key:value, e.g. count:5`,
    );
  }
  return new InvalidOptionError(
    `${quoteToken(token)} starts with a dash, which is not supported: options are written key:value, e.g. ${quoteToken(example)}`,
  );
}

function parseNumeric(token: string, key: NumericKey, value: string): number {
  const rule = NUMERIC_RULES[key];
  const range = `from ${formatCount(rule.min)} to ${formatCount(rule.max)}`;
  const valid = rule.duration
    ? `${key} takes whole milliseconds ${range} (or whole seconds like 2s), e.g. ${rule.example}`
    : `${key} takes a whole number ${range}, e.g. ${rule.example}`;
  let parsed: number;
  if (rule.duration) {
    const match = DURATION.exec(value);
    if (!match) {
      throw new InvalidOptionError(`${quoteToken(token)} is not a whole number: ${valid}`);
    }
    parsed = Number(match[1]) * (match[2] === 's' ? 1000 : 1);
  } else {
    if (!WHOLE_NUMBER.test(value)) {
      throw new InvalidOptionError(`${quoteToken(token)} is not a whole number: ${valid}`);
    }
    parsed = Number(value);
  }
  if (parsed < rule.min || parsed > rule.max) {
    throw new InvalidOptionError(`${quoteToken(token)} is out of range: ${valid}`);
  }
  return parsed;
}

/** The largest IPv4 CIDR (smallest prefix) whose probed addresses fit the cap, e.g. 16 for 65,536. */
function largestPrefixWithin(maxAddresses: number): number | undefined {
  for (let prefix = 0; prefix <= 32; prefix += 1) {
    const size = 2 ** (32 - prefix) - (prefix <= 30 ? 2 : 0);
    if (size <= maxAddresses) {
      return prefix;
    }
  }
  return undefined;
}

function checkLimits(limits: GrammarLimits | undefined): number {
  const maxAddresses = limits?.maxAddresses ?? DEFAULT_MAX_ADDRESSES;
  if (!Number.isSafeInteger(maxAddresses) || maxAddresses < 1) {
    throw new ConfigError(`maxAddresses ${String(maxAddresses)} is not valid: it is a whole number of at least 1, e.g. 65536`);
  }
  return maxAddresses;
}

/**
 * Parses the text of a sweep (`10.0.1.0/24 10.0.2.10 tcp:rds count:3`) into a request. Throws InvalidTargetError,
 * InvalidOptionError, EmptySweepError or SweepTooLargeError, each with a one-sentence message for the user.
 */
export function parseSweepText(text: string, limits?: GrammarLimits): SweepRequest {
  const maxAddresses = checkLimits(limits);
  return parseSweepTokens(tokenize(text), maxAddresses);
}

function parseSweepTokens(tokens: readonly string[], maxAddresses: number): SweepRequest {
  const targets: TargetSpec[] = [];
  const seenTargets = new Set<string>();
  const ports = new Set<number>();
  const options: SweepOptions = { ...DEFAULT_OPTIONS, ports: [] };
  const given = new Map<OptionKey, string>();

  const addTargets = (specs: TargetSpec[]): void => {
    for (const spec of specs) {
      if (!seenTargets.has(spec.text)) {
        seenTargets.add(spec.text);
        targets.push(spec);
      }
    }
  };

  for (const token of tokens) {
    if (DASH_PREFIX.test(token)) {
      throw dashOptionError(token);
    }
    const option = splitOption(token);
    if (option === undefined) {
      addTargets(parseTargetList(token));
      continue;
    }
    const { key, value } = option;
    if (!isOptionKey(key)) {
      // Letters-only "keys" may be the first group of an IPv6 address: dead:beef::1.
      const asTargets = tryParseTargetList(token);
      if (asTargets !== undefined) {
        addTargets(asTargets);
        continue;
      }
      throw unknownOptionError(token, option.rawKey);
    }
    const previous = given.get(key);
    if (previous !== undefined && key !== 'tcp') {
      throw new InvalidOptionError(
        `${quoteToken(token)} repeats ${key}, already given as ${quoteToken(previous)}: give each option once, e.g. ${OPTION_EXAMPLES[key]}`,
      );
    }
    given.set(key, token);
    if (key === 'tcp') {
      addSweepPorts(token, value, ports);
    } else if (key === 'vpc') {
      // `vpc:onprem,prod` (with from:) names several groups: each sweeps the same targets.
      const names = [...new Set(value.toLowerCase().split(','))];
      for (const name of names) {
        if (!VPC_NAME.test(name)) {
          throw new InvalidOptionError(
            `${quoteToken(token)} is not a valid agent group: vpc takes a name of letters, digits, '-' and '_' (up to 63, starting with a letter or digit) or all, e.g. vpc:prod`,
          );
        }
      }
      if (names.length > 1) {
        if (names.includes('all')) {
          throw new InvalidOptionError(`${quoteToken(token)} lists all with other groups: vpc:all is every group on its own, e.g. vpc:all or vpc:onprem,prod from:each`);
        }
        options.vpcs = names.sort();
      } else {
        options.vpc = names[0];
      }
    } else if (key === 'from') {
      const from = value.toLowerCase();
      if (!(VANTAGES as readonly string[]).includes(from)) {
        throw new InvalidOptionError(
          `${quoteToken(token)} is not valid: from takes all (the same targets from every live agent of the group) or each (from each group of vpc:a,b), e.g. from:all`,
        );
      }
      options.from = from as Vantages;
    } else if (key === 'dns') {
      const onOff = value.toLowerCase();
      if (onOff !== 'on' && onOff !== 'off') {
        throw new InvalidOptionError(`${quoteToken(token)} is not valid: dns takes on or off (the PTR names of the hosts that answer), e.g. dns:on`);
      }
      if (onOff === 'on') options.dns = true;
    } else if (key === 'save' || key === 'compare') {
      const name = value.toLowerCase();
      if (!BASELINE_NAME.test(name)) {
        // A quoted value with spaces is shown in its quotes: one value, not two words.
        const shown = /\s/.test(value) ? `${key}:"${value}"` : token;
        throw new InvalidOptionError(
          `${quoteToken(shown)} is not a valid baseline name: ${key} takes letters, digits, '.', '-' and '_' (up to 63, starting with a letter or digit), e.g. ${OPTION_EXAMPLES[key]}`,
        );
      }
      options[key] = name;
    } else {
      options[NUMERIC_RULES[key].field] = parseNumeric(token, key, value);
    }
  }

  options.ports = [...ports].sort((a, b) => a - b);
  checkVantages(options, given);
  // vpc:all alone sweeps every group's declared CIDRs: the dispatcher supplies the targets.
  if (targets.length === 0 && options.vpc !== 'all') {
    const optionsText = tokens.length > 0 ? ` (only options were given: ${quoteToken(tokens.join(' '))})` : '';
    throw new EmptySweepError(`nothing to sweep${optionsText}: give at least one target, e.g. 10.0.1.0/24`);
  }
  checkSize(targets, maxAddresses);
  return { targets, options };
}

/** `vpc:a,b` needs `from:`, and `from:each` needs `vpc:a,b`: several vantages are asked for in so many words. */
function checkVantages(options: SweepOptions, given: ReadonlyMap<OptionKey, string>): void {
  const vpcToken = quoteToken(given.get('vpc') ?? '');
  if (options.vpcs && options.from === undefined) {
    throw new InvalidOptionError(
      `${vpcToken} names several groups: say how to sweep from them, e.g. ${given.get('vpc') ?? 'vpc:onprem,prod'} from:each (each group) or from:all (every agent of each)`,
    );
  }
  if (options.from === 'each' && !options.vpcs) {
    throw new InvalidOptionError(
      `${quoteToken(given.get('from') ?? 'from:each')} sweeps the same targets from each of several groups: name two or more, e.g. vpc:onprem,prod from:each`,
    );
  }
}

function splitOption(token: string): { key: string; rawKey: string; value: string } | undefined {
  const equals = token.indexOf('=');
  const colon = token.indexOf(':');
  // '=' never appears in a target, so `x=y` is always an option; `x:y` only when x is letters (not `fe80::1`).
  if (equals >= 0 && (colon < 0 || equals < colon)) {
    const rawKey = token.slice(0, equals);
    return { key: rawKey.toLowerCase(), rawKey, value: token.slice(equals + 1) };
  }
  const match = OPTION_SHAPE.exec(token);
  if (match === null) {
    return undefined;
  }
  const rawKey = match[1] ?? '';
  return { key: rawKey.toLowerCase(), rawKey, value: match[2] ?? '' };
}

function tryParseTargetList(token: string): TargetSpec[] | undefined {
  try {
    return parseTargetList(token);
  } catch {
    return undefined;
  }
}

/** A target word may hold several targets separated by commas: `10.0.1.0/24,10.0.2.10`. */
function parseTargetList(token: string): TargetSpec[] {
  const specs: TargetSpec[] = [];
  for (const piece of token.split(',')) {
    if (piece === '') {
      continue;
    }
    const option = splitOption(piece);
    if (option !== undefined && isOptionKey(option.key) && piece !== token) {
      throw new InvalidOptionError(
        `${quoteToken(piece)} in ${quoteToken(token)} must be a word of its own: put a space before it, e.g. 10.0.1.0/24 ${OPTION_EXAMPLES[option.key]}`,
      );
    }
    specs.push(parseTargetToken(piece));
  }
  return specs;
}

function checkSize(targets: readonly TargetSpec[], maxAddresses: number): void {
  const size = AddressSet.fromSpecs(targets).size;
  if (size <= BigInt(maxAddresses)) {
    return;
  }
  const prefix = largestPrefixWithin(maxAddresses);
  const hint = prefix === undefined ? '' : ` (a /${prefix} or smaller)`;
  const addressTargets = targets.filter((spec) => spec.kind !== 'name').map((spec) => spec.text);
  const what =
    addressTargets.length === 1
      ? `${quoteToken(addressTargets[0] ?? '')} is`
      : `${addressTargets.slice(0, 3).join(', ')}${addressTargets.length > 3 ? ` and ${addressTargets.length - 3} more` : ''} together are`;
  throw new SweepTooLargeError(
    `${what} ${formatCount(size)} ${addressTargets.length === 1 ? '' : 'distinct '}addresses; a sweep may probe at most ${formatCount(maxAddresses)}${hint}`,
  );
}

/**
 * Parses a whole command: empty text or `help` → help, `agents`, `history [target]`, `baselines`, `forget NAME`,
 * the watch commands (`watch`, `watches`, `unwatch`, `mute`), anything else a sweep. A host really named like a
 * command can be swept with a trailing dot (`help.`).
 */
export function parseCommand(text: string, limits?: GrammarLimits): Command {
  const maxAddresses = checkLimits(limits);
  const tokens = tokenize(text);
  const first = tokens[0];
  if (first === undefined) {
    return { kind: 'help' };
  }
  const word = first.toLowerCase();
  if (word === 'help' || word === '--help' || word === '-h') {
    return { kind: 'help' };
  }
  if (word === 'agents') {
    if (tokens.length > 1) {
      throw new InvalidOptionError(
        `${quoteToken(tokens[1] ?? '')} is not valid after agents: agents takes nothing after it, e.g. agents`,
      );
    }
    return { kind: 'agents' };
  }
  if (word === 'baselines') {
    if (tokens.length > 1) {
      throw new InvalidOptionError(`${quoteToken(tokens[1] ?? '')} is not valid after baselines: baselines takes nothing after it, e.g. baselines`);
    }
    return { kind: 'baselines' };
  }
  if (word === 'forget') {
    const usage = 'forget takes the name of one of this channel’s baselines, e.g. forget before-cutover';
    const name = tokens[1];
    if (name === undefined) throw new InvalidOptionError(`a baseline name is missing: ${usage}`);
    if (tokens.length > 2) throw new InvalidOptionError(`${quoteToken(tokens[2] ?? '')} is one word too many: ${usage}`);
    const lower = name.toLowerCase();
    if (!BASELINE_NAME.test(lower)) {
      throw new InvalidOptionError(
        `${quoteToken(name)} is not a baseline name: names are letters, digits, '.', '-' and '_' (up to 63, starting with a letter or digit); ${usage}`,
      );
    }
    return { kind: 'forget', name: lower };
  }
  // trace and diag: one host each (`trace.` is a host named trace).
  if (word === 'trace') return { kind: 'trace', request: parseTraceTokens(tokens.slice(1)) };
  if (word === 'diag') return { kind: 'diag', request: parseDiagTokens(tokens.slice(1)) };
  if (word === 'history') {
    const target = tokens[1];
    if (tokens.length > 2) {
      throw new InvalidTargetError(
        `${quoteToken(tokens[2] ?? '')} is one word too many: history takes at most one target, e.g. history 10.0.1.0/24`,
      );
    }
    if (target === undefined) {
      return { kind: 'history' };
    }
    if (DASH_PREFIX.test(target) || (splitOption(target) !== undefined && tryParseTargetList(target) === undefined)) {
      throw new InvalidTargetError(
        `${quoteToken(target)} is not a target: history takes at most one target, e.g. history 10.0.1.0/24`,
      );
    }
    if (target.includes(',')) {
      throw new InvalidTargetError(
        `${quoteToken(target)} is several targets: history takes at most one target, e.g. history 10.0.1.0/24`,
      );
    }
    return { kind: 'history', target: parseTargetToken(target).text };
  }
  const watch = parseWatchCommand(tokens, (rest) => parseSweepTokens(rest, maxAddresses));
  if (watch) return watch;
  return { kind: 'sweep', request: parseSweepTokens(tokens, maxAddresses) };
}

/**
 * Short canonical text of a request: targets, then the options that differ from the defaults, in a fixed order,
 * e.g. `10.0.1.0/24 tcp:22,5432 count:5`. It parses back to the same request.
 */
export function describeRequest(request: SweepRequest): string {
  const { options } = request;
  const words = request.targets.map((spec) => spec.text);
  if (options.ports.length > 0) {
    words.push(`tcp:${describePorts(options.ports)}`);
  }
  const numeric: ReadonlyArray<[NumericKey, number, number]> = [
    ['count', options.count, DEFAULT_OPTIONS.count],
    ['timeout', options.timeoutMs, DEFAULT_OPTIONS.timeoutMs],
    ['retries', options.retries, DEFAULT_OPTIONS.retries],
    ['rate', options.rate, DEFAULT_OPTIONS.rate],
    ['interval', options.intervalMs, DEFAULT_OPTIONS.intervalMs],
  ];
  for (const [key, value, fallback] of numeric) {
    if (value !== fallback) {
      words.push(`${key}:${value}`);
    }
  }
  if (options.dns) words.push('dns:on');
  if (options.vpc !== undefined) {
    words.push(`vpc:${options.vpc}`);
  }
  if (options.vpcs !== undefined) words.push(`vpc:${options.vpcs.join(',')}`);
  if (options.from !== undefined) words.push(`from:${options.from}`);
  if (options.save !== undefined) words.push(`save:${options.save}`);
  if (options.compare !== undefined) words.push(`compare:${options.compare}`);
  return words.join(' ');
}
