/**
 * Sweeps through Redis and real agent processes, on loopback: the agents, the submitter and redis-server are all
 * real processes, and the faults are real (SIGKILL, a Redis restart). Every test gets its own redis-server.
 */
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, before, describe, it } from 'node:test';
import { FlowProducer, Job, Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { parseSweepText } from '../../src/core/grammar.js';
import { Dispatcher, partJobId } from '../../src/queue/dispatcher.js';
import { DEFAULT_OPTIONS } from '../../src/core/request.js';
import { HistoryStore, targetKey } from '../../src/queue/history.js';
import type { DistributedReport } from '../../src/core/report.js';
import type { PartJob, ReportJob } from '../../src/queue/jobs.js';
import { REPORT_QUEUE, partQueueName, sweepQueueName } from '../../src/queue/names.js';
import { partProcessor } from '../../src/queue/report-worker.js';
import { AgentRegistry } from '../../src/queue/registry.js';
import { ResultStore } from '../../src/queue/results.js';
import { startAgent, type AgentProcess } from '../support/agents.js';
import { zensweep, type CliResult } from '../support/cli.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { assertRoot } from '../support/root.js';
import { quietFor, until } from '../support/wait.js';

const TIMEOUT = { timeout: 120_000 };

function parseReport(result: CliResult): DistributedReport {
  assert.equal(result.code, 0, `submit exited ${result.code}:\n${result.stderr}`);
  return JSON.parse(result.stdout) as DistributedReport;
}

/** Every address once, in the report's order. */
function assertEachOnce(report: DistributedReport, expected: number): void {
  const ips = report.hosts.map((h) => h.ip);
  assert.equal(new Set(ips).size, ips.length, 'an address is reported twice');
  assert.equal(ips.length, expected);
  assert.equal(report.summary.total, expected);
}

describe('zensweep submit with agents (real processes, real redis-server)', () => {
  let redis: RedisServer;
  let client: Redis;
  const agents: AgentProcess[] = [];
  const env = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, REDIS_URL: redis.url });
  const agent = async (options: Omit<Parameters<typeof startAgent>[0], 'redisUrl'>): Promise<AgentProcess> => {
    const started = await startAgent({ redisUrl: redis.url, ...options });
    agents.push(started);
    return started;
  };
  /** Resolves once a chunk of this group's queue is being probed. */
  const chunkActive = (group: string): Promise<void> => {
    const queue = new Queue(sweepQueueName(group), { connection: client });
    return until(`an active chunk in ${group}`, async () => (await queue.getActiveCount()) > 0).finally(() => queue.close());
  };
  /** Resolves once an active chunk of this group's queue has reported some of its addresses probed, not all. */
  const chunkUnderWay = (group: string): Promise<void> => {
    const queue = new Queue(sweepQueueName(group), { connection: client });
    const underWay = async (): Promise<boolean> =>
      (await queue.getActive()).some(({ progress }) => {
        if (typeof progress !== 'object' || !('done' in progress) || !('total' in progress)) return false;
        const { done, total } = progress;
        return typeof done === 'number' && typeof total === 'number' && done > 0 && done < total;
      });
    return until(`a chunk in ${group} under way`, underWay).finally(() => queue.close());
  };

  before(async () => {
    assertRoot();
  });

  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.kill()));
    client?.disconnect();
    await redis?.destroy();
  });

  async function freshRedis(appendOnly = false): Promise<void> {
    redis = await startRedis({ appendOnly });
    client = new Redis(redis.url, { maxRetriesPerRequest: null });
  }

  it('runs a /24 on two replicas of one group and prints the same report model as sweep, plus who ran it', TIMEOUT, async () => {
    await freshRedis();
    const a1 = await agent({ group: 'lo', cidrs: '127.0.0.0/16' });
    const a2 = await agent({ group: 'lo', cidrs: '127.0.0.0/16' });
    const report = parseReport(await zensweep(['submit', '127.0.0.0/23', 'tcp:1', '--json'], { env: env() }));
    assertEachOnce(report, 510);
    assert.equal(report.summary.alive, 510);
    assert.equal(report.complete, true);
    assert.deepEqual(report.groups, ['lo']);
    assert.equal(report.chunks.length, 2);
    for (const chunk of report.chunks) assert.ok([a1.id, a2.id].includes(chunk.agentId));
    assert.ok(report.hosts.every((h) => h.ports[0]?.state === 'closed'), 'port 1 is closed on loopback');
    assert.match(report.requestedBy, /@/);
    // Host results travel in their own keys, not in return values that BullMQ copies into its event streams.
    for (const stream of ['bull:sweep.{lo}:events', 'bull:report-parts.{lo}:events', 'bull:{sweep-reports}:events']) {
      const entries = await client.xrange(stream, '-', '+');
      assert.ok(entries.length > 0, stream);
      const longest = Math.max(...entries.flatMap(([, fields]) => fields.map((f) => f.length)));
      assert.ok(longest < 2000, `${stream} holds a field of ${longest} characters`);
    }
    assert.deepEqual(await client.keys('zensweep:chunk:*'), [], 'chunk results are removed once reported');
    assert.deepEqual(await client.keys('zensweep:part*'), [], 'parts are removed once reported');

    const text = await zensweep(['submit', '127.0.0.0/23', 'tcp:1'], { env: env() });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^127\.0\.0\.0\/23 — 510 alive · /);
    assert.match(text.stdout, /\nRun\n {2}sweep \S+, asked by \S+, in lo\n/);
    assert.match(text.stdout, /\nSince \d\d:\d\d UTC[^\n]*: no change in 510 hosts\n/);
  });

  it('lists agents with what they declared, and drops a dead one within 30 s', { timeout: 90_000 }, async () => {
    await freshRedis();
    const a = await agent({ group: 'lo', cidrs: '127.0.0.0/25,127.0.1.0/24', concurrency: 3 });
    const listed = await zensweep(['agents', '--json'], { env: env() });
    assert.equal(listed.code, 0, listed.stderr);
    const [info] = JSON.parse(listed.stdout) as Awaited<ReturnType<AgentRegistry['list']>>;
    assert.equal(info?.id, a.id);
    assert.equal(info?.group, 'lo');
    assert.deepEqual(info?.cidrs, ['127.0.0.0/25', '127.0.1.0/24']);
    assert.equal(info?.icmp, true);
    assert.deepEqual(info?.load, { active: 0, concurrency: 3 });
    assert.match(info?.version ?? '', /^\d+\.\d+\.\d+/);
    const human = await zensweep(['agents'], { env: env() });
    assert.match(human.stdout, new RegExp(`^lo\\n {2}${a.id} {3}127\\.0\\.0\\.0/25, 127\\.0\\.1\\.0/24 {3}ICMP\\+TCP`));

    await a.kill();
    const registry = new AgentRegistry(client);
    const killedAt = Date.now();
    await until('the dead agent to leave the registry', async () => (await registry.list()).length === 0, { timeoutMs: 35_000 });
    // The key expires 30 s after the last heartbeat, which came before the kill; 2 s more for a loaded machine's polling.
    assert.ok(Date.now() - killedAt <= 32_000, `left after ${Date.now() - killedAt} ms`);
  });

  it('refuses a target no agent covers, saying what each group covers, and enqueues nothing', TIMEOUT, async () => {
    await freshRedis();
    await agent({ group: 'a', cidrs: '127.0.0.0/25' });
    const result = await zensweep(['submit', '127.0.0.0/24'], { env: env() });
    assert.equal(result.code, 2);
    assert.equal(result.stderr, 'zensweep: no live agent covers 127.0.0.128-127.0.0.254: a covers 127.0.0.0/25\n');
    const forced = await zensweep(['submit', '127.0.0.5', 'vpc:b'], { env: env() });
    assert.equal(forced.code, 2);
    assert.match(forced.stderr, /^zensweep: no live agent in group b: a covers 127\.0\.0\.0\/25\n$/);
    const bad = await zensweep(['submit', '127.0.0.0/24', 'count:0'], { env: env() });
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.split('\n').length, 2, bad.stderr);
    const unknown = await zensweep(['submit', '127.0.0.5', 'compare:never-saved'], { env: env() });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no baseline named never-saved/);
    for (const name of [sweepQueueName('a'), partQueueName('a'), REPORT_QUEUE]) {
      const queue = new Queue(name, { connection: client });
      const counts = await queue.getJobCounts();
      await queue.close();
      assert.ok(Object.values(counts).every((n) => n === 0), `${name}: ${JSON.stringify(counts)}`);
    }
  });

  it('splits one sweep across two groups and brings it back as one report', TIMEOUT, async () => {
    await freshRedis();
    const a = await agent({ group: 'a', cidrs: '127.0.0.0/25' });
    const b = await agent({ group: 'b', cidrs: '127.0.0.128/25,127.0.1.0/24' });
    const report = parseReport(await zensweep(['submit', '127.0.0.0/24', '127.0.1.1-10', '--json'], { env: env() }));
    assertEachOnce(report, 264);
    assert.equal(report.summary.alive, 264);
    assert.deepEqual(report.groups, ['a', 'b']);
    const ran = new Map(report.chunks.map((c) => [c.index, `${c.group}/${c.agentId}`]));
    assert.deepEqual([...ran.values()].sort(), [`a/${a.id}`, `b/${b.id}`, `b/${b.id}`]);
    // Address order is restored across groups.
    assert.deepEqual(report.hosts.slice(125, 129).map((h) => h.ip), ['127.0.0.126', '127.0.0.127', '127.0.0.128', '127.0.0.129']);
  });

  it('finishes a chunk whose agent was SIGKILLed mid-way on another replica, and notes the retry', TIMEOUT, async () => {
    await freshRedis();
    // 254 echoes at 40/s: about 6 s, time enough to kill the agent in the middle.
    const doomed = await agent({ group: 'lo', cidrs: '127.0.0.0/16', rate: 40, lockMs: 2000 });
    const submission = zensweep(['submit', '127.0.0.0/24', 'retries:0', '--json'], { env: env() });
    await chunkUnderWay('lo');
    await doomed.kill();
    const rescuer = await agent({ group: 'lo', cidrs: '127.0.0.0/16', lockMs: 2000 });
    const report = parseReport(await submission);
    assertEachOnce(report, 254);
    assert.equal(report.summary.alive, 254);
    assert.equal(report.complete, true);
    const [chunk] = report.chunks;
    assert.equal(chunk?.agentId, rescuer.id);
    assert.ok((chunk?.stalled ?? 0) >= 1, `stalled ${chunk?.stalled}`);
  });

  it('survives a Redis restart (AOF on) in the middle of a sweep: nothing lost, nothing counted twice', TIMEOUT, async () => {
    await freshRedis(true);
    await agent({ group: 'lo', cidrs: '127.0.0.0/16', rate: 100, concurrency: 1 });
    await agent({ group: 'lo', cidrs: '127.0.0.0/16', rate: 100, concurrency: 1 });
    const submission = zensweep(['submit', '127.0.0.0/22', 'retries:0', '--json'], { env: env() });
    await chunkUnderWay('lo');
    await redis.restart();
    const report = parseReport(await submission);
    assertEachOnce(report, 1022);
    assert.equal(report.summary.alive, 1022);
    assert.equal(report.complete, true);
    assert.deepEqual(report.chunks.map((c) => c.index), [0, 1, 2, 3]);
    const history = await new HistoryStore(client).recent(10);
    assert.deepEqual(history.map((r) => r.id), [report.sweepId]);
  });

  it('completes 50 sweeps submitted at once across 3 agents, each reported once', TIMEOUT, async () => {
    await freshRedis();
    for (let i = 0; i < 3; i += 1) await agent({ group: 'lo', cidrs: '127.0.0.0/16', concurrency: 4 });
    const completed: string[] = [];
    const eventsConnection = client.duplicate();
    const events = new QueueEvents(REPORT_QUEUE, { connection: eventsConnection });
    events.on('completed', ({ jobId }) => completed.push(jobId));
    await events.waitUntilReady();
    const dispatcher = new Dispatcher({ connection: client });
    try {
      const reports = await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const submitted = await dispatcher.submit(parseSweepText(`127.0.${i}.0/28`), 'test');
          return { target: i, report: await dispatcher.waitForReport(submitted) };
        }),
      );
      for (const { target, report } of reports) {
        assert.equal(report.complete, true);
        assert.equal(report.summary.alive, 14, `127.0.${target}.0/28`);
        assert.ok(report.hosts.every((h) => h.ip.startsWith(`127.0.${target}.`)));
      }
      const ids = reports.map((r) => r.report.sweepId);
      assert.equal(new Set(ids).size, 50);
      await until('50 completion events', () => completed.length >= 50, { timeoutMs: 10_000 });
      // Time for a second completion of any report to arrive: there must be none.
      await quietFor(500);
      assert.deepEqual([...completed].sort(), [...ids].sort(), 'each report completed exactly once');
      assert.equal((await new HistoryStore(client).recent(100)).length, 50);
    } finally {
      await events.close();
      eventsConnection.disconnect();
      await dispatcher.close();
    }
  });

  it('fails bad job data put straight into a queue with a clear reason, and keeps serving', TIMEOUT, async () => {
    await freshRedis();
    const a = await agent({ group: 'a', cidrs: '127.0.0.0/25' });
    const queue = new Queue(sweepQueueName('a'), { connection: client });
    try {
      const options = { ports: [], count: 1, timeoutMs: 500, retries: 0, rate: 0, intervalMs: 1000 };
      const garbage = await queue.add('chunk', { hello: 'world' }, { attempts: 3 });
      const outside = await queue.add(
        'chunk',
        { v: 1, sweepId: 'x', group: 'a', index: 0, targets: ['127.0.0.5', '127.0.1.5'], options },
        { attempts: 3 },
      );
      const wrongGroup = await queue.add('chunk', { v: 1, sweepId: 'y', group: 'b', index: 0, targets: ['127.0.0.5'], options });
      const badTarget = await queue.add('chunk', { v: 1, sweepId: 'z', group: 'a', index: 0, targets: ['10.0.0.0/-1'], options });
      for (const job of [garbage, outside, wrongGroup, badTarget]) {
        await until(`job ${job.id} to fail`, async () => (await queue.getJobState(job.id ?? '')) === 'failed');
      }
      const reasons = await Promise.all(
        [garbage, outside, wrongGroup, badTarget].map(async (job) => (await queue.getJob(job.id ?? ''))?.failedReason),
      );
      assert.match(reasons[0] ?? '', /^bad chunk data: v /);
      assert.equal(
        reasons[1],
        '127.0.1.5 is outside the networks this agent may probe (127.0.0.0/25); nothing was probed',
      );
      assert.equal(reasons[2], 'chunk for group b reached an agent of group a');
      assert.match(reasons[3] ?? '', /^bad chunk data: .*10\.0\.0\.0\/-1/);
      // Final: a bad job is not tried again.
      assert.equal((await queue.getJob(outside.id ?? ''))?.attemptsMade, 1);

      const report = parseReport(await zensweep(['submit', '127.0.0.0/28', '--json'], { env: env() }));
      assert.equal(report.summary.alive, 14);
      assert.equal(report.chunks[0]?.agentId, a.id);
      assert.equal(a.child.exitCode, null, 'the agent is still running');
    } finally {
      await queue.close();
    }
  });

  it('skips bad records in Redis with one line each, in the agent and the CLI, and keeps serving', TIMEOUT, async () => {
    await freshRedis();
    const a = await agent({ group: 'lo', cidrs: '127.0.0.0/16' });
    const first = parseReport(await zensweep(['submit', '127.0.0.0/28', '--json'], { env: env() }));
    // Newer than the first sweep, in both indexes: not JSON, and an older version's record (no target key).
    const key = targetKey(['127.0.0.0/28']);
    const later = Date.now() + 60_000;
    const older = { id: 'older', requestedBy: 'U1', at: new Date(later).toISOString(), targets: ['127.0.0.0/28'], hosts: [] };
    for (const [id, text, at] of [['garbage', 'hunter2-planted', later + 1], ['older', JSON.stringify(older), later]] as const) {
      await client.set(`zensweep:{history}:sweep:${id}`, text);
      await client.zadd('zensweep:{history}:all', at, id);
      await client.zadd(`zensweep:{history}:target:${key}`, at, id);
    }
    await client.set('zensweep:{agents}:agent:lo:bogus', JSON.stringify({ group: 'lo', id: 'bogus' }), 'EX', 60);
    await client.set('zensweep:{history}:baseline:cli:broken', 'hunter2-planted');

    // The agent putting the next report together passes over the bad records to the last good sweep.
    const second = parseReport(await zensweep(['submit', '127.0.0.0/28', '--json'], { env: env() }));
    assert.equal(second.changes?.sinceId, first.sweepId);
    // Its log reaches us a moment after the report.
    await until('two bad_record lines from the agent', () => a.events('bad_record').length >= 2, { timeoutMs: 10_000, show: () => a.log() });
    assert.deepEqual(
      a.events('bad_record').map((e) => [e.what, e.key, e.reason]),
      [
        ['history record', 'zensweep:{history}:sweep:garbage', 'not JSON'],
        ['history record', 'zensweep:{history}:sweep:older', 'targetKey: Invalid input: expected string, received undefined'],
      ],
    );
    // The CLI: the good entries on stdout, one line per bad one on stderr.
    const history = await zensweep(['history', '127.0.0.0/28', '--json'], { env: env() });
    assert.equal(history.code, 0, history.stderr);
    assert.deepEqual((JSON.parse(history.stdout) as { id: string }[]).map((r) => r.id), [second.sweepId, first.sweepId]);
    assert.equal(
      history.stderr,
      'zensweep: skipped a bad history record at zensweep:{history}:sweep:garbage: not JSON\n' +
        'zensweep: skipped a bad history record at zensweep:{history}:sweep:older: targetKey: Invalid input: expected string, received undefined\n',
    );
    const agents = await zensweep(['agents', '--json'], { env: env() });
    assert.equal(agents.code, 0, agents.stderr);
    assert.deepEqual((JSON.parse(agents.stdout) as { id: string }[]).map((info) => info.id), [a.id]);
    assert.equal(
      agents.stderr,
      'zensweep: skipped a bad agent heartbeat at zensweep:{agents}:agent:lo:bogus: cidrs: Invalid input: expected array, received undefined\n',
    );
    // A baseline that cannot be read is a clear refusal, and nothing is enqueued.
    const compared = await zensweep(['submit', '127.0.0.0/28', 'compare:broken'], { env: env() });
    assert.equal(compared.code, 2);
    assert.equal(
      compared.stderr,
      'zensweep: skipped a bad agent heartbeat at zensweep:{agents}:agent:lo:bogus: cidrs: Invalid input: expected array, received undefined\n' +
        'zensweep: skipped a bad baseline at zensweep:{history}:baseline:cli:broken: not JSON\n' +
        'zensweep: there is no baseline named broken: save one first with save:broken\n',
    );
    for (const output of [history, agents, compared]) assert.doesNotMatch(output.stdout + output.stderr, /hunter2/);
    assert.doesNotMatch(a.log(), /hunter2/);
  });

  it('reports chunks whose results in Redis are unreadable as failed, with one line each, and keeps serving', TIMEOUT, async () => {
    await freshRedis();
    const a = await agent({ group: 'lo', cidrs: '127.0.0.0/16' });
    const sweepId = 'bad-chunks';
    const fake = sweepQueueName('fake');
    const data: ReportJob = {
      v: 1,
      sweepId,
      targets: ['127.0.0.1', '127.0.0.2'],
      options: { ...DEFAULT_OPTIONS },
      groups: ['fake'],
      requestedBy: 'test',
      addresses: 2,
      createdAt: new Date().toISOString(),
    };
    const chunk = (index: number) => ({ name: 'chunk', queueName: fake, data: {}, opts: { jobId: `${sweepId}.${index}`, ignoreDependencyOnFailure: true } });
    const workerConnection = client.duplicate();
    // Stands in for an agent of another version: chunk 0 stores hosts no one can read, chunk 1 returns nonsense.
    const worker = new Worker(
      fake,
      async (job) => {
        if (job.id === `${sweepId}.0`) {
          await client.set(`zensweep:chunk:{fake}:${sweepId}:0`, 'hunter2-planted');
          return { index: 0, group: 'fake', agentId: 'other', planned: 1, complete: true, icmp: { available: true }, durationMs: 1, attempt: 1, stalled: 0 };
        }
        return { hello: 'hunter2-planted' };
      },
      { connection: workerConnection },
    );
    const flows = new FlowProducer({ connection: client });
    const reports = new Queue(REPORT_QUEUE, { connection: client });
    // Group fake's part, gathered here: the agent (group lo) puts the report together from it.
    const parts = new Worker(partQueueName('fake'), partProcessor({ connection: client, reports }), { connection: workerConnection });
    try {
      const part: PartJob = { v: 1, sweepId, group: 'fake', parts: 1, report: data };
      await flows.add({ name: 'part', queueName: partQueueName('fake'), data: part, opts: { jobId: partJobId(sweepId, 'fake') }, children: [chunk(0), chunk(1)] });
      await until('the report job to finish', async () => Boolean((await Job.fromId(reports, sweepId))?.finishedOn));
      assert.equal((await Job.fromId(reports, sweepId))?.failedReason, undefined);
      const report = await new ResultStore(client).loadReport(sweepId);
      assert.equal(report?.complete, false);
      assert.deepEqual(report?.failures, [
        { index: 0, group: 'fake', reason: 'its hosts are missing from Redis or unreadable' },
        { index: 1, group: 'fake', reason: 'its agent returned an unreadable result' },
      ]);
      await until('two bad_record lines from the agent', () => a.events('bad_record').length >= 2, { timeoutMs: 10_000, show: () => a.log() });
      assert.deepEqual(
        a.events('bad_record').map((e) => [e.what, e.key, e.reason]),
        [
          ['chunk return value', `bull:${fake}:${sweepId}.1`, 'index: Invalid input: expected number, received undefined'],
          ['chunk result', `zensweep:chunk:{fake}:${sweepId}:0`, 'not gzipped JSON'],
        ],
      );
      assert.doesNotMatch(a.log(), /hunter2/);
      const next = parseReport(await zensweep(['submit', '127.0.0.0/28', '--json'], { env: env() }));
      assert.equal(next.summary.alive, 14);
      assert.equal(next.complete, true);
    } finally {
      await worker.close();
      await parts.close();
      await flows.close();
      await reports.close();
      workerConnection.disconnect();
    }
  });

  it('cancels a running sweep: the report comes back incomplete, and says so', TIMEOUT, async () => {
    await freshRedis();
    await agent({ group: 'lo', cidrs: '127.0.0.0/16', rate: 20 });
    const submission = zensweep(['submit', '127.0.0.0/24', 'retries:0', '--json'], { env: env() });
    await chunkActive('lo');
    const [key] = await client.keys('zensweep:request:*');
    const sweepId = (key ?? '').slice('zensweep:request:'.length);
    const cancel = await zensweep(['cancel', sweepId], { env: env() });
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.equal(cancel.stdout, `cancelling sweep ${sweepId}: its report will say how far it got\n`);
    const submitted = await submission;
    assert.equal(submitted.code, 1, 'an incomplete report exits 1');
    const report = JSON.parse(submitted.stdout) as DistributedReport;
    assert.equal(report.complete, false);
    assert.equal(report.cancelled, true);
    assert.ok(report.summary.total < 254, `probed ${report.summary.total}`);
    assert.equal(report.planned, 254);
    // Once it has finished there is nothing to cancel, and the CLI says so.
    const again = await zensweep(['cancel', sweepId], { env: env() });
    assert.deepEqual([again.code, again.stdout], [0, `sweep ${sweepId} has already finished: nothing to cancel\n`]);
    // Kept in the history as partial, and never "the last sweep": the next one has nothing to compare with,
    // rather than every address the cancelled one missed having "appeared".
    const kept = await new HistoryStore(client).get(sweepId);
    assert.deepEqual([kept?.complete, kept?.partial], [false, { why: 'cancelled', planned: 254 }]);
    const listed = await zensweep(['history'], { env: env() });
    assert.match(listed.stdout, new RegExp(`  ${sweepId}  127\\.0\\.0\\.0/24  lo  .* \\(partial: ${report.summary.total} of 254 addresses probed before it was cancelled\\)\\n`));
    const next = parseReport(await zensweep(['submit', '127.0.0.0/24', 'retries:0', '--json'], { env: env() }));
    assert.equal(next.complete, true);
    assert.equal(next.changes, undefined, `compared with ${next.changes?.sinceId ?? ''}: ${JSON.stringify(next.changes?.diff.appeared.length)} appeared`);
  });

  it('says what vpc:all swept: the groups\' networks, in the headline and in the history', TIMEOUT, async () => {
    await freshRedis();
    await agent({ group: 'a', cidrs: '127.0.0.0/28' });
    await agent({ group: 'b', cidrs: '127.0.1.0/28' });
    const text = await zensweep(['submit', 'vpc:all'], { env: env() });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^vpc:all \(127\.0\.0\.0\/28, 127\.0\.1\.0\/28\) — 28 alive · /);
    const listed = await zensweep(['history'], { env: env() });
    assert.match(listed.stdout, /^\S+ {2}\S+ {2}vpc:all \(127\.0\.0\.0\/28, 127\.0\.1\.0\/28\) {2}a,b {2}28 alive /);
    // The same again compares with it.
    const again = await zensweep(['submit', 'vpc:all'], { env: env() });
    assert.match(again.stdout, /\nSince \d\d:\d\d UTC[^\n]*: no change in 28 hosts\n/);
  });

  it('counts a port that closed as a change against a baseline and since the last sweep', TIMEOUT, async () => {
    await freshRedis();
    await agent({ group: 'lo', cidrs: '127.0.0.0/16' });
    const listener = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const port = (listener.address() as AddressInfo).port;
    const saved = parseReport(await zensweep(['submit', '127.0.0.1', `tcp:${port}`, 'save:base', '--json'], { env: env() }));
    assert.deepEqual([saved.savedAs, saved.hosts[0]?.ports[0]?.state], ['base', 'open']);
    await new Promise<void>((resolve, reject) => listener.close((error) => (error ? reject(error) : resolve())));
    const result = await zensweep(['submit', '127.0.0.1', `tcp:${port}`, 'compare:base'], { env: env() });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`\\nSince \\d\\d:\\d\\d UTC[^\\n]*: 1 changed\\n  changed: 127\\.0\\.0\\.1 \\(${port}/tcp open → closed\\)\\n`));
    assert.match(result.stdout, new RegExp(`\\nAgainst baseline base, [^\\n]+: 1 changed\\n  changed: 127\\.0\\.0\\.1 \\(${port}/tcp open → closed\\)\\n`));
  });

  it('refuses to cancel an id nobody started, or one someone else started, and cancels nothing', TIMEOUT, async () => {
    await freshRedis();
    const unknown = await zensweep(['cancel', 'nosuch'], { env: env() });
    assert.deepEqual([unknown.code, unknown.stdout], [2, '']);
    assert.equal(unknown.stderr, 'zensweep: no request nosuch is on record: give an id as zensweep submit printed it\n');
    // A sweep another requester started (from Slack: a user id and a channel).
    const record = { v: 1, id: 'mi2k3x-1a2b3c4d', kind: 'sweep', source: 'slack', requester: 'U0SOMEONE', channel: 'C0OPS', text: '127.0.0.0/24', groups: [{ group: 'lo', targets: ['127.0.0.1-127.0.0.254'] }], at: new Date().toISOString() };
    await client.set(`zensweep:request:${record.id}`, JSON.stringify(record));
    const foreign = await zensweep(['cancel', record.id], { env: env() });
    assert.equal(foreign.code, 2);
    assert.equal(foreign.stderr, `zensweep: ${record.id} was started by U0SOMEONE, not by you: only its requester may cancel it from here\n`);
    assert.equal(await client.exists(`zensweep:cancelled:${record.id}`), 0, 'nothing cancelled');
    const refusals = (await client.lrange('zensweep:audit', 0, -1)).map((line) => JSON.parse(line) as { outcome: string; kind?: string });
    assert.deepEqual(refusals.map((a) => [a.kind, a.outcome]), [['cancel', 'refused'], ['cancel', 'refused']]);
  });

  it('on SIGTERM finishes the chunk it runs, leaves the registry and exits 0', TIMEOUT, async () => {
    await freshRedis();
    const a = await agent({ group: 'lo', cidrs: '127.0.0.0/16', rate: 100 });
    const submission = zensweep(['submit', '127.0.0.0/24', 'retries:0', '--json'], { env: env() });
    await chunkActive('lo');
    a.child.kill('SIGTERM');
    assert.equal(await a.exited, 0, a.log());
    assert.deepEqual(await new AgentRegistry(client).list(), []);
    const submitted = await submission;
    assert.equal(submitted.code, 0, `submit exited ${submitted.code}:\n${submitted.stderr}\nagent:\n${a.log()}`);
    const report = parseReport(submitted);
    assert.equal(report.summary.alive, 254);
    assert.equal(report.chunks[0]?.agentId, a.id);
    assert.equal(a.events('agent_stopped').length, 1);
  });

  it('reports progress while the agents sweep', TIMEOUT, async () => {
    await freshRedis();
    await agent({ group: 'lo', cidrs: '127.0.0.0/16', rate: 200 });
    const dispatcher = new Dispatcher({ connection: client });
    try {
      const seen: { done: number; total: number; alive: number }[] = [];
      const submitted = await dispatcher.submit(parseSweepText('127.0.0.0/24 retries:0'), 'test');
      const report = await dispatcher.waitForReport(submitted, { onProgress: (p) => seen.push(p) });
      assert.equal(report.summary.alive, 254);
      assert.ok(seen.length >= 2, `${seen.length} progress events`);
      assert.ok(seen.every((p) => p.total === 254 && p.done <= 254 && p.alive <= p.done));
      assert.ok(seen.some((p) => p.done > 0 && p.done < 254), JSON.stringify(seen));
      for (let i = 1; i < seen.length; i += 1) assert.ok((seen[i]?.done ?? 0) >= (seen[i - 1]?.done ?? 0));
    } finally {
      await dispatcher.close();
    }
  });

  it('has host names resolved by the agent, which still refuses an address outside its CIDRs', TIMEOUT, async () => {
    await freshRedis();
    await agent({ group: 'a', cidrs: '127.0.0.0/25' });
    const report = parseReport(await zensweep(['submit', 'localhost', '--json'], { env: env() }));
    assert.deepEqual(report.names, [{ name: 'localhost', addresses: ['127.0.0.1'] }]);
    assert.deepEqual(report.hosts.map((h) => [h.ip, h.names, h.state]), [['127.0.0.1', ['localhost'], 'alive']]);

    await agent({ group: 'b', cidrs: '127.0.0.128/25' });
    const ambiguous = await zensweep(['submit', 'localhost'], { env: env() });
    assert.equal(ambiguous.code, 2);
    assert.match(ambiguous.stderr, /localhost is a host name, resolved by the agents inside their network: say which group with vpc:NAME \(groups: a, b\)/);
    const outside = await zensweep(['submit', 'localhost', 'vpc:b'], { env: env() });
    assert.equal(outside.code, 1, outside.stderr);
    assert.match(outside.stdout, /failed: chunk 0 in b: 127\.0\.0\.1 is outside the networks this agent may probe \(127\.0\.0\.128\/25\); nothing was probed/);
    assert.match(outside.stdout, /^localhost — no hosts · /);
  });

  it("refuses, after resolving names, any address outside the requester's scope, saying which and why", TIMEOUT, async () => {
    await freshRedis();
    await agent({ group: 'a', cidrs: '127.0.0.0/16' });
    const dispatcher = new Dispatcher({ connection: client });
    const scoped = async (text: string, scope: string[]): Promise<DistributedReport> => {
      const request = parseSweepText(text);
      const planned = await dispatcher.plan(request, (reach) => new Map([...reach.addresses.keys(), ...reach.names.keys()].map((g) => [g, scope])));
      return dispatcher.waitForReport(await dispatcher.submit(request, 'U1', undefined, planned));
    };
    try {
      const inside = await scoped('localhost', ['127.0.0.0/30']);
      assert.deepEqual(inside.failures, []);
      assert.deepEqual(inside.hosts.map((h) => [h.ip, h.names, h.state]), [['127.0.0.1', ['localhost'], 'alive']]);
      const addresses = await scoped('127.0.0.2-5', ['127.0.0.0/30']);
      assert.deepEqual(addresses.hosts, []);
      assert.match(addresses.failures[0]?.reason ?? '', /^127\.0\.0\.4-127\.0\.0\.5 are outside the networks the policy lets the requester sweep \(127\.0\.0\.0\/30\)/);

      const outside = await scoped('localhost', ['127.0.0.64/26', '127.0.1.0/24']);
      assert.deepEqual(outside.hosts, []);
      assert.deepEqual(outside.failures, [
        {
          index: 0,
          group: 'a',
          reason: '127.0.0.1 (localhost) is outside the networks the policy lets the requester sweep (127.0.0.64/26, 127.0.1.0/24); nothing was probed',
        },
      ]);

      // The scope is checked in the job data too: what is not a network is bad data, final.
      const queue = new Queue(sweepQueueName('a'), { connection: client });
      const options = { ports: [], count: 1, timeoutMs: 500, retries: 0, rate: 0, intervalMs: 1000 };
      const bad = await queue.add('chunk', { v: 1, sweepId: 'x', group: 'a', index: 0, targets: ['127.0.0.5'], options, scope: ['db.internal'] }, { attempts: 3 });
      await until('the bad chunk to fail', async () => (await queue.getJobState(bad.id ?? '')) === 'failed');
      const failed = await queue.getJob(bad.id ?? '');
      assert.equal(failed?.failedReason, 'bad chunk data: scope.0 is not a CIDR, address or range');
      assert.equal(failed?.attemptsMade, 1);
      await queue.close();
    } finally {
      await dispatcher.close();
    }
  });

  it('compares with a named baseline and says what changed', TIMEOUT, async () => {
    await freshRedis();
    await agent({ group: 'lo', cidrs: '127.0.0.0/16' });
    const saved = parseReport(await zensweep(['submit', '127.0.0.0/28', 'save:before-cutover', '--json'], { env: env() }));
    assert.equal(saved.savedAs, 'before-cutover');
    // Pretend the baseline saw 127.0.0.3 silent and 127.0.0.4 answering TCP only: the next sweep sees both alive.
    const history = new HistoryStore(client);
    // zensweep submit saves and compares the command line's own baselines.
    const baseline = await history.baseline('cli', 'before-cutover');
    assert.ok(baseline);
    baseline.record.hosts = baseline.record.hosts
      .filter((h) => h.ip !== '127.0.0.3')
      .map((h) => (h.ip === '127.0.0.4' ? { ...h, state: 'alive_tcp_only' as const } : h));
    baseline.record.silent = ['127.0.0.3'];
    await client.set('zensweep:{history}:baseline:cli:before-cutover', JSON.stringify(baseline));
    const result = await zensweep(['submit', '127.0.0.0/28', 'compare:before-cutover'], { env: env() });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /\nAgainst baseline before-cutover, [^\n]+: 1 appeared · 1 changed\n {2}appeared: 127\.0\.0\.3\n {2}changed: 127\.0\.0\.4 \(TCP only → alive\)\n/);
  });
});

