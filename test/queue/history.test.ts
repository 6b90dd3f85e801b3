import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { compactHosts, diffSweeps } from '../../src/core/diff.js';
import { diagnoseIcmpError, diagnoseLocalError } from '../../src/core/diagnosis.js';
import type { HostResult } from '../../src/core/report.js';
import { summarize } from '../../src/core/report.js';
import type { HostState } from '../../src/core/states.js';
import { renderText, runLines } from '../../src/views/text.js';
import { HistoryStore, PartialSweepError, comparisonWith, compactRecord, recordHosts, targetKey } from '../../src/queue/history.js';
import type { SweepRecord } from '../../src/queue/history.js';
import type { BadRecord } from '../../src/queue/records.js';
import type { DistributedReport } from '../../src/core/report.js';
import { startRedis, type RedisServer } from '../support/redis.js';

function host(ip: string, state: HostState, rtt?: number): HostResult {
  const sent = state === 'alive_tcp_only' || state === 'alive' ? 2 : 1;
  return {
    ip,
    state,
    icmp: {
      sent,
      received: state === 'alive' ? 2 : 0,
      lossPct: state === 'alive' ? 0 : 100,
      ...(rtt !== undefined ? { rtt: { min: rtt, avg: rtt, max: rtt, mdev: 0 } } : {}),
    },
    ports: state === 'alive_tcp_only' ? [{ port: 5432, state: 'open', ms: 1, attempts: 1 }] : [],
  };
}

function record(id: string, at: Date, targets: string[], hosts: HostResult[]): SweepRecord {
  return {
    id,
    requestedBy: 'U1',
    at: at.toISOString(),
    targets,
    targetKey: targetKey(targets),
    groups: ['lo'],
    summary: summarize(hosts),
    durationMs: 12,
    complete: true,
    ...recordHosts(hosts),
  };
}

/** A report of no hosts (what changed is all these tests look at), finished at 14:14 UTC. */
function distributed(changes: DistributedReport['changes']): DistributedReport {
  return {
    targets: ['198.18.0.0/24'],
    options: { ports: [], count: 3, timeoutMs: 1000, retries: 1, rate: 10_000, intervalMs: 1000 },
    startedAt: '2026-11-30T14:14:00.000Z',
    durationMs: 0,
    complete: true,
    planned: 0,
    icmp: { available: true },
    summary: summarize([]),
    names: [],
    hosts: [],
    sweepId: 'abc',
    groups: ['lo'],
    requestedBy: 'U1',
    chunks: [],
    failures: [],
    cancelled: false,
    ...(changes ? { changes } : {}),
  };
}

describe('targetKey', () => {
  it('treats the same addresses written differently as the same sweep', () => {
    assert.equal(targetKey(['10.0.1.0/24']), targetKey(['10.0.1.1-254']));
    assert.equal(targetKey(['10.0.1.0/24', '10.0.1.5']), targetKey(['10.0.1.0/24']));
    assert.equal(targetKey(['DB.internal.', '10.0.0.1']), targetKey(['10.0.0.1', 'db.internal']));
    assert.notEqual(targetKey(['10.0.1.0/24']), targetKey(['10.0.1.0/25']));
  });
});

