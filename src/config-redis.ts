import { readFileSync } from 'node:fs';
import { ConfigError } from './core/errors.js';
import { boundedInt, checkRedisUrl, redactUrl } from './config-env.js';

/**
 * Where every service and command finds Redis, and how it proves who it is: one way of the ways below, chosen by
 * which variables are set, checked once before anything connects. Secrets (passwords, the CA's contents) live only
 * in the returned value: `describeRedis` is what a log line or an error may say.
 *
 *  - `REDIS_URL`: one server, `redis://` or `rediss://` (TLS).
 *  - `REDIS_SENTINELS=host:port,…` with `REDIS_SENTINEL_MASTER=name` (and `REDIS_SENTINEL_PASSWORD` when the
 *    Sentinels ask for one): the master the Sentinels name, followed through a failover.
 *  - `REDIS_CLUSTER_NODES=host:port,…`: a Redis Cluster, found from any of these nodes (every key ZenSweep uses is
 *    placed by hash tag: src/queue/names.ts).
 *
 * With either: `REDIS_USERNAME` and `REDIS_PASSWORD` (an ACL user, or `requirepass` alone), and `REDIS_TLS_CA` (a
 * CA file in PEM: for `rediss://`, and TLS in Sentinel mode, where it turns TLS on).
 */
export type RedisTarget = RedisServerTarget | RedisSentinelTarget | RedisClusterTarget;

export interface RedisNode {
  host: string;
  port: number;
}

/** Who ZenSweep is to Redis, and how the connection is protected: the same for every way. */
interface RedisAccess {
  /** ACL user name; none: `default`. */
  username?: string;
  password?: string;
  /** TLS: on for `rediss://`, and in Sentinel mode when a CA is given. */
  tls?: {
    /** The CA's certificates (PEM), when REDIS_TLS_CA names one; none: the system's. */
    ca?: string;
    /** REDIS_TLS_CA, for messages. */
    caFile?: string;
  };
}

export interface RedisServerTarget extends RedisAccess {
  kind: 'server';
  host: string;
  port: number;
  /** Database number (the URL's path), default 0. */
  db: number;
}

export interface RedisSentinelTarget extends RedisAccess {
  kind: 'sentinel';
  sentinels: RedisNode[];
  /** The master's name as the Sentinels know it. */
  master: string;
  sentinelPassword?: string;
}

export interface RedisClusterTarget extends RedisAccess {
  kind: 'cluster';
  /** Nodes to learn the cluster from: any of them will do, the rest are found. */
  nodes: RedisNode[];
}

/** The variables that choose the way, in the order they are named in messages. */
const WAYS = ['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'] as const;

const value = (env: NodeJS.ProcessEnv, name: string): string | undefined => {
  const text = env[name]?.trim();
  return text === undefined || text === '' ? undefined : text;
};

/**
 * The Redis of this environment. `defaultUrl` is used when no way is chosen (the command line's local default);
 * without it REDIS_URL or REDIS_SENTINELS is required. Throws ConfigError in one sentence naming the variable, never
 * showing a password.
 */
export function redisTargetFromEnv(env: NodeJS.ProcessEnv, defaultUrl?: string): RedisTarget {
  const chosen = WAYS.filter((name) => value(env, name) !== undefined);
  if (chosen.length > 1) throw new ConfigError(`${chosen.join(' and ')} are both set: Redis is reached one way, set only one of ${WAYS.join(', ')}`);
  const access = accessFromEnv(env);
  if (chosen[0] === 'REDIS_CLUSTER_NODES') {
    if (value(env, 'REDIS_SENTINEL_MASTER') !== undefined) throw new ConfigError('REDIS_SENTINEL_MASTER is set with REDIS_CLUSTER_NODES: a cluster has no Sentinels, unset it');
    return { kind: 'cluster', nodes: nodeList(value(env, 'REDIS_CLUSTER_NODES') ?? '', 'REDIS_CLUSTER_NODES', 6379), ...access };
  }
  if (chosen[0] === 'REDIS_SENTINELS') return sentinelTarget(env, access);
  if (value(env, 'REDIS_SENTINEL_MASTER') !== undefined) throw new ConfigError('REDIS_SENTINEL_MASTER is set without REDIS_SENTINELS: list the Sentinels, e.g. REDIS_SENTINELS=10.0.0.5:26379,10.0.0.6:26379');
  const url = value(env, 'REDIS_URL') ?? defaultUrl;
  if (url === undefined) throw new ConfigError('REDIS_URL is required (or REDIS_SENTINELS with REDIS_SENTINEL_MASTER, or REDIS_CLUSTER_NODES), e.g. redis://:password@redis.internal:6379 (rediss:// for TLS)');
  return serverTarget(checkRedisUrl(url), access);
}

