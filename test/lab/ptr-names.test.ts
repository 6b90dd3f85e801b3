/**
 * `dns:on`: the PTR name of every host that answered, from a real name server (test/support/ptr-server.mjs, UDP on
 * 127.0.0.1:53 inside the namespace, named by its /etc/resolv.conf) and the built CLI.
 *
 * First in a namespace of its own with loopback alone, where 127.0.0.0/24 is 254 hosts that answer: every one named,
 * never more than 64 lookups out at once, no query at all without dns:on, and a server that does not answer costs
 * the sweep its 5 s and is said. Then through an agent inside the network lab, as inside a VPC: the agent asks the
 * name server of its own network, and `zensweep submit` (in the host namespace) shows what it found.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { DistributedReport, SweepReport } from '../../src/core/report.js';
import { startAgent, type AgentProcess } from '../support/agents.js';
import { cliCommand, run, zensweep } from '../support/cli.js';
import { createLab, type Lab } from '../support/lab.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { assertRoot } from '../support/root.js';
import { loopbackNamespace, type LoopbackNamespace } from '../support/loopback-netns.js';
import { until } from '../support/wait.js';

const PTR_SERVER = fileURLToPath(new URL('../support/ptr-server.mjs', import.meta.url));

interface PtrServer {
  /** The queries it has received so far, each with how many were out (received, not answered) when it came. */
  queries(): { name: string; type: number; outstanding: number }[];
  stop(): Promise<void>;
}