describe('recordHosts / compactRecord', () => {
  it('keeps answering hosts with their figures and folds silent ones into ranges, losslessly', () => {
    const hosts = [
      host('198.18.0.1', 'alive', 0.5),
      ...Array.from({ length: 200 }, (_, i) => host(`198.18.0.${i + 2}`, 'silent')),
      host('198.18.0.202', 'alive_tcp_only'),
      host('198.18.0.203', 'prohibited'),
    ];
    const stored = recordHosts(hosts);
    assert.deepEqual(stored.silent, ['198.18.0.2-198.18.0.201']);
    assert.deepEqual(stored.hosts, [
      { ip: '198.18.0.1', state: 'alive', rttMs: 0.5, lossPct: 0 },
      { ip: '198.18.0.202', state: 'alive_tcp_only', lossPct: 100, openPorts: [5432], fact: 'alive_tcp_only 5432/open' },
      { ip: '198.18.0.203', state: 'prohibited', lossPct: 100 },
    ]);
    const compact = compactRecord(stored);
    assert.equal(compact.length, 203);
    assert.deepEqual(diffSweeps(compact, compactHosts(hosts)).unchanged, 203);
  });

  it('keeps what a fact needs: the ports probed, and an unreachable that only says no neighbour answered', () => {
    const neighbourFailed: HostResult = {
      ...host('198.18.0.7', 'unreachable'),
      reporter: diagnoseIcmpError(4, 3, 1, '198.18.0.1'),
      ports: [{ port: 5432, state: 'unreachable', attempts: 1, reporter: diagnoseLocalError('EHOSTUNREACH') }],
    };
    const routeGone: HostResult = { ...host('198.18.0.8', 'unreachable'), reporter: diagnoseIcmpError(4, 3, 0, '198.18.0.254') };
    const closed: HostResult = { ...host('198.18.0.9', 'alive', 0.3), ports: [{ port: 5432, state: 'closed', ms: 1, attempts: 1 }] };
    const stored = recordHosts([neighbourFailed, routeGone, closed]);
    assert.deepEqual(
      stored.hosts.map((h) => [h.ip, h.state, h.fact]),
      [
        ['198.18.0.7', 'unreachable', 'silent'],
        ['198.18.0.8', 'unreachable', undefined],
        ['198.18.0.9', 'alive', 'alive 5432/closed'],
      ],
    );
    // The stored facts are the report's: nothing changed, and the port is compared.
    const again = compactHosts([{ ...neighbourFailed, state: 'silent', ports: [{ port: 5432, state: 'filtered', attempts: 2 }] }, routeGone, closed]);
    assert.deepEqual(diffSweeps(compactRecord(stored), again).unchanged, 3);
    const opened = compactHosts([{ ...closed, ports: [{ port: 5432, state: 'open', ms: 1, attempts: 1 }] }]);
    assert.deepEqual(diffSweeps(compactRecord(stored), opened).changed, [
      { ip: '198.18.0.9', from: 'alive', to: 'alive', ports: [{ port: 5432, from: 'closed', to: 'open' }] },
    ]);
  });
});