function accessFromEnv(env: NodeJS.ProcessEnv): RedisAccess {
  const username = value(env, 'REDIS_USERNAME');
  const password = env.REDIS_PASSWORD === undefined || env.REDIS_PASSWORD === '' ? undefined : env.REDIS_PASSWORD;
  const caFile = value(env, 'REDIS_TLS_CA');
  if (username !== undefined && !/^[^\s"']{1,128}$/.test(username)) throw new ConfigError('REDIS_USERNAME is not a user name: no spaces or quotes, at most 128 characters');
  if (username !== undefined && password === undefined) throw new ConfigError('REDIS_USERNAME is set without REDIS_PASSWORD: an ACL user signs in with both');
  return {
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(caFile !== undefined ? { tls: { ca: readCa(caFile), caFile } } : {}),
  };
}

/** The CA file's certificates; ConfigError when it cannot be read or holds none. */
function readCa(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`REDIS_TLS_CA=${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}): it takes a CA certificate file in PEM`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`REDIS_TLS_CA=${file} holds no certificate: it takes a CA certificate file in PEM`);
  return text;
}

function serverTarget(url: string, access: RedisAccess): RedisServerTarget {
  const parsed = new URL(url);
  const urlUser = decodeURIComponent(parsed.username);
  const urlPassword = decodeURIComponent(parsed.password);
  if ((urlUser !== '' || urlPassword !== '') && (access.username !== undefined || access.password !== undefined)) {
    throw new ConfigError('REDIS_URL holds a user or password and REDIS_USERNAME or REDIS_PASSWORD is set too: give them one way');
  }
  const tls = parsed.protocol === 'rediss:';
  if (access.tls && !tls) throw new ConfigError(`REDIS_TLS_CA is set but REDIS_URL is not TLS: write rediss:// (${redactUrl(url)})`);
  const path = parsed.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d{1,2}$/.test(path)) throw new ConfigError(`REDIS_URL's path is a database number, e.g. redis://redis.internal:6379/0; got ${redactUrl(url)}`);
  return {
    kind: 'server',
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port === '' ? 6379 : Number(parsed.port),
    db: path === '' ? 0 : Number(path),
    ...(urlUser !== '' ? { username: urlUser } : access.username !== undefined ? { username: access.username } : {}),
    ...(urlPassword !== '' ? { password: urlPassword } : access.password !== undefined ? { password: access.password } : {}),
    ...(tls ? { tls: access.tls ?? {} } : {}),
  };
}

function sentinelTarget(env: NodeJS.ProcessEnv, access: RedisAccess): RedisSentinelTarget {
  const master = value(env, 'REDIS_SENTINEL_MASTER');
  if (master === undefined) throw new ConfigError('REDIS_SENTINELS is set without REDIS_SENTINEL_MASTER: name the master the Sentinels watch, e.g. REDIS_SENTINEL_MASTER=mymaster');
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(master)) throw new ConfigError(`REDIS_SENTINEL_MASTER=${master} is not a master name: letters, digits, '.', '_' and '-'`);
  const sentinels = nodeList(value(env, 'REDIS_SENTINELS') ?? '', 'REDIS_SENTINELS', 26379);
  const sentinelPassword = env.REDIS_SENTINEL_PASSWORD === undefined || env.REDIS_SENTINEL_PASSWORD === '' ? undefined : env.REDIS_SENTINEL_PASSWORD;
  return { kind: 'sentinel', sentinels, master, ...(sentinelPassword !== undefined ? { sentinelPassword } : {}), ...access };
}

/** `host:port,host:port`: IPv6 addresses in brackets; the port defaults to `defaultPort`. */
export function nodeList(text: string, name: string, defaultPort: number): RedisNode[] {
  const nodes = text.split(',').map((entry) => entry.trim());
  if (nodes.some((entry) => entry === '')) throw new ConfigError(`${name} has an empty entry: it takes host:port,host:port, e.g. 10.0.0.5:${defaultPort},10.0.0.6:${defaultPort}`);
  const parsed = nodes.map((entry) => {
    const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+))(?::(\d{1,5}))?$/.exec(entry);
    const port = match?.[3] === undefined ? defaultPort : Number(match[3]);
    if (!match || port < 1 || port > 65535) throw new ConfigError(`${name} entry ${entry} is not host:port, e.g. 10.0.0.5:${defaultPort} or [fd00::5]:${defaultPort}`);
    return { host: match[1] ?? match[2] ?? '', port };
  });
  const seen = new Set<string>();
  for (const node of parsed) {
    const key = `${node.host}:${node.port}`;
    if (seen.has(key)) throw new ConfigError(`${name} lists ${key} twice`);
    seen.add(key);
  }
  return parsed;
}

const hostPort = (node: RedisNode): string => (node.host.includes(':') ? `[${node.host}]:${node.port}` : `${node.host}:${node.port}`);

/**
 * What a log line or message may say of the target: where, which way, with TLS or not, who; a password as `***`.
 * A server reads as its URL would, redacted (`redis://:***@redis.internal:6379`).
 */
export function describeRedis(target: RedisTarget): string {
  const secret = target.password !== undefined ? ':***' : '';
  if (target.kind === 'server') {
    const auth = target.username !== undefined || secret ? `${target.username ?? ''}${secret}@` : '';
    return `${target.tls ? 'rediss' : 'redis'}://${auth}${hostPort(target)}${target.db !== 0 ? `/${target.db}` : ''}`;
  }
  const user = target.username !== undefined ? ` as ${target.username}` : '';
  if (target.kind === 'cluster') return `the cluster of ${target.nodes.map(hostPort).join(',')}${target.tls ? ' (TLS)' : ''}${user}`;
  return `master ${target.master} of the Sentinels ${target.sentinels.map(hostPort).join(',')}${target.tls ? ' (TLS)' : ''}${user}`;
}

/** How often an outage of Redis still going on is logged again, by default: once a minute. */
export const OUTAGE_REMIND_MS = 60_000;

/**
 * ZENSWEEP_REDIS_REMIND_MS: how often a service logs again that Redis still cannot be reached (`redis_still_down`),
 * in ms, 1,000 to 86,400,000; default {@link OUTAGE_REMIND_MS}.
 */
export function redisRemindMs(env: NodeJS.ProcessEnv): number {
  return boundedInt(env.ZENSWEEP_REDIS_REMIND_MS?.trim() || undefined, OUTAGE_REMIND_MS, 'ZENSWEEP_REDIS_REMIND_MS', 1000, 86_400_000);
}
