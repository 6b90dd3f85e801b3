/**
 * A real redis-server per test file (CONTRIBUTING.md, "What the tests stand on"): its own free port on 127.0.0.1,
 * its own temporary directory, so tests can stop, kill and restart it without touching any other Redis.
 *
 * ```ts
 * const redis = await startRedis({ appendOnly: true });
 * after(() => redis.destroy());
 * const queue = new Queue(name, { connection: redisConnection(redis.url) });
 * ```
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { freePort } from './ports.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { Redis } from 'ioredis';

export interface RedisOptions {
  /** Append-only file on, fsynced after every write, so `restart()` and even `kill()` keep every write. Default false. */
  appendOnly?: boolean;
  /** `requirepass`: clients must AUTH with it. Default none. */
  password?: string;
  /** Also listen on a Unix socket, `socketPath` (for a lab namespace's bridge, lab.bridgeToHost). Default false. */
  unixSocket?: boolean;
  /**
   * TLS only (no plain port): a CA and a server certificate for 127.0.0.1 made for it with openssl in its directory
   * (`caFile`); clients are not asked for certificates. The URL is `rediss://`. Default false.
   */
  tls?: boolean;
  /** ACL users, each a `user` line's rules after the name: `{ zensweep: 'on >secret ~* +@all' }`. Default none. */
  users?: Record<string, string>;
  /** A replica of the server on 127.0.0.1 at this port (`replicaof`; with `password`, `masterauth` too). */
  replicaOf?: number;
  /** A Redis Cluster node (`cluster-enabled`), its bus on this port; see redis-cluster.ts. */
  cluster?: { busPort: number };
}

export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:PORT`, or `redis://:PASSWORD@127.0.0.1:PORT` with a password. */
  readonly url: string;
  /** The server's directory (AOF, log); removed by `destroy()`. */
  readonly dir: string;
  /** Its Unix socket, when started with `unixSocket`. */
  readonly socketPath: string | undefined;
  /** With `tls`: the CA (PEM) that signed its certificate. */
  readonly caFile: string | undefined;
  /** Asks the server to shut down without saving (SIGTERM) and waits until it has exited. No-op when stopped. */
  stop(): Promise<void>;
  /** Stops (if running), then starts again on the same port and directory, and waits until it answers PING. */
  restart(): Promise<void>;
  /** SIGKILL, as a crash: no shutdown work at all. Waits until the process is gone. No-op when stopped. */
  kill(): Promise<void>;
  /**
   * SIGSTOP, then SIGCONT after `ms`: the server reads and answers nothing meanwhile (a replica falls behind its master
   * by what the master wrote then). Resolves once it runs again.
   */
  freeze(ms: number): Promise<void>;
  /** Stops the server if it runs and removes its directory. Safe to call more than once. */
  destroy(): Promise<void>;
}

/** How long a server may take to answer PING after start, in milliseconds (a loaded CI machine can be slow). */
const READY_TIMEOUT_MS = 20_000;
/** How long a stop may take before the process is killed, in milliseconds. */
const STOP_TIMEOUT_MS = 10_000;
const LOG_FILE = 'redis.log';
/** stdout and stderr of the process: errors in the arguments are printed there, before the log file is opened. */
const CONSOLE_FILE = 'console.log';
const SOCKET_FILE = 'redis.sock';