describe('HistoryStore (real redis-server)', () => {
  let server: RedisServer;
  let redis: Redis;
  before(async () => {
    server = await startRedis();
    redis = new Redis(server.url);
  });
  after(async () => {
    redis.disconnect();
    await server.destroy();
  });

  it('finds the last sweep of the same targets, not counting the one being recorded', async () => {
    const store = new HistoryStore(redis, { prefix: 't1' });
    const now = Date.now();
    await store.record(record('a', new Date(now - 3000), ['127.0.0.0/30'], [host('127.0.0.1', 'alive', 1)]));
    await store.record(record('b', new Date(now - 2000), ['127.0.1.0/30'], [host('127.0.1.1', 'alive', 1)]));
    await store.record(record('c', new Date(now - 1000), ['127.0.0.1-2'], [host('127.0.0.1', 'silent')]));
    assert.equal((await store.lastOf(targetKey(['127.0.0.0/30'])))?.id, 'c');
    assert.equal((await store.lastOf(targetKey(['127.0.0.0/30']), 'c'))?.id, 'a');
    assert.equal(await store.lastOf(targetKey(['127.0.2.0/30'])), undefined);
    assert.deepEqual((await store.recent(10)).map((r) => r.id), ['c', 'b', 'a']);
    assert.deepEqual((await store.recent(10, targetKey(['127.0.1.1-2']))).map((r) => r.id), ['b']);
  });

  it('passes over partial sweeps for "the last sweep", and refuses them as baselines, saying why', async () => {
    const store = new HistoryStore(redis, { prefix: 't1p' });
    const now = Date.now();
    const targets = ['127.0.0.0/30'];
    await store.record(record('complete', new Date(now - 30_000), targets, [host('127.0.0.1', 'alive', 1)]));
    // Many partial sweeps since, more than one page of the index.
    for (let i = 0; i < 25; i += 1) {
      const partial = { ...record(`cancelled-${i}`, new Date(now - 20_000 + i * 100), targets, []), complete: false };
      await store.record({ ...partial, partial: { why: 'cancelled', planned: 2 } });
    }
    const kept = await store.get('cancelled-24');
    assert.deepEqual([kept?.complete, kept?.partial], [false, { why: 'cancelled', planned: 2 }], 'kept in the history, flagged partial');
    assert.equal((await store.lastOf(targetKey(targets)))?.id, 'complete');
    assert.equal((await store.lastOf(targetKey(targets), 'complete')), undefined);
    await assert.rejects(
      store.saveBaseline('cli', 'before', 'cancelled-3', 'U1'),
      (error: unknown) =>
        error instanceof PartialSweepError &&
        error.message === 'not saved as baseline before: the sweep is partial: 0 of 2 addresses probed before it was cancelled, and only a complete sweep can be a baseline',
    );
    assert.equal(await store.baseline('cli', 'before'), undefined, 'nothing saved');
    assert.equal(await store.saveBaseline('cli', 'before', 'complete', 'U1'), true);
  });

  it('keeps at most maxCount sweeps, dropping the oldest with their index entries', async () => {
    const store = new HistoryStore(redis, { prefix: 't2', maxCount: 3 });
    const now = Date.now();
    for (let i = 0; i < 5; i += 1) {
      await store.record(record(`s${i}`, new Date(now - 10_000 + i * 1000), ['127.0.0.1'], [host('127.0.0.1', 'alive', 1)]));
    }
    assert.deepEqual((await store.recent(10)).map((r) => r.id), ['s4', 's3', 's2']);
    assert.equal(await store.get('s0'), undefined);
    assert.equal(await redis.zcard(`t2:{history}:target:${targetKey(['127.0.0.1'])}`), 3);
  });

  it('stores records and baselines gzipped, and still reads those stored as JSON text before', async () => {
    const store = new HistoryStore(redis, { prefix: 't2z' });
    const now = Date.now();
    const hosts = Array.from({ length: 254 }, (_, i) => host(`198.18.0.${i + 1}`, i % 3 === 0 ? 'alive' : 'silent', 1));
    // As the code before packing wrote them: JSON text, a record and a baseline holding it.
    const old = record('old', new Date(now - 2000), ['198.18.0.0/24'], hosts);
    await redis.set('t2z:{history}:sweep:old', JSON.stringify(old));
    await redis.zadd('t2z:{history}:all', now - 2000, 'old');
    await redis.zadd(`t2z:{history}:target:${old.targetKey}`, now - 2000, 'old');
    await redis.set('t2z:{history}:baseline:cli:before', JSON.stringify({ name: 'before', owner: 'cli', savedBy: 'U1', savedAt: new Date(now - 1000).toISOString(), record: old }));
    await redis.zadd('t2z:{history}:baselines:cli', now - 1000, 'before');

    await store.record(record('new', new Date(now), ['198.18.0.0/24'], hosts));
    assert.equal(await store.saveBaseline('cli', 'after', 'new', 'U1'), true);
    const packed = await redis.getBuffer('t2z:{history}:sweep:new');
    const text = await redis.getBuffer('t2z:{history}:sweep:old');
    assert.ok(packed && text);
    assert.deepEqual([...packed.subarray(0, 2)], [0x1f, 0x8b], 'gzip magic');
    assert.ok(packed.length * 4 < text.length, `packed ${packed.length} bytes against ${text.length} as text`);
    assert.deepEqual([...((await redis.getBuffer('t2z:{history}:baseline:cli:after')) ?? Buffer.alloc(0)).subarray(0, 2)], [0x1f, 0x8b]);

    // Both read alike, through every reader.
    assert.deepEqual((await store.recent(10)).map((r) => r.id), ['new', 'old']);
    assert.deepEqual(await store.get('old'), old);
    assert.equal((await store.get('new'))?.summary.alive, 85);
    assert.equal((await store.lastOf(old.targetKey, 'new'))?.id, 'old');
    assert.deepEqual((await store.listBaselines('cli')).map((b) => [b.name, b.record.id]), [['after', 'new'], ['before', 'old']]);
    assert.equal((await store.baseline('cli', 'before'))?.record.summary.total, 254);
  });

  it('drops sweeps older than maxAgeDays, and lets kept ones expire on their own', async () => {
    const store = new HistoryStore(redis, { prefix: 't3', maxAgeDays: 1 });
    const now = Date.now();
    await store.record(record('old', new Date(now - 2 * 24 * 3600 * 1000), ['127.0.0.1'], [host('127.0.0.1', 'alive', 1)]));
    await store.record(record('new', new Date(now), ['127.0.0.1'], [host('127.0.0.1', 'alive', 1)]));
    assert.deepEqual((await store.recent(10)).map((r) => r.id), ['new']);
    const ttl = await redis.ttl('t3:{history}:sweep:new');
    assert.ok(ttl > 23 * 3600 && ttl <= 24 * 3600, `ttl ${ttl}`);
  });

  it('saves a baseline that outlives the count retention, expires with the age limit, and replaces it by name', async () => {
    const store = new HistoryStore(redis, { prefix: 't4', maxCount: 1, maxAgeDays: 2 });
    await store.record(record('first', new Date(), ['127.0.0.1'], [host('127.0.0.1', 'alive', 1)]));
    assert.equal(await store.saveBaseline('C0OPS', 'Before-Cutover', 'first', 'U1'), true);
    await store.record(record('second', new Date(), ['127.0.0.1'], [host('127.0.0.1', 'silent')]));
    assert.equal(await store.get('first'), undefined, 'retention dropped the sweep itself');
    const baseline = await store.baseline('C0OPS', 'before-cutover');
    assert.equal(baseline?.record.id, 'first');
    assert.equal(baseline?.savedBy, 'U1');
    assert.equal(baseline?.owner, 'C0OPS');
    // It expires as a history record saved now would: after the age limit (2 days here), as does its owner's index.
    for (const key of ['t4:{history}:baseline:C0OPS:before-cutover', 't4:{history}:baselines:C0OPS']) {
      const ttl = await redis.pttl(key);
      assert.ok(ttl > 2 * 24 * 3600_000 - 60_000 && ttl <= 2 * 24 * 3600_000, `${key}: ttl ${ttl} ms`);
    }
    assert.equal(await store.saveBaseline('C0OPS', 'before-cutover', 'gone', 'U1'), false);
    assert.equal(await store.saveBaseline('C0OPS', 'before-cutover', 'second', 'U2'), true);
    assert.equal((await store.baseline('C0OPS', 'before-cutover'))?.record.id, 'second');
  });

  it('keeps each owner’s baselines apart: another channel neither reads nor replaces them', async () => {
    const store = new HistoryStore(redis, { prefix: 't4b' });
    await store.record(record('c1-sweep', new Date(), ['127.0.0.1'], [host('127.0.0.1', 'alive', 1)]));
    await store.record(record('c2-sweep', new Date(), ['127.0.0.1'], [host('127.0.0.1', 'silent')]));
    assert.equal(await store.saveBaseline('C0ONE', 'before-cutover', 'c1-sweep', 'U1'), true);
    assert.equal(await store.baseline('C0TWO', 'before-cutover'), undefined, 'not readable from another channel');
    assert.equal(await store.baseline('cli', 'before-cutover'), undefined, 'nor from the command line');
    assert.equal(await store.saveBaseline('C0TWO', 'before-cutover', 'c2-sweep', 'U2'), true);
    assert.equal((await store.baseline('C0ONE', 'before-cutover'))?.record.id, 'c1-sweep', 'the first channel’s is untouched');
    assert.equal((await store.baseline('C0TWO', 'before-cutover'))?.record.id, 'c2-sweep');
    await assert.rejects(store.saveBaseline('C0ONE:x', 'n', 'c1-sweep', 'U1'), /cannot own baselines/);
  });

  it('lets baselines saved before owners expire with the history, leaving owned ones as they are', async () => {
    const store = new HistoryStore(redis, { prefix: 't4d', maxAgeDays: 3 });
    await redis.set('t4d:{history}:baseline:before-cutover', '{}');
    await store.record(record('s1', new Date(), ['127.0.0.1'], [host('127.0.0.1', 'alive', 1)]));
    await store.saveBaseline('C0ONE', 'owned', 's1', 'U1');
    await redis.persist('t4d:{history}:baseline:C0ONE:owned');
    assert.equal(await store.expireUnownedBaselines(), 1);
    const ttl = await redis.pttl('t4d:{history}:baseline:before-cutover');
    assert.ok(ttl > 3 * 24 * 3600_000 - 60_000 && ttl <= 3 * 24 * 3600_000, `ttl ${ttl} ms`);
    assert.equal(await redis.pttl('t4d:{history}:baseline:C0ONE:owned'), -1, 'an owned key is not touched');
    assert.equal(await store.expireUnownedBaselines(), 0, 'nothing left to do');
  });

  it('lists an owner’s baselines, newest first, and forgets one by name', async () => {
    const store = new HistoryStore(redis, { prefix: 't4c' });
    await store.record(record('s1', new Date(), ['127.0.0.1'], [host('127.0.0.1', 'alive', 1)]));
    await store.saveBaseline('C0ONE', 'first', 's1', 'U1');
    await new Promise((r) => setTimeout(r, 5));
    await store.saveBaseline('C0ONE', 'Second', 's1', 'U1');
    await store.saveBaseline('C0TWO', 'theirs', 's1', 'U2');
    assert.deepEqual((await store.listBaselines('C0ONE')).map((b) => b.name), ['second', 'first']);
    assert.deepEqual((await store.listBaselines('C0TWO')).map((b) => b.name), ['theirs']);
    assert.deepEqual(await store.listBaselines('C0NONE'), []);
    assert.equal(await store.forgetBaseline('C0TWO', 'first'), false, 'not another channel’s');
    assert.equal(await store.forgetBaseline('C0ONE', 'FIRST'), true);
    assert.equal(await store.baseline('C0ONE', 'first'), undefined);
    assert.equal(await store.forgetBaseline('C0ONE', 'first'), false, 'already gone');
    // One that expired leaves the list (and its index) by itself.
    await redis.del('t4c:{history}:baseline:C0ONE:second');
    assert.deepEqual(await store.listBaselines('C0ONE'), []);
    assert.equal(await redis.exists('t4c:{history}:baselines:C0ONE'), 0);
  });

  it('skips records that are not JSON, misshapen or older, one line each, and serves the good ones around them', async () => {
    const bad: BadRecord[] = [];
    const store = new HistoryStore(redis, { prefix: 't5', onBadRecord: (b) => bad.push(b) });
    const targets = ['127.0.0.0/30'];
    const key = targetKey(targets);
    const now = Date.now();
    await store.record(record('good-old', new Date(now - 5000), targets, [host('127.0.0.1', 'alive', 1)]));
    // An earlier format: hosts as [ip, state] pairs, no silent ranges, no target key.
    const older: Partial<SweepRecord> = record('older', new Date(now - 3000), targets, []);
    delete older.targetKey;
    delete older.silent;
    const broken: [string, string][] = [
      ['garbage', 'hunter2-planted, not JSON'],
      ['shape', JSON.stringify({ ...record('shape', new Date(now - 4000), targets, []), summary: 'hunter2-planted' })],
      ['older', JSON.stringify({ ...older, hosts: [['127.0.0.1', 'alive']] })],
    ];
    for (const [id, text] of broken) {
      await redis.set(`t5:{history}:sweep:${id}`, text);
      await redis.zadd('t5:{history}:all', now - 3500, id);
      await redis.zadd(`t5:{history}:target:${key}`, now - 3500, id);
    }
    await store.record(record('good-new', new Date(now - 1000), targets, [host('127.0.0.1', 'silent')]));
    const expected = [
      ['history record', 't5:{history}:sweep:garbage', 'not JSON'],
      ['history record', 't5:{history}:sweep:older', 'targetKey: Invalid input: expected string, received undefined'],
      ['history record', 't5:{history}:sweep:shape', 'summary: Invalid input: expected object, received string'],
    ];
    const lines = (): string[][] => bad.splice(0).map((b) => [b.what, b.key, b.reason]).sort((a, b) => (a[1] ?? '').localeCompare(b[1] ?? ''));

    assert.deepEqual((await store.recent(10)).map((r) => r.id), ['good-new', 'good-old']);
    assert.deepEqual(lines(), expected);
    assert.deepEqual((await store.recent(10, key)).map((r) => r.id), ['good-new', 'good-old']);
    assert.deepEqual(lines(), expected);
    assert.equal((await store.lastOf(key, 'good-new'))?.id, 'good-old', 'the last good sweep, past the bad ones');
    assert.deepEqual(lines(), expected);
    assert.equal(await store.get('older'), undefined);
    assert.deepEqual(lines(), [expected[1]]);
    assert.equal(await store.saveBaseline('cli', 'from-garbage', 'garbage', 'U1'), false);
    assert.deepEqual(lines(), [expected[0]]);

    await redis.set('t5:{history}:baseline:cli:broken', JSON.stringify({ name: 'broken', savedBy: 'U1', savedAt: new Date().toISOString(), record: 'hunter2-planted' }));
    assert.equal(await store.baseline('cli', 'broken'), undefined);
    assert.deepEqual(lines(), [['baseline', 't5:{history}:baseline:cli:broken', 'record: Invalid input: expected object, received string']]);
    assert.equal(await store.saveBaseline('cli', 'fine', 'good-old', 'U1'), true);
    assert.equal((await store.baseline('cli', 'fine'))?.record.id, 'good-old');

    // Retention drops bad records like any other, without reading them as sweeps.
    const small = new HistoryStore(redis, { prefix: 't5', maxCount: 1, onBadRecord: (b) => bad.push(b) });
    await small.record(record('newest', new Date(now), targets, [host('127.0.0.1', 'alive', 1)]));
    assert.deepEqual((await small.recent(10)).map((r) => r.id), ['newest']);
    for (const [id] of broken) assert.equal(await redis.exists(`t5:{history}:sweep:${id}`), 0, id);
    assert.deepEqual(lines(), expected, 'one line each as they were dropped');
    // Their ids may linger in the target index until it expires; they lead nowhere and cost no line.
    assert.deepEqual((await small.recent(10, key)).map((r) => r.id), ['newest']);
    assert.deepEqual(lines(), []);
  });
});

