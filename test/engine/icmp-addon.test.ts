import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { before, describe, it } from 'node:test';
import type * as Addon from '@zensweep/icmp-socket';
import { assertRoot } from '../support/root.js';
import { until } from '../support/wait.js';

/**
 * The native addon itself (native/icmp-socket), called as no caller of ours would: every argument of every function
 * is checked, a bad one is a TypeError or RangeError and never a crash or a read past a buffer, and a construction or
 * sender start that fails at any step leaves nothing behind. ZENSWEEP_ICMP_ADDON points these tests at another build
 * (scripts/sanitize-addon.sh runs them against the AddressSanitizer one).
 */
const addon = createRequire(import.meta.url)('@zensweep/icmp-socket') as typeof Addon;
const { IcmpSocket, addressText, stats, injectFault, neighbours, META_BYTES, MAX_BATCH, NEIGHBOUR_BYTES } = addon;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Calls `call` with arguments a caller must not pass; it must throw this kind of error. */
function refuses(kind: typeof TypeError | typeof RangeError, call: () => unknown, what: string): void {
  assert.throws(call, (error: unknown) => error instanceof kind && /^icmp-socket: /.test((error as Error).message), what);
}

const BAD_INDEXES = [-1, -0.5, 0.5, 2 ** 32, 2 ** 32 - 1, 2 ** 53, 2 ** 64, 1e300, -1e300, Number.NaN, Infinity, -Infinity];
const NOT_NUMBERS = ['0', null, undefined, {}, [], 1n, true, Symbol('x')];

/**
 * The addon's counts once every socket no longer referenced has been collected and freed (the counts are the whole
 * process's: an earlier test's socket freed meanwhile would be taken for one of this test's).
 */
async function settledStats(): Promise<ReturnType<typeof stats>> {
  let last = JSON.stringify(stats());
  for (let same = 0; same < 3; ) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    const now = JSON.stringify(stats());
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return stats();
}


