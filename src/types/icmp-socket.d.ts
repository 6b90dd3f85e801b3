// ZenSweep's own addon (native/icmp-socket, built by npm ci): see src/engine/icmp/icmp-socket.ts.
declare module '@zensweep/icmp-socket' {
  export class IcmpSocket {
    /** identifier -1: no identifier filter. onEvent gets a bit set: 1 readable, 2 writable, 4 sender events; 0 a poll error. */
    constructor(family: 4 | 6, identifier: number, receives: boolean, onEvent: (kind: number) => void);
    watch(readable: boolean, writable: boolean): void;
    /** 0, or the errno of the failed send. */
    send(packet: Buffer, address: string): number;
    /** Packets read (0 when none is queued) or -errno; see SLOT_BYTES and META_BYTES for where they are. */
    receive(buffer: Buffer, meta: Buffer): number;
    startSender(token: Buffer): boolean;
    /** Orders not yet sent, this one included; -1 when refused (no thread, a bad address, `limit` waiting). */
    order(sequence: number, probeNumber: number, address: string, limit: number): number;
    /** [sequence, probeNumber, errno, …]: failed sends since the last call; errno 0: given back untried. */
    takeSenderEvents(): number[];
    close(): void;
  }
  /** Throws a RangeError when `index` is not a packet's of `meta`. */
  export function addressText(meta: Buffer, index: number, family: 4 | 6): string;
  /**
   * What every socket of the process still holds, and how many sockets an environment's teardown closed (a worker
   * terminated with sockets open): for tests, nothing outlives its socket.
   */
  export function stats(): { sockets: number; rings: number; threads: number; callbacks: number; teardowns: number };
  /**
   * For tests: the next time the process reaches this step of a socket's construction (or of its sender's start),
   * it fails as the system could make it fail, once.
   */
  export function injectFault(
    step: 'mutex' | 'cond' | 'reference' | 'poll_init' | 'async_init' | 'cleanup_hook' | 'wrap' | 'ring' | 'thread',
  ): void;
  export const SLOT_BYTES: number;
  export const META_BYTES: number;
  export const MAX_BATCH: number;
}
