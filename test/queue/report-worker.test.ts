import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { FlowProducer, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { ConnectionOptions, FlowJobNode } from 'bullmq';
import { Redis } from 'ioredis';
import { DEFAULT_OPTIONS } from '../../src/core/request.js';
import type { HostResult, IcmpStatus } from '../../src/core/report.js';
import { ICMP_OFF_SETTING_WARNING, agentsWithoutIcmp } from '../../src/core/report.js';
import { renderText } from '../../src/views/text.js';
import type { ChunkResult, ReportJob } from '../../src/queue/jobs.js';
import { partProcessor, reportProcessor } from '../../src/queue/report-worker.js';
import { ResultStore } from '../../src/queue/results.js';
import { HistoryStore, targetKey } from '../../src/queue/history.js';
import { agentQueueName, cancelledKey } from '../../src/queue/names.js';
import type { DistributedReport } from '../../src/core/report.js';
import { diagnoseIcmpError } from '../../src/core/diagnosis.js';
import { redisConnection, startRedis, type RedisServer } from '../support/redis.js';
import { waitFor } from '../support/wait.js';

/**
 * A sweep's report as the agents put it together, on the test's own queues: one part (the parent of `children`) whose
 * worker keeps it and adds the report job, and the report worker that builds the report from the part.
 */
function assembly(deps: { connection: Redis; prefix: string; history?: HistoryStore }, bull: ConnectionOptions, reportQueue: string) {
  const partQueue = `parts-${reportQueue}`;
  const queue = new Queue(reportQueue, { connection: bull });
  const parts = new Worker(partQueue, partProcessor({ ...deps, reports: queue }), { connection: bull });
  const reports = new Worker(reportQueue, reportProcessor(deps), { connection: bull });
  return {
    add: (flows: FlowProducer, flow: { data: ReportJob; children: FlowJobNode[] }) =>
      flows.add({
        name: 'part',
        queueName: partQueue,
        data: { v: 1, sweepId: flow.data.sweepId, group: flow.data.groups[0], parts: 1, report: flow.data },
        opts: { jobId: `${flow.data.sweepId}.part` },
        children: flow.children,
      }),
    close: () => Promise.all([parts.close(), reports.close(), queue.close()]),
  };
}

describe('reportProcessor', () => {
  let redis: RedisServer;
  let connection: Redis;

  before(async () => {
    redis = await startRedis();
    connection = new Redis(redisConnection(redis.url));
  });
  after(async () => {
    connection?.disconnect();
    await redis?.destroy();
  });

  it('lists a chunk given up past its time bound among the failures, with its reason, and keeps its hosts', async () => {
    const id = randomBytes(4).toString('hex');
    const prefix = `zstest${id}`;
    const sweepId = `sweep-${id}`;
    const group = 'lab';
    const reportQueue = `reports-${id}`;
    const chunkQueue = `sweep.${group}-${id}`;
    const store = new ResultStore(connection, prefix);
    const reason = 'gave up after 21.0 s, past its time bound of 20.9 s';
    const hostOf = (index: number): HostResult => ({
      ip: `198.18.4.${index + 10}`,
      state: 'silent',
      icmp: { sent: 1, received: 0, lossPct: 100 },
      ports: [{ port: 22, state: 'filtered', attempts: 1, ...(index === 1 ? { unanswered: true as const } : {}) }],
      ...(index === 1 ? { unfinished: true as const } : {}),
    });
    const report: ReportJob = {
      v: 1,
      sweepId,
      targets: ['198.18.4.10-11'],
      options: { ...DEFAULT_OPTIONS, ports: [22] },
      groups: [group],
      requestedBy: 'U1',
      addresses: 2,
      createdAt: new Date().toISOString(),
    };
    const bull = redisConnection(redis.url);
    const flows = new FlowProducer({ connection: bull });
    const chunks = new Worker(
      chunkQueue,
      async (job): Promise<ChunkResult> => {
        const index = (job.data as { index: number }).index;
        await store.saveChunk(sweepId, { group, index }, { hosts: [hostOf(index)], names: [] });
        return {
          index,
          group,
          agentId: 'a1',
          planned: 1,
          complete: index !== 1,
          icmp: { available: true },
          durationMs: 5,
          attempt: 1,
          stalled: 0,
          ...(index === 1 ? { reason } : {}),
        };
      },
      { connection: bull },
    );
    const reports = assembly({ connection, prefix }, bull, reportQueue);
    try {
      await reports.add(flows, {
        data: report,
        children: [0, 1].map((index) => ({ name: 'chunk', queueName: chunkQueue, data: { index }, opts: { jobId: `${sweepId}.${index}` } })),
      });
      const built = await waitFor('the report', () => store.loadReport(sweepId), { timeoutMs: 30_000 });
      assert.equal(built.complete, false);
      assert.deepEqual(built.failures, [{ index: 1, group, reason }]);
      assert.deepEqual(built.hosts.map((h) => [h.ip, h.unfinished ?? false, h.ports[0]?.unanswered ?? false]), [
        ['198.18.4.10', false, false],
        ['198.18.4.11', true, true],
      ]);
    } finally {
      await Promise.all([chunks.close(), reports.close(), flows.close()]);
    }
  });

  /**
   * Runs one sweep's report job over chunks that return what `chunkOf` says (their hosts saved as an agent saves
   * them), with `cancelled` set first when asked, and returns the report built.
   */
  async function sweep(
    prefix: string,
    history: HistoryStore,
    sweepId: string,
    options: { targets: string[]; addresses: number; save?: string; cancelled?: boolean },
    chunkOf: (index: number) => { hosts: HostResult[]; planned: number; complete: boolean; agentId?: string; icmp?: IcmpStatus },
    chunkCount: number,
  ): Promise<DistributedReport> {
    const store = new ResultStore(connection, prefix);
    const id = randomBytes(4).toString('hex');
    const reportQueue = `reports-${id}`;
    const chunkQueue = `sweep.lab-${id}`;
    if (options.cancelled) await connection.set(cancelledKey(sweepId, prefix), '1', 'EX', 60);
    const job: ReportJob = {
      v: 1,
      sweepId,
      targets: options.targets,
      options: { ...DEFAULT_OPTIONS, ...(options.save ? { save: options.save } : {}) },
      groups: ['lab'],
      requestedBy: 'U1',
      addresses: options.addresses,
      createdAt: new Date().toISOString(),
    };
    const bull = redisConnection(redis.url);
    const flows = new FlowProducer({ connection: bull });
    const chunks = new Worker(
      chunkQueue,
      async (chunk): Promise<ChunkResult> => {
        const index = (chunk.data as { index: number }).index;
        const { hosts, planned, complete, agentId = 'a1', icmp = { available: true } } = chunkOf(index);
        await store.saveChunk(sweepId, { group: 'lab', index }, { hosts, names: [] });
        return { index, group: 'lab', agentId, planned, complete, icmp, durationMs: 5, attempt: 1, stalled: 0 };
      },
      { connection: bull },
    );
    const reports = assembly({ connection, history, prefix }, bull, reportQueue);
    try {
      await reports.add(flows, {
        data: job,
        children: Array.from({ length: chunkCount }, (_, index) => ({ name: 'chunk', queueName: chunkQueue, data: { index }, opts: { jobId: `${sweepId}.${index}` } })),
      });
      return await waitFor(`the report of ${sweepId}`, () => store.loadReport(sweepId), { timeoutMs: 30_000 });
    } finally {
      await Promise.all([chunks.close(), reports.close(), flows.close()]);
    }
  }

  const alive = (ip: string): HostResult => ({ ip, state: 'alive', icmp: { sent: 1, received: 1, lossPct: 0, rtt: { min: 1, avg: 1, max: 1, mdev: 0 } }, ports: [] });
  const silent = (ip: string, unfinished = false): HostResult => ({
    ip,
    state: 'silent',
    icmp: { sent: 1, received: 0, lossPct: 100 },
    ports: [],
    ...(unfinished ? { unfinished: true as const } : {}),
  });
  /** The /24 198.18.0.0/24 as two chunks of 127 addresses: .1 and .200 alive, every other one silent. */
  const lan = (ip: number): HostResult => (ip === 1 || ip === 200 ? alive(`198.18.0.${ip}`) : silent(`198.18.0.${ip}`));
  const half = (index: number): HostResult[] => Array.from({ length: 127 }, (_, i) => lan(index * 127 + i + 1));

  it('reports a cancelled sweep partial with the hosts it probed, keeps it partial, and never compares against it', async () => {
    const prefix = `zstest${randomBytes(4).toString('hex')}`;
    const history = new HistoryStore(connection, { prefix });
    const targets = ['198.18.0.0/24'];
    const first = await sweep(prefix, history, 'first', { targets, addresses: 254 }, (i) => ({ hosts: half(i), planned: 127, complete: true }), 2);
    assert.equal(first.complete, true);

    // Cancelled while its second chunk ran: that chunk kept the 40 hosts it had probed, 10 of them still unanswered.
    const cancelled = await sweep(
      prefix,
      history,
      'cancelled',
      { targets, addresses: 254, save: 'before', cancelled: true },
      (i) => (i === 0 ? { hosts: half(0), planned: 127, complete: true } : { hosts: [...half(1).slice(0, 30), ...half(1).slice(30, 40).map((h) => silent(h.ip, true))], planned: 127, complete: false }),
      2,
    );
    assert.deepEqual([cancelled.complete, cancelled.cancelled, cancelled.summary.total, cancelled.planned], [false, true, 167, 254]);
    assert.equal(cancelled.changes?.sinceId, 'first');
    // Against the last complete sweep, only what it probed to a verdict: nothing changed there.
    assert.deepEqual(cancelled.changes?.diff, { appeared: [], wentSilent: [], changed: [], unchanged: 157, notCompared: [] });
    assert.equal(cancelled.savedAs, undefined);
    assert.deepEqual(cancelled.notSaved, {
      name: 'before',
      reason: 'the sweep is partial: 167 of 254 addresses probed before it was cancelled, and only a complete sweep can be a baseline',
    });
    assert.equal(await history.baseline('cli', 'before'), undefined);
    const kept = await history.get('cancelled');
    assert.deepEqual([kept?.complete, kept?.partial], [false, { why: 'cancelled', planned: 254 }]);

    // The next sweep compares with the last complete one, not with the cancelled one: nothing "appeared".
    const next = await sweep(prefix, history, 'next', { targets, addresses: 254 }, (i) => ({ hosts: half(i), planned: 127, complete: true }), 2);
    assert.equal(next.changes?.sinceId, 'first');
    assert.deepEqual(next.changes?.diff, { appeared: [], wentSilent: [], changed: [], unchanged: 254, notCompared: [] });
    assert.equal((await history.lastOf(targetKey(targets)))?.id, 'next');
  });

  it('says no change when empty addresses read "host unreachable" after their neighbour lookup failed', async () => {
    const prefix = `zstest${randomBytes(4).toString('hex')}`;
    const history = new HistoryStore(connection, { prefix });
    const targets = ['198.18.0.0/24'];
    await sweep(prefix, history, 'one', { targets, addresses: 254 }, (i) => ({ hosts: half(i), planned: 127, complete: true }), 2);
    const unreachable = (host: HostResult): HostResult =>
      host.state === 'silent' ? { ...host, state: 'unreachable', reporter: diagnoseIcmpError(4, 3, 1, '198.18.0.1') } : host;
    const two = await sweep(prefix, history, 'two', { targets, addresses: 254 }, (i) => ({ hosts: half(i).map(unreachable), planned: 127, complete: true }), 2);
    assert.equal(two.summary.unreachable, 252);
    assert.deepEqual(two.changes?.diff, { appeared: [], wentSilent: [], changed: [], unchanged: 254, notCompared: [] });
  });

  describe('the ICMP of a sweep whose agents probed differently', () => {
    const RAW: IcmpStatus = { available: true, mode: 'raw' };
    const PING: IcmpStatus = { available: true, mode: 'ping' };
    const BY_SETTING: IcmpStatus = { available: false, mode: 'off', reason: 'setting', warning: ICMP_OFF_SETTING_WARNING };
    const UNAVAILABLE: IcmpStatus = {
      available: false,
      mode: 'off',
      reason: 'unavailable',
      warning: 'ICMP not sent: no raw socket (EPERM: needs root or CAP_NET_RAW), and no ping socket (EACCES: …); running the TCP probes only (set net.ipv4.ping_group_range, or add NET_RAW)',
    };
    /** An agent older than the reason: off, and nothing said of why. */
    const OLDER_OFF: IcmpStatus = { available: false, mode: 'off', warning: 'ICMP not sent: no raw socket (EPERM: needs root or CAP_NET_RAW); running the TCP probes only' };
    const tcpAnswered = (ip: string): HostResult => ({ ip, state: 'alive_tcp_only', icmp: { sent: 0, received: 0, lossPct: 0 }, ports: [{ port: 22, state: 'open', ms: 0.3, attempts: 1 }] });

    /** One sweep of one chunk per agent, each chunk one host: `agents[i]` ran chunk i with that ICMP status. */
    const run = async (sweepId: string, agents: [string, IcmpStatus][]): Promise<DistributedReport> => {
      const prefix = `zstest${randomBytes(4).toString('hex')}`;
      return sweep(
        prefix,
        new HistoryStore(connection, { prefix }),
        sweepId,
        { targets: ['198.18.0.0/29'], addresses: agents.length },
        (i) => {
          const [agentId, icmp] = agents[i] ?? ['?', RAW];
          const ip = `198.18.0.${i + 1}`;
          return { hosts: [icmp.available ? alive(ip) : tcpAnswered(ip)], planned: 1, complete: true, agentId, icmp };
        },
        agents.length,
      );
    };

    it('is sent when one agent sent it (a ping socket said over a raw one), the first off agent\'s warning kept, each chunk with its reason', async () => {
      const built = await run('mixed', [
        ['a1', RAW],
        ['a2', BY_SETTING],
        ['a3', UNAVAILABLE],
        ['a4', PING],
        ['a5', OLDER_OFF],
      ]);
      assert.deepEqual(built.icmp, { available: true, mode: 'ping', warning: ICMP_OFF_SETTING_WARNING });
      assert.deepEqual(
        built.chunks.map((c) => [c.index, c.agentId, c.icmpMode, c.icmpReason]),
        [
          [0, 'a1', 'raw', undefined],
          [1, 'a2', 'off', 'setting'],
          [2, 'a3', 'off', 'unavailable'],
          [3, 'a4', 'ping', undefined],
          [4, 'a5', 'off', undefined],
        ],
      );
      assert.deepEqual(agentsWithoutIcmp(built), ['a2', 'a3', 'a5']);
      const text = renderText(built);
      assert.match(text, /\n {2}ICMP: off on a2 \(ZENSWEEP_ICMP=off\) and a3, a5 \(TCP probes only\), sent by the other agents\n/);
      assert.match(text, /\nICMP not sent by agents a2 \(ZENSWEEP_ICMP=off\) and a3, a5 \(TCP probes only\): their hosts .*; a1, a4 sent ICMP\.\n/);
      assert.match(text, /\nWarning from a2: ICMP not sent: ZENSWEEP_ICMP=off; running the TCP probes only\n/);
      assert.match(text, / — 2 alive · 3 TCP answered · /);
    });

    it('is not sent when no agent sent it: the first one\'s status, its reason only where every agent gave the same', async () => {
      const setting = await run('all-setting', [
        ['a1', BY_SETTING],
        ['a2', BY_SETTING],
      ]);
      assert.deepEqual(setting.icmp, BY_SETTING);
      assert.deepEqual(agentsWithoutIcmp(setting), []);
      const text = renderText(setting);
      assert.match(text, /\n {2}ICMP: off \(ZENSWEEP_ICMP=off\), TCP probes only\n/);
      assert.doesNotMatch(text, /NET_RAW|ping_group_range/);

      const differing = await run('all-off', [
        ['a1', UNAVAILABLE],
        ['a2', BY_SETTING],
      ]);
      assert.deepEqual(differing.icmp, { available: false, mode: 'off', warning: UNAVAILABLE.warning }, 'two reasons: neither is said of the whole sweep');
      assert.match(renderText(differing), /\n {2}ICMP: off, TCP probes only\n/);
    });
  });

  it('puts each vantage of a from:all sweep together apart, the combined view in hosts, and a missing view as missing', async () => {
    const id = randomBytes(4).toString('hex');
    const prefix = `zstest${id}`;
    const sweepId = `sweep-${id}`;
    const group = 'lab';
    const reportQueue = `reports-${id}`;
    const store = new ResultStore(connection, prefix);
    const left = `agent a3 of ${group} left before it ran this chunk`;
    const host = (ip: string, state: HostResult['state']): HostResult => ({ ip, state, icmp: { sent: 1, received: state === 'alive' ? 1 : 0, lossPct: state === 'alive' ? 0 : 100 }, ports: [] });
    // What each agent saw of 198.18.4.10-11; a3 never ran its copy.
    const seen: Record<string, HostResult[]> = {
      a1: [host('198.18.4.10', 'alive'), host('198.18.4.11', 'silent')],
      a2: [host('198.18.4.10', 'silent'), host('198.18.4.11', 'prohibited')],
    };
    const agents = ['a1', 'a2', 'a3'];
    const report: ReportJob = {
      v: 1,
      sweepId,
      targets: ['198.18.4.10-11'],
      options: { ...DEFAULT_OPTIONS, from: 'all' },
      groups: [group],
      requestedBy: 'U1',
      addresses: 2,
      createdAt: new Date().toISOString(),
      vantages: agents.map((agent, index) => ({ name: agent, group, agent, first: index, count: 1, addresses: 2 })),
    };
    const bull = redisConnection(redis.url);
    const flows = new FlowProducer({ connection: bull });
    const queueOf = (agent: string): string => agentQueueName(group, `${agent}-${id}`);
    const workers = agents.map(
      (agent, index) =>
        new Worker(
          queueOf(agent),
          async (): Promise<ChunkResult> => {
            const hosts = seen[agent];
            if (!hosts) throw new UnrecoverableError(left);
            await store.saveChunk(sweepId, { group, index }, { hosts, names: [] });
            return { index, group, agentId: agent, planned: 2, complete: true, icmp: { available: true }, durationMs: 5, attempt: 1, stalled: 0 };
          },
          { connection: bull },
        ),
    );
    const reports = assembly({ connection, prefix }, bull, reportQueue);
    try {
      await reports.add(flows, {
        data: report,
        children: agents.map((agent, index) => ({
          name: 'chunk',
          queueName: queueOf(agent),
          data: { index },
          opts: { jobId: `${sweepId}.${index}`, ignoreDependencyOnFailure: true },
        })),
      });
      const built = await waitFor('the report', () => store.loadReport(sweepId), { timeoutMs: 30_000 });
      assert.deepEqual(
        built.vantages?.map((v) => [v.name, v.complete, v.missing, v.planned, v.hosts.map((h) => h.state)]),
        [
          ['a1', true, undefined, 2, ['alive', 'silent']],
          ['a2', true, undefined, 2, ['silent', 'prohibited']],
          ['a3', false, `no view: ${left}`, 2, []],
        ],
      );
      // Each host as it was reached best; each address once; the addresses planned once, not once per agent.
      assert.deepEqual(built.hosts.map((h) => [h.ip, h.state]), [
        ['198.18.4.10', 'alive'],
        ['198.18.4.11', 'prohibited'],
      ]);
      assert.equal(built.planned, 2);
      assert.deepEqual(built.summary, { alive: 1, alive_tcp_only: 0, prohibited: 1, unreachable: 0, silent: 0, total: 2 });
      assert.deepEqual(built.failures, [{ index: 2, group, reason: left }]);
      assert.equal(built.complete, false);
    } finally {
      await Promise.all([...workers.map((w) => w.close()), reports.close(), flows.close()]);
    }
  });
});
