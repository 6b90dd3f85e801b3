import { diagnoseIcmpError, diagnoseLocalError } from '../../core/diagnosis.js';
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
  internetChecksum,
  newEchoPacket,
  writeEchoRequest,
} from './codec.js';
import type { EchoMark, IcmpMessage } from './codec.js';
import { RawIcmpTransport } from './raw-transport.js';
import { SendHelperClient } from './send-helper-client.js';
import { monotonicMs } from '../clock.js';
import { randomBits, randomBytes } from '../random.js';

interface PendingEcho {
  family: 4 | 6;
  address: string;
  sequence: number;
  probeNumber: number;
  timeoutMs: number;
  /** When it was sent (or handed to the send helper), in monotonic milliseconds (clock.ts). */
  sentAt: number;
  deadline: number;
  context: unknown;
  done: EchoDone<unknown>;
  settled: boolean;
}

/** Told of an ICMP error quoting a TCP SYN of ours: to address:port, from `sourcePort`. */
export type TcpErrorListener = (address: string, port: number, sourcePort: number, reporter: Reporter) => void;

/** Most echoes outstanding per family: the 16-bit sequence number must identify each of them. */
export const MAX_OUTSTANDING_ECHOES = 60_000;

/** How long an ICMP error about one of our TCP SYNs is kept for the TCP prober to claim, in milliseconds. */
const TCP_ERROR_TTL_MS = 30_000;
const TCP_ERROR_MAX = 16_384;
const POLL_EVERY_SENDS = 16;
/** Orders the send helper may have waiting before this process sends the next echo itself. */
const HELPER_QUEUE = 1024;

/**
 * ICMP echo over raw sockets, IPv4 and IPv6, with many requests in flight.
 *
 * Every socket gets a random identifier and an 8-byte random token; each request carries the token and a probe
 * number in its payload. A reply counts only if identifier, sequence, token, probe number and source address all
 * match the request — so another ping on the machine, or a second sweep in this process, cannot be mistaken for
 * ours, and a reply from an address we did not ask (a broadcast, a NAT) does not make the target alive.
 * ICMP errors quoting our request are matched on the quoted destination, identifier and sequence (and the mark
 * when the quote is long enough); the reporter is the error's source address.
 */
export class IcmpEchoProber implements EchoProber {
  private readonly identifier = randomBits(16);
  private readonly token = randomBytes(TOKEN_BYTES);
  private readonly packet = newEchoPacket();
  private readonly transports = new Map<4 | 6, RawIcmpTransport>();
  /** Outstanding echoes by sequence number, one table per family. */
  private readonly pending: Record<4 | 6, (PendingEcho | undefined)[]> = {
    4: new Array<PendingEcho | undefined>(0x10000).fill(undefined),
    6: new Array<PendingEcho | undefined>(0x10000).fill(undefined),
  };
  private readonly backlog = new Fifo<PendingEcho>();
  private readonly deadlines: DeadlineQueue<PendingEcho>;
  private readonly tcpErrors = new Map<string, { at: number; reporter: Reporter }>();
  private nextProbeNumber = randomBits(31);
  private closed = false;
  private sendsSincePoll = 0;
  private readonly helper: SendHelperClient<PendingEcho> | undefined;
  private readonly onTcpError: TcpErrorListener | undefined;

  /**
   * Opens the socket of each family now, so a missing privilege shows up before the sweep starts.
   *
   * @param options.sendHelper start a send helper process (send-helper.ts) and hand it the sending once it is
   *   ready: worth its ~70 ms start on sweeps of thousands of addresses, on a machine with more than one core.
   *   Until it is ready, and if it dies, echoes are sent from here.
   * @param options.sendHelperModule the helper's module (tests point it at a broken one).
   */
  constructor(
    families: Iterable<4 | 6>,
    options: {
      sendHelper?: boolean;
      sendHelperModule?: string;
      /** Told at once of every ICMP error quoting a TCP SYN (to end that connect attempt early). */
      onTcpError?: TcpErrorListener;
    } = {},
  ) {
    this.onTcpError = options.onTcpError;
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
    if (options.sendHelper) {
      this.helper = new SendHelperClient<PendingEcho>(
        this.identifier,
        this.token,
        {
          onSendError: (echo, errno) => this.settle(echo, -1, diagnoseLocalError(errno)),
          onLost: (echoes) => {
            for (const echo of echoes) if (!this.transmit(echo)) this.backlog.push(echo);
          },
        },
        options.sendHelperModule,
      );
    }
  }

  echo<C>(address: string, family: 4 | 6, timeoutMs: number, context: C, done: EchoDone<C>): void {
    const probeNumber = this.nextProbeNumber;
    this.nextProbeNumber = (this.nextProbeNumber + 1) >>> 0;
    let sequence = probeNumber & 0xffff;
    // The caller keeps fewer than MAX_OUTSTANDING_ECHOES in flight, so a free sequence number is close by.
    const table = this.pending[family];
    while (table[sequence] !== undefined) sequence = (sequence + 1) & 0xffff;
    const echo: PendingEcho = {
      family,
      address,
      sequence,
      probeNumber,
      timeoutMs,
      sentAt: 0,
      deadline: 0,
      context,
      done: done as EchoDone<unknown>,
      settled: false,
    };
    table[sequence] = echo;
    if (this.backlog.length > 0 || !this.transmit(echo)) this.backlog.push(echo);
    // On a fast path (loopback, a LAN) replies are queued within microseconds: read them every few sends so the
    // RTT measures the network, not the length of our send batch.
    if (++this.sendsSincePoll >= POLL_EVERY_SENDS) this.poll();
  }

