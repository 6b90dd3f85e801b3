import { parseArgs } from 'node:util';
import { InvalidOptionError } from '../core/errors.js';

/** A command's flags, as node:util's parseArgs takes them. */
type Flags = Record<string, { type: 'boolean' | 'string'; short?: string }>;

/** Every command takes --help (and -h). */
const HELP = { help: { type: 'boolean', short: 'h' } } as const;

/**
 * The flags and words of one command line, the same way for every command: `--help` and `-h` (the caller prints its
 * usage when `values.help`), and a mistake said in the user's words — which command, which flag, the flag it was
 * probably meant to be — never node:util's own text. `command` is how the user calls it (`agents`, `submit trace`).
 */
export function commandArgs<F extends Flags>(command: string, argv: string[], flags: F, takes: { words: boolean }) {
  const options = { ...flags, ...HELP };
  try {
    return parseArgs({ args: argv, options, allowPositionals: takes.words, strict: true });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS')) throw error;
    throw new InvalidOptionError(argumentMistake(command, (error as Error).message, options), { cause: error });
  }
}

/** What node:util's parse error says, in one line of ours. */
function argumentMistake(command: string, message: string, options: Flags): string {
  const names = Object.entries(options).map(([name, option]) => ({ name: `--${name}`, option }));
  const help = `(zensweep ${command} --help)`;
  const unknown = /^Unknown option '([^']*)'/.exec(message)?.[1];
  if (unknown !== undefined) {
    const flag = unknown.split('=')[0] ?? unknown;
    const closest = nearest(flag, names.map((n) => n.name));
    return closest
      ? `${command} has no option ${flag}: did you mean ${closest}? ${help}`
      : `${command} has no option ${flag}; it takes ${names.map((n) => n.name).join(', ')} ${help}`;
  }
  const missing = /^Option '(?:-\w, )?(--[\w-]+) <value>' argument missing/.exec(message)?.[1];
  if (missing !== undefined) return `${missing} needs a value, as in ${missing} VALUE ${help}`;
  const noValue = /^Option '(?:-\w, )?(--[\w-]+)' does not take an argument/.exec(message)?.[1];
  if (noValue !== undefined) return `${noValue} takes no value ${help}`;
  const word = /^Unexpected argument '([^']*)'/.exec(message)?.[1];
  if (word !== undefined) return `${command} takes no arguments, and was given '${word}' ${help}`;
  return `${command}: the options do not read ${help}`;
}

/** The known word closest to `word` (a typo, a letter left out or doubled), if one is close enough. */
export function nearest(word: string, known: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(word, name);
    if (distance <= Math.max(1, Math.floor(name.length / 4)) && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

/** Edits from `a` to `b`: a letter added, left out, changed, or two swapped (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => d[i]?.[j] ?? 0;
  for (let i = 1; i <= a.length; i += 1) {
    for (let j = 1; j <= b.length; j += 1) {
      const row = d[i] as number[];
      row[j] = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(at(i, j), at(i - 2, j - 2) + 1);
    }
  }
  return at(a.length, b.length);
}
