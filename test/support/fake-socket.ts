import { EventEmitter } from 'node:events';
import type net from 'node:net';
import type { ProbeSocket, QuotedFlow } from '../../src/engine/tcp.js';

/** Counts every step, so a test can say what happened before what. */
let steps = 0;
export const nextStep = (): number => ++steps;

/**
 * A socket that does nothing by itself and sends nothing: the test emits its events, in the order it wants. It has
 * a source address and port of its own, as a real one has once its SYN is sent.
 */
export class FakeSocket extends EventEmitter implements ProbeSocket {
  /** The step at which it was first destroyed, 0 while it is not. */
  destroyedAt = 0;
  reset = false;
  constructor(
    readonly host: string,
    readonly port: number,
    public localPort: number | undefined,
    public localAddress: string | undefined = '127.0.0.1',
  ) {
    super();
  }
  /** The flow an ICMP error quoting its SYN names (NodeTcpProber.failFromIcmp). */
  get flow(): QuotedFlow {
    return { source: this.localAddress ?? '', sourcePort: this.localPort ?? 0, destination: this.host, destinationPort: this.port };
  }
  destroy(): this {
    if (!this.destroyedAt) this.destroyedAt = nextStep();
    return this;
  }
  resetAndDestroy(): this {
    this.reset = true;
    return this.destroy();
  }
  refuse(): void {
    this.emit('error', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
  }
  unreachable(): void {
    this.emit('error', Object.assign(new Error('connect EHOSTUNREACH'), { code: 'EHOSTUNREACH' }));
  }
}

/** A socket factory for NodeTcpProber that keeps every socket it makes. */
export class FakeSockets {
  readonly opened: FakeSocket[] = [];
  private nextPort = 40_000;
  /** @param localAddress the source address of every socket it makes. */
  constructor(private readonly localAddress = '127.0.0.1') {}
  readonly open = (options: net.TcpNetConnectOpts): FakeSocket => {
    const socket = new FakeSocket(options.host ?? '', options.port, this.nextPort++, this.localAddress);
    this.opened.push(socket);
    return socket;
  };
  get last(): FakeSocket {
    const socket = this.opened.at(-1);
    if (!socket) throw new Error('no socket was opened');
    return socket;
  }
}

/** Keeps the event loop busy: timers fall due meanwhile, but nothing runs until the loop gets a turn. */
export function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}
