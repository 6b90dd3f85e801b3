/**
 * A Redis Sentinel set of a test's own, on 127.0.0.1: a master, a replica of it, and three Sentinels
 * (`redis-server --sentinel`, quorum 2, down-after-milliseconds 1000), each in its own directory. What ZenSweep is
 * given is `env` (REDIS_SENTINELS, REDIS_SENTINEL_MASTER and, with a password, REDIS_PASSWORD); `masterPort()` asks
 * the Sentinels who the master is now, so a test can kill it and wait for the replica's promotion.
 *
 * ```ts
 * const set = await startSentinelSet();
 * after(() => set.destroy());
 * await set.master.kill();
 * await set.failedOverFrom(oldPort);
 * ```
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { startRedis, type RedisServer } from './redis.js';
import { until } from './wait.js';

export const SENTINEL_MASTER = 'zsmaster';

const sentinelsRunning = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of sentinelsRunning) child.kill('SIGKILL');
});
const QUORUM = 2;

export interface SentinelSet {
  /** The server that was master at start (after a failover it may be gone, or a replica). */
  readonly master: RedisServer;
  /** The server that was its replica at start. */
  readonly replica: RedisServer;
  readonly sentinelPorts: readonly number[];
  /** What ZenSweep's services and commands are given to reach it. */
  readonly env: NodeJS.ProcessEnv;
  /** The master's port as the Sentinels name it now. */
  masterPort(): Promise<number>;
  /** Waits until the Sentinels name a master other than the one on `port` (a failover done), within `timeoutMs`. */
  failedOverFrom(port: number, timeoutMs?: number): Promise<number>;
  destroy(): Promise<void>;
}

interface SentinelProcess {
  port: number;
  dir: string;
  child: ChildProcess;
}

export async function startSentinelSet(options: { password?: string } = {}): Promise<SentinelSet> {
  const master = await startRedis({ password: options.password });
  let replica: RedisServer | undefined;
  const sentinels: SentinelProcess[] = [];
  const destroy = async (): Promise<void> => {
    for (const sentinel of sentinels.splice(0)) {
      sentinel.child.kill('SIGKILL');
      await new Promise((resolve) => (sentinel.child.exitCode !== null || sentinel.child.signalCode !== null ? resolve(undefined) : sentinel.child.once('exit', resolve)));
      await rm(sentinel.dir, { recursive: true, force: true });
    }
    await replica?.destroy();
    await master.destroy();
  };
  try {
    replica = await startRedis({ password: options.password, replicaOf: master.port });
    const synced = new Redis(replica.port, '127.0.0.1', { password: options.password, lazyConnect: true });
    try {
      await until('the replica to sync with its master', async () => /master_link_status:up/.test(await synced.info('replication')), { timeoutMs: 20_000 });
    } finally {
      synced.disconnect();
    }
    for (let i = 0; i < 3; i += 1) sentinels.push(await startSentinel(master.port, options.password));
    const set: SentinelSet = {
      master,
      replica,
      sentinelPorts: sentinels.map((s) => s.port),
      env: {
        REDIS_SENTINELS: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
        REDIS_SENTINEL_MASTER: SENTINEL_MASTER,
        ...(options.password !== undefined ? { REDIS_PASSWORD: options.password } : {}),
      },
      masterPort: () => askMaster(sentinels[0]?.port ?? 0),
      async failedOverFrom(port, timeoutMs = 30_000) {
        let now = port;
        // Every Sentinel, not just one: a client may ask any of them.
        await until(
          `the Sentinels to promote a master other than ${port}`,
          async () => {
            const named = await Promise.all(sentinels.map((s) => askMaster(s.port).catch(() => port)));
            now = named[0] ?? port;
            return named.every((p) => p !== port && p === now);
          },
          { timeoutMs, show: () => sentinels.map((s) => s.dir).join(' ') },
        );
        return now;
      },
      destroy,
    };
    await until('every Sentinel to know the replica and the other Sentinels', async () => {
      const known = await Promise.all(sentinels.map((s) => sentinelFacts(s.port)));
      return known.every((k) => k.replicas >= 1 && k.sentinels >= 2);
    }, { timeoutMs: 30_000 });
    return set;
  } catch (error) {
    await destroy();
    throw error;
  }
}

async function startSentinel(masterPort: number, password: string | undefined): Promise<SentinelProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'zensweep-sentinel-'));
  const port = await freePort();
  const config = [
    `port ${port}`,
    'bind 127.0.0.1',
    `dir ${dir}`,
    'logfile sentinel.log',
    `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${masterPort} ${QUORUM}`,
    `sentinel down-after-milliseconds ${SENTINEL_MASTER} 1000`,
    `sentinel failover-timeout ${SENTINEL_MASTER} 5000`,
    `sentinel parallel-syncs ${SENTINEL_MASTER} 1`,
    ...(password !== undefined ? [`sentinel auth-pass ${SENTINEL_MASTER} ${password}`] : []),
  ];
  await writeFile(join(dir, 'sentinel.conf'), `${config.join('\n')}\n`);
  const child = spawn('redis-server', [join(dir, 'sentinel.conf'), '--sentinel'], { cwd: dir, stdio: 'ignore' });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  // Killed if the test process exits without destroying the set: one exit hook for all of them.
  sentinelsRunning.add(child);
  child.once('exit', () => sentinelsRunning.delete(child));
  await until(`Sentinel on ${port} to answer`, async () => (await askMaster(port).catch(() => 0)) === masterPort, {
    timeoutMs: 20_000,
    show: () => `${dir}/sentinel.log`,
  }).catch(async (error: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${error.message}\n${await readFile(join(dir, 'sentinel.log'), 'utf8').catch(() => '')}`);
  });
  return { port, dir, child };
}

async function withSentinel<T>(port: number, ask: (sentinel: Redis) => Promise<T>): Promise<T> {
  const sentinel = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  sentinel.on('error', () => undefined);
  try {
    await sentinel.connect();
    return await ask(sentinel);
  } finally {
    sentinel.disconnect();
  }
}

function askMaster(port: number): Promise<number> {
  return withSentinel(port, async (sentinel) => {
    const [, masterPort] = (await sentinel.call('SENTINEL', 'get-master-addr-by-name', SENTINEL_MASTER)) as [string, string];
    return Number(masterPort);
  });
}

/** How many replicas and other Sentinels this Sentinel knows of the master. */
function sentinelFacts(port: number): Promise<{ replicas: number; sentinels: number }> {
  return withSentinel(port, async (sentinel) => {
    const fields = (await sentinel.call('SENTINEL', 'master', SENTINEL_MASTER)) as string[];
    const field = (name: string): number => Number(fields[fields.indexOf(name) + 1] ?? 0);
    return { replicas: field('num-slaves'), sentinels: field('num-other-sentinels') };
  });
}
