import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { NativeModule, NativeSocket } from 'raw-socket';
import { ZenSweepError } from '../../core/errors.js';

/**
 * One raw ICMP (or ICMPv6) socket, non-blocking, read and written in batches.
 *
 * raw-socket's public `send()`/`'message'` API moves one packet per turn of the libuv loop (it reacts to one
 * readable/writable poll event at a time), which caps a sweep at the loop's turn rate. Its native handle
 * (`SocketWrap`, pinned with raw-socket 1.8.1) offers plain synchronous `sendto`/`recvfrom` on the same
 * non-blocking descriptor, so we send a batch per turn and drain every queued reply per readable event.
 *
 * The handle is taken from raw-socket's native addon itself, not through its index.js: that file loads node:net
 * (for an isIP check in the send() we do not use), which costs ~7 ms before the first probe of every sweep. What
 * index.js does to the handle, giving it EventEmitter's methods, is done here.
 */

const require = createRequire(import.meta.url);
let nativeModule: NativeModule | undefined;

/** raw-socket's native addon, loaded once (the trace sockets in engine/trace/ use it too). */
export function native(): NativeModule {
  if (!nativeModule) {
    const loaded = require('raw-socket/build/Release/raw.node') as NativeModule;
    for (const key of Object.getOwnPropertyNames(EventEmitter.prototype)) {
      const descriptor = Object.getOwnPropertyDescriptor(EventEmitter.prototype, key);
      if (key !== 'constructor' && descriptor && !(key in loaded.SocketWrap.prototype)) {
        Object.defineProperty(loaded.SocketWrap.prototype, key, descriptor);
      }
    }
    nativeModule = loaded;
  }
  return nativeModule;
}

/** raw-socket's own codes for the address family (its AddressFamily; not the system's AF_INET values). */
export const FAMILY_CODE = { 4: 1, 6: 2 } as const;
const IPPROTO_ICMP = 1;
const SOL_SOCKET = 1;
const SO_SNDBUFFORCE = 32;
const SO_RCVBUFFORCE = 33;
const SOL_RAW = 255;
const ICMP_FILTER = 1;
const IPPROTO_ICMPV6 = 58;
const ICMP6_FILTER = 1;

/** Send buffer: 4 MiB, so sends do not stall behind ARP resolution (measured with net-ping, see DESIGN.md). */
export const SEND_BUFFER_BYTES = 4 * 1024 * 1024;
/** Receive buffer: room for thousands of queued replies between two reads. */
export const RECEIVE_BUFFER_BYTES = 16 * 1024 * 1024;

/** raw-socket throws `Error(strerror(errno))`; map glibc's texts back to errno names. */
const STRERROR_TO_ERRNO: Record<string, string> = {
  'resource temporarily unavailable': 'EAGAIN',
  'no buffer space available': 'ENOBUFS',
  'network is unreachable': 'ENETUNREACH',
  'no route to host': 'EHOSTUNREACH',
  'operation not permitted': 'EPERM',
  'permission denied': 'EACCES',
  'invalid argument': 'EINVAL',
  'cannot assign requested address': 'EADDRNOTAVAIL',
  'message too long': 'EMSGSIZE',
  'address family not supported by protocol': 'EAFNOSUPPORT',
};

export function errnoOf(error: unknown): string {
  const message = error instanceof Error ? error.message.toLowerCase() : String(error).toLowerCase();
  return STRERROR_TO_ERRNO[message] ?? 'EUNKNOWN';
}

/** ICMP cannot be used: the process lacks root or CAP_NET_RAW. */
export class IcmpUnavailableError extends ZenSweepError {
  constructor(family: 4 | 6, cause: unknown) {
    super(
      'icmp_unavailable',
      `ICMP${family === 6 ? 'v6' : ''} echo needs root or CAP_NET_RAW (docker: cap_add: [NET_RAW]); ` +
        `running the TCP probes only (${errnoOf(cause)})`,
      { cause },
    );
  }
}

/**
 * `again`: the socket buffer is full, retry once it is writable. `short`: the kernel is short of buffers
 * elsewhere (ENOBUFS: a full neighbour table, a full device queue): the socket stays writable, so retry after a
 * pause, and send less.
 */
export type SendResult = 'sent' | 'again' | 'short' | { errno: string };

export class RawIcmpTransport {
  readonly family: 4 | 6;
  private readonly handle: NativeSocket;
  private readonly receiveBuffer = Buffer.alloc(65_536);
  private readonly received = { length: 0, source: '' };
  private watchingWritable = false;
  private draining = false;
  private closed = false;

