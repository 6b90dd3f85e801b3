import { createRequire } from 'node:module';
import { constants } from 'node:os';
import type * as Addon from '@zensweep/icmp-socket';
import { IcmpUnavailableError } from './raw-transport.js';
import { ipv6Text } from './codec.js';

/**
 * One ICMP (or ICMPv6) socket of the echo prober, on ZenSweep's own addon (native/icmp-socket): a raw socket, or a
 * ping socket (`mode` 'ping': no privilege, see icmp_socket.c), which the kernel gives the replies without their IP
 * header and the ICMP errors on its error queue (read as records with the error in their meta: `errorOf`):
 *
 * - the kernel passes it only the echo replies with its identifier and the errors that quote its own requests (or,
 *   a raw socket, a TCP or UDP packet): another sweep, another agent on the same host, a ping, costs it nothing;
 * - every queued packet is read in a few calls (recvmmsg), with no exception at the end of the queue;
 * - it can start a sender thread, which sends echo requests on another core (see `startSender`).
 */

const require = createRequire(import.meta.url);
let addon: typeof Addon | undefined;

function loadAddon(): typeof Addon {
  addon ??= require('@zensweep/icmp-socket') as typeof Addon;
  return addon;
}

let errnoNames: Map<number, string> | undefined;

/** The name of a system error number (ENOBUFS), as the diagnoses know them. */
export function errnoName(errno: number): string {
  errnoNames ??= new Map(Object.entries(constants.errno).map(([name, value]) => [value, name]));
  return errnoNames.get(errno) ?? 'EUNKNOWN';
}

const EAGAIN = constants.errno.EAGAIN;
const ENOBUFS = constants.errno.ENOBUFS;
const EINVAL = constants.errno.EINVAL;
const EVENT_READABLE = 1;
const EVENT_WRITABLE = 2;
const EVENT_SENDER = 4;
/** Packets read in one drain at most, so one flood cannot starve timers and TCP callbacks. */
const DRAIN_LIMIT = 20_000;
/** Where a record's meta holds what a ping socket's error queue said (icmp_socket.c, META_BYTES). */
const META_KIND = 20;
const META_TYPE = 21;
const META_CODE = 22;
const META_ERRNO = 24;
const META_DESTINATION = 32;
/** META_KIND's values: 0 a packet (a reply), 1 an ICMP error, 2 a local one. */
const META_ERROR_ICMP = 1;

/** An ICMP error as a ping socket's error queue tells it; the record's data is the request it quotes. */
export interface QueuedError {
  /** An ICMP error from `offender` (its type and code), or a local one (the sweeper's own stack: `errno`). */
  origin: 'icmp' | 'local';
  type: number;
  code: number;
  errno: string;
  /** Who sent it (an ICMP error), as text. */
  offender: string;
  /** Where the quoted request was sent, as text. */
  destination: string;
}

/**
 * `again`: the socket buffer is full, retry once it is writable. `short`: the kernel is short of buffers elsewhere
 * (a full neighbour table, a full device queue): the socket stays writable, so retry after a pause, and send less.
 * IPv4 says ENOBUFS (the socket has IP_RECVERR, without which the kernel drops the packet and says nothing); IPv6
 * fails with EINVAL when it cannot make a neighbour entry.
 */
export type SendResult = 'sent' | 'again' | 'short' | { errno: string };

/** What the sender thread reports back. */
export interface SenderEvents {
  /** The send of this order failed for good (no route, a local firewall). */
  onSendError(sequence: number, probeNumber: number, errno: string): void;
  /**
   * The kernel was short of buffers (SendResult `short`): this order was not sent (`tried`), nor were those the
   * thread still held, each given back here untried. Pause, send them again, and send less.
   */
  onShort(sequence: number, probeNumber: number, tried: boolean): void;
}

export class IcmpEchoSocket {
  readonly family: 4 | 6;
  /** A raw socket, or a ping socket (replies without IP header, errors as records: errorOf). */
  readonly mode: 'raw' | 'ping';
  private readonly handle: Addon.IcmpSocket;
  private readonly buffer: Buffer;
  private readonly meta: Buffer;
  private readonly slotBytes: number;
  private readonly metaBytes: number;
  private readonly batch: number;
  private senderEvents: SenderEvents | undefined;
  private watchingWritable = false;
  private draining = false;
  private closed = false;

  /**
   * @param identifier the echo identifier whose replies and errors this socket receives; undefined for all.
   * @param onPacket called for every packet read: `length` bytes from `offset` in `buffer`, which is reused after
   *   the call; `index` names its source for `sourceV4` and `sourceText`.
   * @param onWritable called when a send that returned `again` may be retried.
   * @param receives false for a socket that only sends: the kernel then queues nothing to it.
   * @param mode 'raw' (default) or 'ping'; an IcmpUnavailableError when the process may not open it.
   */
  constructor(
    family: 4 | 6,
    identifier: number | undefined,
    private readonly onPacket: (buffer: Buffer, offset: number, length: number, index: number) => void,
    private readonly onWritable: () => void,
    private readonly receives = true,
    mode: 'raw' | 'ping' = 'raw',
  ) {
    this.family = family;
    this.mode = mode;
    const native = loadAddon();
    this.slotBytes = native.SLOT_BYTES;
    this.metaBytes = native.META_BYTES;
    this.batch = native.MAX_BATCH;
    try {
      this.handle = new native.IcmpSocket(family, identifier ?? -1, receives, (kind) => this.onEvent(kind), mode);
    } catch (error) {
      throw new IcmpUnavailableError(family, error, mode);
    }
    this.buffer = Buffer.allocUnsafe(receives ? this.slotBytes * this.batch : 0);
    this.meta = Buffer.allocUnsafe(receives ? this.metaBytes * this.batch : 0);
    if (receives) this.handle.watch(true, false);
  }

