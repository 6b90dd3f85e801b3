// The parts of raw-socket 1.8.1 that ZenSweep uses, including its native handle (`wrap`): see
// src/engine/icmp/raw-transport.ts for why the handle is used directly.
declare module 'raw-socket' {
  import type { EventEmitter } from 'node:events';

  export interface NativeSocket extends EventEmitter {
    send(buffer: Buffer, offset: number, length: number, address: string, done: (bytes: number) => void): void;
    recv(buffer: Buffer, done: (buffer: Buffer, bytes: number, source: string) => void): void;
    pause(recvPaused: boolean, sendPaused: boolean): void;
    close(): void;
    setOption(level: number, option: number, value: number | Buffer, length?: number): void;
  }

  export interface Socket extends EventEmitter {
    wrap: NativeSocket;
    recvPaused: boolean;
    sendPaused: boolean;
    close(): Socket;
    setOption(level: number, option: number, value: number | Buffer, length?: number): void;
  }

  export interface SocketOptions {
    addressFamily?: number;
    protocol?: number;
    bufferSize?: number;
  }

  const raw: {
    createSocket(options?: SocketOptions): Socket;
    AddressFamily: { IPv4: number; IPv6: number };
    Protocol: { None: number; ICMP: number; TCP: number; UDP: number; ICMPv6: number };
    SocketLevel: { SOL_SOCKET: number; IPPROTO_IP: number; IPPROTO_IPV6: number };
    SocketOption: { SO_RCVBUF: number; SO_SNDBUF: number };
  };
  export default raw;
}