  /**
   * @param onPacket called for every packet read: its first `length` bytes, and its source address. The buffer is
   *   reused after the call (no copy and no view is made per packet: a /16 sweep reads 65,536 of them).
   * @param onWritable called when a send that returned `again` may be retried.
   */
  constructor(
    family: 4 | 6,
    private readonly onPacket: (buffer: Buffer, length: number, source: string) => void,
    private readonly onWritable: () => void,
    /** False for a socket that only sends (a send helper's): the kernel then queues nothing to it. */
    private readonly receives = true,
  ) {
    this.family = family;
    const raw = native();
    try {
      this.handle = new raw.SocketWrap(family === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6, FAMILY_CODE[family]);
    } catch (error) {
      throw new IcmpUnavailableError(family, error);
    }
    this.handle.on('recvReady', () => this.drain());
    this.handle.on('sendReady', () => {
      this.watchWritable(false);
      this.onWritable();
    });
    // A poll error on the descriptor (libuv's status): the socket is of no more use, as raw-socket's own wrapper
    // decides too. Echoes still outstanding then end at their deadline, as silent.
    this.handle.on('error', () => this.close());
    this.setBuffer(SO_SNDBUFFORCE, raw.SocketOption.SO_SNDBUF, SEND_BUFFER_BYTES);
    this.setBuffer(SO_RCVBUFFORCE, raw.SocketOption.SO_RCVBUF, RECEIVE_BUFFER_BYTES);
    this.installFilter();
  }

  /** Sends one packet now. `again` means the socket buffer is full: wait for onWritable; `short`: see SendResult. */
  send(packet: Buffer, address: string): SendResult {
    try {
      this.handle.send(packet, 0, packet.length, address, noop);
      return 'sent';
    } catch (error) {
      const errno = errnoOf(error);
      if (errno === 'EAGAIN') {
        this.watchWritable(true);
        return 'again';
      }
      if (errno === 'ENOBUFS') return 'short';
      return { errno };
    }
  }

  /**
   * Reads every packet already queued on the socket (also called before judging a TCP failure). Not re-entrant:
   * `onPacket` may lead back here (an ICMP error ends a connect, whose outcome reads the socket again); the call
   * in progress reads the rest, so a burst of errors is a loop, not a recursion as deep as the burst. What
   * `onPacket` throws is not taken for the end of the queue: it reaches the caller.
   */
  drain(): void {
    if (this.closed || this.draining) return;
    this.draining = true;
    try {
      // Bounded so one flood cannot starve timers and TCP callbacks.
      for (let i = 0; i < 20_000 && !this.closed && this.receiveOne(); i++) {
        this.onPacket(this.receiveBuffer, this.received.length, this.received.source);
      }
    } finally {
      this.draining = false;
    }
  }

  /** Reads one packet into the receive buffer; false when none is queued. */
  private receiveOne(): boolean {
    // The native recv throws on EAGAIN (every drain ends that way): without a stack trace the throw is cheap.
    const stackLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      this.handle.recv(this.receiveBuffer, this.deliver);
      return true;
    } catch {
      return false; // EAGAIN: nothing more queued
    } finally {
      Error.stackTraceLimit = stackLimit;
    }
  }

  /** Only notes what was read: the packet is handled outside the native call, where a throw means a throw. */
  private readonly deliver = (_buffer: Buffer, bytes: number, source: string): void => {
    this.received.length = bytes;
    this.received.source = source;
  };

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handle.close();
  }

  private watchWritable(on: boolean): void {
    if (this.closed || this.watchingWritable === on) return;
    this.watchingWritable = on;
    this.handle.pause(false, !on);
  }

  private setBuffer(forceOption: number, plainOption: number, bytes: number): void {
    try {
      this.handle.setOption(SOL_SOCKET, forceOption, bytes);
    } catch {
      // Without CAP_NET_ADMIN the kernel caps the size at net.core.[rw]mem_max; take what it gives.
      try {
        this.handle.setOption(SOL_SOCKET, plainOption, bytes);
      } catch {
        /* keep the default */
      }
    }
  }

  /**
   * Lets through only echo replies and the errors a sweep reads. A raw socket otherwise also receives every echo
   * request on loopback (our own, looping back), which would double the work of a loopback sweep.
   */
  private installFilter(): void {
    installIcmpFilter(this.handle, this.family, this.receives);
  }
}

/**
 * Lets through only echo replies and the ICMP errors (unreachable, time exceeded, parameter problem; v6 also packet
 * too big), or nothing at all when `receives` is false.
 */
export function installIcmpFilter(handle: NativeSocket, family: 4 | 6, receives = true): void {
  try {
    if (family === 4) {
      const pass = receives ? (1 << 0) | (1 << 3) | (1 << 11) | (1 << 12) : 0;
      handle.setOption(SOL_RAW, ICMP_FILTER, ~pass >>> 0);
    } else {
      const filter = Buffer.alloc(32, 0xff); // a set bit blocks that type
      for (const type of receives ? [1, 2, 3, 4, 129] : []) {
        const word = type >> 5;
        filter.writeUInt32LE((filter.readUInt32LE(word * 4) & ~(1 << (type & 31))) >>> 0, word * 4);
      }
      handle.setOption(IPPROTO_ICMPV6, ICMP6_FILTER, filter, filter.length);
    }
  } catch {
    /* without the filter the decoder still ignores what it does not want */
  }
}

function noop(): void {}
