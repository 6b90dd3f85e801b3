import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { HostResult } from '../../src/core/report.js';
import { DEFAULT_OPTIONS } from '../../src/core/request.js';
import type { SweepOptions } from '../../src/core/request.js';
import type { Reporter } from '../../src/core/states.js';
import { AddressSet, addressToBigInt } from '../../src/core/targets.js';
import { parseRoutes4, parseRoutes6 } from '../../src/engine/diag/kernel-tables.js';
import { ProbeEngine } from '../../src/engine/engine.js';
import type { NeighbourEntry, NeighbourReader } from '../../src/engine/neighbours.js';
import { NeighbourTableError, neighbourState, parseNeighbourRecords, procArpReader } from '../../src/engine/neighbours.js';
import type { EchoDone, EchoProber, TcpProber } from '../../src/engine/probers.js';
import { RouteTable } from '../../src/engine/routes.js';

// The lab's sweeper namespace as the kernel shows it: 198.18.0.0/24 and 2001:db8:0:1::/64 on-link, the rest routed.
const ROUTES_V4 = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t000012C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
eth0\t000013C6\tFE0012C6\t0003\t0\t0\t0\t0000FFFF\t0\t0\t0
`;
const ROUTES_V6 = `20010db8000000010000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000002 00000000 00000001     eth0
`;
const routes = (): RouteTable => new RouteTable([...parseRoutes4(ROUTES_V4), ...parseRoutes6(ROUTES_V6)]);

/** One address, or consecutive ones: `first` to `last`. */
function addresses(first: string, last = first): AddressSet {
  const a = addressToBigInt(first);
  return new AddressSet().add(a.family, a.value, addressToBigInt(last).value);
}

type EchoOutcome = { rttMs: number; reporter?: Reporter };

/**
 * Answers each echo as scripted (a reply, an ICMP error, or nothing), but only once the neighbour table has been read
 * while the echoes are out: the read during the sweep is then certain, with no timing to rely on.
 */
class ScriptedEcho implements EchoProber {
  private readonly waiting: (() => void)[] = [];
  private released = false;
  constructor(private readonly outcomes: ReadonlyMap<string, EchoOutcome>) {}
  echo<C>(address: string, _family: 4 | 6, _timeoutMs: number, context: C, done: EchoDone<C>): void {
    const outcome = this.outcomes.get(address) ?? { rttMs: -1 };
    const end = (): void => done(context, outcome.rttMs, outcome.reporter);
    if (this.released) setImmediate(end);
    else this.waiting.push(end);
  }
  /** The table was read: every echo held so far ends now. */
  release(): void {
    this.released = true;
    for (const end of this.waiting.splice(0)) setImmediate(end);
  }
  poll(): void {}
  close(): void {}
}

/** A table that says what the test wants at each read: the first read's entries, then the later reads'. */
class ScriptedTable implements NeighbourReader {
  readonly source = 'netlink';
  reads = 0;
  constructor(
    private readonly first: NeighbourEntry[],
    private readonly later: NeighbourEntry[],
    private readonly onRead: () => void = () => undefined,
    readonly families: ReadonlySet<4 | 6> = new Set<4 | 6>([4, 6]),
  ) {}
  read(): NeighbourEntry[] {
    this.reads += 1;
    this.onRead();
    return this.reads === 1 ? this.first : this.later;
  }
}

const noTcp: TcpProber = { connect: () => ({ flows: [] }), close: () => undefined };
const options = (over: Partial<SweepOptions> = {}): SweepOptions => ({ ...DEFAULT_OPTIONS, retries: 0, rate: 0, timeoutMs: 5000, ...over });
const v4 = (address: string, state: NeighbourEntry['state'], lladdr?: string): NeighbourEntry => ({ family: 4, address, state, ...(lladdr ? { lladdr } : {}) });
const ownStack: Reporter = { verdict: 'unreachable', address: 'local', errno: 'EHOSTUNREACH', reason: 'no route to host' };

function linkOf(hosts: readonly HostResult[]): Record<string, string> {
  return Object.fromEntries(hosts.map((h) => [h.ip, [h.state, h.link ?? '-', h.mac ?? '-'].join(' ')]));
}

describe('the link of on-link hosts, from the neighbour table (LinkWatch on a ProbeEngine)', () => {
  it('reads while the probes are out and once at the end, and decides each on-link host from every read', async () => {
    const echo = new ScriptedEcho(
      new Map<string, EchoOutcome>([
        ['198.18.0.11', { rttMs: 0.4 }],
        ['198.18.0.15', { rttMs: -1, reporter: ownStack }],
      ]),
    );
    const table = new ScriptedTable(
      // While the probes are out: .11 and .12 answered, .13 is being resolved.
      [v4('198.18.0.11', 'answered', '02:00:00:00:00:11'), v4('198.18.0.12', 'answered', '02:00:00:00:00:12'), v4('198.18.0.13', 'no_answer')],
      // At the end: .12 forgotten by the kernel, .13 and .15 failed, .14 never appeared, .16 is reached without ARP
      // (NOARP: a tunnel), so layer 2 says nothing of it.
      [v4('198.18.0.11', 'answered', '02:00:00:00:00:11'), v4('198.18.0.13', 'no_answer'), v4('198.18.0.15', 'no_answer'), v4('198.18.0.16', 'other')],
      () => echo.release(),
    );
    const engine = new ProbeEngine({ families: [4], rate: 0, maxInFlight: 100, kit: { echo, tcp: noTcp }, routes: routes(), neighbours: table, neighbourReadEveryMs: 10 });
    try {
      const { hosts } = await engine.scheduler(addresses('198.18.0.11', '198.18.0.16'), 6, options()).run();
      assert.deepEqual(linkOf(hosts), {
        '198.18.0.11': 'alive answered 02:00:00:00:00:11',
        '198.18.0.12': 'silent answered 02:00:00:00:00:12',
        '198.18.0.13': 'silent no_answer -',
        '198.18.0.14': 'silent no_answer -',
        '198.18.0.15': 'unreachable no_answer -',
        '198.18.0.16': 'silent - -',
      });
      assert.ok(table.reads >= 2, `${table.reads} reads: one while the probes were out, one at the end`);
      assert.equal(engine.links.cost.reads, table.reads);
      assert.equal(engine.links.cost.failures, 0);
      // The host's keys: link and mac come last, after the engine's own (the JSON writer's order).
      assert.deepEqual(Object.keys(hosts[0] ?? {}), ['ip', 'state', 'icmp', 'ports', 'link', 'mac']);
    } finally {
      engine.close();
    }
  });

  it('reads nothing for a sweep with no on-link target, and gives its hosts no link', async () => {
    const echo = new ScriptedEcho(new Map([['198.19.0.1', { rttMs: 0.3 }]]));
    echo.release();
    const table = new ScriptedTable([], []);
    const engine = new ProbeEngine({ families: [4], rate: 0, maxInFlight: 100, kit: { echo, tcp: noTcp }, routes: routes(), neighbours: table, neighbourReadEveryMs: 1 });
    try {
      const { hosts } = await engine.scheduler(addresses('198.19.0.1', '198.19.0.4'), 4, options()).run();
      assert.equal(table.reads, 0);
      assert.deepEqual(engine.links.cost, { reads: 0, failures: 0, ms: 0, entries: 0 });
      assert.ok(hosts.every((h) => h.link === undefined && h.mac === undefined));
    } finally {
      engine.close();
    }
  });

  it('concludes nothing from a table it cannot read: no no_answer, and a host that answered is on the link all the same', async () => {
    const echo = new ScriptedEcho(new Map([['198.18.0.21', { rttMs: 0.3 }]]));
    echo.release();
    const failing: NeighbourReader = {
      source: 'netlink',
      families: new Set([4, 6]),
      read: () => {
        throw new NeighbourTableError('netlink refused');
      },
    };
    const engine = new ProbeEngine({ families: [4], rate: 0, maxInFlight: 100, kit: { echo, tcp: noTcp }, routes: routes(), neighbours: failing });
    try {
      const { hosts } = await engine.scheduler(addresses('198.18.0.21', '198.18.0.22'), 2, options()).run();
      assert.deepEqual(linkOf(hosts), { '198.18.0.21': 'alive answered -', '198.18.0.22': 'silent - -' });
      assert.ok(engine.links.cost.failures >= 1);
    } finally {
      engine.close();
    }
  });

  it('leaves IPv6 hosts without a link when only /proc/net/arp (IPv4) can be read, and reads nothing when told not to', async () => {
    const echo = new ScriptedEcho(new Map());
    echo.release();
    const ipv4Only = new ScriptedTable([], [], undefined, new Set([4]));
    const engine = new ProbeEngine({ families: [6], rate: 0, maxInFlight: 100, kit: { echo, tcp: noTcp }, routes: routes(), neighbours: ipv4Only });
    const off = new ProbeEngine({ families: [4], rate: 0, maxInFlight: 100, kit: { echo, tcp: noTcp }, routes: routes(), neighbours: false });
    try {
      const v6 = await engine.scheduler(addresses('2001:db8:0:1::40', '2001:db8:0:1::41'), 2, options()).run();
      assert.ok(v6.hosts.every((h) => h.link === undefined));
      const unread = await off.scheduler(addresses('198.18.0.40'), 1, options()).run();
      assert.equal(unread.hosts[0]?.link, undefined);
      assert.equal(off.links.cost.reads, 0);
    } finally {
      engine.close();
      off.close();
    }
  });
});

describe('reading the neighbour table', () => {
  it('tells what each NUD state says of layer 2', () => {
    const states = Object.fromEntries(
      [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x00].map((nud) => [nud.toString(16), neighbourState(nud)]),
    );
    assert.deepEqual(states, {
      '1': 'no_answer', // INCOMPLETE
      '2': 'answered', // REACHABLE
      '4': 'answered', // STALE
      '8': 'answered', // DELAY
      '10': 'answered', // PROBE
      '20': 'no_answer', // FAILED
      '40': 'other', // NOARP
      '80': 'answered', // PERMANENT
      '0': 'other', // NONE
    });
  });

  it('parses the addon\'s records: canonical addresses, lower-case MACs, a record of another family skipped', () => {
    const size = 56;
    const records = Buffer.alloc(size * 3);
    records[0] = 4;
    records[1] = 6;
    records.writeUInt16LE(0x02, 2);
    Buffer.from([198, 18, 0, 40]).copy(records, 8);
    Buffer.from([0x02, 0x42, 0xac, 0x11, 0x00, 0xfe]).copy(records, 24);
    records[size] = 6;
    records.writeUInt16LE(0x20, size + 2);
    Buffer.from('20010db8000000010000000000000077', 'hex').copy(records, size + 8);
    records[2 * size] = 7;
    assert.deepEqual(parseNeighbourRecords(records, size), [
      { family: 4, address: '198.18.0.40', state: 'answered', lladdr: '02:42:ac:11:00:fe' },
      { family: 6, address: '2001:db8:0:1::77', state: 'no_answer' },
    ]);
  });

  it('reads /proc/net/arp\'s format: a complete entry answered, an incomplete one not', () => {
    const dir = mkdtempSync(join(tmpdir(), 'zs-arp-'));
    try {
      const path = join(dir, 'arp');
      writeFileSync(
        path,
        'IP address       HW type     Flags       HW address            Mask     Device\n' +
          '198.18.0.40      0x1         0x2         02:42:AC:11:00:02     *        eth0\n' +
          '198.18.0.77      0x1         0x0         00:00:00:00:00:00     *        eth0\n',
      );
      assert.deepEqual(procArpReader(path).read(), [
        { family: 4, address: '198.18.0.40', state: 'answered', lladdr: '02:42:ac:11:00:02' },
        { family: 4, address: '198.18.0.77', state: 'no_answer' },
      ]);
      assert.throws(() => procArpReader(join(dir, 'none')).read(), (error: unknown) => error instanceof NeighbourTableError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
