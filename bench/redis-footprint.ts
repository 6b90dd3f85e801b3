/**
 * `BENCH_ONLY=redis npm run bench` (or `tsx bench/redis-footprint.ts`): what ZenSweep keeps in Redis, on a
 * redis-server of the bench's own with one agent on loopback, at the default retention:
 *
 *  a. one /16 (127.0.0.0/16, every address alive) swept through `submit`: Redis's used_memory before and after, and
 *     the history record's own MEMORY USAGE (what stays for 30 days; the chunk results and the report expire in a day);
 *  b. SWEEPS (default 1,000) sweeps of a /28 through `submit`, one after another: the keys by kind and used_memory
 *     after them.
 *
 * Both on a single redis-server and on a 3-master Redis Cluster (keys and memory summed over the masters);
 * BENCH_REDIS_WHERE=single or =cluster runs one. A watch at `every:1m` makes 1,440 sweeps a day: its day is this figure, bounded by the history's
 *     count (1,000) and the queues' retention.
 */
import { startAgent } from '../test/support/agents.js';
import { startRedis } from '../test/support/redis.js';
import { startRedisCluster } from '../test/support/redis-cluster.js';
import { timed } from './distributed.js';
import { Redis } from 'ioredis';

const SWEEPS = Number(process.env.BENCH_REDIS_SWEEPS ?? 1000);

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
}

/** Keys by their first two parts (`zensweep:history`, `bull:sweep-reports`), and how many in all. */
async function keysByKind(redis: Redis): Promise<{ total: number; kinds: [string, number][] }> {
  const kinds = new Map<string, number>();
  let cursor = '0';
  let total = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const kind = key.split(':').slice(0, 2).join(':').replace(/@.*/, '@AGENT');
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      total += 1;
    }
  } while (cursor !== '0');
  return { total, kinds: [...kinds].sort((a, b) => b[1] - a[1]) };
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(2)} MB`;

/** A single redis-server, or a 3-master cluster: where to sweep, and every master to count on. */
interface Footprint {
  env: NodeJS.ProcessEnv;
  masters: Redis[];
  destroy(): Promise<void>;
}

async function single(): Promise<Footprint> {
  const server = await startRedis();
  const redis = new Redis(server.url);
  return {
    env: { REDIS_URL: server.url },
    masters: [redis],
    destroy: async () => {
      redis.disconnect();
      await server.destroy();
    },
  };
}

async function cluster(): Promise<Footprint> {
  const nodes = await startRedisCluster({ masters: 3 });
  const masters = nodes.masters.map((m) => new Redis(m.port, '127.0.0.1'));
  return {
    env: { ...nodes.env },
    masters,
    destroy: async () => {
      for (const m of masters) m.disconnect();
      await nodes.destroy();
    },
  };
}

const sumOver = async (masters: Redis[], f: (redis: Redis) => Promise<number>): Promise<number> => (await Promise.all(masters.map(f))).reduce((a, b) => a + b, 0);

export async function benchRedisFootprint(): Promise<void> {
  const only = process.env.BENCH_REDIS_WHERE;
  for (const [name, make] of [['single redis-server', single], ['3-master cluster', cluster]] as const) {
    if (only && !name.includes(only)) continue;
    const where = await make();
    const env = { PATH: process.env.PATH, ...where.env };
    const agent = await startAgent({ redisUrl: '', group: 'bench', cidrs: '127.0.0.0/16', rate: 0, env: { REDIS_URL: undefined, ...where.env } });
    try {
      console.log(`\nRedis (${name}): what a /16 leaves, and what ${SWEEPS} sweeps leave (default retention, one agent on loopback)`);
      const before = await sumOver(where.masters, usedMemory);
      const sixteen = await timed(['submit', '127.0.0.0/16', 'count:1', 'retries:0', 'rate:0'], env);
      const after = await sumOver(where.masters, usedMemory);
      // The history lives under one tag: on one master.
      let record = NaN;
      for (const m of where.masters) {
        // The other masters answer MOVED.
        const [latest] = await m.zrevrange('zensweep:{history}:all', 0, 0).catch(() => []);
        if (latest !== undefined) record = Number(await m.call('MEMORY', 'USAGE', `zensweep:{history}:sweep:${latest}`));
      }
      console.log(
        `  a. one /16 (${sixteen.alive} alive): used_memory ${mb(before)} → ${mb(after)} (+${mb(after - before)}, results and report kept a day); ` +
          `its history record ${mb(record)} (kept 30 days)`,
      );
      const started = performance.now();
      for (let i = 0; i < SWEEPS; i += 1) await timed(['submit', '127.0.0.0/28', 'count:1', 'retries:0'], env);
      const seconds = (performance.now() - started) / 1000;
      const counted = await Promise.all(where.masters.map(keysByKind));
      const kinds = new Map<string, number>();
      for (const c of counted) for (const [kind, n] of c.kinds) kinds.set(kind, (kinds.get(kind) ?? 0) + n);
      const total = counted.reduce((n, c) => n + c.total, 0);
      const perMaster = where.masters.length > 1 ? ` (${counted.map((c) => c.total).join(' + ')} on the masters)` : '';
      console.log(`  b. ${SWEEPS} sweeps of a /28 in ${seconds.toFixed(0)} s: ${total} keys${perMaster}, used_memory ${mb(await sumOver(where.masters, usedMemory))}`);
      console.log(`     by kind: ${[...kinds].sort((a, b) => b[1] - a[1]).map(([kind, n]) => `${kind} ${n}`).join(', ')}`);
    } finally {
      await agent.stop();
      await where.destroy();
    }
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) await benchRedisFootprint();
