/**
 * One truth for every setting: each environment variable the code reads is in `.env.example`, in the README's
 * Configuration table (one row each), and in the --help of each service that reads it; who reads it is what the
 * code says; and where two of them state a default, they state the same one.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AGENT_USAGE } from '../src/cli/agent-command.js';
import { BOT_USAGE } from '../src/cli/bot-command.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

/** Read by the code, and not settings: a switch of the build (bundle-loader.cts) and one of the tests (the addon). */
const INTERNAL = new Set(['ZENSWEEP_CODE_CACHE', 'ZENSWEEP_ICMP_ADDON']);

/** The environment variables the files read: names of ours, and HOST and PORT where read from the environment. */
function settingsIn(files: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const file of files) {
    const text = read(file);
    const constants = new Set([...text.matchAll(/\bconst ([A-Z][A-Z0-9_]+) =/g)].map((m) => m[1]));
    for (const [name] of text.matchAll(/\b(?:ZENSWEEP|REDIS|SLACK|METRICS)_[A-Z0-9_]+\b|\bLOG_LEVEL\b/g)) {
      if (!constants.has(name) && !INTERNAL.has(name)) names.add(name);
    }
    for (const m of text.matchAll(/\b(?:data|env)\.(HOST|PORT)\b/g)) names.add(m[1] ?? '');
  }
  return names;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.c?ts$/.test(entry.name) ? [path] : [];
  });
}

/** What each service reads: its own configuration, the engine's (the agent), Redis's and the log's. */
const SHARED = ['src/config-redis.ts', 'src/log.ts'];
const AGENT_READS = settingsIn(['src/agent/config.ts', 'src/config.ts', ...SHARED]);
const BOT_READS = settingsIn(['src/slack/config.ts', ...SHARED]);
const ALL_READS = settingsIn(sourceFiles('src'));

interface Row {
  name: string;
  readers: string[];
  defaultText: string;
}

/** The README's Configuration table, one row a variable. */
function readmeRows(): Map<string, Row> {
  const readme = read('README.md');
  const section = readme.split('\n## Configuration\n')[1]?.split('\n## ')[0] ?? '';
  const rows = new Map<string, Row>();
  for (const line of section.split('\n')) {
    const cells = /^\| `([A-Z][A-Z0-9_]+)` \| ([^|]+) \| ([^|]+) \|/.exec(line);
    if (!cells) continue;
    const [, name = '', readers = '', defaultText = ''] = cells;
    assert.ok(!rows.has(name), `${name} has two rows`);
    rows.set(name, { name, readers: readers.split(',').map((r) => r.trim()), defaultText: defaultText.trim() });
  }
  return rows;
}

/** `.env.example`'s default for a variable: the "Default X" of the comment just above its line, if it says one. */
function exampleDefault(example: string, name: string): string | undefined {
  const lines = example.split('\n');
  const at = lines.findIndex((line) => new RegExp(`^#? ?${name}=`).test(line));
  if (at < 0) return undefined;
  let comment = '';
  for (let i = at - 1; i >= 0 && (lines[i] ?? '').startsWith('#') && !/^# ?[A-Z][A-Z0-9_]+=/.test(lines[i] ?? ''); i -= 1) comment = `${(lines[i] ?? '').replace(/^# ?/, '')} ${comment}`;
  return /\bDefault:? ([^\s.,;]+(?:,\d{3})*)\.?(?:\s|$)/.exec(comment)?.[1];
}

/** A default as a comparable word: no thousands separators, no trailing full stop, lower case. */
const plain = (text: string): string => text.replace(/(\d),(?=\d{3})/g, '$1').replace(/\.$/, '').toLowerCase();

describe('settings: .env.example, the README table and --help agree with the code', () => {
  const rows = readmeRows();
  const example = read('.env.example');

  it('finds the settings the code reads (a check of this test itself)', () => {
    for (const name of ['REDIS_URL', 'ZENSWEEP_VPC', 'ZENSWEEP_CONCURRENCY', 'SLACK_BOT_TOKEN', 'PORT', 'HOST', 'LOG_LEVEL']) assert.ok(ALL_READS.has(name), name);
    assert.ok(!ALL_READS.has('SLACK_STOP_MS'), 'a constant is not a setting');
    assert.ok(ALL_READS.size >= 35, [...ALL_READS].join(' '));
  });

  it('has every setting in .env.example and one row of the README table, and nothing the code does not read', () => {
    for (const name of ALL_READS) {
      assert.match(example, new RegExp(`^#? ?${name}=`, 'm'), `${name} is not in .env.example`);
      assert.ok(rows.has(name), `${name} has no row in the README's Configuration table`);
    }
    assert.deepEqual([...rows.keys()].filter((name) => !ALL_READS.has(name)), [], 'rows for settings nothing reads');
    const inExample = [...example.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1] ?? '');
    assert.deepEqual(inExample.filter((name) => !ALL_READS.has(name)), [], '.env.example lines for settings nothing reads');
  });

  it('says which service reads each, as the code does, and lists it in that service’s --help', () => {
    for (const [service, reads, usage] of [
      ['agent', AGENT_READS, AGENT_USAGE],
      ['bot', BOT_READS, BOT_USAGE],
    ] as const) {
      const claimed = [...rows.values()].filter((row) => row.readers.includes(service)).map((row) => row.name);
      assert.deepEqual(claimed.sort(), [...reads].sort(), `the README's "read by" for the ${service}`);
      for (const name of reads) assert.match(usage, new RegExp(`\\b${name}\\b`), `zensweep ${service} --help does not name ${name}`);
    }
  });

  it('states the same default in the README table, .env.example and --help', () => {
    for (const row of rows.values()) {
      const fromExample = exampleDefault(example, row.name);
      if (fromExample !== undefined && !/^(none|required|off)$/i.test(row.defaultText)) {
        assert.ok(plain(row.defaultText).includes(plain(fromExample)) || plain(fromExample).length > 24, `${row.name}: README says ${row.defaultText}, .env.example ${fromExample}`);
      }
      for (const [service, usage] of [
        ['agent', AGENT_USAGE],
        ['bot', BOT_USAGE],
      ] as const) {
        const line = usage.split('\n').find((l) => new RegExp(`^ {2}${row.name}\\s`).test(l));
        const said = line === undefined ? undefined : /\(([^()]*)\)\s*(?:required)?\s*$/.exec(line)?.[1];
        if (said === undefined || !row.readers.includes(service)) continue;
        assert.equal(plain(said), plain(row.defaultText), `${row.name}: zensweep ${service} --help says (${said}), the README ${row.defaultText}`);
      }
    }
  });
});
