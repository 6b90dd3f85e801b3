import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { after, before, describe, it } from 'node:test';
import type * as Addon from '@zensweep/icmp-socket';
import { openProbeKit } from '../../src/engine/engine.js';
import type { TcpOutcome } from '../../src/engine/probers.js';
import { NodeTcpProber } from '../../src/engine/tcp.js';
import { ErrqueueTcpProber } from '../../src/engine/tcp-errqueue.js';
import { until } from '../support/wait.js';

/**
 * The addon's TCP connects (native/icmp-socket/src/tcp_connect.c) and the prober on them, on loopback, without root:
 * open (and reset), refused, unanswered (a listener whose accept queue is full drops SYNs), many at once, the
 * sweeper out of descriptors, bad arguments, every step of making one failing, a worker torn down mid-connect.
 * ZENSWEEP_ICMP_ADDON points these at another build (scripts/sanitize-addon.sh runs them against the ASan one).
 */
const addon = createRequire(import.meta.url)('@zensweep/icmp-socket') as typeof Addon;
const { TcpConnector, tcpConnectStats, injectTcpFault } = addon;
const ERRNO = { EMFILE: 24, ENOMEM: 12, EBADF: 9, EINVAL: 22 };

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The addon's counts once every connector no longer referenced has been collected and its handles closed. */
async function settledStats(): Promise<ReturnType<typeof tcpConnectStats>> {
  let last = JSON.stringify(tcpConnectStats());
  for (let same = 0; same < 3; ) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    const now = JSON.stringify(tcpConnectStats());
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return tcpConnectStats();
}

/**
 * A listener on 127.0.0.1 that accepts nothing, with an accept queue of one, filled: the kernel drops every further
 * SYN to it (no RST, no ICMP), as a firewall that drops would. A child process (Python), since libuv always accepts.
 */
interface SilentPort {
  port: number;
  close(): Promise<void>;
}

