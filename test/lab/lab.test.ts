/**
 * Self-test of the network lab: every behaviour the engine's tests rely on, checked with independent tools
 * (fping, a raw ICMPv6 socket, node:net) run inside the sweeper namespace. Needs root; fails, never skips.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { assertLabPrerequisites, createLab, listNamespaces, type Lab, type LabExecResult } from '../support/lab.js';

const RAW_SOCKET_PATH = createRequire(import.meta.url).resolve('raw-socket');

interface FpingReport {
  /** Per target: echoes sent and replies received, from fping's summary lines. */
  summary: Map<string, { sent: number; received: number }>;
  /** `ICMP … from SENDER for ICMP Echo sent to TARGET` lines (fping 5.1 prints these for IPv4 only). */
  icmpErrors: { message: string; from: string; target: string }[];
  result: LabExecResult;
}

function parseFping(result: LabExecResult): FpingReport {
  const output = `${result.stdout}\n${result.stderr}`;
  const summary = new Map<string, { sent: number; received: number }>();
  for (const match of output.matchAll(/^(\S+)\s+: xmt\/rcv\/%loss = (\d+)\/(\d+)\//gm)) {
    summary.set(match[1] ?? '', { sent: Number(match[2]), received: Number(match[3]) });
  }
  const icmpErrors = [...output.matchAll(/^(ICMP .+?) from (\S+) for ICMP Echo sent to (\S+)$/gm)].map((match) => ({
    message: match[1] ?? '',
    from: match[2] ?? '',
    target: match[3] ?? '',
  }));
  return { summary, icmpErrors, result };
}

interface Icmp6Outcome {
  replies: { from: string; seq: number }[];
  errors: { from: string; type: number; code: number; seq: number }[];
  sendErrors: string[];
  elapsedMs: number;
}

/**
 * Sends `count` ICMPv6 echo requests to `target` from a raw socket and reports replies and errors (type, code,
 * sender) that quote our own echo. fping 5.1 does not print ICMPv6 errors, hence this probe.
 */
const ICMP6_PROBE = `
const raw = require(process.env.RAW_SOCKET_PATH);
const [target, count, waitMs] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const socket = raw.createSocket({ addressFamily: raw.AddressFamily.IPv6, protocol: raw.Protocol.ICMPv6 });
const id = process.pid & 0xffff;
const outcome = { replies: [], errors: [], sendErrors: [], elapsedMs: 0 };
const started = Date.now();
socket.on('message', (buffer, from) => {
  const type = buffer[0];
  if (type === 129 && buffer.readUInt16BE(4) === id) outcome.replies.push({ from, seq: buffer.readUInt16BE(6) });
  // An error quotes the IPv6 header (40 bytes) and our echo request after its own 8-byte header.
  if (type >= 1 && type <= 4 && buffer.length >= 56 && buffer[48] === 128 && buffer.readUInt16BE(52) === id)
    outcome.errors.push({ from, type, code: buffer[1], seq: buffer.readUInt16BE(54) });
});
for (let seq = 0; seq < count; seq++) {
  const echo = Buffer.alloc(16);
  echo.writeUInt8(128, 0);
  echo.writeUInt16BE(id, 4);
  echo.writeUInt16BE(seq, 6);
  socket.send(echo, 0, echo.length, target, (error) => { if (error) outcome.sendErrors.push(error.message); });
}
setTimeout(() => {
  outcome.elapsedMs = Date.now() - started;
  console.log(JSON.stringify(outcome));
  socket.close();
}, waitMs);
`;

interface TcpOutcome {
  host: string;
  port: number;
  /** `open`, `timeout`, or the connect error's code (`ECONNREFUSED`, `EHOSTUNREACH`, …). */
  outcome: string;
  ms: number;
}

const TCP_PROBE = `
const net = require('node:net');
const [targets, timeoutMs] = [JSON.parse(process.argv[1]), Number(process.argv[2])];
Promise.all(targets.map(([host, port]) => new Promise((resolve) => {
  const started = process.hrtime.bigint();
  const socket = net.connect({ host, port });
  const done = (outcome) => {
    clearTimeout(timer);
    socket.destroy();
    resolve({ host, port, outcome, ms: Number(process.hrtime.bigint() - started) / 1e6 });
  };
  const timer = setTimeout(() => done('timeout'), timeoutMs);
  socket.once('connect', () => done('open'));
  socket.once('error', (error) => done(error.code));
}))).then((results) => console.log(JSON.stringify(results)));
`;

describe('network lab', () => {
  let lab: Lab;
  let a: Lab['addresses'];

  async function fping(args: readonly string[], timeoutMs = 15_000): Promise<FpingReport> {
    const result = await lab.exec(['fping', ...args], { timeoutMs });
    assert.equal(result.timedOut, false, `fping ${args.join(' ')} timed out`);
    return parseFping(result);
  }

  async function icmp6(target: string, count = 1, waitMs = 500): Promise<Icmp6Outcome> {
    const result = await lab.exec(['node', '-e', ICMP6_PROBE, target, String(count), String(waitMs)], {
      env: { RAW_SOCKET_PATH },
      timeoutMs: waitMs + 10_000,
    });
    assert.equal(result.code, 0, `ICMPv6 probe failed: ${result.stderr}`);
    return JSON.parse(result.stdout) as Icmp6Outcome;
  }

  async function tcp(targets: readonly (readonly [string, number])[], timeoutMs = 800): Promise<TcpOutcome[]> {
    const result = await lab.exec(['node', '-e', TCP_PROBE, JSON.stringify(targets), String(timeoutMs)], {
      timeoutMs: timeoutMs + 10_000,
    });
    assert.equal(result.code, 0, `TCP probe failed: ${result.stderr}`);
    return JSON.parse(result.stdout) as TcpOutcome[];
  }

  function outcomes(results: readonly TcpOutcome[]): string[] {
    return results.map((r) => `${r.host} ${r.port} ${r.outcome}`);
  }

  before(async () => {
    assertLabPrerequisites(['fping']);
    const started = performance.now();
    lab = await createLab();
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 10_000, `createLab took ${Math.round(elapsed)} ms`);
    a = lab.addresses;
  });

  after(async () => {
    await lab?.destroy();
  });

  it('gives the sweeper namespace only lab routes: no default route in either family', async () => {
    const v4 = await lab.exec(['ip', '-4', 'route', 'show']);
    const v6 = await lab.exec(['ip', '-6', 'route', 'show']);
    assert.doesNotMatch(v4.stdout, /^default/m);
    assert.doesNotMatch(v6.stdout, /^default/m);
    assert.match(v4.stdout, new RegExp(`^${a.behind.v4Cidr} via ${a.router.lan.v4} `, 'm'));
    assert.match(v4.stdout, new RegExp(`^${a.unreachable.v4Cidr} via ${a.router.lan.v4} `, 'm'));
    assert.match(v4.stdout, new RegExp(`^${a.arpFails.v4Cidr} via ${a.router.lan.v4} `, 'm'));
    assert.match(v6.stdout, new RegExp(`^2001:db8:0:2::/64 via ${a.router.lan.v6} `, 'm'));
    for (const address of [a.noRoute.v4, a.noRoute.v6]) {
      const lookup = await lab.exec(['ip', 'route', 'get', address]);
      assert.notEqual(lookup.code, 0, `${address} must have no route, got: ${lookup.stdout}`);
      assert.match(lookup.stderr, /Network is unreachable/);
    }
  });

  /** An echo request to either address gets neither a reply nor an ICMP error. */
  async function assertEchoDroppedSilently(v4: string, v6: string): Promise<void> {
    const report = await fping(['-c1', '-t500', v4, v6]);
    assert.deepEqual(report.summary.get(v4), { sent: 1, received: 0 });
    assert.deepEqual(report.summary.get(v6), { sent: 1, received: 0 });
    assert.deepEqual(report.icmpErrors, []);
    const probe6 = await icmp6(v6);
    assert.deepEqual([probe6.replies, probe6.errors], [[], []]);
  }

  it('answers ICMP echo from every alive LAN host, v4 and v6', async () => {
    const hosts = [...a.lan.alive.v4, ...a.lan.alive.v6];
    const report = await fping(['-c1', '-t500', ...hosts]);
    for (const host of hosts) assert.deepEqual(report.summary.get(host), { sent: 1, received: 1 }, host);
    assert.deepEqual(report.icmpErrors, []);
  });

  it('makes the RDS-like host drop echo requests without any ICMP error', async () => {
    await assertEchoDroppedSilently(a.lan.rds.v4, a.lan.rds.v6);
  });

  it('opens TCP on the RDS-like host on its port and refuses the others, v4 and v6', async () => {
    const { v4, v6, openPort, closedPort } = a.lan.rds;
    const results = await tcp([
      [v4, openPort],
      [v6, openPort],
      [v4, closedPort],
      [v6, closedPort],
      [a.names.rds.name, openPort],
    ]);
    assert.deepEqual(outcomes(results), [
      `${v4} ${openPort} open`,
      `${v6} ${openPort} open`,
      `${v4} ${closedPort} ECONNREFUSED`,
      `${v6} ${closedPort} ECONNREFUSED`,
      `${a.names.rds.name} ${openPort} open`,
    ]);
  });

  it('rejects echo to the prohibited host with admin-prohibited sent by the host itself', async () => {
    const { v4, v6 } = a.lan.prohibited;
    const report = await fping(['-c1', '-t500', v4]);
    assert.deepEqual(report.icmpErrors, [
      { message: 'ICMP Unreachable (Communication Administratively Prohibited)', from: v4, target: v4 },
    ]);
    const probe6 = await icmp6(v6);
    assert.deepEqual(probe6.errors, [{ from: v6, type: 1, code: 1, seq: 0 }]);
    assert.deepEqual(probe6.replies, []);
  });

  it('rejects TCP to the prohibited host too: EHOSTUNREACH at once (v4), EACCES after the SYN retransmit (v6)', async () => {
    const { v4, v6 } = a.lan.prohibited;
    const [result4, result6] = await tcp(
      [
        [v4, 5432],
        [v6, 5432],
      ],
      2500,
    );
    assert.equal(result4?.outcome, 'EHOSTUNREACH');
    // Well inside the 2.5 s connect timer: the ICMP error ended the attempt, not the timer.
    assert.ok((result4?.ms ?? Infinity) < 2000, `v4 took ${result4?.ms} ms`);
    // The first ICMPv6 error comes back while connect() still holds the socket lock (TcpExtLockDroppedIcmps), so
    // Linux only sees the answer to the retransmitted SYN, about 1 s later. A real network is slower than that.
    assert.equal(result6?.outcome, 'EACCES');
  });

  it('rejects echo and TCP to the port-unreachable host with ICMP port unreachable', async () => {
    const { v4 } = a.lan.portUnreachable;
    const report = await fping(['-c1', '-t500', v4]);
    assert.deepEqual(report.icmpErrors, [{ message: 'ICMP Port Unreachable', from: v4, target: v4 }]);
    assert.deepEqual(outcomes(await tcp([[v4, 80]])), [`${v4} 80 ECONNREFUSED`]);
  });

  it('keeps the silent host silent yet present on the link (ARP/ND resolve)', async () => {
    const { v4, v6 } = a.lan.silent;
    await assertEchoDroppedSilently(v4, v6);
    assert.deepEqual(outcomes(await tcp([[v4, 22], [v6, 22]], 300)), [`${v4} 22 timeout`, `${v6} 22 timeout`]);
    for (const address of [v4, v6]) {
      const neighbour = await lab.exec(['ip', 'neigh', 'show', address]);
      assert.match(neighbour.stdout, /lladdr [0-9a-f:]{17} /, `no link-layer address for ${address}: ${neighbour.stdout}`);
    }
  });

  it('reports an empty on-link address as host unreachable from the sweeper itself once ARP/ND fails', async () => {
    const [report, probe6] = await Promise.all([fping(['-c1', '-t4500', a.lan.empty.v4]), icmp6(a.lan.empty.v6, 1, 4500)]);
    assert.deepEqual(report.icmpErrors, [{ message: 'ICMP Host Unreachable', from: a.sweeper.v4, target: a.lan.empty.v4 }]);
    assert.deepEqual(probe6.errors, [{ from: a.sweeper.v6, type: 1, code: 3, seq: 0 }]);
  });

  it('routes to the hosts behind the router: alive, prohibited by the router, dropped by the router', async () => {
    const { alive, prohibitedByRouter, droppedByRouter } = a.behind;
    const report = await fping(['-c1', '-t500', alive.v4, alive.v6, prohibitedByRouter.v4, droppedByRouter.v4]);
    assert.deepEqual(report.summary.get(alive.v4), { sent: 1, received: 1 });
    assert.deepEqual(report.summary.get(alive.v6), { sent: 1, received: 1 });
    assert.deepEqual(report.summary.get(droppedByRouter.v4), { sent: 1, received: 0 });
    assert.deepEqual(report.icmpErrors, [
      {
        message: 'ICMP Unreachable (Communication Administratively Prohibited)',
        from: a.router.lan.v4,
        target: prohibitedByRouter.v4,
      },
    ]);
    const probe6 = await icmp6(prohibitedByRouter.v6);
    assert.deepEqual(probe6.errors, [{ from: a.router.lan.v6, type: 1, code: 1, seq: 0 }]);
    const results = await tcp([
      [alive.v4, 22],
      [prohibitedByRouter.v4, 22],
      [droppedByRouter.v4, 22],
    ]);
    assert.deepEqual(outcomes(results), [
      `${alive.v4} 22 ECONNREFUSED`,
      `${prohibitedByRouter.v4} 22 EHOSTUNREACH`,
      `${droppedByRouter.v4} 22 timeout`,
    ]);
  });

  it('reports an empty address behind the router as unreachable from the router once its ARP/ND fails', async () => {
    const [report, probe6] = await Promise.all([
      fping(['-c1', '-t4500', a.behind.empty.v4]),
      icmp6(a.behind.empty.v6, 1, 4500),
    ]);
    assert.deepEqual(report.icmpErrors, [
      { message: 'ICMP Host Unreachable', from: a.router.lan.v4, target: a.behind.empty.v4 },
    ]);
    assert.deepEqual(probe6.errors, [{ from: a.router.lan.v6, type: 1, code: 3, seq: 0 }]);
  });

  it('answers host unreachable from the router at once for every address of the unreachable /24', async () => {
    const base = a.unreachable.v4Cidr.replace(/\.0\/24$/, '');
    const report = await fping(['-c1', '-t500', '-g', `${base}.1`, `${base}.254`]);
    const fromRouter = report.icmpErrors.filter(
      (error) => error.message === 'ICMP Host Unreachable' && error.from === a.router.lan.v4,
    );
    assert.equal(fromRouter.length, 254, report.result.stderr.slice(0, 2000));
    assert.ok(report.icmpErrors.some((error) => error.target === a.unreachable.v4));
  });

  it('answers host unreachable from the router for the ARP-fails /24 within 900 ms, not the usual 3 s', async () => {
    // Within 900 ms: the router gives up ARP after 3 probes 100 ms apart (about 300 ms), not after the usual 3 s.
    const report = await fping(['-c1', '-t900', a.arpFails.v4, a.arpFails.router]);
    assert.deepEqual(report.icmpErrors, [
      { message: 'ICMP Host Unreachable', from: a.router.lan.v4, target: a.arpFails.v4 },
    ]);
    assert.deepEqual(report.summary.get(a.arpFails.router), { sent: 1, received: 1 });
  });

  it('does not rate-limit ICMP errors: 100 echoes in 1 s to a rejecting host get 100 errors, v4 and v6', async () => {
    const report = await fping(['-c100', '-p10', '-t500', a.lan.prohibited.v4]);
    assert.equal(report.icmpErrors.length, 100);
    const routed = await fping(['-c100', '-p10', '-t500', a.behind.prohibitedByRouter.v4]);
    assert.equal(routed.icmpErrors.length, 100);
    const probe6 = await icmp6(a.behind.prohibitedByRouter.v6, 100, 1000);
    assert.equal(probe6.errors.length, 100);
  });

  it('fails locally, before sending, for addresses without a route', async () => {
    const report = await fping(['-t500', a.noRoute.v4]);
    assert.match(report.result.stderr, new RegExp(`${a.noRoute.v4}: error while sending ping: Network is unreachable`));
    const probe6 = await icmp6(a.noRoute.v6, 1, 100);
    assert.equal(probe6.sendErrors.length, 1);
    assert.match(probe6.sendErrors[0] ?? '', /unreachable/i);
    const results = await tcp([
      [a.noRoute.v4, 80],
      [a.noRoute.v6, 80],
    ]);
    assert.deepEqual(outcomes(results), [`${a.noRoute.v4} 80 ENETUNREACH`, `${a.noRoute.v6} 80 ENETUNREACH`]);
  });

  it('resolves the lab names inside the sweeper namespace and fails fast on unknown ones', async () => {
    const rds = await lab.exec(['getent', 'ahosts', a.names.rds.name]);
    assert.equal(rds.code, 0, rds.stderr);
    const rdsAddresses = new Set(rds.stdout.split('\n').map((line) => line.split(/\s+/)[0]).filter(Boolean));
    assert.deepEqual([...rdsAddresses].sort(), [a.names.rds.v4, a.names.rds.v6].sort());
    const lookup = await lab.exec([
      'node',
      '-e',
      `const dns = require('node:dns').promises;
       const started = Date.now();
       Promise.all([
         dns.lookup(${JSON.stringify(a.names.web.name)}),
         dns.lookup(${JSON.stringify(a.names.behind.name)}),
         dns.lookup(${JSON.stringify(a.names.unknown)}).then(() => 'resolved', (error) => error.code),
       ]).then(([web, behind, unknown]) =>
         console.log(JSON.stringify({ web: web.address, behind: behind.address, unknown, ms: Date.now() - started })));`,
    ]);
    assert.equal(lookup.code, 0, lookup.stderr);
    const names = JSON.parse(lookup.stdout) as { web: string; behind: string; unknown: string; ms: number };
    assert.equal(names.web, a.names.web.v4);
    assert.equal(names.behind, a.names.behind.v4);
    // Nothing listens on 127.0.0.1:53: glibc gets "connection refused" and reports EAI_AGAIN, not ENOTFOUND.
    assert.ok(['EAI_AGAIN', 'ENOTFOUND'].includes(names.unknown), names.unknown);
    // glibc waits 5 s per try for a DNS server that does not answer; a refused one fails at once.
    assert.ok(names.ms < 4000, `lookups took ${names.ms} ms`);
  });
});