  poll(): void {
    this.sendsSincePoll = 0;
    for (const transport of this.transports.values()) transport.drain();
  }

  /**
   * Returns (and forgets) an ICMP error seen for a TCP connection attempt to address:port. Reads the sockets
   * first unless `read` is false: the kernel queues the ICMP error to raw sockets before it fails the TCP socket,
   * but the event loop may report the TCP failure first.
   */
  takeTcpError(address: string, port: number, read = true): Reporter | undefined {
    if (read) this.poll();
    const key = `${address}|${port}`;
    const entry = this.tcpErrors.get(key);
    if (!entry) return undefined;
    this.tcpErrors.delete(key);
    return performance.now() - entry.at <= TCP_ERROR_TTL_MS ? entry.reporter : undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.helper?.close();
    this.deadlines.clear();
    this.backlog.clear();
    this.pending[4].fill(undefined);
    this.pending[6].fill(undefined);
    for (const transport of this.transports.values()) transport.close();
    this.transports.clear();
  }

  private transportFor(family: 4 | 6): RawIcmpTransport {
    let transport = this.transports.get(family);
    if (!transport) {
      transport = new RawIcmpTransport(
        family,
        (buffer, length, source) => this.receive(family, buffer, length, source),
        () => this.flushBacklog(),
      );
      this.transports.set(family, transport);
    }
    return transport;
  }

  /** Sends now, or hands it to the send helper; false when the socket is full and the echo must wait. */
  private transmit(echo: PendingEcho): boolean {
    if (this.closed) return true;
    echo.sentAt = monotonicMs();
    // Both processes send: the helper while its queue is short, this one when the helper falls behind.
    if (this.helper?.usable && this.helper.backlog < HELPER_QUEUE) {
      this.deadlines.add(echo, echo.timeoutMs);
      this.helper.order(echo);
      return true;
    }
    writeEchoRequest(this.packet, echo.family, this.identifier, echo.sequence, this.token, echo.probeNumber, echo.sentAt);
    let transport: RawIcmpTransport;
    try {
      transport = this.transportFor(echo.family);
    } catch {
      this.settle(echo, -1, diagnoseLocalError('EPERM'));
      return true;
    }
    const result = transport.send(this.packet, echo.address);
    if (result === 'again') return false;
    if (result === 'sent') {
      this.deadlines.add(echo, echo.timeoutMs);
    } else {
      this.settle(echo, -1, diagnoseLocalError(result.errno));
    }
    return true;
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

  private receive(family: 4 | 6, buffer: Buffer, length: number, source: string): void {
    if (this.receiveReply(family, buffer, length, source)) return;
    const packet = buffer.subarray(0, length);
    const message: IcmpMessage | undefined = family === 4 ? decodeIcmp4(packet) : decodeIcmp6(packet);
    if (!message) return;
    if (message.kind === 'echo-reply') return; // ours were taken by receiveReply
    const quoted = message.quoted;
    if (quoted.protocol === 'tcp') {
      const reporter = diagnoseIcmpError(family, message.type, message.code, source);
      this.rememberTcpError(`${quoted.destination}|${quoted.destinationPort}`, { at: performance.now(), reporter });
      this.onTcpError?.(quoted.destination, quoted.destinationPort, quoted.sourcePort, reporter);
      return;
    }
    if (quoted.identifier !== this.identifier) return;
    const echo = this.pending[family][quoted.sequence];
    if (!echo || echo.address !== quoted.destination || !this.ours(quoted.mark, echo)) return;
    this.settle(echo, -1, diagnoseIcmpError(family, message.type, message.code, source));
  }

  /**
   * The hot path: an echo reply of ours, matched in place without decoding into objects (a /16 sweep reads 65,536
   * replies). Returns false for anything else, which then goes through the full decoder.
   */
  private receiveReply(family: 4 | 6, buffer: Buffer, length: number, source: string): boolean {
    const start = family === 4 ? ((buffer[0] as number) & 0x0f) * 4 : 0;
    const expectedType = family === 4 ? ICMP4_ECHO_REPLY : ICMP6_ECHO_REPLY;
    if (length < start + 8 + SEND_TIME_OFFSET + 8 || buffer[start] !== expectedType) return false;
    if (family === 4 && (buffer[9] !== 1 || internetChecksum(buffer, start, length) !== 0)) return true;
    if (buffer.readUInt16BE(start + 4) !== this.identifier) return true;
    const echo = this.pending[family][buffer.readUInt16BE(start + 6)];
    if (
      echo === undefined ||
      echo.address !== source ||
      buffer.readUInt32BE(start + 8 + TOKEN_BYTES) !== echo.probeNumber ||
      this.token.compare(buffer, start + 8, start + 8 + TOKEN_BYTES) !== 0
    ) {
      return true;
    }
    // The send time the request carried (the send helper's, when it sent it), else our own record of it.
    const now = monotonicMs();
    const stamped = buffer.readDoubleBE(start + 8 + SEND_TIME_OFFSET);
    const sentAt = stamped >= echo.sentAt && stamped <= now ? stamped : echo.sentAt;
    this.settle(echo, now - sentAt, undefined);
    return true;
  }

  private rememberTcpError(key: string, entry: { at: number; reporter: Reporter }): void {
    if (this.tcpErrors.size >= TCP_ERROR_MAX) {
      const oldest = this.tcpErrors.keys().next();
      if (!oldest.done) this.tcpErrors.delete(oldest.value);
    }
    this.tcpErrors.set(key, entry);
  }
}