async function silentPort(): Promise<SilentPort> {
  const script = [
    'import socket, sys',
    's = socket.socket()',
    's.bind(("127.0.0.1", 0))',
    's.listen(0)',
    'print(s.getsockname()[1], flush=True)',
    'sys.stdin.read()',
  ].join('\n');
  const child: ChildProcess = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the silent listener exited (${code}): is python3 installed?`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', resolve);
  });
  const port = Number(line);
  const filler = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => filler.once('connect', resolve).once('error', reject));
  return {
    port,
    close: async () => {
      filler.destroy();
      child.stdin?.end();
      if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** A listener on `host` that counts the connections it was handed and how each ended. */
async function listener(host: string): Promise<{ port: number; ends: string[]; close(): Promise<void> }> {
  const ends: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', (error: NodeJS.ErrnoException) => ends.push(error.code ?? 'error'));
    socket.on('end', () => ends.push('end'));
    socket.on('close', () => sockets.delete(socket));
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    ends,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port on `host` nothing listens on (it was free a moment ago). */
async function closedPort(host: string): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, host, resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

function outcomeOf(prober: ErrqueueTcpProber, address: string, port: number, timeoutMs: number): Promise<TcpOutcome> {
  return new Promise((resolve) => prober.connect(address, port, timeoutMs, resolve));
}

describe('ErrqueueTcpProber on loopback', () => {
  let silent: SilentPort;
  before(async () => {
    silent = await silentPort();
  });
  after(() => silent?.close());

  it('says open with the time and resets the connection (no FIN, no TIME_WAIT), on IPv4 and IPv6', async () => {
    for (const host of ['127.0.0.1', '::1']) {
      const server = await listener(host);
      const prober = new ErrqueueTcpProber();
      try {
        const outcome = await outcomeOf(prober, host, server.port, 5000);
        assert.equal(outcome.kind, 'open', host);
        assert.ok(outcome.kind === 'open' && outcome.ms > 0 && outcome.ms < 5000, `${host}: ${JSON.stringify(outcome)}`);
        await until(`${host}: the server saw the connection end`, () => server.ends.length === 1);
        assert.deepEqual(server.ends, ['ECONNRESET'], `${host}: the probe's socket ended with an RST`);
        assert.equal(prober.inFlight, 0);
      } finally {
        prober.close();
        await server.close();
      }
    }
  });

  it('says closed for a refused port (RST), on IPv4 and IPv6', async () => {
    const prober = new ErrqueueTcpProber();
    try {
      for (const host of ['127.0.0.1', '::1']) {
        const outcome = await outcomeOf(prober, host, await closedPort(host), 5000);
        assert.equal(outcome.kind, 'closed', `${host}: ${JSON.stringify(outcome)}`);
      }
    } finally {
      prober.close();
    }
  });

  it('says timeout at its own timer when the SYN goes unanswered, and closes that socket', async () => {
    const prober = new ErrqueueTcpProber();
    const before = tcpConnectStats().attempts;
    try {
      const started = performance.now();
      const outcome = await outcomeOf(prober, '127.0.0.1', silent.port, 300);
      const took = performance.now() - started;
      assert.deepEqual(outcome, { kind: 'timeout' });
      assert.ok(took >= 290, `ended after ${took} ms, before its timer`);
      assert.equal(prober.inFlight, 0);
      await until('the timed-out attempt freed', () => tcpConnectStats().attempts === before);
    } finally {
      prober.close();
    }
  });

  it('ends each of 3,000 attempts at once exactly once: open, closed and unanswered mixed, on two families', async () => {
    const v4 = await listener('127.0.0.1');
    const v6 = await listener('::1');
    const refused = { v4: await closedPort('127.0.0.1'), v6: await closedPort('::1') };
    const prober = new ErrqueueTcpProber();
    const targets: { address: string; port: number; expected: TcpOutcome['kind'] }[] = [];
    for (let i = 0; i < 3000; i++) {
      const kind = i % 5;
      if (kind === 0) targets.push({ address: '127.0.0.1', port: v4.port, expected: 'open' });
      else if (kind === 1) targets.push({ address: '::1', port: v6.port, expected: 'open' });
      else if (kind === 2) targets.push({ address: '127.0.0.1', port: refused.v4, expected: 'closed' });
      else if (kind === 3) targets.push({ address: '::1', port: refused.v6, expected: 'closed' });
      else targets.push({ address: '127.0.0.1', port: silent.port, expected: 'timeout' });
    }
    const outcomes = targets.map(() => [] as TcpOutcome[]);
    try {
      await new Promise<void>((resolve) => {
        let left = targets.length;
        targets.forEach((target, i) =>
          prober.connect(target.address, target.port, 3000, (outcome) => {
            outcomes[i]?.push(outcome);
            if (--left === 0) resolve();
          }),
        );
      });
      // Nothing more comes after the last one.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const wrong = targets.flatMap((target, i) =>
        outcomes[i]?.length === 1 && outcomes[i]?.[0]?.kind === target.expected
          ? []
          : [`${target.address}:${target.port} expected ${target.expected}, got ${JSON.stringify(outcomes[i])}`],
      );
      assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} attempts wrong`);
      assert.equal(prober.inFlight, 0);
    } finally {
      prober.close();
      await v4.close();
      await v6.close();
    }
  });

  it('says resource (EMFILE), not a host fact, when the sweeper is out of descriptors; the next connects work again', async () => {
    // A child with 64 descriptors at most: Node holds some; the prober's connects take the rest, then fail.
    const child = fileURLToPath(new URL('../support/tcp-errqueue-child.ts', import.meta.url));
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const process_ = spawn('bash', ['-c', `ulimit -n 64 && exec "${process.execPath}" --import tsx "${child}" 127.0.0.1 ${silent.port} 200`], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      process_.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      process_.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      process_.once('error', reject);
      process_.once('close', (code) => resolve({ code, stdout, stderr }));
    });
    assert.equal(result.code, 0, result.stderr);
    const counts = JSON.parse(result.stdout) as { first: Record<string, number>; again: Record<string, number> };
    assert.ok((counts.first['resource:EMFILE'] ?? 0) > 100, `first round: ${result.stdout}`);
    assert.ok((counts.first.timeout ?? 0) > 0, `first round: ${result.stdout}`);
    assert.equal(Object.keys(counts.first).length, 2, `only timeouts and EMFILE: ${result.stdout}`);
    assert.deepEqual(Object.keys(counts.again), ['closed'], `once the descriptors are back: ${result.stdout}`);
  });

  it('delivers nothing after close, and no outcome from inside connect', async () => {
    const prober = new ErrqueueTcpProber();
    const outcomes: TcpOutcome[] = [];
    let inside = true;
    prober.connect('fe80::1', 80, 1000, (outcome) => outcomes.push({ ...outcome, ...(inside ? { inside } : {}) }));
    inside = false;
    await until('the unusable address answered', () => outcomes.length === 1);
    assert.equal(outcomes[0]?.kind, 'error');
    prober.connect('127.0.0.1', silent.port, 50, (outcome) => outcomes.push(outcome));
    prober.connect('127.0.0.1', await closedPort('127.0.0.1'), 5000, (outcome) => outcomes.push(outcome));
    prober.close();
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(outcomes.length, 1);
    assert.equal(prober.inFlight, 0);
  });
});

describe('openProbeKit\'s choice of TCP prober', () => {
  it('takes the addon\'s connects where no raw ICMP socket reads the errors, node:net where asked or given a socket factory', () => {
    // No family: no ICMP socket is opened (this needs no root); `auto` then has no raw socket to lean on.
    const cases = [
      [{}, ErrqueueTcpProber],
      [{ tcp: 'auto' }, ErrqueueTcpProber],
      [{ tcp: 'errqueue' }, ErrqueueTcpProber],
      [{ tcp: 'net' }, NodeTcpProber],
      [{ openSocket: (options: net.TcpNetConnectOpts) => net.connect(options) }, NodeTcpProber],
    ] as const;
    for (const [options, kind] of cases) {
      const { kit } = openProbeKit(new Set(), options);
      try {
        assert.ok(kit.tcp instanceof kind, `${JSON.stringify(options)}: ${kit.tcp.constructor.name}`);
      } finally {
        kit.tcp.close();
      }
    }
  });
});

describe('the addon\'s TcpConnector', () => {
  it('refuses what a caller must not pass with a TypeError or a RangeError', () => {
    const connector = new TcpConnector(() => undefined);
    const refuses = (kind: typeof TypeError | typeof RangeError, call: () => unknown, what: string): void =>
      assert.throws(call, (error: unknown) => error instanceof kind && /^tcp-connect: /.test((error as Error).message), what);
    try {
      for (const family of [0, 5, 7, -1, 4.5, Number.NaN, 2 ** 53]) refuses(RangeError, () => connector.connect(family as 4, '127.0.0.1', 1, 0), `family ${family}`);
      for (const port of [0, 65536, -1, 1.5, Infinity]) refuses(RangeError, () => connector.connect(4, '127.0.0.1', port, 0), `port ${port}`);
      for (const ttl of [-1, 256, 0.5]) refuses(RangeError, () => connector.connect(4, '127.0.0.1', 1, ttl), `ttl ${ttl}`);
      for (const bad of ['1', null, undefined, {}, 1n]) {
        refuses(TypeError, () => connector.connect(bad as 4, '127.0.0.1', 1, 0), `family ${String(bad)}`);
        refuses(TypeError, () => connector.cancel(bad as number), `slot ${String(bad)}`);
      }
      refuses(TypeError, () => connector.connect(4, 127 as unknown as string, 1, 0), 'address as a number');
      refuses(RangeError, () => connector.cancel(-1), 'slot -1');
      refuses(RangeError, () => connector.cancel(2 ** 20), 'slot past the table');
      // V8 refuses a method called on another object before the addon sees it.
      assert.throws(() => TcpConnector.prototype.connect.call({}, 4, '127.0.0.1', 1, 0), TypeError, 'this');
      refuses(TypeError, () => new TcpConnector('x' as unknown as () => void), 'onOutcome');
      refuses(TypeError, () => (TcpConnector as unknown as () => void)(), 'a call without new');
      // Not an address of the family, or too long to be one: refused like the kernel would, as -EINVAL.
      assert.equal(connector.connect(4, '::1', 1, 0), -ERRNO.EINVAL);
      assert.equal(connector.connect(6, '127.0.0.1', 1, 0), -ERRNO.EINVAL);
      assert.equal(connector.connect(4, 'x'.repeat(10_000), 1, 0), -ERRNO.EINVAL);
      assert.equal(connector.cancel(0), false, 'nothing in flight');
    } finally {
      connector.close();
    }
    assert.equal(connector.connect(4, '127.0.0.1', 1, 0), -ERRNO.EBADF, 'closed');
  });

  it('leaves nothing behind when any step of making a connector or an attempt fails', async () => {
    const baseline = await settledStats();
    // In a function of its own: once it returns, its connectors can be collected.
    await (async () => {
      const outcomes: number[] = [];
      const connector = new TcpConnector((slot, errno) => outcomes.push(errno));
      const failures: [Parameters<typeof injectTcpFault>[0], number][] = [
        ['socket', -ERRNO.EMFILE],
        ['attempt', -ERRNO.ENOMEM],
        ['poll_init', -ERRNO.EBADF],
        ['poll_start', -ERRNO.EBADF],
      ];
      const port = await closedPort('127.0.0.1');
      for (const [step, result] of failures) {
        injectTcpFault(step);
        assert.equal(connector.connect(4, '127.0.0.1', port, 0), result, step);
      }
      // The table's first growth fails; the next connect grows it.
      const fresh = new TcpConnector((slot, errno) => outcomes.push(errno));
      injectTcpFault('table');
      assert.equal(fresh.connect(4, '127.0.0.1', port, 0), -ERRNO.ENOMEM, 'table');
      assert.ok(fresh.connect(4, '127.0.0.1', port, 0) >= 0);
      await until('the connect after the failures answered', () => outcomes.length === 1);
      assert.deepEqual(outcomes, [111], 'refused, and nothing from the failed ones');
      for (const step of ['reference', 'cleanup_hook', 'wrap'] as const) {
        injectTcpFault(step);
        assert.throws(() => new TcpConnector(() => undefined), /^Error: tcp-connect: /, step);
      }
      assert.throws(() => injectTcpFault('nothing' as 'socket'), RangeError);
      connector.close();
      fresh.close();
    })();
    assert.deepEqual(await settledStats(), baseline);
  });

  it('is closed by a worker\'s teardown with attempts in flight, and frees everything', async () => {
    const silent = await silentPort();
    try {
      const before = await settledStats();
      const source = `
        const { parentPort, workerData } = require('node:worker_threads');
        const addon = require(workerData.addon);
        const connector = new addon.TcpConnector(() => undefined);
        for (let i = 0; i < 50; i++) connector.connect(4, '127.0.0.1', workerData.port, 0);
        parentPort.postMessage(connector.inFlight());
        setInterval(() => undefined, 1000);
      `;
      const worker = new Worker(source, {
        eval: true,
        workerData: { addon: createRequire(import.meta.url).resolve('@zensweep/icmp-socket'), port: silent.port },
      });
      const inFlight = await new Promise<number>((resolve, reject) => worker.once('message', resolve).once('error', reject));
      assert.equal(inFlight, 50);
      await worker.terminate();
      const after = await settledStats();
      assert.equal(after.teardowns, before.teardowns + 1, 'the teardown closed the connector');
      assert.equal(after.attempts, before.attempts, 'every attempt freed');
      assert.equal(after.connectors, before.connectors, 'the connector freed');
    } finally {
      await silent.close();
    }
  });
});
