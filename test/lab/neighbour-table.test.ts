import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { parseSweepText } from '../../src/core/grammar.js';
import type { HostResult } from '../../src/core/report.js';
import type { HostState } from '../../src/core/states.js';
import { AddressSet } from '../../src/core/targets.js';
import type { EngineSweepOutput } from '../support/engine-sweep.js';
import { createLab, ipBatch } from '../support/lab.js';
import type { Lab } from '../support/lab.js';
import { lowerNeighbourLimit } from '../support/neighbour-limit.js';
import type { LoweredNeighbourLimit } from '../support/neighbour-limit.js';
import { assertRoot } from '../support/root.js';

const ENGINE_SWEEP = fileURLToPath(new URL('../support/engine-sweep.ts', import.meta.url));

/**
 * Neighbour table entries the kernel may hold while this file's sweep runs (gc_thresh3, both families), far fewer
 * than the sweep's on-link addresses that nobody answers: each of those holds an entry for about 3 s.
 */
const TABLE_LIMIT = 128;

/** Live hosts added to the LAN for this file, high in the range: the sweep reaches them once the table is full. */
const LATE_ALIVE = { v4: '198.18.0.200', v6: '2001:db8:0:1::c8' };

/** Times the kernel found its neighbour table full (/proc/net/stat/arp_cache and ndisc_cache, all CPUs added up). */
interface TableFulls {
  v4: number;
  v6: number;
}

/**
 * The kernel's neighbour table fills up during a sweep of an on-link range where most addresses do not answer ARP
 * or ND (a /24 and a /120 of the lab's LAN). The table is the machine's, shared by every namespace, and its limit
 * (gc_thresh3) cannot be read inside one: the engine in the lab, as an agent in a container, assumes the kernel's
 * default 1,024 and allows 512 on-link targets at once; here the kernel holds 128. The sweep must still report
 * every address as the kernel answers it, and must slow down.
 */
