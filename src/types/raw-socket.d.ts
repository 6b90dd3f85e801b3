// The parts of raw-socket 1.8.1 that ZenSweep uses: its native addon (build/Release/raw.node) and the socket handle
// it makes. See src/engine/icmp/raw-transport.ts for why the handle is used directly.
declare module 'raw-socket' {
  import type { EventEmitter } from 'node:events';

  /** A SocketWrap, once given EventEmitter's methods. */
  export interface NativeSocket extends EventEmitter {
    send(buffer: Buffer, offset: number, length: number, address: string, done: (bytes: number) => void): void;
    recv(buffer: Buffer, done: (buffer: Buffer, bytes: number, source: string) => void): void;
    pause(recvPaused: boolean, sendPaused: boolean): void;
    close(): void;
    setOption(level: number, option: number, value: number | Buffer, length?: number): void;
  }

  export interface NativeModule {
    SocketWrap: { new (protocol: number, addressFamily: number): NativeSocket; prototype: object };
    SocketLevel: { SOL_SOCKET: number; IPPROTO_IP: number; IPPROTO_IPV6: number };
    SocketOption: { SO_RCVBUF: number; SO_SNDBUF: number };
  }
}
