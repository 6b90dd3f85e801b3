/**
 * RedisConnections against a real redis-server that the tests stop and start: every connection of the process, those
 * BullMQ makes for itself included, shares one outage log, and close() ends them even while Redis is away.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { RedisConnections, isConnectionError } from '../../src/queue/connections.js';
import { redisTargetFromEnv } from '../../src/config-redis.js';
import { bullmq } from '../../src/queue/load.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { quietFor, until } from '../support/wait.js';

type Line = Record<string, unknown>;

function capture(): { lines: Line[]; log: pino.Logger } {
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Line);
      done();
    },
  });
  return { lines, log: pino({ level: 'info' }, sink) };
}

/** Within each test's 60 s, so that a wait that runs out says what it waited for. */
const WAIT = { timeoutMs: 20_000 };

const named = (lines: Line[], event: string): Line[] => lines.filter((l) => l.event === event);

describe('RedisConnections', () => {
  let redis: RedisServer | undefined;

  afterEach(async () => {
    await redis?.destroy();
  });

  it('logs an outage of all its connections once, reminds at most once per period, and says when it ends', { timeout: 60_000 }, async () => {
    redis = await startRedis({ password: 'hunter2-in-the-url' });
    const { lines, log } = capture();
    const connections = new RedisConnections(redisTargetFromEnv({ REDIS_URL: redis.url }), log, { remindEveryMs: 1000 });
    const main = connections.open();
    const other = main.duplicate();
    // A worker makes a blocking connection of its own out of `main`; its errors come through the worker too.
    const worker = new bullmq.Worker('outage-test', async () => undefined, { connection: main });
    worker.on('error', connections.errorLogger('worker_error'));
    const queue = new bullmq.Queue('outage-test', { connection: main });
    queue.on('error', connections.errorLogger('queue_error'));
    await Promise.all([worker.waitUntilReady(), queue.waitUntilReady(), other.ping()]);

    await redis.stop();
    await until('the outage logged', () => connections.down, WAIT);
    // Three reminders' worth of outage (each connection fails again on every reconnection attempt, several a second):
    // one redis_down line, and reminders no more often than once a second.
    await until('three reminders', () => named(lines, 'redis_still_down').length >= 3, { ...WAIT, show: () => lines });
    assert.equal(named(lines, 'redis_down').length, 1, JSON.stringify(lines));
    const [down] = named(lines, 'redis_down');
    assert.equal(down?.redis, `redis://:***@127.0.0.1:${redis.port}`);
    assert.match(String(down?.message), /ECONNREFUSED/);
    const reminders = named(lines, 'redis_still_down').map((l) => Number(l.downMs));
    reminders.forEach((ms, i) => assert.ok(ms - (reminders[i - 1] ?? 0) >= 1000, `reminders at ${reminders.join(', ')} ms`));
    assert.deepEqual(
      lines.filter((l) => !['redis_down', 'redis_still_down'].includes(String(l.event))),
      [],
      'no other line while Redis is away',
    );

    await redis.restart();
    await until('the end of the outage', () => named(lines, 'redis_up').length > 0, { ...WAIT, show: () => lines });
    assert.equal(connections.down, false);
    const [up] = named(lines, 'redis_up');
    assert.ok(Number(up?.downMs) >= (reminders.at(-1) ?? 0), `up after ${String(up?.downMs)} ms, reminders at ${reminders.join(', ')} ms`);
    assert.equal(await other.ping(), 'PONG');
    await queue.add('after', {});

    // An error that is not about reaching Redis is still logged.
    worker.emit('error', new Error('a script failed'));
    assert.deepEqual(named(lines, 'worker_error').map((l) => l.message), ['a script failed']);
    await worker.close();
    await queue.close();
    await connections.close();
    assert.equal(named(lines, 'redis_up').length, 1);
    assert.doesNotMatch(JSON.stringify(lines), /hunter2/);
  });

  it('closes every connection at once while Redis is away, and logs nothing more', { timeout: 60_000 }, async () => {
    redis = await startRedis();
    const { lines, log } = capture();
    const connections = new RedisConnections(redisTargetFromEnv({ REDIS_URL: redis.url }), log);
    const main = connections.open();
    const copy = main.duplicate();
    await Promise.all([main.ping(), copy.ping()]);
    await redis.stop();
    await until('the outage logged', () => connections.down, WAIT);
    // A command waits for Redis (maxRetriesPerRequest: null): a quit behind it would wait forever.
    void main.get('waiting').catch(() => undefined);

    await connections.close();
    // ioredis tries again at least every 2 s: a connection that was not cut would have tried by now.
    let attempts = 0;
    for (const client of [main, copy]) client.on('connecting', () => (attempts += 1));
    const count = lines.length;
    await quietFor(3000);
    assert.equal(attempts, 0);
    assert.equal(lines.length, count, JSON.stringify(lines.slice(count)));
  });
});

describe('isConnectionError', () => {
  it('tells a lost connection from other errors', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    assert.equal(isConnectionError(refused), true);
    assert.equal(isConnectionError(new Error('Connection is closed.')), true);
    assert.equal(isConnectionError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })), true);
    assert.equal(isConnectionError(new Error('All sentinels are unreachable. Retrying from scratch after 10ms.')), true);
    assert.equal(isConnectionError(new Error('ERR Error running script')), false);
    assert.equal(isConnectionError('ECONNREFUSED'), false);
  });
});