for (const sendThread of [false, true]) {
  describe(`a sweep that fills the kernel's neighbour table (${sendThread ? 'the sender thread sends' : 'the event loop sends'})`, () => {
    let lab: Lab;
    let lowered: LoweredNeighbourLimit | undefined;
    let result: { output: EngineSweepOutput; tableFulls: TableFulls; planned: string[] };

    /** Read in the host namespace: the table is the machine's, and only there does /proc/net/stat show it. */
    function tableFulls(): TableFulls {
      const count = (file: string): number => {
        const text = readFileSync(file, 'utf8');
        const [header, ...cpus] = text.trim().split('\n').map((line) => line.trim().split(/\s+/));
        const column = header?.indexOf('table_fulls') ?? -1;
        assert.ok(column >= 0, `no table_fulls column in ${file}:\n${text}`);
        return cpus.reduce((sum, values) => sum + Number.parseInt(values[column] ?? '', 16), 0);
      };
      return { v4: count('/proc/net/stat/arp_cache'), v6: count('/proc/net/stat/ndisc_cache') };
    }

    before(async () => {
      assertRoot();
      lab = await createLab();
      await ipBatch(lab.namespaces.lan, [`addr add ${LATE_ALIVE.v4}/24 dev br0`, `addr add ${LATE_ALIVE.v6}/64 dev br0 nodad`]);
      // The lab's hosts share the machine's neighbour table with the sweeper: to answer, each needs an entry for
      // the sweeper, which a full table may refuse it (its reply is then dropped, and a live host looks silent).
      // Real hosts have tables of their own; permanent entries, made before the table fills, stand for that.
      const mac = (await lab.exec(['cat', '/sys/class/net/eth0/address'])).stdout.trim();
      assert.match(mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, 'the sweeper has no MAC address on eth0');
      const sweeper = lab.addresses.sweeper;
      const permanent = (device: string): string[] =>
        [sweeper.v4, sweeper.v6].map((ip) => `neigh replace ${ip} lladdr ${mac} dev ${device} nud permanent`);
      await ipBatch(lab.namespaces.lan, permanent('br0'));
      await ipBatch(lab.namespaces.router, permanent('eth0'));

      const targets = `${lab.addresses.lan.v4Cidr} ${lab.addresses.lan.v6Cidr}`;
      const planned = [...AddressSet.fromSpecs(parseSweepText(targets).targets)];
      assert.ok(planned.length > 2 * TABLE_LIMIT, 'the sweep wants more neighbour entries than the table holds');

      const before = tableFulls();
      lowered = lowerNeighbourLimit(TABLE_LIMIT);
      let run;
      try {
        run = await lab.exec([process.execPath, '--import', 'tsx', ENGINE_SWEEP, targets], {
          timeoutMs: 90_000,
          env: { ENGINE_SWEEP_THREAD: sendThread ? '1' : '0' },
        });
      } finally {
        lowered.restore();
      }
      assert.equal(run.code, 0, `the sweep failed (${run.timedOut ? 'timed out' : `exit ${run.code}`}): ${run.stderr}`);
      const after = tableFulls();
      result = {
        output: JSON.parse(run.stdout) as EngineSweepOutput,
        tableFulls: { v4: after.v4 - before.v4, v6: after.v6 - before.v6 },
        planned,
      };
    });
    after(async () => {
      lowered?.restore();
      await lab?.destroy();
    });

    it('meets a full table in both families', () => {
      assert.ok(result.tableFulls.v4 > 0, `the IPv4 table was never full: ${JSON.stringify(result.tableFulls)}`);
      assert.ok(result.tableFulls.v6 > 0, `the IPv6 table was never full: ${JSON.stringify(result.tableFulls)}`);
    });

    it('finishes and reports every planned address exactly once', () => {
      const { report } = result.output;
      assert.equal(report.complete, true, `stopped: ${JSON.stringify(report.stopped)}`);
      assert.equal(report.planned, result.planned.length);
      const ips = report.hosts.map((h) => h.ip);
      assert.equal(new Set(ips).size, ips.length, 'an address is reported twice');
      assert.deepEqual([...ips].sort(), [...result.planned].sort());
      const counted = Object.entries(report.summary).filter(([state]) => state !== 'total');
      assert.equal(counted.reduce((sum, [, n]) => sum + n, 0), report.summary.total);
      assert.equal(report.summary.total, result.planned.length);
    });

    // A full table shows as ENOBUFS on IPv4 (the socket has IP_RECVERR, without which the kernel drops the echo and
    // says nothing) and as EINVAL on IPv6: the echo waits and goes again, so live hosts are found (icmp-socket.ts).
    it('reports every address as the kernel answers it: live hosts alive, firewalls prohibited, no host lost', {

    }, () => {
      const a = lab.addresses;
      const expected = new Map<string, HostState>([
        ...[a.sweeper.v4, ...a.lan.alive.v4, LATE_ALIVE.v4, a.router.lan.v4].map((ip) => [ip, 'alive'] as const),
        ...[a.sweeper.v6, ...a.lan.alive.v6, LATE_ALIVE.v6, a.router.lan.v6].map((ip) => [ip, 'alive'] as const),
        ...[a.lan.prohibited.v4, a.lan.portUnreachable.v4, a.lan.prohibited.v6].map((ip) => [ip, 'prohibited'] as const),
        // No TCP ports asked for: the RDS-like hosts drop echo requests, like the silent ones.
        ...[a.lan.rds.v4, a.lan.rds.v6, a.lan.silent.v4, a.lan.silent.v6].map((ip) => [ip, 'silent'] as const),
      ]);
      const wrong: string[] = [];
      const describeHost = (h: HostResult): string => `${h.ip} ${h.state} ${JSON.stringify(h.reporter ?? null)}`;
      for (const h of result.output.report.hosts) {
        const want = expected.get(h.ip);
        if (want !== undefined) {
          if (h.state !== want) wrong.push(`${describeHost(h)}, expected ${want}`);
          continue;
        }
        // Nobody holds it: no answer (silent), or the sweeper's own kernel says its ARP/ND failed (unreachable).
        const own = h.ip.includes(':') ? a.sweeper.v6 : a.sweeper.v4;
        const fine = h.state === 'silent' || (h.state === 'unreachable' && h.reporter?.address === own);
        if (!fine) wrong.push(`${describeHost(h)}, expected silent or unreachable from ${own}`);
      }
      wrong.sort((x, y) => Number(y.endsWith('expected alive')) - Number(x.endsWith('expected alive')));
      // Counted, not compared as lists: a full table can misreport hundreds of addresses.
      assert.equal(wrong.length, 0, `${wrong.length} addresses misreported, e.g.:\n${wrong.slice(0, 8).join('\n')}`);
    });

    it('slows down: the engine lowers its on-link allowance', {

    }, () => {
      const { maxOnLink, lowestOnLinkLimit } = result.output;
      assert.ok(lowestOnLinkLimit < maxOnLink, `the on-link allowance stayed at ${maxOnLink} (lowest ${lowestOnLinkLimit})`);
    });
  });
}
