import { diagnoseIcmpError, diagnoseLocalError, diagnoseUnusableV6 } from '../../core/diagnosis.js';
import type { Reporter } from '../../core/states.js';
import type { EchoDone, EchoProber } from '../probers.js';
import { DeadlineQueue, Fifo } from '../queue.js';
import {
  ICMP4_ECHO_REPLY,
  ICMP6_ECHO_REPLY,
  SEND_TIME_OFFSET,
  TOKEN_BYTES,
  decodeIcmp4,
  decodeIcmp6,
  decodeQuotedEchoRequest,
  isSweepError,
  internetChecksum,
  newEchoPacket,
  writeEchoRequest,
} from './codec.js';
import type { EchoMark, IcmpMessage, QuotedTcp } from './codec.js';
import { IcmpEchoSocket } from './icmp-socket.js';
import type { QueuedError } from './icmp-socket.js';
import { ipv4ToNumber } from '../../core/targets.js';
import { monotonicMs } from '../clock.js';
import { randomBits, randomBytes } from '../random.js';

interface PendingEcho {
  family: 4 | 6;
  address: string;
  /** The IPv4 address as a number (replies are matched on it), -1 for IPv6. */
  v4: number;
  sequence: number;
  probeNumber: number;
  timeoutMs: number;
  /** When it was sent (or handed to the sender thread), in monotonic milliseconds (clock.ts). */
  sentAt: number;
  deadline: number;
  context: unknown;
  done: EchoDone<unknown>;
  settled: boolean;
  /** Sends the kernel refused for want of buffers so far. */
  shortTries: number;
}

/**
 * Told of every ICMP error that quotes a TCP segment: the flow it quotes and what it says. The kernel hands every raw
 * ICMP socket of the host the errors about every process's TCP; only the listener can tell which are about one of
 * its own connection attempts.
 */
export type TcpErrorListener = (quoted: QuotedTcp, reporter: Reporter) => void;

/** Most echoes outstanding per family: the 16-bit sequence number must identify each of them. */
export const MAX_OUTSTANDING_ECHOES = 60_000;

const POLL_EVERY_SENDS = 16;
/** Orders the sender thread may have waiting before the next echo is sent from the event loop itself. */
const SENDER_QUEUE = 1024;
/** Pauses after ENOBUFS before the backlog is tried again: the first, and the longest (doubling in between). */
const SHORT_PAUSE_MS = 10;
const SHORT_PAUSE_MAX_MS = 640;
/**
 * Refused sends of one echo (for want of buffers) before it is reported as never sent: about 10 s of pauses, longer
 * than the 3 s an unanswered address holds its neighbour entry, with room for a busy machine's slower clean-up.
 */
const MAX_SHORT_TRIES = 20;

/**
 * ICMP echo over raw sockets, or ping sockets (`mode`), IPv4 and IPv6, with many requests in flight.
 *
 * Every socket gets a random identifier and an 8-byte random token; each request carries the token and a probe
 * number in its payload. A reply counts only if identifier, sequence, token, probe number and source address all
 * match the request — so another ping on the machine, or a second sweep in this process, cannot be mistaken for
 * ours, and a reply from an address we did not ask (a broadcast, a NAT) does not make the target alive.
 * ICMP errors quoting our request are matched on the quoted destination, identifier and sequence (and the mark
 * when the quote is long enough); the reporter is the error's source address. The kernel itself drops replies and
 * errors with another identifier (icmp-socket.ts), so other sweeps and agents on the host cost nothing here.
 *
 * On a ping socket the kernel writes its own identifier (the socket's port) into every request and hands the socket
 * only the replies and errors with it: there replies and errors are matched on sequence, token, probe number and
 * address, and the errors come from the socket's error queue (who sent it, type and code, the quoted request), so a
 * sweep says the same in both modes, "prohibited, said router 198.18.0.254" included. A ping socket never sees an
 * ICMP error about a TCP segment: `onTcpError` is told nothing then.
 */
