/**
 * The words of `trace` and `diag`, shared by the CLI and Slack (after the command word):
 *
 * ```
 * trace <host> [tcp:PORT | udp | icmp] [count:N] [max:HOPS] [timeout:MS] [dns:on] [vpc:NAME]
 * diag  <host> [tcp:PORTS] [vpc:NAME]
 * ```
 * One host: an address or a name (a CIDR or a range is refused). Errors are one sentence with a valid example.
 */
import { InvalidOptionError, InvalidTargetError } from './errors.js';
import { portPreset } from './ports.js';
import { DEFAULT_TRACE_OPTIONS, DIAG_LIMITS, TRACE_LIMITS } from './trace.js';
import type { TraceOptions, TraceRequest } from './trace.js';
import { parseTargetToken, quoteToken } from './targets.js';

export interface DiagOptions {
  /** TCP ports to connect to, and the first of them for the TCP trace when ICMP is filtered; default 443. */
  ports: number[];
  vpc?: string;
}

export interface DiagRequest {
  target: TraceRequest['target'];
  options: DiagOptions;
}

/** Most ports one diag connects to. */
export const MAX_DIAG_PORTS = DIAG_LIMITS.ports.max;

const VPC_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const OPTION = /^([a-z]+)[:=](.*)$/i;

interface NumberRule {
  field: 'count' | 'maxHops' | 'timeoutMs';
  min: number;
  max: number;
  example: string;
}

const TRACE_NUMBERS: Record<string, NumberRule> = {
  count: { field: 'count', ...TRACE_LIMITS.count, example: 'count:5' },
  max: { field: 'maxHops', ...TRACE_LIMITS.maxHops, example: 'max:20' },
  timeout: { field: 'timeoutMs', ...TRACE_LIMITS.timeoutMs, example: 'timeout:2000' },
};

/** The one host a command on one host (`trace`, `diag`, `mtu`) takes, its mistakes said in that command's name. */
export function parseHost(command: string, token: string | undefined): TraceRequest['target'] {
  const needHost = `${command} needs one host first: an address or a name, e.g. ${command} 10.0.1.5`;
  if (token === undefined) throw new InvalidTargetError(needHost);
  let spec;
  try {
    spec = parseTargetToken(token);
  } catch (error) {
    if (OPTION.test(token)) throw new InvalidTargetError(`${quoteToken(token)} is not a host: ${needHost}`);
    throw error;
  }
  if (spec.kind === 'cidr' || spec.kind === 'range') {
    throw new InvalidTargetError(`${quoteToken(token)} is several addresses: ${command} takes one host, e.g. ${command} 10.0.1.5`);
  }
  return spec;
}

function wholeNumber(token: string, key: string, value: string, rule: NumberRule): number {
  const parsed = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!(parsed >= rule.min && parsed <= rule.max)) {
    throw new InvalidOptionError(`${quoteToken(token)} is not valid: ${key} takes a whole number from ${rule.min} to ${rule.max}, e.g. ${rule.example}`);
  }
  return parsed;
}

function port(token: string, value: string): number {
  const parsed = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!(parsed >= 1 && parsed <= 65_535)) {
    throw new InvalidOptionError(`${quoteToken(token)} is not a port: give one from 1 to 65535, e.g. tcp:443`);
  }
  return parsed;
}

function vpc(token: string, value: string): string {
  const name = value.toLowerCase();
  if (!VPC_NAME.test(name)) {
    throw new InvalidOptionError(`${quoteToken(token)} is not a valid agent group: e.g. vpc:prod`);
  }
  return name;
}

function repeated(token: string, seen: Set<string>, key: string): void {
  if (seen.has(key)) throw new InvalidOptionError(`${quoteToken(token)} repeats ${key}: give it once`);
  seen.add(key);
}