/** Every server still running, killed if the test process exits without destroying it. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) {
    return;
  }
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) {
      child.kill('SIGKILL');
    }
  });
}

/** ioredis options for BullMQ (`connection`) from a `redis://` URL; workers need `maxRetriesPerRequest: null`. */
export function redisConnection(url: string): { host: string; port: number; password?: string; maxRetriesPerRequest: null } {
  const parsed = new URL(url);
  if (parsed.protocol !== 'redis:') {
    throw new Error(`${url} is not a redis:// URL`);
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = parsed.port === '' ? 6379 : Number(parsed.port);
  const password = decodeURIComponent(parsed.password);
  return password === '' ? { host, port, maxRetriesPerRequest: null } : { host, port, password, maxRetriesPerRequest: null };
}

/**
 * A redis-server of its own and a client of it for the tests of one describe block: started before them, removed
 * after them. Call it inside the `describe`.
 */
export function redisForSuite(): { readonly server: RedisServer; readonly client: Redis } {
  let started: { server: RedisServer; client: Redis } | undefined;
  before(async () => {
    const server = await startRedis();
    started = { server, client: new Redis(server.url) };
  });
  after(async () => {
    started?.client.disconnect();
    await started?.server.destroy();
  });
  const get = (): { server: RedisServer; client: Redis } => {
    if (!started) throw new Error('redis-server starts before the tests of the suite');
    return started;
  };
  return {
    get server() {
      return get().server;
    },
    get client() {
      return get().client;
    },
  };
}

/** Starts a redis-server of its own; throws (never skips) when redis-server is not installed. */
export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'zensweep-redis-'));
  try {
    // A port found free can be taken by someone else before redis binds it: try a few.
    for (let attempt = 1; ; attempt += 1) {
      const port = await freePort();
      try {
        const child = await launch(dir, port, options);
        return new LocalRedis(dir, port, options, child);
      } catch (error) {
        if (attempt >= 5 || !(error instanceof PortTakenError)) {
          throw error;
        }
      }
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

class LocalRedis implements RedisServer {
  readonly url: string;
  readonly socketPath: string | undefined;
  readonly caFile: string | undefined;
  private child: ChildProcess | undefined;
  private destroyed = false;

  constructor(
    readonly dir: string,
    readonly port: number,
    private readonly options: RedisOptions,
    child: ChildProcess,
  ) {
    this.child = child;
    const auth = options.password === undefined ? '' : `:${encodeURIComponent(options.password)}@`;
    this.url = `${options.tls === true ? 'rediss' : 'redis'}://${auth}127.0.0.1:${port}`;
    this.socketPath = options.unixSocket === true ? join(dir, SOCKET_FILE) : undefined;
    this.caFile = options.tls === true ? join(dir, CA_FILE) : undefined;
  }

  async stop(): Promise<void> {
    await this.end('SIGTERM');
  }

  async kill(): Promise<void> {
    await this.end('SIGKILL');
  }

  async freeze(ms: number): Promise<void> {
    const child = this.child;
    if (child === undefined) throw new Error('this redis-server is not running');
    child.kill('SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, ms));
    child.kill('SIGCONT');
  }

  async restart(): Promise<void> {
    if (this.destroyed) {
      throw new Error('this redis-server was destroyed: start a new one');
    }
    await this.stop();
    this.child = await launch(this.dir, this.port, this.options);
  }

  async destroy(): Promise<void> {
    this.destroyed = true;
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  /** SIGTERM makes redis shut down cleanly; with `save ''` it writes no RDB, and the AOF is already fsynced. */
  private async end(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined) {
      return;
    }
    const exited = exitOf(child);
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    try {
      await exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

class PortTakenError extends Error {}

const CA_FILE = 'ca.crt';

/** A CA and a certificate for 127.0.0.1 (and localhost) signed by it, in `dir`, valid two days. */
async function makeCertificates(dir: string): Promise<void> {
  const openssl = async (args: string[]): Promise<void> => {
    const child = spawn('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', resolve);
    });
    if (code !== 0) throw new Error(`openssl ${args[0] ?? ''} failed: ${stderr}`);
  };
  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', CA_FILE, '-days', '2', '-subj', '/CN=zensweep-test-ca']);
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await openssl(['x509', '-req', '-in', 'server.csr', '-CA', CA_FILE, '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext']);
}

async function launch(dir: string, port: number, options: RedisOptions): Promise<ChildProcess> {
  if (options.tls === true && !existsSync(join(dir, CA_FILE))) await makeCertificates(dir);
  const listen =
    options.tls === true
      ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', 'server.crt', '--tls-key-file', 'server.key', '--tls-ca-cert-file', CA_FILE, '--tls-auth-clients', 'no']
      : ['--port', String(port)];
  const users = Object.entries(options.users ?? {}).flatMap(([name, rules]) => ['--user', name, ...rules.split(/\s+/)]);
  const args = [
    ...listen,
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', options.appendOnly === true ? 'yes' : 'no',
    ...(options.appendOnly === true ? ['--appendfsync', 'always'] : []),
    ...(options.password === undefined ? [] : ['--requirepass', options.password, '--masterauth', options.password]),
    ...(options.replicaOf === undefined ? [] : ['--replicaof', '127.0.0.1', String(options.replicaOf)]),
    ...(options.cluster === undefined
      ? []
      : ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(options.cluster.busPort), '--cluster-node-timeout', '2000']),
    ...(options.unixSocket === true ? ['--unixsocket', join(dir, SOCKET_FILE), '--unixsocketperm', '700'] : []),
    ...users,
    '--logfile', LOG_FILE,
    '--daemonize', 'no',
  ];
  const consoleFd = openSync(join(dir, CONSOLE_FILE), 'a');
  let child: ChildProcess;
  try {
    child = spawn('redis-server', args, { cwd: dir, stdio: ['ignore', consoleFd, consoleFd] });
  } finally {
    closeSync(consoleFd);
  }
  const exited = exitOf(child);
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'ENOENT'
          ? new Error('redis-server is not installed or not on the PATH: install it (e.g. apt-get install redis-server) to run these tests', { cause: error })
          : error,
      );
    });
  });
  running.add(child);
  installExitHook();
  void exited.then(() => running.delete(child));

  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError: unknown;
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  while (Date.now() < deadline) {
    if (gone) {
      const tail = await logTail(dir);
      if (/Address already in use/i.test(tail)) {
        throw new PortTakenError(`port ${port} is taken`);
      }
      throw new Error(`redis-server on port ${port} exited (code ${String(child.exitCode)}, signal ${String(child.signalCode)}) before answering PING; its log ends:\n${tail}`);
    }
    try {
      await ping(port, readinessLogin(options), options.tls === true ? join(dir, CA_FILE) : undefined);
      return child;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  child.kill('SIGKILL');
  await exited;
  throw new Error(
    `redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms (last error: ${String(lastError)}); its log ends:\n${await logTail(dir)}`,
  );
}

function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** How the readiness check signs in: the first ACL user with a password (`>secret`), else `requirepass`, else not. */
function readinessLogin(options: RedisOptions): string[] | undefined {
  for (const [name, rules] of Object.entries(options.users ?? {})) {
    const secret = rules.split(/\s+/).find((rule) => rule.startsWith('>'));
    if (secret !== undefined && /(^|\s)on(\s|$)/.test(rules)) return [name, secret.slice(1)];
  }
  return options.password === undefined ? undefined : [options.password];
}

/** Resolves when the server answers PING with PONG (not LOADING, not NOAUTH); rejects otherwise. Plain RESP, over TLS with `caFile`. */
function ping(port: number, login: string[] | undefined, caFile?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = caFile === undefined ? createConnection({ host: '127.0.0.1', port }) : tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(caFile) });
    let received = '';
    const fail = (error: Error): void => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(1000, () => fail(new Error('no answer within 1 s')));
    socket.once('error', fail);
    socket.once(caFile === undefined ? 'connect' : 'secureConnect', () => {
      const command = (...parts: string[]): string =>
        `*${parts.length}\r\n${parts.map((part) => `$${Buffer.byteLength(part)}\r\n${part}\r\n`).join('')}`;
      socket.write((login === undefined ? '' : command('AUTH', ...login)) + command('PING'));
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8');
      const lines = received.split('\r\n').filter((line) => line !== '');
      if (lines.includes('+PONG')) {
        socket.end();
        resolve();
      } else if (lines.length >= (login === undefined ? 1 : 2) || lines.some((line) => line.startsWith('-'))) {
        fail(new Error(`answer: ${lines.join(' | ')}`));
      }
    });
  });
}

async function logTail(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const file of [CONSOLE_FILE, LOG_FILE]) {
    try {
      const text = (await readFile(join(dir, file), 'utf8')).trim();
      if (text !== '') {
        parts.push(text.split('\n').slice(-15).join('\n'));
      }
    } catch {
      // Not written yet.
    }
  }
  return parts.length === 0 ? '(empty)' : parts.join('\n');
}