describe('createLab / destroy', () => {
  it('replaces a leftover lab of the same name, then removes every trace of it, twice without error', async () => {
    const name = `zs${Math.random().toString(36).slice(2, 6)}`;
    const namespaces = ['sw', 'lan', 'rt', 'bh'].map((suffix) => `${name}-${suffix}`);
    const first = await createLab({ name });
    const second = await createLab({ name });
    try {
      assert.deepEqual((await listNamespaces()).filter((ns) => ns.startsWith(`${name}-`)).sort(), [...namespaces].sort());
      assert.equal(second.sweeperNs, `${name}-sw`);
      assert.match(readFileSync(`/etc/netns/${name}-sw/hosts`, 'utf8'), /rds\.lab\.internal/);
      const ping = await second.exec(['fping', '-c1', '-t500', second.addresses.lan.alive.v4[0] ?? '']);
      assert.equal(ping.code, 0, ping.stderr);
      const slow = await second.exec(['sleep', '5'], { timeoutMs: 200 });
      assert.deepEqual([slow.timedOut, slow.code], [true, null]);
    } finally {
      await second.destroy();
    }
    assert.deepEqual((await listNamespaces()).filter((ns) => ns.startsWith(`${name}-`)), []);
    assert.equal(existsSync(`/etc/netns/${name}-sw`), false);
    await second.destroy();
    await first.destroy();
  });
});