  /** Sends one packet now. `again` means the socket buffer is full: wait for onWritable; `short`: see SendResult. */
  send(packet: Buffer, address: string): SendResult {
    if (this.closed) return { errno: 'EBADF' };
    const errno = this.handle.send(packet, address);
    if (errno === 0) return 'sent';
    if (errno === EAGAIN) {
      this.watchWritable(true);
      return 'again';
    }
    if (this.isShortage(errno)) return 'short';
    return { errno: errnoName(errno) };
  }

  /**
   * Starts the sender thread: echo requests with this token in their payload, sent from another core (each carries
   * its send time, read from the same monotonic clock as clock.ts). False when it cannot start.
   */
  startSender(token: Buffer, events: SenderEvents): boolean {
    if (this.closed || !this.handle.startSender(token)) return false;
    this.senderEvents = events;
    return true;
  }

  /**
   * Hands an echo request to the sender thread. False when it is refused: no thread, or `limit` orders already
   * waiting; the caller then sends it itself.
   */
  order(sequence: number, probeNumber: number, address: string, limit: number): boolean {
    return !this.closed && this.senderEvents !== undefined && this.handle.order(sequence, probeNumber, address, limit) > 0;
  }

  /** The IPv4 source of packet `index` of the last read, as a number. */
  sourceV4(index: number): number {
    return this.meta.readUInt32BE(index * this.metaBytes + 4);
  }

  /**
   * What the error queue said of record `index` of the last read (a ping socket's), or undefined for a packet (a
   * reply, or anything a raw socket reads).
   */
  errorOf(index: number): QueuedError | undefined {
    const at = index * this.metaBytes;
    const kind = this.meta[at + META_KIND] ?? 0;
    if (kind === 0) return undefined;
    const destination = at + META_DESTINATION;
    return {
      origin: kind === META_ERROR_ICMP ? 'icmp' : 'local',
      type: this.meta[at + META_TYPE] ?? 0,
      code: this.meta[at + META_CODE] ?? 0,
      errno: errnoName(this.meta.readUInt32LE(at + META_ERRNO)),
      offender: this.sourceText(index),
      destination:
        this.family === 4
          ? `${this.meta[destination]}.${this.meta[destination + 1]}.${this.meta[destination + 2]}.${this.meta[destination + 3]}`
          : ipv6Text(this.meta, destination),
    };
  }

  /** The source of packet `index` of the last read, as text. */
  sourceText(index: number): string {
    return loadAddon().addressText(this.meta, index, this.family);
  }

  /**
   * Reads every packet already queued on the socket (also called before judging a TCP failure). Not re-entrant:
   * `onPacket` may lead back here (an ICMP error ends a connect, whose outcome reads the socket again); the call
   * in progress reads the rest, so a burst of errors is a loop, not a recursion as deep as the burst. What
   * `onPacket` throws reaches the caller.
   */
  drain(): void {
    if (this.closed || this.draining || !this.receives) return;
    this.draining = true;
    try {
      for (let total = 0; total < DRAIN_LIMIT && !this.closed; ) {
        const count = this.handle.receive(this.buffer, this.meta);
        // A negative count is a socket error (-errno): what is queued is read at the next readable event.
        if (count <= 0) break;
        for (let i = 0; i < count && !this.closed; i++) {
          this.onPacket(this.buffer, i * this.slotBytes, this.meta.readUInt32LE(i * this.metaBytes), i);
        }
        // Fewer than a batch is not proof that the queue is empty: a pending error (see icmp_socket.c) ends a read
        // early too. Only a read of nothing is.
        total += count;
      }
    } finally {
      this.draining = false;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handle.close();
  }

  private onEvent(kind: number): void {
    if (this.closed) return;
    // A poll error on the descriptor (libuv's status): the socket is of no more use. Echoes still outstanding then
    // end at their deadline, as silent.
    if (kind === 0) return this.close();
    if (kind & EVENT_SENDER) this.takeSenderEvents();
    if (kind & EVENT_READABLE) this.drain();
    if (kind & EVENT_WRITABLE) {
      this.watchWritable(false);
      this.onWritable();
    }
  }

  private takeSenderEvents(): void {
    const events = this.senderEvents;
    if (!events) return;
    const taken = this.handle.takeSenderEvents();
    for (let i = 0; i + 2 < taken.length; i += 3) {
      const errno = taken[i + 2] as number;
      if (errno === 0 || this.isShortage(errno)) events.onShort(taken[i] as number, taken[i + 1] as number, errno !== 0);
      else events.onSendError(taken[i] as number, taken[i + 1] as number, errnoName(errno));
    }
  }

  private isShortage(errno: number): boolean {
    return errno === ENOBUFS || (this.family === 6 && errno === EINVAL);
  }

  private watchWritable(on: boolean): void {
    if (this.closed || this.watchingWritable === on) return;
    this.watchingWritable = on;
    this.handle.watch(this.receives, on);
  }
}
