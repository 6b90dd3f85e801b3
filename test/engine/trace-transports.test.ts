import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { TraceMode } from '../../src/core/trace.js';
import type { IcmpSetting } from '../../src/engine/icmp/raw-transport.js';
import { findPathMtu } from '../../src/engine/trace/pmtu.js';
import { IcmpOffError, TraceUnavailableError } from '../../src/engine/trace/raw-socket.js';
import { PathTracer } from '../../src/engine/trace/tracer.js';
import { cliCommand, run } from '../support/cli.js';
import { UNPRIVILEGED } from '../support/ping-netns.js';
import { assertRoot } from '../support/root.js';

/**
 * Which sockets a trace goes through by ZENSWEEP_ICMP, on loopback (one hop: the host itself). As root: auto and raw
 * give raw sockets; ping and off give the unprivileged transports (a UDP socket, the addon's connects) whatever the
 * privilege, and off sends no ICMP echo at all (no ICMP trace, no path MTU search). The ping socket itself needs net.ipv4.ping_group_range, which this test does not change (the host's);
 * the lab tests run it in a namespace of their own (test/lab/trace.test.ts, test/engine/probe-socket.test.ts).
 */
describe('trace transports by ZENSWEEP_ICMP (loopback)', () => {
  let server: ReturnType<typeof createServer>;
  let port: number;

  before(async () => {
    assertRoot();
    server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    await new Promise<void>((resolve) => server?.close(() => resolve()));
  });

  async function trace(mode: TraceMode, sockets: IcmpSetting) {
    const tracer = new PathTracer('127.0.0.1', 4, '127.0.0.1', { mode, port, count: 2, maxHops: 4, timeoutMs: 1000, sockets });
    return tracer.run();
  }

  for (const [mode, sockets, expected] of [
    ['udp', 'auto', 'raw'],
    ['tcp', 'raw', 'raw'],
    ['udp', 'ping', 'udp'],
    ['udp', 'off', 'udp'],
    ['tcp', 'ping', 'connect'],
    ['tcp', 'off', 'connect'],
  ] as const) {
    it(`${mode} with ZENSWEEP_ICMP=${sockets}: ${expected}, and reaches the host at hop 1`, async () => {
      const path = await trace(mode, sockets);
      assert.equal(path.sockets, expected);
      assert.equal(path.end, 'reached');
      assert.equal(path.hops.length, 1);
      assert.equal(path.hops[0]?.target, true);
      assert.equal(path.hops[0]?.received, 2, 'both probes answered');
      if (mode === 'tcp') assert.equal(path.tcpState, 'open');
    });
  }

  it('a TCP probe to a closed port reads closed without privilege too', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const tracer = new PathTracer('127.0.0.1', 4, '127.0.0.1', { mode: 'tcp', port: closedPort, count: 1, maxHops: 2, timeoutMs: 1000, sockets: 'ping' });
    const path = await tracer.run();
    assert.deepEqual([path.sockets, path.end, path.tcpState], ['connect', 'reached', 'closed']);
  });

  it('ICMP with ZENSWEEP_ICMP=ping where the host\'s ping_group_range leaves root out: TraceUnavailableError naming the fix', async (t) => {
    const { readFileSync } = await import('node:fs');
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ping_group_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low !== undefined && high !== undefined && low <= 0 && 0 <= high) {
      // The host's range covers root: a ping socket opens, and the trace reaches the host.
      const path = await trace('icmp', 'ping');
      assert.deepEqual([path.sockets, path.end], ['ping', 'reached']);
      t.diagnostic('the host covers group 0: checked the ping socket instead');
      return;
    }
    assert.throws(() => new PathTracer('127.0.0.1', 4, '127.0.0.1', { mode: 'icmp', port, count: 1, maxHops: 2, timeoutMs: 500, sockets: 'ping' }), (error) => {
      assert.ok(error instanceof TraceUnavailableError);
      assert.match(error.message, /an ICMP trace needs a raw socket \(root or CAP_NET_RAW\) or a ping socket \(EACCES: set net\.ipv4\.ping_group_range/);
      return true;
    });
  });
  it('ICMP with ZENSWEEP_ICMP=off, as root: IcmpOffError naming the setting, no socket tried, no privilege named', () => {
    assert.throws(() => new PathTracer('127.0.0.1', 4, '127.0.0.1', { mode: 'icmp', port, count: 1, maxHops: 2, timeoutMs: 500, sockets: 'off' }), (error) => {
      assert.ok(error instanceof IcmpOffError);
      assert.equal(error.code, 'icmp_off');
      assert.equal(error.message, 'an ICMP trace sends ICMP echo, and ZENSWEEP_ICMP=off sends none from here');
      return true;
    });
  });

  it('the path MTU search with ZENSWEEP_ICMP=off, as root: IcmpOffError naming the setting; with raw it measures', async () => {
    await assert.rejects(findPathMtu('127.0.0.1', 4, { sockets: 'off', budgetMs: 2000, timeoutMs: 200 }), (error) => {
      assert.ok(error instanceof IcmpOffError);
      assert.equal(error.message, 'the path MTU search sends ICMP echo, and ZENSWEEP_ICMP=off sends none from here');
      return true;
    });
    const measured = await findPathMtu('127.0.0.1', 4, { sockets: 'raw', budgetMs: 5000, timeoutMs: 500 });
    assert.equal(measured.socket, 'raw');
  });

  it('as nobody: ZENSWEEP_ICMP=raw refuses in one line; auto goes without privilege (the CLI, loopback)', async () => {
    const argv = [...UNPRIVILEGED, ...cliCommand(), 'trace', '127.0.0.1', `tcp:${port}`, 'max:2', '--json'];
    const raw = await run(argv, { env: { ...process.env, ZENSWEEP_ICMP: 'raw' }, timeoutMs: 30_000 });
    assert.notEqual(raw.code, 0, raw.stdout);
    assert.match(raw.stderr, /trace and path MTU probes need raw sockets: run as root or with CAP_NET_RAW .*\(EPERM\)/);
    const auto = await run(argv, { env: { ...process.env, ZENSWEEP_ICMP: 'auto' }, timeoutMs: 30_000 });
    assert.equal(auto.code, 0, auto.stderr);
    const report = JSON.parse(auto.stdout) as { paths: { sockets?: string; end: string; tcpState?: string }[] };
    assert.deepEqual(report.paths.map((p) => [p.sockets, p.end, p.tcpState]), [['connect', 'reached', 'open']]);
  });
});