async function startPtrServer(ns: string, mode: 'answer' | 'drop', names: Record<string, string>, delayMs = 100): Promise<PtrServer> {
  const child: ChildProcessWithoutNullStreams = spawn('ip', ['netns', 'exec', ns, process.execPath, PTR_SERVER, '127.0.0.1', String(delayMs), mode, JSON.stringify(names)]);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  await until('the PTR server to listen', () => out.startsWith('ready\n'), {
    timeoutMs: 20_000,
    stopIf: () => (child.exitCode !== null ? `it exited ${child.exitCode}: ${err}` : undefined),
  });
  return {
    queries: () =>
      [...out.matchAll(/^query (\S+) (\d+) outstanding (\d+)$/gm)].map((m) => ({ name: m[1] ?? '', type: Number(m[2]), outstanding: Number(m[3]) })),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

describe('sweep dns:on in a namespace of its own (loopback, a real name server)', () => {
  const ns = `zs-ptr-${process.pid}`;
  let server: PtrServer | undefined;
  const sweep = (...args: string[]) => run(['ip', 'netns', 'exec', ns, ...cliCommand(), 'sweep', ...args], { timeoutMs: 60_000 });

  let namespace: LoopbackNamespace | undefined;

  before(async () => {
    assertRoot();
    namespace = await loopbackNamespace(ns);
    await namespace.resolvConf('nameserver 127.0.0.1\n');
  });
  after(async () => {
    await server?.stop();
    await namespace?.destroy();
  });

  it('names every host that answered, at most 64 lookups at once, beside its address', { timeout: 90_000 }, async (t) => {
    server = await startPtrServer(ns, 'answer', { '127.0.0.*': 'host-*.lo.test' });
    const result = await sweep('127.0.0.0/24', 'dns:on', '--json');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    const report = JSON.parse(result.stdout) as SweepReport;
    assert.equal(report.options.dns, true);
    assert.equal(report.summary.alive, 254);
    assert.deepEqual(
      report.hosts.filter((h) => h.ptr !== `host-${h.ip.split('.')[3]}.lo.test`).map((h) => [h.ip, h.ptr, h.ptrError]),
      [],
      'every host has its own PTR name',
    );
    const queries = server.queries();
    assert.equal(queries.length, 254, 'one PTR query per host');
    assert.ok(queries.every((q) => q.type === 12));
    const most = Math.max(...queries.map((q) => q.outstanding));
    t.diagnostic(`254 PTR queries, at most ${most} out at once (the server answers each after 100 ms)`);
    assert.ok(most <= 64, `${most} lookups were out at once`);
    assert.ok(most >= 8, `the lookups ran one after another (at most ${most} at once)`);

    const text = await sweep('127.0.0.1-3', 'dns:on', '--no-progress');
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^127\.0\.0\.1-3 — 3 alive · /);
    assert.match(text.stdout, /\n {2}127\.0\.0\.2 \(host-2\.lo\.test\) +rtt /);
    assert.match(text.stdout, /\n {2}PTR names: 3 of 3 hosts that answered\n/);
  });

  it('asks the name server nothing without dns:on', { timeout: 60_000 }, async () => {
    assert.ok(server, 'the server of the test before');
    const before = server.queries().length;
    const result = await sweep('127.0.0.0/24', '--json');
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as SweepReport;
    assert.equal(report.summary.alive, 254);
    assert.deepEqual(report.hosts.filter((h) => 'ptr' in h || 'ptrError' in h), []);
    assert.equal(server.queries().length, before, 'a query went out');
    const text = await sweep('127.0.0.1-3', '--no-progress');
    assert.doesNotMatch(text.stdout, /PTR|lo\.test/);
  });

  it('says so when the name server does not answer, and the sweep still reports', { timeout: 60_000 }, async () => {
    await server?.stop();
    server = await startPtrServer(ns, 'drop', {});
    const result = await sweep('127.0.0.1-20', 'dns:on', '--no-progress');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    assert.match(result.stdout, /^127\.0\.0\.1-20 — 20 alive · /);
    assert.match(result.stdout, /\n {2}PTR names: 0 of 20 hosts that answered · 20 lookups failed: name resolution timed out \(ETIMEOUT\)\n/);
    assert.ok(server.queries().length >= 20, 'every host was asked');
  });
});

describe('sweep dns:on through an agent inside the network lab', () => {
  let lab: Lab;
  let redis: RedisServer;
  let agent: AgentProcess;
  let server: PtrServer;

  before(async () => {
    assertRoot();
    lab = await createLab();
    redis = await startRedis({ unixSocket: true });
    await lab.bridgeToHost(redis.port, redis.socketPath ?? '');
    // The lab's resolver is 127.0.0.1 in the sweeper namespace: this server is the network's own name server.
    server = await startPtrServer(lab.sweeperNs, 'answer', { '198.18.0.*': 'lan-*.lab.test' });
    agent = await startAgent({ redisUrl: redis.url, group: 'vpc', cidrs: lab.addresses.lan.v4Cidr, netns: lab.sweeperNs });
  });
  after(async () => {
    await agent?.stop();
    await server?.stop();
    await redis?.destroy();
    await lab?.destroy();
  });

  it('the agent names the hosts where it runs, and the report carries the names', { timeout: 120_000 }, async () => {
    const { lan } = lab.addresses;
    const result = await zensweep(['submit', lan.v4Cidr, `tcp:${lan.rds.openPort}`, 'timeout:500', 'dns:on', '--json'], {
      env: { PATH: process.env.PATH, REDIS_URL: redis.url },
      timeoutMs: 110_000,
    });
    assert.equal(result.code, 0, `submit exited ${result.code}:\n${result.stderr}\nagent:\n${agent.log()}`);
    const report = JSON.parse(result.stdout) as DistributedReport;
    const answered = report.hosts.filter((h) => h.state === 'alive' || h.state === 'alive_tcp_only');
    for (const ip of [...lan.alive.v4, lan.rds.v4]) assert.ok(answered.some((h) => h.ip === ip), `${ip} answered`);
    assert.deepEqual(
      answered.filter((h) => h.ptr !== `lan-${h.ip.split('.')[3]}.lab.test`).map((h) => [h.ip, h.ptr, h.ptrError]),
      [],
    );
    assert.deepEqual(report.hosts.filter((h) => h.state !== 'alive' && h.state !== 'alive_tcp_only' && 'ptr' in h), [], 'only hosts that answered are looked up');
    assert.equal(server.queries().length, answered.length);
  });
});
