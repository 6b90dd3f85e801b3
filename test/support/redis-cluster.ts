/**
 * A real Redis Cluster on 127.0.0.1 for a test file: `masters` redis-servers with `cluster-enabled`, each with
 * `replicasPerMaster` replicas, joined by `redis-cli --cluster create`, every node's bus on a port of its own.
 *
 * ```ts
 * const cluster = await startRedisCluster({ masters: 3 });
 * after(() => cluster.destroy());
 * // REDIS_CLUSTER_NODES for the services and commands:
 * const env = { ...cluster.env };
 * ```
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { startRedis, type RedisServer } from './redis.js';
import { until, waitFor } from './wait.js';

const run = promisify(execFile);

/** How long the cluster may take to agree on its slots after `create`, in ms (generous: the machine is shared). */
const READY_TIMEOUT_MS = 30_000;

export interface RedisCluster {
  readonly masters: RedisServer[];
  readonly replicas: RedisServer[];
  /** REDIS_CLUSTER_NODES (and the password, if any) as the services take them. */
  readonly env: NodeJS.ProcessEnv;
  /** The port of the master that serves `key` now (CLUSTER KEYSLOT, then CLUSTER SLOTS). */
  masterOf(key: string): Promise<number>;
  /** The replica of the master on `port` (INFO replication's master_port on each replica). */
  replicaOf(port: number): Promise<RedisServer>;
  /** Waits until another node serves the slots of the master on `port` (a failover done); its port. */
  failedOverFrom(port: number, key: string, timeoutMs?: number): Promise<number>;
  /** The keys matching `pattern` held by the node on `port` (SCAN on that node alone). */
  keysOn(port: number, pattern: string): Promise<string[]>;
  destroy(): Promise<void>;
}

async function node(password: string | undefined): Promise<RedisServer> {
  return startRedis({ cluster: { busPort: await freePort() }, ...(password !== undefined ? { password } : {}) });
}

export async function startRedisCluster(options: { masters?: number; replicasPerMaster?: number; password?: string } = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const replicasPerMaster = options.replicasPerMaster ?? 0;
  const servers: RedisServer[] = [];
  try {
    for (let i = 0; i < masters * (1 + replicasPerMaster); i += 1) servers.push(await node(options.password));
    const auth = options.password !== undefined ? ['-a', options.password, '--no-auth-warning'] : [];
    // redis-cli makes the first `masters` nodes masters and gives each the replicas that follow.
    await run('redis-cli', [...auth, '--cluster', 'create', ...servers.map((s) => `127.0.0.1:${s.port}`), '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'], {
      timeout: READY_TIMEOUT_MS,
    });
    for (const server of servers) {
      const client = new Redis({ port: server.port, host: '127.0.0.1', ...(options.password !== undefined ? { password: options.password } : {}) });
      try {
        await until(
          `node ${server.port} to see the whole cluster agree`,
          async () => {
            const info = String(await client.call('CLUSTER', 'INFO'));
            return /cluster_state:ok/.test(info) && /cluster_slots_ok:16384/.test(info);
          },
          { timeoutMs: READY_TIMEOUT_MS, everyMs: 100, show: async () => String(await client.call('CLUSTER', 'INFO')) },
        );
      } finally {
        client.disconnect();
      }
    }
    // Each replica synchronised with its master: before that it cannot take over.
    for (const server of servers.slice(masters)) {
      const client = new Redis({ port: server.port, host: '127.0.0.1', ...(options.password !== undefined ? { password: options.password } : {}) });
      try {
        await until(`replica ${server.port} to synchronise with its master`, async () => /master_link_status:up/.test(await client.info('replication')), {
          timeoutMs: READY_TIMEOUT_MS,
          everyMs: 100,
          show: () => client.info('replication'),
        });
      } finally {
        client.disconnect();
      }
    }
  } catch (error) {
    await Promise.all(servers.map((s) => s.destroy()));
    throw error;
  }
  const first = servers[0];
  if (!first) throw new Error('a cluster needs at least one node');
  return {
    masters: servers.slice(0, masters),
    replicas: servers.slice(masters),
    env: {
      REDIS_CLUSTER_NODES: servers.slice(0, masters).map((s) => `127.0.0.1:${s.port}`).join(','),
      ...(options.password !== undefined ? { REDIS_PASSWORD: options.password } : {}),
    },
    async masterOf(key: string): Promise<number> {
      const alive = servers.find((s) => s.port);
      const client = new Redis({ port: alive?.port ?? first.port, host: '127.0.0.1', ...(options.password !== undefined ? { password: options.password } : {}) });
      try {
        const slot = Number(await client.call('CLUSTER', 'KEYSLOT', key));
        const slots = (await client.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, ...unknown[]], ...unknown[]][];
        const range = slots.find(([from, to]) => slot >= from && slot <= to);
        if (!range) throw new Error(`no master serves slot ${slot}`);
        return range[2][1];
      } finally {
        client.disconnect();
      }
    },
    async replicaOf(port: number): Promise<RedisServer> {
      for (const replica of servers.slice(masters)) {
        const client = new Redis({ port: replica.port, host: '127.0.0.1', ...(options.password !== undefined ? { password: options.password } : {}) });
        try {
          const info = await client.info('replication');
          if (new RegExp(`^master_port:${port}\\r?$`, 'm').test(info)) return replica;
        } finally {
          client.disconnect();
        }
      }
      throw new Error(`no replica of the master on ${port}`);
    },
    async failedOverFrom(port: number, key: string, timeoutMs = 60_000): Promise<number> {
      // A node that cannot answer yet throws: asked again at the next check.
      return waitFor(
        `the slot of ${key} served by a master other than ${port}`,
        async () => {
          const asked = servers.find((s) => s.port !== port) ?? first;
          const client = new Redis({ port: asked.port, host: '127.0.0.1', lazyConnect: true, ...(options.password !== undefined ? { password: options.password } : {}) });
          try {
            await client.connect();
            const slot = Number(await client.call('CLUSTER', 'KEYSLOT', key));
            const slots = (await client.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, ...unknown[]], ...unknown[]][];
            const serving = slots.find(([from, to]) => slot >= from && slot <= to)?.[2][1];
            return serving !== undefined && serving !== port ? serving : undefined;
          } finally {
            client.disconnect();
          }
        },
        { timeoutMs, everyMs: 200 },
      );
    },
    async keysOn(port: number, pattern: string): Promise<string[]> {
      const client = new Redis({ port, host: '127.0.0.1', ...(options.password !== undefined ? { password: options.password } : {}) });
      try {
        const keys: string[] = [];
        let cursor = '0';
        do {
          const [next, found] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          cursor = next;
          keys.push(...found);
        } while (cursor !== '0');
        return keys;
      } finally {
        client.disconnect();
      }
    },
    async destroy() {
      await Promise.all(servers.map((s) => s.destroy()));
    },
  };
}
