import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import type * as Addon from '@zensweep/icmp-socket';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { EVERY_GROUP, NO_GROUP, createPingNamespace } from '../support/ping-netns.js';
import type { PingNamespace } from '../support/ping-netns.js';
import { assertRoot } from '../support/root.js';
import { until } from '../support/wait.js';

const require = createRequire(import.meta.url);
// The addon as the engine loads it (ZENSWEEP_ICMP_ADDON: the sanitized build, under scripts/sanitize-addon.sh).
const addon = require('@zensweep/icmp-socket') as typeof Addon;
const ADDON_PATH = JSON.stringify(require.resolve('@zensweep/icmp-socket'));

/** A UDP probe socket that gathers what it reads. */
function udpSocket(family: 4 | 6): { socket: Addon.ProbeSocket; records: { record: Addon.ProbeRecord; bytes: Buffer }[] } {
  const records: { record: Addon.ProbeRecord; bytes: Buffer }[] = [];
  const buffer = Buffer.alloc(2048);
  const socket: Addon.ProbeSocket = new addon.ProbeSocket(family, 'udp', () => {
    for (let record = socket.read(buffer); record; record = socket.read(buffer)) {
      records.push({ record, bytes: Buffer.from(buffer.subarray(0, record.bytes)) });
    }
  });
  return { socket, records };
}

/**
 * The addon's ProbeSocket (native/icmp-socket/src/probe_socket.c), what trace and mtu use without privilege: every
 * argument checked, and on loopback the errors about its own datagrams read from its error queue with who sent them.
 */
describe('ProbeSocket: arguments', () => {
  it('refuses a bad family, protocol or callback, and a call without new', () => {
    const noop = (): void => {};
    assert.throws(() => new addon.ProbeSocket(5 as 4, 'udp', noop), { name: 'RangeError', message: /family must be 4 or 6/ });
    assert.throws(() => new addon.ProbeSocket(4.5 as 4, 'udp', noop), { name: 'RangeError', message: /family must be an integer from 4 to 6/ });
    assert.throws(() => new addon.ProbeSocket('4' as unknown as 4, 'udp', noop), { name: 'TypeError', message: /family must be a number/ });
    assert.throws(() => new addon.ProbeSocket(4, 'tcp' as 'udp', noop), { name: 'RangeError', message: /protocol must be 'icmp' or 'udp'/ });
    assert.throws(() => new addon.ProbeSocket(4, 1 as unknown as 'udp', noop), { name: 'TypeError', message: /protocol must be 'icmp' or 'udp'/ });
    assert.throws(() => new addon.ProbeSocket(4, 'udp', 'x' as unknown as () => void), { name: 'TypeError', message: /onReadable must be a function/ });
    const construct = addon.ProbeSocket as unknown as (...args: unknown[]) => unknown;
    assert.throws(() => construct(4, 'udp', noop), { name: 'TypeError', message: /must be called with new/ });
  });

  it('refuses a bad packet, address, port, hop limit, buffer or `this`; an address of the other family is EINVAL', () => {
    const { socket } = udpSocket(4);
    try {
      const packet = Buffer.alloc(8);
      assert.throws(() => socket.send('x' as unknown as Buffer, '127.0.0.1', 9, 1), { name: 'TypeError', message: /packet must be a Buffer/ });
      assert.throws(() => socket.send(packet, 1 as unknown as string, 9, 1), { name: 'TypeError', message: /address must be a string/ });
      assert.throws(() => socket.send(packet, '127.0.0.1', 65_536, 1), { name: 'RangeError', message: /port must be an integer from 0 to 65535/ });
      assert.throws(() => socket.send(packet, '127.0.0.1', -1, 1), { name: 'RangeError' });
      assert.throws(() => socket.send(packet, '127.0.0.1', 9, 256), { name: 'RangeError', message: /hops must be an integer from 0 to 255/ });
      assert.throws(() => socket.send(packet, '127.0.0.1', 9, Number.NaN), { name: 'RangeError' });
      assert.throws(() => socket.send(packet, '127.0.0.1', 9, 2 ** 64), { name: 'RangeError' });
      assert.throws(() => socket.read([] as unknown as Buffer), { name: 'TypeError', message: /buffer must be a Buffer/ });
      assert.throws(() => socket.bind(70_000), { name: 'RangeError', message: /port must be an integer from 0 to 65535/ });
      assert.equal(socket.send(packet, '::1', 9, 1), constants.errno.EINVAL);
      assert.equal(socket.send(packet, 'not an address', 9, 1), constants.errno.EINVAL);
      assert.equal(socket.send(packet, 'x'.repeat(200), 9, 1), constants.errno.EINVAL);
      const read = socket.read.bind({} as Addon.ProbeSocket);
      assert.throws(() => read(Buffer.alloc(8)), { name: 'TypeError', message: /Illegal invocation|this must be a ProbeSocket/ });
    } finally {
      socket.close();
    }
  });

  it('after close: sends fail with EBADF, reads give nothing, bind gives -EBADF, and a second close is nothing', () => {
    const { socket } = udpSocket(4);
    socket.close();
    assert.equal(socket.send(Buffer.alloc(8), '127.0.0.1', 9, 1), constants.errno.EBADF);
    assert.equal(socket.read(Buffer.alloc(8)), undefined);
    assert.equal(socket.bind(0), -constants.errno.EBADF);
    assert.equal(socket.dontFragment(), constants.errno.EBADF);
    socket.close();
  });
});

