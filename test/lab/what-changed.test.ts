/**
 * "What changed" between two sweeps through an agent in the lab, as an on-call engineer reads it: the agent runs in
 * the sweeper namespace (no default route) and sweeps the on-link LAN /24 and the /24 behind the lab router, each
 * twice, back to back, with nothing changed in between. An empty address reads silent on the first sweep and
 * "host unreachable" on the next once its neighbour lookup has failed (the sweeper's own ARP on the LAN, the
 * router's behind it): one fact, so no change. Then a host's address is removed and a listener added between two
 * sweeps: exactly those two changes. `zensweep submit` runs in the host namespace: it only talks to Redis.
 *
 * The same again with the agent as nobody without any capability, in a sweeper namespace whose
 * net.ipv4.ping_group_range covers it (ping sockets, the kernel's connects): the same answers.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { DistributedReport } from '../../src/core/report.js';
import { renderText } from '../../src/views/text.js';
import { startAgent, type AgentProcess } from '../support/agents.js';
import { zensweep } from '../support/cli.js';
import { createLab, ipBatch, startListener, stopChild, type Lab } from '../support/lab.js';
import { EVERY_GROUP, UNPRIVILEGED } from '../support/ping-netns.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { assertRoot } from '../support/root.js';

/** A port nothing in the lab listens on until the test starts a listener on it. */
const PORT = 8080;

for (const privilege of ['root', 'unprivileged'] as const) describe(`what changed between two sweeps through an agent in the network lab (${privilege})`, () => {
  let lab: Lab;
  let redis: RedisServer;
  let agent: AgentProcess;

  before(async () => {
    assertRoot();
    lab = await createLab();
    redis = await startRedis({ unixSocket: true });
    await lab.bridgeToHost(redis.port, redis.socketPath ?? '');
    // Per namespace: the sweeper's only, never the host's.
    const set = await lab.exec(['sysctl', '-q', '-w', `net.ipv4.ping_group_range=${EVERY_GROUP}`]);
    assert.equal(set.code, 0, set.stderr);
    const { lan, behind } = lab.addresses;
    const wrapper = privilege === 'root' ? [] : UNPRIVILEGED;
    agent = await startAgent({ redisUrl: redis.url, group: 'lab', cidrs: `${lan.v4Cidr},${behind.v4Cidr}`, netns: lab.sweeperNs, wrapper });
  });
  after(async () => {
    await agent?.stop();
    await redis?.destroy();
    await lab?.destroy();
  });

  async function submit(args: string[]): Promise<DistributedReport> {
    const result = await zensweep(['submit', ...args, '--json'], { env: { PATH: process.env.PATH, REDIS_URL: redis.url }, timeoutMs: 110_000 });
    assert.equal(result.code, 0, `submit exited ${result.code}:\n${result.stderr}\nagent:\n${agent.log()}`);
    const report = JSON.parse(result.stdout) as DistributedReport;
    assert.equal(report.complete, true, 'the sweep is complete');
    assert.deepEqual([...new Set(report.chunks.map((c) => c.icmpMode))], [privilege === 'root' ? 'raw' : 'ping']);
    return report;
  }

  /** The headline and the "what changed" lines of the report as the terminal prints it, for the test's output. */
  function said(t: TestContext, what: string, report: DistributedReport): void {
    const lines = renderText(report).split('\n');
    const end = lines.indexOf('');
    t.diagnostic(`${what}:\n${lines.slice(0, end < 0 ? 3 : end).join('\n')}`);
  }

  for (const where of ['lan', 'behind'] as const) {
    const name = where === 'lan' ? 'the on-link /24' : 'the /24 behind the router';
    it(`says nothing changed between two back-to-back sweeps of ${name}`, { timeout: 240_000 }, async (t) => {
      const cidr = lab.addresses[where].v4Cidr;
      const first = await submit([cidr]);
      const second = await submit([cidr]);
      said(t, `first sweep of ${cidr}`, first);
      said(t, `second sweep of ${cidr}`, second);
      assert.equal(second.changes?.sinceId, first.sweepId);
      const { diff } = second.changes ?? {};
      assert.deepEqual(
        { appeared: diff?.appeared, wentSilent: diff?.wentSilent, changed: diff?.changed, unchanged: diff?.unchanged },
        { appeared: [], wentSilent: [], changed: [], unchanged: 254 },
      );
    });
  }

  it('says exactly what changed when a host leaves the link and another opens a port', { timeout: 240_000 }, async (t) => {
    const { lan } = lab.addresses;
    const leaving = lan.alive.v4[2] ?? '';
    const opening = lan.alive.v4[1] ?? '';
    const first = await submit([lan.v4Cidr, `tcp:${PORT}`]);
    assert.equal(first.hosts.find((h) => h.ip === opening)?.ports[0]?.state, 'closed', `${opening}:${PORT} refused before`);
    let listener: ChildProcess | undefined;
    await ipBatch(lab.namespaces.lan, [`addr del ${leaving}/24 dev br0`]);
    try {
      listener = await startListener(lab.namespaces.lan, [`${opening}:${PORT}`], false);
      const second = await submit([lan.v4Cidr, `tcp:${PORT}`]);
      said(t, `after ${leaving} left and ${opening}:${PORT} opened`, second);
      assert.equal(second.changes?.sinceId, first.sweepId);
      const { diff } = second.changes ?? {};
      assert.deepEqual(
        { appeared: diff?.appeared, wentSilent: diff?.wentSilent, changed: diff?.changed, unchanged: diff?.unchanged },
        {
          appeared: [],
          wentSilent: [[leaving, 'silent']],
          changed: [{ ip: opening, from: 'alive', to: 'alive', ports: [{ port: PORT, from: 'closed', to: 'open' }] }],
          unchanged: 252,
        },
      );
    } finally {
      if (listener) await stopChild(listener);
      await ipBatch(lab.namespaces.lan, [`addr add ${leaving}/24 dev br0`]);
    }
  });
});