describe('the ICMP socket addon refuses what a caller must not pass', () => {
  it('addressText: an index that is not one of meta\'s packets is a RangeError, whatever its size or sign', () => {
    const meta = Buffer.alloc(MAX_BATCH * META_BYTES);
    Buffer.from([198, 18, 0, 7]).copy(meta, 3 * META_BYTES + 4);
    assert.equal(addressText(meta, 3, 4), '198.18.0.7');
    meta[(MAX_BATCH - 1) * META_BYTES + 4 + 15] = 1;
    assert.equal(addressText(meta, MAX_BATCH - 1, 6), '::1', 'the last packet of meta');
    for (const index of [...BAD_INDEXES, MAX_BATCH, MAX_BATCH + 1]) {
      refuses(RangeError, () => addressText(meta, index, 4), `index ${String(index)}`);
    }
    for (const index of NOT_NUMBERS) refuses(TypeError, () => addressText(meta, index as number, 4), `index ${String(index)}`);
    // A meta too short for one packet, or for the last one's address.
    refuses(RangeError, () => addressText(Buffer.alloc(META_BYTES - 1), 0, 4), 'meta shorter than one packet');
    refuses(RangeError, () => addressText(Buffer.alloc(0), 0, 4), 'empty meta');
    assert.equal(addressText(Buffer.alloc(META_BYTES), 0, 6), '::', 'one packet\'s meta holds an IPv6 address');
    for (const notBuffer of ['meta', 42, null, {}, new ArrayBuffer(64), [1, 2, 3]]) {
      refuses(TypeError, () => addressText(notBuffer as Buffer, 0, 4), `meta ${String(notBuffer)}`);
    }
    for (const family of [0, 5, 7, -4, 4.5, Number.NaN, 2 ** 32 + 4]) {
      refuses(RangeError, () => addressText(meta, 0, family as 4), `family ${family}`);
    }
    refuses(TypeError, () => addressText(meta, 0, '4' as unknown as 4), 'family "4"');
    refuses(TypeError, () => (addressText as (...args: unknown[]) => string)(), 'no arguments');
  });

  it('neighbours: a family that is not 0, 4 or 6 is a RangeError, anything but a number a TypeError', () => {
    for (const family of [1, 2, 3, 5, 7, -1, -4, 0.5, 4.5, 2 ** 32 + 4, 2 ** 53, Number.NaN, Infinity, -Infinity]) {
      refuses(RangeError, () => neighbours(family as 4), `family ${family}`);
    }
    for (const family of NOT_NUMBERS) refuses(TypeError, () => neighbours(family as 4), `family ${String(family)}`);
    refuses(TypeError, () => (neighbours as (...args: unknown[]) => Buffer)(), 'no arguments');
  });

  it('neighbours: reads the table of this namespace as whole records of the family asked for', () => {
    for (const family of [0, 4, 6] as const) {
      const records = neighbours(family);
      assert.ok(Buffer.isBuffer(records));
      assert.equal(records.length % NEIGHBOUR_BYTES, 0, `family ${family}: ${records.length} bytes`);
      for (let at = 0; at < records.length; at += NEIGHBOUR_BYTES) {
        const entryFamily = records[at];
        assert.ok(family === 0 ? entryFamily === 4 || entryFamily === 6 : entryFamily === family, `family ${family}: an entry of ${entryFamily}`);
        assert.ok((records[at + 1] ?? 0) <= NEIGHBOUR_BYTES - 24, 'a link-layer address within its record');
      }
    }
  });

  it('neighbours: a read that fails at any step throws with its errno and leaves no descriptor open', () => {
    const openDescriptors = (): number => readdirSync('/proc/self/fd').length;
    for (const [step, errno] of [
      ['netlink', 24], // EMFILE: no socket
      ['netlink_send', 105], // ENOBUFS: the request not sent
      ['netlink_receive', 5], // EIO: a part not read
      ['neighbour_list', 12], // ENOMEM: no room for the entries
    ] as const) {
      const before = openDescriptors();
      injectFault(step);
      assert.throws(
        () => neighbours(0),
        (error: unknown) =>
          error instanceof Error && /^icmp-socket: the neighbour table \(netlink RTM_GETNEIGH\): /.test(error.message) && (error as { errno?: number }).errno === errno,
        step,
      );
      assert.equal(openDescriptors(), before, `${step}: a descriptor left open`);
      assert.equal(neighbours(0).length % NEIGHBOUR_BYTES, 0, `${step}: the fault was taken once, the next read works`);
    }
  });

  it('stats and injectFault check theirs too', () => {
    refuses(RangeError, () => injectFault('nothing' as 'mutex'), 'unknown fault');
    refuses(TypeError, () => injectFault(3 as unknown as 'mutex'), 'fault 3');
    assert.deepEqual(Object.keys(stats()).sort(), ['callbacks', 'rings', 'sockets', 'teardowns', 'threads']);
  });

  describe('with real sockets (root)', () => {
    before(assertRoot);

    it('new IcmpSocket: bad arguments are refused before anything is opened', async () => {
      const before = await settledStats();
      const onEvent = (): void => undefined;
      const Construct = IcmpSocket as unknown as new (...args: unknown[]) => Addon.IcmpSocket;
      refuses(TypeError, () => (IcmpSocket as unknown as (...args: unknown[]) => unknown)(4, -1, true, onEvent), 'without new');
      for (const family of [5, 0, -4, 4.5, Number.NaN, 2 ** 32 + 4]) {
        refuses(RangeError, () => new Construct(family, -1, true, onEvent), `family ${family}`);
      }
      for (const identifier of [-2, 65_536, 2 ** 32 - 1, 0.5, Number.NaN, -Infinity]) {
        refuses(RangeError, () => new Construct(4, identifier, true, onEvent), `identifier ${identifier}`);
      }
      refuses(TypeError, () => new Construct('4', -1, true, onEvent), 'family "4"');
      refuses(TypeError, () => new Construct(4, '1', true, onEvent), 'identifier "1"');
      refuses(TypeError, () => new Construct(4, -1, 1, onEvent), 'receives 1');
      refuses(TypeError, () => new Construct(4, -1, true, 'onEvent'), 'onEvent not a function');
      refuses(TypeError, () => new Construct(4, -1, true), 'no onEvent');
      assert.deepEqual(stats(), before, 'nothing opened for a refused construction');
    });

    it('every method: bad arguments are TypeErrors or RangeErrors; a bad address is EINVAL, as a failed send', () => {
      const socket = new IcmpSocket(4, 0x5a33, true, () => undefined);
      const loose = socket as unknown as Record<string, (...args: unknown[]) => unknown>;
      const call = (name: string, ...args: unknown[]) => () => loose[name]?.apply(socket, args);
      try {
        const packet = Buffer.alloc(16);
        refuses(TypeError, call('send', 'packet', '127.0.0.1'), 'send: packet not a Buffer');
        refuses(TypeError, call('send', packet, 0x7f000001), 'send: address not a string');
        assert.equal(socket.send(packet, 'not an address'), 22);
        assert.equal(socket.send(packet, '1'.repeat(100_000)), 22, 'a long string is no address, and no overflow');
        assert.equal(socket.send(packet, '::1'), 22, 'an IPv6 address on an IPv4 socket');

        refuses(TypeError, call('receive', 'buffer', Buffer.alloc(META_BYTES)), 'receive: buffer');
        refuses(TypeError, call('receive', Buffer.alloc(2048), new ArrayBuffer(64)), 'receive: meta');
        assert.equal(socket.receive(Buffer.alloc(10), Buffer.alloc(10)), 0, 'buffers too small for one packet: nothing read');

        for (const [name, args] of [
          ['sequence', [-1, 0, '127.0.0.1', 8]],
          ['sequence', [65_536, 0, '127.0.0.1', 8]],
          ['sequence', [Number.NaN, 0, '127.0.0.1', 8]],
          ['probeNumber', [0, -1, '127.0.0.1', 8]],
          ['probeNumber', [0, 2 ** 32, '127.0.0.1', 8]],
          ['probeNumber', [0, 0.5, '127.0.0.1', 8]],
          ['limit', [0, 0, '127.0.0.1', -1]],
          ['limit', [0, 0, '127.0.0.1', 2 ** 32 - 1]],
          ['limit', [0, 0, '127.0.0.1', Infinity]],
        ] as const) {
          refuses(RangeError, call('order', ...args), `order: ${name} ${String(args)}`);
        }
        refuses(TypeError, call('order', '1', 0, '127.0.0.1', 8), 'order: sequence "1"');
        refuses(TypeError, call('order', 0, 0, 7, 8), 'order: address 7');
        assert.equal(socket.order(0, 0, '127.0.0.1', 8), -1, 'no sender thread: refused, the caller sends');

        refuses(TypeError, call('startSender', 'token'), 'startSender: token not a Buffer');
        refuses(RangeError, call('startSender', Buffer.alloc(7)), 'startSender: token shorter than 8 bytes');
        refuses(TypeError, call('watch', 1, 0), 'watch: not booleans');
        refuses(TypeError, call('watch', true), 'watch: one argument');

        for (const name of ['send', 'receive', 'startSender', 'order', 'takeSenderEvents', 'watch', 'close']) {
          const method = (IcmpSocket.prototype as unknown as Record<string, (...args: unknown[]) => unknown>)[name];
          // V8 refuses it before the addon sees it (the class's methods have a signature): a TypeError all the same.
          assert.throws(() => method?.call({}, packet, '127.0.0.1'), TypeError, `${name} on something else`);
        }
        assert.deepEqual(socket.takeSenderEvents(), []);
      } finally {
        socket.close();
      }
      // After close, every method still checks its arguments and does nothing.
      assert.equal(socket.send(Buffer.alloc(16), '127.0.0.1'), 9, 'EBADF');
      assert.equal(socket.receive(Buffer.alloc(2048), Buffer.alloc(META_BYTES)), 0);
      assert.equal(socket.startSender(Buffer.alloc(8)), false);
      refuses(RangeError, call('order', -1, 0, '127.0.0.1', 8), 'order after close');
      socket.close();
    });

    it('a construction that fails at any step closes what it opened and holds on to nothing, its callback included', async () => {
      const steps = ['mutex', 'cond', 'reference', 'poll_init', 'async_init', 'cleanup_hook', 'wrap'] as const;
      for (const step of steps) {
        const before = await settledStats();
        let collected = false;
        const registry = new FinalizationRegistry(() => (collected = true));
        (() => {
          const onEvent = (): void => undefined;
          registry.register(onEvent, step);
          injectFault(step);
          assert.throws(() => new IcmpSocket(4, 0x5a34, true, onEvent), /^Error: icmp-socket: /, step);
        })();
        // Handles already initialised close on a later turn of the loop; the socket is freed then.
        await until(`${step}: the socket to be freed`, () => stats().sockets === before.sockets, { everyMs: 1 });
        assert.deepEqual(stats(), before, `${step}: left something behind`);
        for (let turns = 0; !collected; turns++) {
          assert.ok(turns < 100, `${step}: the event callback is still referenced`);
          gc();
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      // The faults were taken, one each: the next construction works.
      const socket = new IcmpSocket(4, 0x5a34, true, () => undefined);
      socket.close();
    });

    it('a sender that cannot start frees its ring and leaves the socket working; one that starts is stopped by close', async () => {
      const before = await settledStats();
      (() => {
        const socket = new IcmpSocket(4, 0x5a35, true, () => undefined);
        const token = Buffer.alloc(8, 7);
        for (const step of ['ring', 'thread'] as const) {
          injectFault(step);
          assert.equal(socket.startSender(token), false, step);
          assert.deepEqual([stats().rings, stats().threads], [before.rings, before.threads], `${step}: ring or thread left`);
        }
        assert.equal(socket.send(Buffer.from('0800f7ff00000000', 'hex'), '127.0.0.1'), 0, 'the socket still sends');
        assert.equal(socket.startSender(token), true);
        assert.deepEqual([stats().rings, stats().threads], [before.rings + 1, before.threads + 1]);
        assert.ok(socket.order(1, 1, '127.0.0.1', 8) > 0);
        socket.close();
        assert.deepEqual([stats().rings, stats().threads], [before.rings, before.threads], 'close joins the thread, frees the ring');
      })();
      // The rest goes with the JS object.
      await until(
        'the socket to be freed once collected',
        () => {
          gc();
          return stats().sockets === before.sockets;
        },
        { everyMs: 1 },
      );
      assert.deepEqual(stats(), before);
    });
  });
});
