import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { describeRedis, redisRemindMs, redisTargetFromEnv } from '../src/config-redis.js';
import { clusterOptions, ioredisOptions } from '../src/queue/connect.js';

const SECRET = 'hunter2-secret';
const dir = mkdtempSync(join(tmpdir(), 'zensweep-ca-'));
const CA = join(dir, 'ca.pem');
writeFileSync(CA, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
const NOT_A_CA = join(dir, 'notes.txt');
writeFileSync(NOT_A_CA, 'not a certificate\n');

describe('redisTargetFromEnv', () => {
  it('reads REDIS_URL: host, port, database, user and password, TLS by rediss://', () => {
    assert.deepEqual(redisTargetFromEnv({ REDIS_URL: 'redis://127.0.0.1:6380/2' }), { kind: 'server', host: '127.0.0.1', port: 6380, db: 2 });
    assert.deepEqual(redisTargetFromEnv({ REDIS_URL: `rediss://zs:${encodeURIComponent('p@ss')}@[::1]` }), {
      kind: 'server',
      host: '::1',
      port: 6379,
      db: 0,
      username: 'zs',
      password: 'p@ss',
      tls: {},
    });
  });

  it('takes the user and password from REDIS_USERNAME and REDIS_PASSWORD, and the CA from REDIS_TLS_CA', () => {
    const target = redisTargetFromEnv({ REDIS_URL: 'rediss://redis.internal:6380', REDIS_USERNAME: 'zensweep', REDIS_PASSWORD: SECRET, REDIS_TLS_CA: CA });
    assert.equal(target.username, 'zensweep');
    assert.equal(target.password, SECRET);
    assert.equal(target.tls?.caFile, CA);
    assert.match(target.tls?.ca ?? '', /BEGIN CERTIFICATE/);
    const { reconnectOnError, ...options } = ioredisOptions(target);
    assert.deepEqual(options, { host: 'redis.internal', port: 6380, db: 0, username: 'zensweep', password: SECRET, tls: { ca: target.tls?.ca } });
    // A master turned replica (a failover behind one address): connect again and send the command again.
    assert.equal(typeof reconnectOnError, 'function');
    const reconnect = reconnectOnError as (error: Error) => boolean | 1 | 2;
    assert.equal(reconnect(new Error("READONLY You can't write against a read only replica.")), 2);
    assert.equal(reconnect(new Error('UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)')), 2);
    assert.equal(reconnect(new Error('ERR unknown command')), false);
  });

  it('uses the default URL only when no way is chosen, and requires one without it', () => {
    assert.deepEqual(redisTargetFromEnv({}, 'redis://127.0.0.1:6379'), { kind: 'server', host: '127.0.0.1', port: 6379, db: 0 });
    assert.throws(() => redisTargetFromEnv({}), { name: 'ConfigError', message: /^REDIS_URL is required \(or REDIS_SENTINELS with REDIS_SENTINEL_MASTER, or REDIS_CLUSTER_NODES\)/ });
  });

  it('reads the Sentinels, the master, the Sentinels\' password; TLS when a CA is given', () => {
    const env = { REDIS_SENTINELS: '10.0.0.5:26379, 10.0.0.6 ,[fd00::7]:26380', REDIS_SENTINEL_MASTER: 'mymaster', REDIS_SENTINEL_PASSWORD: 'sentinel-pw', REDIS_PASSWORD: SECRET };
    const target = redisTargetFromEnv(env, 'redis://127.0.0.1:6379');
    assert.deepEqual(target, {
      kind: 'sentinel',
      sentinels: [
        { host: '10.0.0.5', port: 26379 },
        { host: '10.0.0.6', port: 26379 },
        { host: 'fd00::7', port: 26380 },
      ],
      master: 'mymaster',
      sentinelPassword: 'sentinel-pw',
      password: SECRET,
    });
    const { reconnectOnError, ...options } = ioredisOptions(target);
    assert.equal(typeof reconnectOnError, 'function');
    // failoverDetector: each connection hears the Sentinels' +switch-master and moves to the new master at once.
    assert.deepEqual(options, {
      sentinels: target.kind === 'sentinel' ? target.sentinels : [],
      name: 'mymaster',
      sentinelPassword: 'sentinel-pw',
      password: SECRET,
      failoverDetector: true,
    });
    const tls = ioredisOptions(redisTargetFromEnv({ ...env, REDIS_TLS_CA: CA }));
    assert.equal(tls.enableTLSForSentinelMode, true);
    assert.deepEqual(tls.sentinelTLS, tls.tls);
  });

  it('reads a cluster: its nodes, who, TLS in each node’s options, the connection’s own options at the cluster’s level', () => {
    const target = redisTargetFromEnv({ REDIS_CLUSTER_NODES: 'c1:7000, [fd00::9]:7001', REDIS_USERNAME: 'zs', REDIS_PASSWORD: SECRET, REDIS_TLS_CA: CA });
    assert.equal(target.kind, 'cluster');
    assert.deepEqual(target.kind === 'cluster' ? target.nodes : [], [
      { host: 'c1', port: 7000 },
      { host: 'fd00::9', port: 7001 },
    ]);
    const options = clusterOptions(target, { maxRetriesPerRequest: null, lazyConnect: true, enableReadyCheck: false });
    assert.equal(options.lazyConnect, true);
    assert.equal(options.enableReadyCheck, false);
    assert.equal(typeof options.dnsLookup, 'function', 'TLS: nodes are reached by the names their certificates carry');
    const { reconnectOnError, ...node } = options.redisOptions ?? {};
    assert.equal(typeof reconnectOnError, 'function');
    assert.deepEqual(node, { username: 'zs', password: SECRET, tls: { ca: readFileSync(CA, 'utf8') }, maxRetriesPerRequest: null });
  });

  it('refuses every bad setting in one sentence that names the variable and never shows a password', () => {
    const cases: [NodeJS.ProcessEnv, RegExp][] = [
      [{ REDIS_URL: 'redis://x', REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_MASTER: 'm' }, /^REDIS_URL and REDIS_SENTINELS are both set: Redis is reached one way/],
      [{ REDIS_URL: 'redis://x', REDIS_CLUSTER_NODES: 'a:1' }, /^REDIS_URL and REDIS_CLUSTER_NODES are both set/],
      [{ REDIS_CLUSTER_NODES: 'a:7000,,b' }, /^REDIS_CLUSTER_NODES has an empty entry/],
      [{ REDIS_CLUSTER_NODES: 'a:7000,redis://b:7001' }, /^REDIS_CLUSTER_NODES entry redis:\/\/b:7001 is not host:port/],
      [{ REDIS_CLUSTER_NODES: 'a:7000', REDIS_SENTINEL_MASTER: 'm' }, /^REDIS_SENTINEL_MASTER is set with REDIS_CLUSTER_NODES/],
      [{ REDIS_CLUSTER_NODES: 'a:7000', REDIS_SENTINELS: 'b:26379' }, /^REDIS_SENTINELS and REDIS_CLUSTER_NODES are both set/],
      [{ REDIS_SENTINELS: 'a:26379' }, /^REDIS_SENTINELS is set without REDIS_SENTINEL_MASTER/],
      [{ REDIS_URL: 'redis://x', REDIS_SENTINEL_MASTER: 'm' }, /^REDIS_SENTINEL_MASTER is set without REDIS_SENTINELS/],
      [{ REDIS_SENTINELS: 'a:26379,,b', REDIS_SENTINEL_MASTER: 'm' }, /^REDIS_SENTINELS has an empty entry/],
      [{ REDIS_SENTINELS: 'a:99999', REDIS_SENTINEL_MASTER: 'm' }, /^REDIS_SENTINELS entry a:99999 is not host:port/],
      [{ REDIS_SENTINELS: 'http://a:1', REDIS_SENTINEL_MASTER: 'm' }, /^REDIS_SENTINELS entry http:\/\/a:1 is not host:port/],
      [{ REDIS_SENTINELS: 'a:1,a:1', REDIS_SENTINEL_MASTER: 'm' }, /^REDIS_SENTINELS lists a:1 twice/],
      [{ REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_MASTER: 'my master' }, /^REDIS_SENTINEL_MASTER=my master is not a master name/],
      [{ REDIS_URL: `redis://:${SECRET}@x`, REDIS_PASSWORD: SECRET }, /^REDIS_URL holds a user or password and REDIS_USERNAME or REDIS_PASSWORD is set too/],
      [{ REDIS_URL: 'redis://x', REDIS_USERNAME: 'zs' }, /^REDIS_USERNAME is set without REDIS_PASSWORD/],
      [{ REDIS_URL: 'redis://x', REDIS_USERNAME: 'a b', REDIS_PASSWORD: SECRET }, /^REDIS_USERNAME is not a user name/],
      [{ REDIS_URL: `redis://:${SECRET}@x`, REDIS_TLS_CA: CA }, /^REDIS_TLS_CA is set but REDIS_URL is not TLS: write rediss:\/\/ \(redis:\/\/:\*\*\*@x\)/],
      [{ REDIS_URL: 'rediss://x', REDIS_TLS_CA: join(dir, 'missing.pem') }, /^REDIS_TLS_CA=.*missing\.pem cannot be read \(ENOENT\)/],
      [{ REDIS_URL: 'rediss://x', REDIS_TLS_CA: NOT_A_CA }, /^REDIS_TLS_CA=.*notes\.txt holds no certificate/],
      [{ REDIS_URL: `redis://:${SECRET}@x/db1` }, /^REDIS_URL's path is a database number/],
      [{ REDIS_URL: `http://:${SECRET}@x` }, /^REDIS_URL must start with redis:\/\/ or rediss:\/\//],
    ];
    for (const [env, message] of cases) {
      assert.throws(() => redisTargetFromEnv(env), (error: Error) => {
        assert.equal(error.name, 'ConfigError', JSON.stringify(env));
        assert.match(error.message, message);
        assert.ok(!error.message.includes(SECRET), error.message);
        assert.ok(!error.message.includes('\n'), error.message);
        return true;
      });
    }
  });
});

describe('describeRedis', () => {
  it('says where and how, a password as ***, never the password', () => {
    const said = [
      describeRedis(redisTargetFromEnv({ REDIS_URL: 'redis://127.0.0.1:6379' })),
      describeRedis(redisTargetFromEnv({ REDIS_URL: `rediss://:${SECRET}@redis.internal:6380/3` })),
      describeRedis(redisTargetFromEnv({ REDIS_URL: 'redis://[::1]:6379', REDIS_USERNAME: 'zs', REDIS_PASSWORD: SECRET })),
      describeRedis(redisTargetFromEnv({ REDIS_SENTINELS: 'a:26379,[fd00::7]:26380', REDIS_SENTINEL_MASTER: 'mymaster', REDIS_USERNAME: 'zs', REDIS_PASSWORD: SECRET, REDIS_TLS_CA: CA })),
      describeRedis(redisTargetFromEnv({ REDIS_CLUSTER_NODES: 'c1:7000,c2', REDIS_USERNAME: 'zs', REDIS_PASSWORD: SECRET, REDIS_TLS_CA: CA })),
    ];
    assert.deepEqual(said, [
      'redis://127.0.0.1:6379',
      'rediss://:***@redis.internal:6380/3',
      'redis://zs:***@[::1]:6379',
      'master mymaster of the Sentinels a:26379,[fd00::7]:26380 (TLS) as zs',
      'the cluster of c1:7000,c2:6379 (TLS) as zs',
    ]);
  });
});

describe('redisRemindMs (ZENSWEEP_REDIS_REMIND_MS)', () => {
  it('reminds once a minute unless told otherwise, and refuses a bad value in one sentence naming it', () => {
    assert.equal(redisRemindMs({}), 60_000);
    assert.equal(redisRemindMs({ ZENSWEEP_REDIS_REMIND_MS: '' }), 60_000);
    assert.equal(redisRemindMs({ ZENSWEEP_REDIS_REMIND_MS: ' 5000 ' }), 5000);
    assert.throws(() => redisRemindMs({ ZENSWEEP_REDIS_REMIND_MS: '5s' }), { name: 'ConfigError', message: 'ZENSWEEP_REDIS_REMIND_MS=5s is not a whole number: it takes 1000 to 86400000' });
    assert.throws(() => redisRemindMs({ ZENSWEEP_REDIS_REMIND_MS: '10' }), { message: 'ZENSWEEP_REDIS_REMIND_MS=10 is out of range: it takes 1000 to 86400000' });
  });
});