describe('zensweep agent configuration', () => {
  it('refuses a bad environment in one line, exit 2, before touching Redis', async () => {
    const base = { PATH: process.env.PATH, REDIS_URL: 'redis://127.0.0.1:1', ZENSWEEP_VPC: 'prod', ZENSWEEP_CIDRS: '127.0.0.0/24' };
    const cases: [NodeJS.ProcessEnv, RegExp][] = [
      [{ ...base, ZENSWEEP_VPC: undefined }, /^zensweep: ZENSWEEP_VPC is required/],
      [{ ...base, ZENSWEEP_VPC: 'all' }, /^zensweep: ZENSWEEP_VPC must be letters/],
      [{ ...base, ZENSWEEP_CIDRS: '127.0.0.0/33' }, /^zensweep: ZENSWEEP_CIDRS: /],
      [{ ...base, REDIS_URL: 'http://:hunter2@x:6379' }, /^zensweep: REDIS_URL must start with redis:\/\/ or rediss:\/\//],
      [{ ...base, ZENSWEEP_RATE: 'fast' }, /^zensweep: ZENSWEEP_RATE must be a whole number/],
    ];
    for (const [env, expected] of cases) {
      const result = await zensweep(['agent'], { env, timeoutMs: 10_000 });
      assert.equal(result.code, 2, `${JSON.stringify(env)}: ${result.stderr}`);
      assert.match(result.stderr, expected);
      assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
      assert.doesNotMatch(result.stderr, /hunter2/);
    }
  });

  it('never writes the Redis password, in its log or in submit errors, while Redis cannot be reached', async () => {
    const url = 'redis://:hunter2-secret@127.0.0.1:1';
    const agentRun = zensweep(['agent'], {
      env: { PATH: process.env.PATH, REDIS_URL: url, ZENSWEEP_VPC: 'prod', ZENSWEEP_CIDRS: '127.0.0.0/24' },
      timeoutMs: 3000,
    });
    const submit = await zensweep(['submit', '127.0.0.1'], { env: { PATH: process.env.PATH, REDIS_URL: url } });
    assert.equal(submit.code, 1);
    assert.match(submit.stderr, /^zensweep: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1/);
    assert.doesNotMatch(submit.stderr, /hunter2/);
    const agentResult = await agentRun;
    assert.match(agentResult.stdout, /"event":"redis_down","redis":"redis:\/\/:\*\*\*@127\.0\.0\.1:1"/);
    assert.doesNotMatch(agentResult.stdout + agentResult.stderr, /hunter2/);
  });
});
