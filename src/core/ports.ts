/**
 * TCP ports as commands write them: the named presets (`tcp:rds`), the sweep's `tcp:` list (numbers, ranges and
 * presets) and its compact text. Apart from the grammars so that the sweep grammar and the trace/diag grammar both
 * read presets the same way without importing each other.
 */
import { InvalidOptionError } from './errors.js';
import { formatCount } from './format.js';
import { SWEEP_LIMITS } from './request.js';
import { quoteToken } from './targets.js';

/** Cap on the distinct TCP ports of one sweep. */
export const MAX_PORTS = SWEEP_LIMITS.ports.distinct;

/** Named port sets for `tcp:`, mixable with numbers (`tcp:rds,8080`). */
export const PORT_PRESETS: Readonly<Record<string, readonly number[]>> = Object.freeze({
  rds: Object.freeze([3306, 5432, 1433, 1521]),
  web: Object.freeze([80, 443]),
  ssh: Object.freeze([22]),
  rdp: Object.freeze([3389]),
});

const WHOLE_NUMBER = /^[0-9]+$/;

/** The ports of the preset named `name` (any case), or undefined when no preset has that name. */
export function portPreset(name: string): readonly number[] | undefined {
  return PORT_PRESETS[name.toLowerCase()];
}

/**
 * Parses the value of a sweep's `tcp:` token (`22,5432`, `8000-8010`, `rds`) into `ports`, a Set shared by every
 * `tcp:` token of the command. Throws InvalidOptionError naming the bad piece, or when the sweep would probe more
 * than {@link MAX_PORTS} distinct ports.
 */
export function addSweepPorts(token: string, value: string, ports: Set<number>): void {
  const presets = Object.keys(PORT_PRESETS).join(', ');
  const { min, max } = SWEEP_LIMITS.ports;
  const valid = `tcp takes ports from ${min} to ${max}, ranges like 8000-8010 and the presets ${presets}, e.g. tcp:22,5432 or tcp:rds`;
  const pieces = value.split(',').filter((piece) => piece !== '');
  if (pieces.length === 0) {
    throw new InvalidOptionError(`${quoteToken(token)} names no port: ${valid}`);
  }
  const add = (port: number): void => {
    ports.add(port);
    if (ports.size > MAX_PORTS) {
      throw new InvalidOptionError(
        `${quoteToken(token)} brings the sweep to more than ${formatCount(MAX_PORTS)} distinct TCP ports: name the ports the hosts serve, e.g. tcp:22,5432`,
      );
    }
  };
  for (const piece of pieces) {
    const preset = portPreset(piece);
    if (preset !== undefined) {
      preset.forEach(add);
      continue;
    }
    const range = /^([0-9]+)-([0-9]+)$/.exec(piece);
    const first = Number(range ? range[1] : piece);
    const last = Number(range ? range[2] : piece);
    if (!range && !WHOLE_NUMBER.test(piece)) {
      throw new InvalidOptionError(`${quoteToken(piece)} in ${quoteToken(token)} is not a port: ${valid}`);
    }
    if (first < min || last > max) {
      throw new InvalidOptionError(`${quoteToken(piece)} in ${quoteToken(token)} is out of range: ${valid}`);
    }
    if (first > last) {
      throw new InvalidOptionError(
        `${quoteToken(piece)} in ${quoteToken(token)} is backwards: a port range goes from low to high, e.g. tcp:8000-8010`,
      );
    }
    for (let port = first; port <= last; port += 1) {
      add(port);
    }
  }
}

/** Writes sorted ports compactly: runs of three or more become ranges (`22,8000-8010`). */
export function describePorts(ports: readonly number[]): string {
  const parts: string[] = [];
  let index = 0;
  while (index < ports.length) {
    const first = ports[index] ?? 0;
    let last = first;
    while (ports[index + 1] === last + 1) {
      index += 1;
      last += 1;
    }
    if (last - first >= 2) {
      parts.push(`${first}-${last}`);
    } else {
      parts.push(String(first));
      if (last !== first) {
        parts.push(String(last));
      }
    }
    index += 1;
  }
  return parts.join(',');
}
