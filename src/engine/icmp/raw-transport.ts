import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';
import type { NativeModule, NativeSocket } from 'raw-socket';
import { ZenSweepError } from '../../core/errors.js';
import type { IcmpMode } from '../../core/report.js';

/**
 * raw-socket's native handle, for the trace sockets (engine/trace/raw-socket.ts), and what every raw ICMP socket
 * shares: the error when ICMP cannot be used, errno names from raw-socket's messages, the kernel's ICMP type filter.
 * The echo prober's sockets are ZenSweep's own (icmp-socket.ts).
 *
 * raw-socket's public `send()`/`'message'` API moves one packet per turn of the libuv loop (it reacts to one
 * readable/writable poll event at a time). Its native handle (`SocketWrap`, pinned with raw-socket 1.8.1) offers
 * plain synchronous `sendto`/`recvfrom` on the same non-blocking descriptor.
 *
 * The handle is taken from raw-socket's native addon itself, not through its index.js: that file loads node:net
 * (for an isIP check in the send() we do not use), which costs ~7 ms. What index.js does to the handle, giving it
 * EventEmitter's methods, is done here.
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
const SOL_RAW = 255;
const ICMP_FILTER = 1;
const IPPROTO_ICMPV6 = 58;
const ICMP6_FILTER = 1;

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

/** What ZENSWEEP_ICMP asks for: `auto` is raw where permitted, else ping where permitted, else off. */
export type IcmpSetting = IcmpMode | 'auto';

/** The errno name of what the addon (an Error with a numeric `errno`) or raw-socket (strerror's text) threw. */
export function errnoOfSocketError(error: unknown): string {
  if (error instanceof Error && 'errno' in error && typeof error.errno === 'number') {
    return errnoNameOf(error.errno) ?? errnoOf(error);
  }
  return errnoOf(error);
}

let errnoNames: Map<number, string> | undefined;

function errnoNameOf(errno: number): string | undefined {
  errnoNames ??= new Map(Object.entries(osConstants.errno).map(([name, value]) => [value, name]));
  return errnoNames.get(errno);
}

/**
 * An ICMP socket of this mode cannot be opened: a raw one without root or CAP_NET_RAW (EPERM), a ping one when
 * net.ipv4.ping_group_range does not cover the process's group (EACCES). `errno` says which.
 */
export class IcmpUnavailableError extends ZenSweepError {
  readonly errno: string;
  readonly mode: 'raw' | 'ping';
  constructor(family: 4 | 6, cause: unknown, mode: 'raw' | 'ping' = 'raw') {
    const errno = errnoOfSocketError(cause);
    const what = mode === 'raw' ? 'a raw socket needs root or CAP_NET_RAW' : 'a ping socket needs net.ipv4.ping_group_range to cover the process\'s group';
    super('icmp_unavailable', `ICMP${family === 6 ? 'v6' : ''} echo: ${what} (${errno})`, { cause });
    this.errno = errno;
    this.mode = mode;
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

