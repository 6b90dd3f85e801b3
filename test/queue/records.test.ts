/**
 * What is read back from Redis is checked against the schema that wrote it: a record that is not JSON, has the
 * wrong shape or was written by an older version is reported in one line and skipped, and the good ones are served.
 * Every test writes its records into a real redis-server.
 */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { z } from 'zod';
import type { DistributedReport } from '../../src/core/report.js';
import type { BadRecord } from '../../src/queue/records.js';
import { logBadRecords, readRecord } from '../../src/queue/records.js';
import { AgentRegistry } from '../../src/queue/registry.js';
import type { AgentInfo } from '../../src/queue/registry.js';
import { ResultStore } from '../../src/queue/results.js';
import { redisForSuite } from '../support/redis.js';

/** A secret-looking word planted in bad records: no line about them may repeat it. */
const PLANTED = 'hunter2-planted';

function agentInfo(id: string): AgentInfo {
  const now = new Date().toISOString();
  return {
    group: 'lo',
    id,
    cidrs: ['127.0.0.0/16'],
    version: '0.1.0',
    icmp: true,
    load: { active: 0, concurrency: 2 },
    startedAt: now,
    lastSeen: now,
  };
}

/** A report with every optional field of the model set, so a schema that dropped one would show here. */
function fullReport(sweepId: string): DistributedReport {
  return {
    targets: ['198.18.0.0/30', 'db.internal'],
    options: { ports: [22, 5432], count: 3, timeoutMs: 800, retries: 2, rate: 5000, intervalMs: 200, vpc: 'prod', save: 'before', compare: 'after' },
    startedAt: '2025-01-01T00:00:00.000Z',
    durationMs: 1234,
    complete: false,
    planned: 3,
    icmp: { available: false, mode: 'off', reason: 'unavailable', warning: 'ICMP needs root or CAP_NET_RAW' },
    summary: { alive: 1, alive_tcp_only: 0, prohibited: 1, unreachable: 1, silent: 0, total: 3 },
    names: [
      { name: 'db.internal', addresses: ['198.18.0.1'] },
      { name: 'gone.internal', addresses: [], error: 'ENOTFOUND' },
    ],
    hosts: [
      {
        ip: '198.18.0.1',
        names: ['db.internal'],
        state: 'alive',
        icmp: { sent: 3, received: 3, lossPct: 0, rtt: { min: 0.1, avg: 0.2, max: 0.3, mdev: 0.05 } },
        ports: [
          { port: 22, state: 'open', ms: 0.4, attempts: 1 },
          { port: 5432, state: 'unreachable', attempts: 2, reporter: { verdict: 'unreachable', address: 'local', errno: 'EHOSTUNREACH', reason: 'no route' } },
        ],
      },
      {
        ip: '198.18.0.2',
        state: 'prohibited',
        icmp: { sent: 3, received: 0, lossPct: 100 },
        ports: [],
        reporter: { verdict: 'prohibited', address: '198.18.0.254', icmpType: 3, icmpCode: 13, reason: 'communication administratively prohibited' },
      },
      { ip: '198.18.0.3', state: 'unreachable', icmp: { sent: 3, received: 0, lossPct: 100 }, ports: [] },
    ],
    sweepId,
    groups: ['prod'],
    requestedBy: 'U1',
    chunks: [{ index: 0, group: 'prod', agentId: 'a-1', attempt: 2, stalled: 1, durationMs: 900, icmpMode: 'off', icmpReason: 'unavailable' }],
    cancelled: true,
    failures: [{ index: 1, group: 'prod', reason: 'out of scope' }],
    changes: {
      since: '2024-12-31T00:00:00.000Z',
      sinceId: 'older',
      diff: { appeared: [['198.18.0.1', 'alive']], wentSilent: [], changed: [{ ip: '198.18.0.2', from: 'silent', to: 'prohibited' }], unchanged: 1 },
    },
    baseline: { name: 'after', at: '2024-12-30T00:00:00.000Z', diff: { appeared: [], wentSilent: [['198.18.0.3', 'unreachable']], changed: [], unchanged: 2 } },
    savedAs: 'before',
  };
}

