/**
 * An agent whose connection that waits for work goes deaf (half-open: up, and never answering) says so and recovers
 * by itself: real redis-server, a real agent process reaching it through a relay that stops relaying any connection
 * that sends BZPOPMIN (test/support/freeze-proxy.ts) while heartbeats and PINGs on its other connection still go
 * through. While deaf, /readyz answers 503 naming the queue and `zensweep agents` shows NOT TAKING WORK; once the
 * relay lets new connections through, the same process answers /readyz 200 and runs the next sweep, without a
 * restart. An agent next to it, on a healthy connection the whole time, never says it is deaf (the check's own false
 * alarm), and both write only JSON lines, each change said once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DistributedReport } from '../../src/core/report.js';
import { startAgent, type AgentProcess } from '../support/agents.js';
import { zensweep } from '../support/cli.js';
import { FreezeProxy } from '../support/freeze-proxy.js';
import { probe } from '../support/metrics.js';
import { freePort } from '../support/ports.js';
import { notJsonLines } from '../support/service.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { until, waitFor } from '../support/wait.js';

/** Generous: the agent calls a connection deaf after 25 s of silence (DEAF_AFTER_MS), and the machine is shared. */
const DEAF_WITHIN_MS = 90_000;

async function readyz(port: number): Promise<{ status: number; checks: Record<string, string> }> {
  const { status, body } = await probe(port, '/readyz');
  return { status, checks: (JSON.parse(body) as { checks: Record<string, string> }).checks };
}

describe('a deaf queue connection: said on /readyz and in `agents`, recovered without a restart (real redis-server, agents)', () => {
  let redis: RedisServer;
  let proxy: FreezeProxy;
  let deafAgent: AgentProcess;
  let healthy: AgentProcess;
  let metricsPort: number;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    redis = await startRedis();
    proxy = await FreezeProxy.start(redis.port);
    metricsPort = await freePort();
    env = { PATH: process.env.PATH, REDIS_URL: redis.url };
    deafAgent = await startAgent({ redisUrl: proxy.url, group: 'lo', cidrs: '127.0.0.0/29', env: { METRICS_PORT: String(metricsPort) } });
    healthy = await startAgent({ redisUrl: redis.url, group: 'other', cidrs: '127.0.1.0/29' });
  });
  after(async () => {
    await deafAgent?.stop();
    await healthy?.stop();
    await proxy?.close();
    await redis?.stop();
  });

  it('fails /readyz and shows NOT TAKING WORK while deaf, then takes the next sweep on the same process', { timeout: 240_000 }, async () => {
    assert.equal((await readyz(metricsPort)).status, 200, deafAgent.log());

    proxy.freezing = true;
    // Each connection is frozen at its next BZPOPMIN and called deaf 25 s after its first unanswered PING, so the
    // two connections (sweep.{lo}, report-parts.{lo}) may be named a few seconds apart: wait for the one for sweeps.
    const deaf = await waitFor(
      '/readyz failing on the queue check, naming sweep.{lo}',
      async () => {
        const answer = await readyz(metricsPort);
        return answer.status === 503 && (answer.checks.queue ?? '').includes('sweep.{lo}') ? answer : undefined;
      },
      { timeoutMs: DEAF_WITHIN_MS, everyMs: 500, show: () => deafAgent.log() },
    );
    assert.ok(proxy.frozen >= 1);
    assert.match(deaf.checks.queue ?? '', /the connections? waiting for work on .*sweep\.\{lo\}.* (has|have) not answered for \d+ s/);
    // The Redis check passes: the agent's other connection is fine, which is what makes this one easy to miss.
    assert.equal(deaf.checks.redis, 'ok');

    const listed = await waitFor(
      '`zensweep agents` saying NOT TAKING WORK',
      async () => {
        const result = await zensweep(['agents'], { env, timeoutMs: 30_000 });
        return /NOT TAKING WORK: .*sweep\.\{lo\}/.test(result.stdout) ? result.stdout : undefined;
      },
      { timeoutMs: 30_000, everyMs: 1000, show: () => deafAgent.log() },
    );
    const agentLine = listed.split('\n').find((line) => line.includes(deafAgent.id));
    assert.ok(agentLine, listed);
    assert.match(listed, /NOT TAKING WORK: its connections? waiting on .*sweep\.\{lo\}.* (has|have) not answered for/);
    // Only the deaf one.
    assert.equal(listed.split('NOT TAKING WORK').length - 1, 1, listed);

    proxy.freezing = false;
    await waitFor(
      '/readyz answering 200 again',
      async () => ((await readyz(metricsPort)).status === 200 ? true : undefined),
      { timeoutMs: DEAF_WITHIN_MS, everyMs: 500, show: () => deafAgent.log() },
    );
    const result = await zensweep(['submit', '127.0.0.0/29', '--json'], { env, timeoutMs: 60_000 });
    assert.equal(result.code, 0, `submit exited ${String(result.code)}:\n${result.stderr}\nagent:\n${deafAgent.log()}`);
    const report = JSON.parse(result.stdout) as DistributedReport;
    assert.equal(report.complete, true);
    assert.equal(report.summary.alive, 6);
    assert.deepEqual([...new Set(report.chunks.map((c) => c.agentId))], [deafAgent.id]);
    // The next heartbeat (written as soon as the agent tells the change) clears it from `agents`.
    await waitFor(
      '`zensweep agents` no longer saying NOT TAKING WORK',
      async () => {
        const result = await zensweep(['agents'], { env, timeoutMs: 30_000 });
        return result.stdout.includes(deafAgent.id) && !result.stdout.includes('NOT TAKING WORK') ? true : undefined;
      },
      { timeoutMs: 30_000, everyMs: 1000, show: () => deafAgent.log() },
    );

    // Each queue that went deaf said so once, and once that it answers again (the queues found in one round in one
    // line: at most two lines each way for its four workers); nothing but JSON on either stream.
    await until('every deaf queue answering again', () => deafAgent.events('queue_connection_back').flatMap((e) => e.queues as string[]).length >= deafAgent.events('queue_connection_deaf').flatMap((e) => e.queues as string[]).length, { timeoutMs: DEAF_WITHIN_MS, show: () => deafAgent.log() });
    const wentDeaf = deafAgent.events('queue_connection_deaf').flatMap((e) => e.queues as string[]);
    const cameBack = deafAgent.events('queue_connection_back').flatMap((e) => e.queues as string[]);
    assert.ok(wentDeaf.includes('sweep.{lo}'), deafAgent.log());
    assert.equal(new Set(wentDeaf).size, wentDeaf.length, deafAgent.log());
    assert.deepEqual([...cameBack].sort(), [...wentDeaf].sort(), deafAgent.log());
    assert.deepEqual(notJsonLines(deafAgent), []);
    // The agent on a healthy connection the whole time (a minute and more, idle): never called deaf.
    assert.deepEqual(healthy.events('queue_connection_deaf'), [], healthy.log());
    assert.deepEqual(notJsonLines(healthy), []);
  });
});