export class IcmpEchoProber implements EchoProber {
  private readonly identifier = randomBits(16);
  private readonly token = randomBytes(TOKEN_BYTES);
  private readonly packet = newEchoPacket();
  private readonly transports = new Map<4 | 6, IcmpEchoSocket>();
  /** Outstanding echoes by sequence number, one table per family. */
  private readonly pending: Record<4 | 6, (PendingEcho | undefined)[]> = {
    4: new Array<PendingEcho | undefined>(0x10000).fill(undefined),
    6: new Array<PendingEcho | undefined>(0x10000).fill(undefined),
  };
  private readonly backlog = new Fifo<PendingEcho>();
  private readonly deadlines: DeadlineQueue<PendingEcho>;
  private nextProbeNumber = randomBits(31);
  private closed = false;
  private sendsSincePoll = 0;
  private readonly sendThread: boolean;
  /** Raw sockets, or ping sockets. */
  readonly mode: 'raw' | 'ping';
  private readonly onTcpError: TcpErrorListener | undefined;
  private readonly onCongestion: (() => void) | undefined;
  private shortPauseMs = 0;
  private shortTimer: NodeJS.Timeout | undefined;

  /**
   * Opens the socket of each family now, so a missing privilege shows up before the sweep starts.
   *
   * @param options.sendHelper send from a thread of each socket (icmp-socket.ts), on another core: on loopback and
   *   fast LANs each send carries the kernel's whole round trip. When the thread falls behind, or cannot start,
   *   echoes are sent from the event loop.
   */
  constructor(
    families: Iterable<4 | 6>,
    options: {
      sendHelper?: boolean;
      /** Told at once of every ICMP error quoting a TCP segment (to end the connect attempt it is about). */
      onTcpError?: TcpErrorListener;
      /**
       * Told each time the kernel refuses a send for want of buffers (a full neighbour table; icmp-socket.ts): the
       * echo waits and is sent again after a pause that doubles while it lasts (at most MAX_SHORT_TRIES times); the
       * caller should send less.
       */
      onCongestion?: () => void;
      /** Raw sockets (default: root or CAP_NET_RAW) or ping sockets (net.ipv4.ping_group_range). */
      mode?: 'raw' | 'ping';
    } = {},
  ) {
    this.mode = options.mode ?? 'raw';
    this.onTcpError = options.onTcpError;
    this.onCongestion = options.onCongestion;
    this.sendThread = options.sendHelper === true;
    this.deadlines = new DeadlineQueue(
      (p) => p.settled,
      (p) => this.settle(p, -1, undefined),
    );
    try {
      for (const family of families) this.transportFor(family);
    } catch (error) {
      this.close();
      throw error;
    }
  }

  echo<C>(address: string, family: 4 | 6, timeoutMs: number, context: C, done: EchoDone<C>): void {
    if (family === 6) {
      const unusable = diagnoseUnusableV6(address);
      if (unusable) return done(context, -1, unusable);
    }
    const probeNumber = this.nextProbeNumber;
    this.nextProbeNumber = (this.nextProbeNumber + 1) >>> 0;
    let sequence = probeNumber & 0xffff;
    // The caller keeps fewer than MAX_OUTSTANDING_ECHOES in flight, so a free sequence number is close by.
    const table = this.pending[family];
    while (table[sequence] !== undefined) sequence = (sequence + 1) & 0xffff;
    const echo: PendingEcho = {
      family,
      address,
      v4: family === 4 ? ipv4ToNumber(address) : -1,
      sequence,
      probeNumber,
      timeoutMs,
      sentAt: 0,
      deadline: 0,
      context,
      done: done as EchoDone<unknown>,
      settled: false,
      shortTries: 0,
    };
    table[sequence] = echo;
    if (this.backlog.length > 0 || this.shortTimer !== undefined || !this.transmit(echo)) this.backlog.push(echo);
    // On a fast path (loopback, a LAN) replies are queued within microseconds: read them every few sends so the
    // RTT measures the network, not the length of our send batch.
    if (++this.sendsSincePoll >= POLL_EVERY_SENDS) this.poll();
  }

