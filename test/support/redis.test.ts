import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { redisConnection, startRedis, type RedisServer } from './redis.js';

const clients: Redis[] = [];

/** A client that gives up at once instead of retrying, so a failure shows as an error, not a hang. */
function connect(url: string): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: true });
  client.on('error', () => {
    // Reported through the failing command.
  });
  clients.push(client);
  return client;
}

async function withServer(options: Parameters<typeof startRedis>[0], body: (server: RedisServer) => Promise<void>): Promise<void> {
  const server = await startRedis(options);
  try {
    await body(server);
  } finally {
    await server.destroy();
  }
}

after(() => {
  for (const client of clients) {
    client.disconnect();
  }
});

describe('startRedis', () => {
  it('starts a server of its own on a free port, answering commands', async () => {
    await withServer({}, async (server) => {
      assert.notEqual(server.port, 6379);
      assert.equal(server.url, `redis://127.0.0.1:${server.port}`);
      const client = connect(server.url);
      assert.equal(await client.set('greeting', 'hello'), 'OK');
      assert.equal(await client.get('greeting'), 'hello');
      assert.equal(await client.config('GET', 'dir').then((pair) => (pair as string[])[1]), server.dir);
    });
  });

  it('keeps every write across a restart and across a kill when append-only is on', async () => {
    await withServer({ appendOnly: true }, async (server) => {
      const before = connect(server.url);
      await before.set('kept', 'yes');
      before.disconnect();
      await server.restart();
      const afterRestart = connect(server.url);
      assert.equal(await afterRestart.get('kept'), 'yes');
      await afterRestart.set('written-before-crash', '1');
      afterRestart.disconnect();
      await server.kill();
      await server.restart();
      const afterCrash = connect(server.url);
      assert.equal(await afterCrash.get('kept'), 'yes');
      assert.equal(await afterCrash.get('written-before-crash'), '1');
    });
  });

  it('loses the data on restart when append-only is off, on the same port', async () => {
    await withServer({}, async (server) => {
      const port = server.port;
      const before = connect(server.url);
      await before.set('lost', 'yes');
      before.disconnect();
      await server.restart();
      assert.equal(server.port, port);
      const afterRestart = connect(server.url);
      assert.equal(await afterRestart.get('lost'), null);
    });
  });

  it('refuses clients without the password when one is set', async () => {
    await withServer({ password: 's3cret/with:chars' }, async (server) => {
      assert.equal(server.url, `redis://:${encodeURIComponent('s3cret/with:chars')}@127.0.0.1:${server.port}`);
      const anonymous = connect(`redis://127.0.0.1:${server.port}`);
      await assert.rejects(anonymous.get('anything'), /NOAUTH/);
      const authorised = connect(server.url);
      assert.equal(await authorised.ping(), 'PONG');
      await server.restart();
      const afterRestart = connect(server.url);
      assert.equal(await afterRestart.ping(), 'PONG');
    });
  });

  it('stops, and destroy removes the directory and can be called twice', async () => {
    const server = await startRedis();
    await access(server.dir);
    await server.stop();
    const client = connect(server.url);
    await assert.rejects(client.ping());
    await server.destroy();
    await assert.rejects(access(server.dir), { code: 'ENOENT' });
    await server.destroy();
    await assert.rejects(server.restart(), /destroyed/);
  });

  it('runs several servers side by side on different ports', async () => {
    const [a, b] = await Promise.all([startRedis(), startRedis()]);
    try {
      assert.notEqual(a.port, b.port);
      await connect(a.url).set('where', 'a');
      assert.equal(await connect(b.url).get('where'), null);
    } finally {
      await Promise.all([a.destroy(), b.destroy()]);
    }
  });
});

describe('redisConnection', () => {
  it('turns a URL into ioredis options for BullMQ', () => {
    assert.deepEqual(redisConnection('redis://127.0.0.1:6390'), { host: '127.0.0.1', port: 6390, maxRetriesPerRequest: null });
    assert.deepEqual(redisConnection('redis://:p%40ss@127.0.0.1:6391'), {
      host: '127.0.0.1',
      port: 6391,
      password: 'p@ss',
      maxRetriesPerRequest: null,
    });
    assert.deepEqual(redisConnection('redis://localhost'), { host: 'localhost', port: 6379, maxRetriesPerRequest: null });
    assert.throws(() => redisConnection('http://127.0.0.1:6379'), /not a redis:\/\/ URL/);
  });
});
