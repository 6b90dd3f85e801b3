// ZenSweep's own addon (native/icmp-socket, built by npm ci): see src/engine/icmp/icmp-socket.ts.
declare module '@zensweep/icmp-socket' {
  export class IcmpSocket {
    /**
     * identifier -1: no identifier filter (a ping socket has the kernel's). onEvent gets a bit set: 1 readable, 2
     * writable, 4 sender events; 0 a poll error. mode 'raw' (default) or 'ping' (SOCK_DGRAM: no privilege where
     * net.ipv4.ping_group_range covers the process). Throws an Error with `errno`: EPERM (raw) or EACCES (ping).
     */
    constructor(family: 4 | 6, identifier: number, receives: boolean, onEvent: (kind: number) => void, mode?: 'raw' | 'ping');
    watch(readable: boolean, writable: boolean): void;
    /** 0, or the errno of the failed send. */
    send(packet: Buffer, address: string): number;
    /**
     * Packets read (0 when none is queued) or -errno; see SLOT_BYTES and META_BYTES for where they are. Meta of
     * packet i at i × META_BYTES: length (u32 LE) at 0, source (or an error's offender) at 4; a ping socket's error
     * queue records: kind at 20 (0 packet, 1 ICMP error, 2 local error), type 21, code 22, origin 23, errno (u32 LE)
     * 24, info (u32 LE) 28, the quoted request's destination at 32.
     */
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
   * it fails as the system could make it fail, once. `send_again` and `send_shortage` take the sender thread's next
   * batch of at least 3: its first 2 packets are sent, then the third meets a full socket buffer (EAGAIN, once) or a
   * kernel short of buffers (ENOBUFS, each time it is tried). Returns the fault that was waiting until then: 'none'
   * once it was taken (inject 'none' to ask).
   */
  export function injectFault(
    step:
      | 'none'
      | 'mutex'
      | 'cond'
      | 'reference'
      | 'poll_init'
      | 'async_init'
      | 'cleanup_hook'
      | 'wrap'
      | 'ring'
      | 'thread'
      | 'netlink'
      | 'netlink_send'
      | 'netlink_receive'
      | 'neighbour_list'
      | 'send_again'
      | 'send_shortage',
  ): string;
  /**
   * The neighbour table of this process's network namespace, in one netlink RTM_GETNEIGH dump: family 4 (ARP), 6
   * (neighbour discovery) or 0 (both). NEIGHBOUR_BYTES per entry: family (4 or 6) at 0, the link-layer address's
   * length at 1, ndm_state (NUD_*, u16 LE) at 2, the interface index (u32 LE) at 4, the address at 8, the link-layer
   * address at 24. Throws an Error with `errno` when the kernel cannot be read.
   */
  export function neighbours(family: 0 | 4 | 6): Buffer;
  export const NEIGHBOUR_BYTES: number;
  export const SLOT_BYTES: number;
  export const META_BYTES: number;
  export const MAX_BATCH: number;
  /**
   * TCP connection attempts with IP_RECVERR (tcp_connect.c): the ICMP error about an attempt's SYN comes from the
   * socket's own error queue, with who sent it, with no privilege. See src/engine/tcp-errqueue.ts.
   */
  export class TcpConnector {
    /**
     * onOutcome(slot, errno, icmpType, icmpCode, sender): errno 0 connected, ECONNREFUSED an RST, another a failure;
     * icmpType ≥ 0 with `sender` when an ICMP error about the SYN came (its type, code and source address). The
     * socket is closed before it is called.
     */
    constructor(onOutcome: (slot: number, errno: number, icmpType: number, icmpCode: number, sender: string | undefined) => void);
    /** The attempt's slot (≥ 0), or -errno when it failed at once. ttl 0: the system's default, else 1 to 255. */
    connect(family: 4 | 6, address: string, port: number, ttl: number): number;
    /** Closes that attempt's socket; no outcome comes for it. False when it was not in flight. */
    cancel(slot: number): boolean;
    /** Attempts started and not ended. */
    inFlight(): number;
    close(): void;
  }
  /** What every connector of the process still holds, and how many an environment's teardown closed (for tests). */
  export function tcpConnectStats(): { connectors: number; attempts: number; teardowns: number };
  /** For tests: the next time the process reaches this step of a connector's or an attempt's making, it fails, once. */
  export function injectTcpFault(
    step: 'socket' | 'table' | 'attempt' | 'poll_init' | 'poll_start' | 'reference' | 'cleanup_hook' | 'wrap',
  ): void;
  /** One datagram or error read from a ProbeSocket (probe_socket.c); its first `bytes` bytes are in the buffer given. */
  export type ProbeRecord =
    | { kind: 'data'; bytes: number; address: string; port: number }
    | {
        kind: 'icmp' | 'local';
        bytes: number;
        /** Where the datagram the error is about went. */
        address: string;
        port: number;
        type: number;
        code: number;
        errno: number;
        /** ee_info: the MTU of "fragmentation needed" / "packet too big" (and of a local EMSGSIZE). */
        info: number;
        /** Who sent the ICMP error ("" when the kernel did not say). */
        offender: string;
      };
  /**
   * A ping socket ('icmp') or a UDP socket with IP_RECVERR, for trace and path MTU without privilege (probe_socket.c).
   * Throws an Error with `errno` when it cannot be opened (a ping socket: EACCES outside net.ipv4.ping_group_range).
   */
  export class ProbeSocket {
    constructor(family: 4 | 6, protocol: 'icmp' | 'udp', onReadable: () => void);
    /** 0, or the errno of the failed send. hops 0: the system's default, else 1 to 255; port 0 for a ping socket. */
    send(packet: Buffer, address: string, port: number, hops: number): number;
    /** The next datagram or error queued (errors first), or undefined. */
    read(buffer: Buffer): ProbeRecord | undefined;
    /** The local port bound (a ping socket's: its echo identifier), or -errno. port 0: the kernel's pick. */
    bind(port: number): number;
    /** Don't Fragment at any size up to the interface MTU (PMTUDISC_PROBE): 0, or the errno. */
    dontFragment(): number;
    close(): void;
  }
  /** Probe sockets not yet freed, and those an environment's teardown closed, process-wide (for tests). */
  export function probeSocketStats(): { sockets: number; teardowns: number };
}