describe('readRecord', () => {
  const schema = z.object({ name: z.string(), count: z.number().int() });
  const source = { what: 'test record', key: 'k:1' };

  it('returns a record that fits its schema, and tells nothing', () => {
    const bad: BadRecord[] = [];
    assert.deepEqual(readRecord(schema, '{"name":"a","count":2,"extra":true}', source, (b) => bad.push(b)), { name: 'a', count: 2 });
    assert.deepEqual(bad, []);
  });

  it('returns undefined and tells once, naming what and where but nothing of the text, when it does not fit', () => {
    const cases: [string, string][] = [
      [`${PLANTED} is not JSON`, 'not JSON'],
      [`{"name":"${PLANTED}","count":"${PLANTED}"}`, 'count: Invalid input: expected number, received string'],
      ['[1,2]', 'record: Invalid input: expected object, received array'],
    ];
    for (const [text, reason] of cases) {
      const bad: BadRecord[] = [];
      assert.equal(readRecord(schema, text, source, (b) => bad.push(b)), undefined, text);
      assert.deepEqual(bad, [{ what: 'test record', key: 'k:1', reason }], text);
    }
  });

  it('logs one pino line per bad record', () => {
    const lines: string[] = [];
    const log = pino({ base: null }, { write: (line: string) => lines.push(line) });
    readRecord(schema, 'nope', source, logBadRecords(log));
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.trimEnd().split('\n').length, 1);
    const event = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    assert.deepEqual(
      { level: event.level, event: event.event, what: event.what, key: event.key, reason: event.reason },
      { level: 40, event: 'bad_record', what: 'test record', key: 'k:1', reason: 'not JSON' },
    );
  });
});