/** `trace` words after the command word. */
export function parseTraceTokens(tokens: readonly string[]): TraceRequest {
  const [host, ...rest] = tokens;
  const target = parseHost('trace', host);
  const options: TraceOptions = { ...DEFAULT_TRACE_OPTIONS };
  const seen = new Set<string>();
  for (const token of rest) {
    const word = token.toLowerCase();
    if (word === 'icmp' || word === 'udp' || word === 'tcp') {
      if (word === 'tcp') throw new InvalidOptionError(`${quoteToken(token)} needs a port: e.g. tcp:443`);
      repeated(token, seen, 'mode');
      options.mode = word;
      continue;
    }
    const match = OPTION.exec(token);
    const key = match?.[1]?.toLowerCase() ?? '';
    const value = match?.[2] ?? '';
    const rule = TRACE_NUMBERS[key];
    if (rule) {
      repeated(token, seen, key);
      options[rule.field] = wholeNumber(token, key, value, rule);
    } else if (key === 'tcp') {
      repeated(token, seen, 'mode');
      options.mode = 'tcp';
      options.port = port(token, value);
    } else if (key === 'dns') {
      repeated(token, seen, key);
      if (value !== 'on' && value !== 'off') throw new InvalidOptionError(`${quoteToken(token)} is not valid: dns takes on or off, e.g. dns:on`);
      options.dns = value === 'on';
    } else if (key === 'vpc') {
      repeated(token, seen, key);
      options.vpc = vpc(token, value);
    } else {
      throw new InvalidOptionError(
        `${quoteToken(token)} is not a trace option: trace takes one host, then tcp:PORT, udp or icmp, count:N, max:HOPS, timeout:MS, dns:on and vpc:NAME, e.g. trace 10.0.1.5 tcp:443`,
      );
    }
  }
  return { target, options };
}

/** `diag` words after the command word. */
export function parseDiagTokens(tokens: readonly string[]): DiagRequest {
  const [host, ...rest] = tokens;
  const target = parseHost('diag', host);
  const options: DiagOptions = { ports: [] };
  const seen = new Set<string>();
  for (const token of rest) {
    const match = OPTION.exec(token);
    const key = match?.[1]?.toLowerCase() ?? '';
    const value = match?.[2] ?? '';
    if (key === 'tcp') {
      repeated(token, seen, key);
      for (const piece of value.split(',').filter(Boolean)) {
        const preset = portPreset(piece);
        for (const p of preset ?? [port(token, piece)]) if (!options.ports.includes(p)) options.ports.push(p);
      }
      if (options.ports.length === 0) throw new InvalidOptionError(`${quoteToken(token)} names no port: e.g. tcp:443,5432`);
      if (options.ports.length > MAX_DIAG_PORTS) {
        throw new InvalidOptionError(`${quoteToken(token)} names ${options.ports.length} ports: diag connects to at most ${MAX_DIAG_PORTS}, e.g. tcp:443,5432`);
      }
    } else if (key === 'vpc') {
      repeated(token, seen, key);
      options.vpc = vpc(token, value);
    } else {
      throw new InvalidOptionError(`${quoteToken(token)} is not a diag option: diag takes one host, then tcp:PORTS and vpc:NAME, e.g. diag 10.0.1.5 tcp:443`);
    }
  }
  if (options.ports.length === 0) options.ports = [DEFAULT_TRACE_OPTIONS.port];
  return { target, options };
}

/** Canonical words of a trace, e.g. `10.0.1.5 tcp:443 count:5`: only what differs from the defaults. */
export function describeTrace(request: TraceRequest): string {
  const { options: o } = request;
  const words = [request.target.text];
  if (o.mode === 'tcp') words.push(`tcp:${o.port}`);
  else if (o.mode !== 'auto') words.push(o.mode);
  if (o.count !== DEFAULT_TRACE_OPTIONS.count) words.push(`count:${o.count}`);
  if (o.maxHops !== DEFAULT_TRACE_OPTIONS.maxHops) words.push(`max:${o.maxHops}`);
  if (o.timeoutMs !== DEFAULT_TRACE_OPTIONS.timeoutMs) words.push(`timeout:${o.timeoutMs}`);
  if (o.dns) words.push('dns:on');
  if (o.vpc) words.push(`vpc:${o.vpc}`);
  return words.join(' ');
}
