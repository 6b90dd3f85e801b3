import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { NeighbourEntry } from '../../src/engine/neighbours.js';
import { ipBatch, run, runOk } from '../support/lab.js';
import { assertRoot } from '../support/root.js';

const NEIGHBOURS_MODULE = new URL('../../src/engine/neighbours.ts', import.meta.url).href;

/**
 * The neighbour table as the kernel holds it, read through the addon's netlink dump and /proc/net/arp, in a network
 * namespace of this file's own: a veth pair with lab addresses (198.18.9.0/24, 2001:db8:9::/64) and entries put in
 * by `ip neigh add` in each state. Nothing is sent anywhere but over that pair. Needs root; fails, never skips.
 */
describe('the kernel\'s neighbour table, read through netlink and /proc/net/arp', () => {
  const namespace = `zsnb${randomBytes(3).toString('hex')}`;
  const removeAtExit = (): void => {
    try {
      execFileSync('ip', ['netns', 'del', namespace], { stdio: 'ignore' });
    } catch {
      // gone already
    }
  };

  /** Each entry as `ip neigh add` puts it, and what the table then says of it. */
  const ENTRIES = [
    { add: '198.18.9.2 lladdr 02:00:00:00:09:02 nud reachable', address: '198.18.9.2', state: 'answered', lladdr: '02:00:00:00:09:02', ip: 'REACHABLE' },
    { add: '198.18.9.3 lladdr 02:00:00:00:09:03 nud stale', address: '198.18.9.3', state: 'answered', lladdr: '02:00:00:00:09:03', ip: 'STALE' },
    { add: '198.18.9.4 lladdr 02:00:00:00:09:04 nud permanent', address: '198.18.9.4', state: 'answered', lladdr: '02:00:00:00:09:04', ip: 'PERMANENT' },
    { add: '198.18.9.6 nud failed', address: '198.18.9.6', state: 'no_answer', ip: 'FAILED' },
    { add: '198.18.9.7 nud incomplete', address: '198.18.9.7', state: 'no_answer', ip: 'INCOMPLETE' },
    { add: '198.18.9.8 lladdr 02:00:00:00:09:08 nud noarp', address: '198.18.9.8', state: 'other', lladdr: '02:00:00:00:09:08', ip: 'NOARP' },
    { add: '2001:db8:9::2 lladdr 02:00:00:00:09:92 nud reachable', address: '2001:db8:9::2', state: 'answered', lladdr: '02:00:00:00:09:92', ip: 'REACHABLE' },
    { add: '2001:db8:9::3 nud failed', address: '2001:db8:9::3', state: 'no_answer', ip: 'FAILED' },
  ] as const;

  /** Runs the two readers inside the namespace and returns what they read. */
  async function readInNamespace(): Promise<{ netlink: NeighbourEntry[]; proc: NeighbourEntry[]; source: string | undefined }> {
    const script = `
      const { netlinkNeighbourReader, procArpReader } = await import(${JSON.stringify(NEIGHBOURS_MODULE)});
      const reader = netlinkNeighbourReader();
      console.log(JSON.stringify({ source: reader?.source, netlink: reader?.read() ?? [], proc: procArpReader().read() }));`;
    const result = await run(['ip', 'netns', 'exec', namespace, process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], {
      timeoutMs: 60_000,
    });
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as { netlink: NeighbourEntry[]; proc: NeighbourEntry[]; source: string | undefined };
  }

  const ours = (entries: readonly NeighbourEntry[]): NeighbourEntry[] =>
    entries.filter((e) => ENTRIES.some((added) => added.address === e.address)).sort((a, b) => a.address.localeCompare(b.address));

  before(async () => {
    assertRoot();
    process.once('exit', removeAtExit);
    await runOk(['ip', 'netns', 'add', namespace]);
    await ipBatch(namespace, [
      'link set lo up',
      'link add n0 type veth peer name n1',
      'addr add 198.18.9.1/24 dev n0',
      'addr add 2001:db8:9::1/64 dev n0 nodad',
      'link set n0 up',
      'link set n1 up',
      ...ENTRIES.map((entry) => `neigh add ${entry.add.replace(/ /, ' dev n0 ')}`),
    ]);
    // As iproute2 sees them: the entries are there, in the states given, before the readers are asked.
    const shown = JSON.parse((await runOk(['ip', '-n', namespace, '-j', 'neigh', 'show', 'nud', 'all', 'dev', 'n0'])).stdout) as { dst: string; state?: string[] }[];
    for (const entry of ENTRIES) {
      assert.deepEqual(shown.find((row) => row.dst === entry.address)?.state, [entry.ip], `ip neigh show: ${entry.address}`);
    }
  });

  after(async () => {
    await run(['ip', 'netns', 'del', namespace]);
    process.removeListener('exit', removeAtExit);
  });

  it('reads every entry of both families in one dump, each state told as layer 2 says it, with its MAC', async () => {
    const { source, netlink } = await readInNamespace();
    assert.equal(source, 'netlink');
    const expected = ENTRIES.map((entry): NeighbourEntry => ({
      family: entry.address.includes(':') ? 6 : 4,
      address: entry.address,
      state: entry.state,
      ...('lladdr' in entry ? { lladdr: entry.lladdr } : {}),
    })).sort((a, b) => a.address.localeCompare(b.address));
    assert.deepEqual(ours(netlink), expected);
    // The namespace's own table only: the test process's (the host's) entries are not in it.
    assert.ok(netlink.every((e) => e.address.startsWith('198.18.9.') || e.address.startsWith('2001:db8:9:') || e.address.startsWith('fe80:') || e.address.startsWith('ff02:')), JSON.stringify(netlink));
  });

  it('reads the IPv4 entries from /proc/net/arp too, where nothing tells NOARP entries (left out) or IPv6', async () => {
    const { proc } = await readInNamespace();
    assert.deepEqual(
      ours(proc).map((e) => [e.address, e.state, e.lladdr ?? '-']),
      [
        ['198.18.9.2', 'answered', '02:00:00:00:09:02'],
        ['198.18.9.3', 'answered', '02:00:00:00:09:03'],
        ['198.18.9.4', 'answered', '02:00:00:00:09:04'],
        ['198.18.9.6', 'no_answer', '-'],
        ['198.18.9.7', 'no_answer', '-'],
      ],
    );
  });

  it('reads a table of a thousand entries whole, across the dump\'s several parts', async () => {
    // Permanent entries: the kernel never sends for them and they do not count against the machine's table limit.
    const hex = (byte: number): string => byte.toString(16).padStart(2, '0');
    await ipBatch(
      namespace,
      Array.from({ length: 1000 }, (_, i) => `neigh add 198.18.${10 + Math.floor(i / 250)}.${(i % 250) + 1} dev n0 lladdr 02:00:00:0a:${hex(i >> 8)}:${hex(i & 255)} nud permanent`),
    );
    const { netlink } = await readInNamespace();
    const added = netlink.filter((e) => /^198\.18\.1[0-3]\./.test(e.address));
    assert.equal(added.length, 1000);
    assert.ok(added.every((e) => e.state === 'answered' && /^02:00:00:0a:0[0-3]:[0-9a-f]{2}$/.test(e.lladdr ?? '')));
    assert.equal(new Set(added.map((e) => e.lladdr)).size, 1000);
  });
});