describe('ProbeSocket: UDP on loopback', () => {
  for (const [family, address, unreachable] of [
    [4, '127.0.0.1', { type: 3, code: 3 }],
    [6, '::1', { type: 1, code: 4 }],
  ] as const) {
    it(`IPv${family}: a datagram to a closed port comes back as port unreachable on the error queue, sender and payload with it`, async () => {
      const { socket, records } = udpSocket(family);
      try {
        const port = socket.bind(0);
        assert.ok(port > 0, `bound to ${port}`);
        // A closed port: the socket's own port + 1 may be taken; bind one more socket and close it to find a free one.
        const probe = udpSocket(family);
        const closed = probe.socket.bind(0);
        probe.socket.close();
        const payload = Buffer.from('zensweep-probe-socket-test');
        for (let i = 0; i < 3; i++) assert.equal(socket.send(payload, address, closed, 1 + i), 0, 'sent (once more after the pending error)');
        await until('three port unreachable errors', () => records.length >= 3, { timeoutMs: 5000 });
        for (const { record, bytes } of records) {
          assert.equal(record.kind, 'icmp');
          assert.ok(record.kind === 'icmp');
          assert.deepEqual(
            { address: record.address, port: record.port, type: record.type, code: record.code, offender: record.offender, errno: record.errno },
            { address, port: closed, ...unreachable, offender: address, errno: constants.errno.ECONNREFUSED },
          );
          assert.deepEqual(bytes, payload, 'the datagram as quoted, from its payload');
        }
        assert.equal(socket.dontFragment(), 0);
      } finally {
        socket.close();
      }
    });
  }

  it('is closed by a worker\'s teardown, and every socket is freed', async () => {
    // The count is process-wide: this thread's own closed sockets are collected first, so only the worker's move it.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // Node API finalizers run after the collection (from an immediate): collect until the count holds still.
    let settled = -1;
    for (let i = 0; i < 20 && settled !== addon.probeSocketStats().sockets; i++) {
      settled = addon.probeSocketStats().sockets;
      gc();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const before = addon.probeSocketStats();
    // Each socket's port unreachable stays queued (the callback reads nothing): the worker ends with errors pending.
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      const addon = require(workerData.addon);
      const sockets = [4, 6, 4].map((family) => new addon.ProbeSocket(family, 'udp', () => undefined));
      sockets.forEach((socket, i) => socket.send(Buffer.alloc(8), i === 1 ? '::1' : '127.0.0.1', 9, 1));
      parentPort.postMessage(addon.probeSocketStats().sockets);
      setInterval(() => undefined, 1000);
    `;
    const worker = new Worker(source, { eval: true, workerData: { addon: require.resolve('@zensweep/icmp-socket') } });
    try {
      const open = await new Promise<number>((resolve, reject) => worker.once('message', resolve).once('error', reject));
      assert.equal(open, before.sockets + 3);
    } finally {
      await worker.terminate();
    }
    await until('the worker\'s sockets freed', () => addon.probeSocketStats().sockets === before.sockets, { timeoutMs: 5000 });
    assert.equal(addon.probeSocketStats().teardowns, before.teardowns + 3, 'the teardown closed each one');
  });
});

/**
 * Ping sockets in a namespace of the test's own (net.ipv4.ping_group_range is per namespace: never the host's), in a
 * child process: echo replies read as data, a firewall's reject read from the error queue with its sender, EMSGSIZE
 * over 65,535 bytes, and EACCES when the range leaves the process out.
 */
describe('ProbeSocket: ping sockets in a namespace', () => {
  let ns: PingNamespace;

  const SCRIPT = `
    const addon = require(${ADDON_PATH});
    const family = Number(process.argv[1]);
    const address = process.argv[2];
    const buffer = Buffer.alloc(2048);
    const records = [];
    let socket;
    try {
      socket = new addon.ProbeSocket(family, 'icmp', () => {
        for (let r = socket.read(buffer); r; r = socket.read(buffer)) records.push({ ...r, type0: buffer[0], sequence: buffer.readUInt16BE(6) });
      });
    } catch (error) {
      console.log(JSON.stringify({ errno: error.errno }));
      process.exit(0);
    }
    const echo = (sequence, size) => {
      const packet = Buffer.alloc(size);
      packet[0] = family === 4 ? 8 : 128;
      packet.writeUInt16BE(sequence, 6);
      return packet;
    };
    const sent = [socket.dontFragment(), socket.send(echo(7, 64), address, 0, 3), socket.send(echo(8, 1400), address, 0, 0), socket.send(echo(9, 70000), address, 0, 0)];
    setTimeout(() => { socket.close(); console.log(JSON.stringify({ sent, records })); }, 500);
  `;

  before(async () => {
    assertRoot();
    ns = await createPingNamespace('zps');
    const rules = `table inet probe_socket_test {
      chain input {
        type filter hook input priority 0; policy accept;
        ip daddr 127.0.0.9 icmp type echo-request reject with icmp type admin-prohibited
        ip6 daddr 2001:db8:ffff::9 icmpv6 type echo-request reject with icmpv6 type admin-prohibited
      }
    }`;
    const loaded = await ns.exec(['nft', '-f', '-'], { input: rules });
    assert.equal(loaded.code, 0, loaded.stderr);
    const added = await ns.exec(['ip', '-6', 'addr', 'add', '2001:db8:ffff::9/128', 'dev', 'lo', 'nodad']);
    assert.equal(added.code, 0, added.stderr);
  });
  after(async () => {
    await ns?.destroy();
  });

  interface Outcome {
    errno?: number;
    sent?: number[];
    records?: (Addon.ProbeRecord & { type0: number; sequence: number })[];
  }

  async function probe(family: 4 | 6, address: string, unprivileged = true): Promise<Outcome> {
    const argv = [process.execPath, '-e', SCRIPT, String(family), address];
    const result = unprivileged ? await ns.execUnprivileged(argv) : await ns.exec(argv);
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as Outcome;
  }

  it('echo replies as data, sequence kept; a reject from the error queue with its sender; EMSGSIZE past 65,535 bytes (IPv4, IPv6)', async () => {
    await ns.pingGroups(EVERY_GROUP);
    for (const [family, alive, rejecting] of [
      [4, '127.0.0.1', '127.0.0.9'],
      [6, '::1', '2001:db8:ffff::9'],
    ] as const) {
      const ok = await probe(family, alive);
      assert.deepEqual(ok.sent, [0, 0, 0, constants.errno.EMSGSIZE], `IPv${family}`);
      const replies = (ok.records ?? []).map((r) => [r.kind, r.address, r.type0, r.sequence, r.bytes]);
      assert.deepEqual(replies, [
        ['data', alive, family === 4 ? 0 : 129, 7, 64],
        ['data', alive, family === 4 ? 0 : 129, 8, 1400],
      ]);
      const refused = await probe(family, rejecting);
      const errors = (refused.records ?? []).map((r) => (r.kind === 'data' ? ['data'] : [r.kind, r.address, r.offender, r.type, r.code, r.sequence]));
      const [type, code] = family === 4 ? [3, 13] : [1, 1];
      assert.deepEqual(errors, [
        ['icmp', rejecting, rejecting, type, code, 7],
        ['icmp', rejecting, rejecting, type, code, 8],
      ]);
    }
  });

  it('EACCES where net.ipv4.ping_group_range leaves the process out', async () => {
    await ns.pingGroups(NO_GROUP);
    const refused = await probe(4, '127.0.0.1');
    assert.equal(refused.errno, constants.errno.EACCES);
    await ns.pingGroups(EVERY_GROUP);
  });
});