  poll(): void {
    this.sendsSincePoll = 0;
    for (const transport of this.transports.values()) transport.drain();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.shortTimer) clearTimeout(this.shortTimer);
    this.deadlines.clear();
    this.backlog.clear();
    this.pending[4].fill(undefined);
    this.pending[6].fill(undefined);
    for (const transport of this.transports.values()) transport.close();
    this.transports.clear();
  }

  private transportFor(family: 4 | 6): IcmpEchoSocket {
    let transport = this.transports.get(family);
    if (!transport) {
      const socket = new IcmpEchoSocket(
        family,
        this.identifier,
        (buffer, offset, length, index) => this.receive(socket, buffer, offset, length, index),
        () => this.flushBacklog(),
        true,
        this.mode,
      );
      if (this.sendThread) {
        socket.startSender(this.token, {
          onSendError: (sequence, probeNumber, errno) => {
            const echo = this.pending[family][sequence];
            if (echo?.probeNumber === probeNumber) this.settle(echo, -1, diagnoseLocalError(errno));
          },
          onShort: (sequence, probeNumber, tried) => {
            const echo = this.pending[family][sequence];
            if (echo?.probeNumber !== probeNumber || echo.settled || (tried && this.tooShort(echo))) return;
            // Not sent after all: its record leaves the deadline queue (an expiry now would call it silent), and a
            // fresh one waits in the backlog for the send that will be, with a deadline from then.
            const retry: PendingEcho = { ...echo, deadline: 0 };
            echo.settled = true;
            this.pending[family][sequence] = retry;
            this.backlog.push(retry);
            this.pauseAfterShortage();
          },
        });
      }
      transport = socket;
      this.transports.set(family, transport);
    }
    return transport;
  }

  /** Sends now, or hands it to the sender thread; false when the socket is full and the echo must wait. */
  private transmit(echo: PendingEcho): boolean {
    if (this.closed) return true;
    echo.sentAt = monotonicMs();
    let transport: IcmpEchoSocket;
    try {
      transport = this.transportFor(echo.family);
    } catch {
      this.settle(echo, -1, diagnoseLocalError('EPERM'));
      return true;
    }
    // Both send: the thread while its queue is short, the event loop when the thread falls behind.
    if (this.sendThread && transport.order(echo.sequence, echo.probeNumber, echo.address, SENDER_QUEUE)) {
      this.deadlines.add(echo, echo.timeoutMs);
      return true;
    }
    writeEchoRequest(this.packet, echo.family, this.identifier, echo.sequence, this.token, echo.probeNumber, echo.sentAt);
    const result = transport.send(this.packet, echo.address);
    if (result === 'again') return false;
    if (result === 'short') {
      if (this.tooShort(echo)) return true;
      this.pauseAfterShortage();
      return false;
    }
    this.shortPauseMs = 0;
    if (result === 'sent') {
      this.deadlines.add(echo, echo.timeoutMs);
    } else {
      this.settle(echo, -1, diagnoseLocalError(result.errno));
    }
    return true;
  }

  /**
   * Counts a refused send; past MAX_SHORT_TRIES the echo ends as never sent for want of room in the neighbour table
   * (ENOBUFS: IPv6's EINVAL means the same here, see IcmpEchoSocket's SendResult), and true is returned.
   */
  private tooShort(echo: PendingEcho): boolean {
    echo.shortTries += 1;
    if (echo.shortTries <= MAX_SHORT_TRIES) return false;
    this.settle(echo, -1, diagnoseLocalError('ENOBUFS'));
    return true;
  }

  /** Short of buffers: the socket stays writable, so nothing wakes the backlog but this timer. */
  private pauseAfterShortage(): void {
    if (this.shortTimer) return;
    this.shortPauseMs = Math.min(SHORT_PAUSE_MAX_MS, this.shortPauseMs > 0 ? this.shortPauseMs * 2 : SHORT_PAUSE_MS);
    this.onCongestion?.();
    this.shortTimer = setTimeout(() => {
      this.shortTimer = undefined;
      this.flushBacklog();
    }, this.shortPauseMs);
  }

  private flushBacklog(): void {
    for (let echo = this.backlog.peek(); echo; echo = this.backlog.peek()) {
      if (!echo.settled && !this.transmit(echo)) return;
      this.backlog.shift();
    }
  }

  private settle(echo: PendingEcho, rttMs: number, reporter: Reporter | undefined): void {
    if (echo.settled) return;
    echo.settled = true;
    this.pending[echo.family][echo.sequence] = undefined;
    echo.done(echo.context, rttMs, reporter);
  }

  private ours(mark: EchoMark | undefined, echo: PendingEcho): boolean {
    return mark === undefined || (mark.probeNumber === echo.probeNumber && mark.token.equals(this.token));
  }

  private receive(socket: IcmpEchoSocket, buffer: Buffer, offset: number, length: number, index: number): void {
    const family = socket.family;
    if (socket.mode === 'ping') {
      const error = socket.errorOf(index);
      if (error) this.receiveQueuedError(family, error, buffer, offset, offset + length);
      else this.receiveReply(socket, buffer, offset, length, index);
      return;
    }
    if (this.receiveReply(socket, buffer, offset, length, index)) return;
    const packet = buffer.subarray(offset, offset + length);
    const message: IcmpMessage | undefined = family === 4 ? decodeIcmp4(packet) : decodeIcmp6(packet);
    if (!message) return;
    if (message.kind === 'echo-reply') return; // ours were taken by receiveReply
    const source = socket.sourceText(index);
    const quoted = message.quoted;
    if (quoted.protocol === 'tcp') {
      // Handed on at once and kept nowhere: it ends the one attempt whose flow it quotes, or nothing.
      this.onTcpError?.(quoted, diagnoseIcmpError(family, message.type, message.code, source));
      return;
    }
    if (quoted.identifier !== this.identifier) return;
    const echo = this.pending[family][quoted.sequence];
    if (!echo || echo.address !== quoted.destination || !this.ours(quoted.mark, echo)) return;
    this.settle(echo, -1, diagnoseIcmpError(family, message.type, message.code, source));
  }

  /** An error from a ping socket's error queue: the request it quotes is the record's data. */
  private receiveQueuedError(family: 4 | 6, error: QueuedError, buffer: Buffer, start: number, end: number): void {
    const quoted = decodeQuotedEchoRequest(family, buffer, start, end);
    if (!quoted) return;
    const echo = this.pending[family][quoted.sequence];
    if (!echo || echo.address !== error.destination || !this.ours(quoted.mark, echo)) return;
    if (error.origin === 'local') {
      this.settle(echo, -1, diagnoseLocalError(error.errno));
    } else if (isSweepError(family, error.type)) {
      this.settle(echo, -1, diagnoseIcmpError(family, error.type, error.code, error.offender));
    }
  }

  /**
   * The hot path: an echo reply of ours, matched in place without decoding into objects (a /16 sweep reads 65,536
   * replies). Returns false for anything else, which then goes through the full decoder.
   */
  private receiveReply(socket: IcmpEchoSocket, buffer: Buffer, offset: number, length: number, index: number): boolean {
    const family = socket.family;
    // A ping socket's replies come without their IP header, and with the kernel's identifier (its port).
    const raw = socket.mode === 'raw';
    const start = offset + (family === 4 && raw ? ((buffer[offset] as number) & 0x0f) * 4 : 0);
    const end = offset + length;
    const expectedType = family === 4 ? ICMP4_ECHO_REPLY : ICMP6_ECHO_REPLY;
    if (end < start + 8 + SEND_TIME_OFFSET + 8 || buffer[start] !== expectedType) return false;
    if (family === 4 && ((raw && buffer[offset + 9] !== 1) || internetChecksum(buffer, start, end) !== 0)) return true;
    if (raw && buffer.readUInt16BE(start + 4) !== this.identifier) return true;
    const echo = this.pending[family][buffer.readUInt16BE(start + 6)];
    if (
      echo === undefined ||
      (family === 4 ? echo.v4 !== socket.sourceV4(index) : echo.address !== socket.sourceText(index)) ||
      buffer.readUInt32BE(start + 8 + TOKEN_BYTES) !== echo.probeNumber ||
      this.token.compare(buffer, start + 8, start + 8 + TOKEN_BYTES) !== 0
    ) {
      return true;
    }
    // The send time the request carried (the sender thread's, when it sent it), else our own record of it.
    const now = monotonicMs();
    const stamped = buffer.readDoubleBE(start + 8 + SEND_TIME_OFFSET);
    const sentAt = stamped >= echo.sentAt && stamped <= now ? stamped : echo.sentAt;
    this.settle(echo, now - sentAt, undefined);
    return true;
  }
}
