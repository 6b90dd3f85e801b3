/**
 * Stress of the ICMP socket addon (native/icmp-socket), run by test/engine/icmp-stress.test.ts in a process of its
 * own started with --expose-gc (and, by scripts/sanitize-addon.sh, with AddressSanitizer preloaded):
 *
 *   node --expose-gc test/support/icmp-stress.mjs
 *
 * 1. Thousands of sockets, IPv4 and IPv6, each used as the echo prober uses one (its sender thread handed a burst of
 *    echo requests to 127.0.0.1 or ::1, replies read) and dropped while the thread is busy: most closed, the rest
 *    only forgotten, for the garbage collector's finalizer to close.
 * 2. Workers doing the same without pause, terminated mid-send: the environment's teardown must close their sockets
 *    and stop their threads before the worker's loop is closed.
 *
 * Prints one JSON line: how many sockets and workers it went through, what the addon still holds (`stats()`, all 0
 * once everything is collected) and the resident memory after a first round and at the end. Exits non-zero on any
 * failure; a crash is a signal.
 *
 * Packets go to loopback only.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const addon = createRequire(import.meta.url)('@zensweep/icmp-socket');
const { IcmpSocket, SLOT_BYTES, META_BYTES, MAX_BATCH, addressText } = addon;

const TARGET = { 4: '127.0.0.1', 6: '::1' };
/** Echo requests handed to each socket's sender thread before it is dropped. */
const ORDERS = 64;

/** Opens one socket and keeps its sender thread busy with a burst of echo requests to loopback. */
function busySocket(family, onEvent = () => undefined) {
  const socket = new IcmpSocket(family, randomBytes(2).readUInt16BE(0), true, onEvent);
  socket.watch(true, false);
  if (!socket.startSender(randomBytes(8))) throw new Error('the sender thread did not start');
  for (let i = 0; i < ORDERS; i++) socket.order(i, i, TARGET[family], 1024);
  return socket;
}

const buffer = Buffer.alloc(SLOT_BYTES * MAX_BATCH);
const meta = Buffer.alloc(META_BYTES * MAX_BATCH);

/**
 * Reads what is queued on the socket and checks each source is loopback (replies to our echoes, or errors about
 * another process's TCP on loopback, which the socket's filter lets through too).
 */
function read(socket, family) {
  const count = socket.receive(buffer, meta);
  for (let i = 0; i < count; i++) {
    const source = addressText(meta, i, family);
    if (family === 4 ? !source.startsWith('127.') : source !== '::1') throw new Error(`a packet from ${source}`);
  }
  socket.takeSenderEvents();
  return Math.max(0, count);
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

async function collect() {
  for (let i = 0; i < 5; i++) {
    globalThis.gc();
    await turn();
  }
}

/** Round 1: `count` sockets, a few dozen alive at once, each dropped with its thread busy. */
async function socketsRound(count) {
  const alive = [];
  let read_ = 0;
  for (let n = 0; n < count; n++) {
    const family = n % 3 === 2 ? 6 : 4;
    alive.push({ socket: busySocket(family), family });
    if (alive.length >= 40) {
      const dropped = alive.splice(0, 20);
      for (const [i, { socket, family: f }] of dropped.entries()) {
        read_ += read(socket, f);
        // One in four is never closed: its finalizer closes it, its thread still busy.
        if (i % 4 !== 0) socket.close();
      }
      if (n % 200 === 0) globalThis.gc();
      await turn();
    }
  }
  for (const { socket } of alive) socket.close();
  return read_;
}

/** In a worker: sockets opened, fed and dropped without pause until the worker is terminated. */
async function workerLoop() {
  const alive = [];
  let told = false;
  for (let n = 0; ; n++) {
    const family = n % 2 ? 6 : 4;
    alive.push({ socket: busySocket(family, () => undefined), family });
    for (const { socket, family: f } of alive) {
      socket.order(n & 0xffff, n, TARGET[f], 1024);
      read(socket, f);
    }
    if (alive.length > 12) alive.shift().socket.close();
    if (!told && alive.length >= 8) {
      told = true;
      parentPort.postMessage('busy');
    }
    if (n % 4 === 0) await turn();
  }
}

/** Round 2: `count` workers, each terminated while its sockets' threads send. */
async function workersRound(count) {
  for (let i = 0; i < count; i++) {
    const worker = new Worker(new URL(import.meta.url), { workerData: { role: 'worker' } });
    const exited = new Promise((resolve, reject) => {
      worker.once('error', reject);
      worker.once('exit', resolve);
    });
    await Promise.race([
      new Promise((resolve) => worker.once('message', resolve)),
      exited.then((code) => {
        throw new Error(`worker ${i} exited (${code}) before it was busy`);
      }),
    ]);
    // Mid-send: some at once, some after a few more turns of its loop.
    if (i % 2) await new Promise((resolve) => setTimeout(resolve, i % 7));
    await worker.terminate();
    await exited;
  }
}

async function main() {
  if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');
  const sockets = Number(process.argv[2] ?? 3000);
  const workers = Number(process.argv[3] ?? 20);
  await socketsRound(Math.min(500, sockets));
  await collect();
  const rssAfterWarmUp = process.memoryUsage.rss();
  const replies = await socketsRound(sockets);
  await workersRound(workers);
  const held = () => {
    const { sockets: open, rings, threads, callbacks } = addon.stats();
    return { sockets: open, rings, threads, callbacks };
  };
  let live = held();
  for (let tries = 0; tries < 200 && Object.values(live).some((n) => n !== 0); tries++) {
    await collect();
    live = held();
  }
  const { teardowns } = addon.stats();
  const result = {
    sockets: sockets + Math.min(500, sockets),
    workers,
    replies,
    live,
    teardowns,
    rssAfterWarmUp,
    rssAtEnd: process.memoryUsage.rss(),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (isMainThread) {
  main().catch((error) => {
    process.stderr.write(`${error?.stack ?? error}\n`);
    process.exit(1);
  });
} else if (workerData?.role === 'worker') {
  workerLoop().catch((error) => {
    process.stderr.write(`worker: ${error?.stack ?? error}\n`);
    process.exit(1);
  });
}