describe('what changed (diffSweeps, comparisonWith, the text view)', () => {
  it('says what appeared, what went silent and what changed, ranges folded', () => {
    const before = Array.from({ length: 40 }, (_, i): [string, HostState] => [`198.18.0.${i + 1}`, 'alive']);
    const after = before.map(([ip], i): [string, HostState] => [ip, i < 30 ? 'silent' : i === 30 ? 'unreachable' : 'alive']);
    after.push(['198.18.0.100', 'alive'], ['198.18.0.101', 'alive_tcp_only']);
    after[35] = ['198.18.0.36', 'alive_tcp_only'];
    const text = renderText(distributed({ since: '2026-11-30T14:02:00.000Z', sinceId: 'old', diff: diffSweeps(before, after) }));
    assert.match(
      text,
      /\nSince 14:02 UTC \(12 min ago\): 2 appeared · 31 went silent · 1 changed\n {2}appeared: 198\.18\.0\.100, 198\.18\.0\.101 \(now TCP only\)\n {2}went silent: 198\.18\.0\.1-30, 198\.18\.0\.31 \(now unreachable\)\n {2}changed: 198\.18\.0\.36 \(alive → TCP only\)\n/,
    );
    const same = renderText(distributed({ since: '2026-11-30T14:13:40.000Z', sinceId: 'old', diff: diffSweeps(before, before) }));
    assert.match(same, /\nSince 14:13 UTC: no change in 40 hosts\n/);
  });

  it('says which ports changed, and counts one host as one', () => {
    const before: [string, string][] = [['198.18.0.4', 'alive 5432/open'], ['198.18.0.5', 'alive_tcp_only 22/closed 5432/open']];
    const after: [string, string][] = [['198.18.0.4', 'alive 5432/closed'], ['198.18.0.5', 'alive 22/open 5432/filtered']];
    const text = renderText(distributed({ since: '2026-11-30T14:02:00.000Z', sinceId: 'old', diff: diffSweeps(before, after) }));
    assert.match(
      text,
      /\nSince 14:02 UTC \(12 min ago\): 2 changed\n {2}changed: 198\.18\.0\.4 \(5432\/tcp open → closed\),\n {4}198\.18\.0\.5 \(TCP only → alive, 22\/tcp closed → open, 5432\/tcp open → filtered\)\n/,
    );
    const one = renderText(distributed({ since: '2026-11-30T14:13:40.000Z', sinceId: 'old', diff: diffSweeps(before.slice(0, 1), before.slice(0, 1)) }));
    assert.match(one, /\nSince 14:13 UTC: no change in 1 host\n/);
  });

  it('does not call a host silent because its port was not probed this time, and says how the sweeps differ', () => {
    const earlier = record('one', new Date('2026-11-30T14:02:00Z'), ['198.18.0.0/28'], [host('198.18.0.4', 'alive_tcp_only'), host('198.18.0.5', 'alive', 0.4)]);
    earlier.probed = { ports: [5432], count: 1 };
    const { context, probedBefore } = comparisonWith(earlier, { ports: [], count: 3 });
    assert.deepEqual(probedBefore, { ports: [5432], count: 1 });
    const now: [string, HostState][] = [['198.18.0.4', 'silent'], ['198.18.0.5', 'silent']];
    const diff = diffSweeps(compactRecord(earlier), now, context);
    assert.deepEqual(diff.wentSilent, [['198.18.0.5', 'silent']]);
    assert.deepEqual(diff.notCompared, [{ ip: '198.18.0.4', ports: [5432] }]);
    const text = renderText(distributed({ since: earlier.at, sinceId: 'one', diff, probedBefore }));
    assert.match(text, /\n {2}\(tcp:5432 then, no TCP port now; count:1 then, count:3 now\)\n/);
    assert.match(text, /\n {2}not compared: 198\.18\.0\.4 \(answered on tcp:5432 then, not probed now\)\n/);
    // Probed the same way, the port answered then and not now: that host did go silent.
    const same = comparisonWith(earlier, { ports: [5432], count: 1 });
    assert.equal(same.probedBefore, undefined);
    assert.deepEqual(diffSweeps(compactRecord(earlier), now, same.context).wentSilent.length, 2);
  });

  it('notes a chunk that ran again after its agent stalled, and chunks that failed', () => {
    const report = {
      sweepId: 'abc',
      requestedBy: 'U1',
      groups: ['a'],
      chunks: [
        { index: 0, group: 'a', agentId: 'a-1', attempt: 1, stalled: 0, durationMs: 5 },
        { index: 1, group: 'a', agentId: 'a-2', attempt: 1, stalled: 1, durationMs: 5 },
      ],
      failures: [{ index: 2, group: 'a', reason: '127.0.1.5 is outside the networks this agent may probe (127.0.0.0/25)' }],
    } as unknown as DistributedReport;
    assert.deepEqual(runLines(report), [
      '',
      'Run',
      '  sweep abc, asked by U1, in a',
      '  a/a-1: 1 chunk',
      '  a/a-2: 1 chunk',
      '  retried: chunk 1 ran again on a-2 after its agent stopped answering (stalled)',
      '  failed: chunk 2 in a: 127.0.1.5 is outside the networks this agent may probe (127.0.0.0/25)',
    ]);
  });
});
