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
  export function addressText(meta: Buffer, index: number, family: 4 | 6): string;
  export const SLOT_BYTES: number;
  export const META_BYTES: number;
  export const MAX_BATCH: number;
}