describe('AgentRegistry and ResultStore (real redis-server)', () => {
  const suite = redisForSuite();

  it('lists the good agents and leaves out, with one line each, heartbeats that are not JSON, misshapen or older', async () => {
    const redis = suite.client;
    const bad: BadRecord[] = [];
    const registry = new AgentRegistry(redis, 'r1', (b) => bad.push(b));
    await registry.heartbeat(agentInfo('good-1'));
    await registry.heartbeat(agentInfo('good-2'));
    const older: Partial<AgentInfo> = agentInfo('older');
    delete older.load;
    await redis.set('r1:{agents}:agent:lo:garbage', `${PLANTED}{`, 'EX', 60);
    await redis.set('r1:{agents}:agent:lo:shape', JSON.stringify({ ...agentInfo('shape'), cidrs: PLANTED }), 'EX', 60);
    await redis.set('r1:{agents}:agent:lo:older', JSON.stringify(older), 'EX', 60);
    assert.deepEqual((await registry.list()).map((a) => a.id), ['good-1', 'good-2']);
    assert.deepEqual(
      bad.map((b) => [b.what, b.key, b.reason]).sort(),
      [
        ['agent heartbeat', 'r1:{agents}:agent:lo:garbage', 'not JSON'],
        ['agent heartbeat', 'r1:{agents}:agent:lo:older', 'load: Invalid input: expected object, received undefined'],
        ['agent heartbeat', 'r1:{agents}:agent:lo:shape', 'cidrs: Invalid input: expected array, received string'],
      ],
    );
  });

  it("lists an agent's ICMP with why it sends none, and an agent older than the reason, and leaves out a reason it does not know", async () => {
    const redis = suite.client;
    const bad: BadRecord[] = [];
    const registry = new AgentRegistry(redis, 'r5', (b) => bad.push(b));
    await registry.heartbeat({ ...agentInfo('by-setting'), icmp: false, icmpMode: 'off', icmpReason: 'setting' });
    await registry.heartbeat({ ...agentInfo('older-off'), icmp: false, icmpMode: 'off' });
    await redis.set('r5:{agents}:agent:lo:unknown', JSON.stringify({ ...agentInfo('unknown'), icmp: false, icmpMode: 'off', icmpReason: 'whim' }), 'EX', 60);
    const listed = (await registry.list()).sort((a, b) => a.id.localeCompare(b.id));
    assert.deepEqual(
      listed.map((a) => [a.id, a.icmpMode, a.icmpReason]),
      [
        ['by-setting', 'off', 'setting'],
        ['older-off', 'off', undefined],
      ],
    );
    assert.deepEqual(bad.map((b) => b.key), ['r5:{agents}:agent:lo:unknown']);
  });

  it('reads back a report stored before the ICMP reason was kept, its words as they were', async () => {
    const redis = suite.client;
    const bad: BadRecord[] = [];
    const store = new ResultStore(redis, 'r6', (b) => bad.push(b));
    const older = fullReport('older-icmp');
    older.icmp = { available: false, mode: 'off', warning: 'ICMP needs root or CAP_NET_RAW' };
    older.chunks = [{ index: 0, group: 'prod', agentId: 'a-1', attempt: 1, stalled: 0, durationMs: 900, icmpMode: 'off' }];
    await store.saveReport(older);
    assert.deepEqual(await store.loadReport('older-icmp'), older);
    assert.deepEqual(bad, []);
  });

  it('reads back a stored report whole, every optional field included', async () => {
    const redis = suite.client;
    const bad: BadRecord[] = [];
    const store = new ResultStore(redis, 'r2', (b) => bad.push(b));
    const report = fullReport('whole');
    await store.saveReport(report);
    assert.deepEqual(await store.loadReport('whole'), report);
    await store.saveChunk('whole', { group: 'lo', index: 0 }, { hosts: report.hosts, names: report.names });
    assert.deepEqual(await store.loadChunk('whole', { group: 'lo', index: 0 }), { hosts: report.hosts, names: report.names });
    assert.deepEqual(bad, []);
  });

  it('reads many chunks in one go, in the order asked: stored ones whole, missing and misshapen ones absent', async () => {
    const redis = suite.client;
    const bad: BadRecord[] = [];
    const store = new ResultStore(redis, 'r4', (b) => bad.push(b));
    const report = fullReport('many');
    const indexes = Array.from({ length: 300 }, (_, i) => i);
    for (const index of indexes) {
      if (index === 7) continue;
      await store.saveChunk('many', { group: index % 2 === 0 ? 'even' : 'odd', index }, { hosts: report.hosts.map((h) => ({ ...h, ip: `198.18.${index >> 8}.${index & 255}` })), names: [] });
    }
    await redis.set('r4:chunk:{odd}:many:9', gzipSync(JSON.stringify({ hosts: 'none' })));
    const found = await store.loadChunks('many', [...indexes].reverse().map((index) => ({ group: index % 2 === 0 ? 'even' : 'odd', index })));
    assert.equal(found.length, 300);
    assert.equal(found[0]?.hosts[0]?.ip, '198.18.1.43', 'index 299 first, as asked');
    assert.equal(found[299]?.hosts[0]?.ip, '198.18.0.0');
    assert.equal(found[299 - 7], undefined, 'never stored');
    assert.equal(found[299 - 9], undefined, 'misshapen');
    assert.deepEqual(bad.map((b) => b.key), ['r4:chunk:{odd}:many:9']);
  });

  it('reads a report or chunk that is not gzip, not JSON, misshapen or older as absent, with one line each', async () => {
    const redis = suite.client;
    const bad: BadRecord[] = [];
    const store = new ResultStore(redis, 'r3', (b) => bad.push(b));
    const older: Partial<DistributedReport> = fullReport('older');
    delete older.cancelled;
    delete older.failures;
    await redis.set('r3:report:{sweep-reports}:plain', `${PLANTED} not gzipped`);
    await redis.set('r3:report:{sweep-reports}:text', gzipSync(`${PLANTED} not JSON`));
    await redis.set('r3:report:{sweep-reports}:older', gzipSync(JSON.stringify(older)));
    await redis.set('r3:chunk:{lo}:s:0', gzipSync(JSON.stringify({ hosts: [{ ip: PLANTED, state: 'up' }], names: [] })));
    await store.saveReport(fullReport('good'));
    for (const id of ['plain', 'text', 'older']) assert.equal(await store.loadReport(id), undefined, id);
    assert.equal(await store.loadChunk('s', { group: 'lo', index: 0 }), undefined);
    assert.equal((await store.loadReport('good'))?.sweepId, 'good');
    assert.deepEqual(
      bad.map((b) => [b.what, b.key, b.reason]),
      [
        ['report', 'r3:report:{sweep-reports}:plain', 'not gzipped JSON'],
        ['report', 'r3:report:{sweep-reports}:text', 'not JSON'],
        ['report', 'r3:report:{sweep-reports}:older', 'cancelled: Invalid input: expected boolean, received undefined'],
        ['chunk result', 'r3:chunk:{lo}:s:0', 'hosts.0.state: Invalid option: expected one of "alive"|"alive_tcp_only"|"prohibited"|"unreachable"|"silent"'],
      ],
    );
    assert.ok(bad.every((b) => !JSON.stringify(b).includes(PLANTED)));
  });
});
