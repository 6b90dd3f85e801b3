import type { ChildProcess } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childProcessModule } from '../builtins.js';
import { Fifo } from '../queue.js';
import { FRAME, FrameReader, INIT_BYTES, ORDER_HEADER_BYTES, REPLY_BYTES, SEND_ERRNOS } from './send-frames.js';

/** What the helper is asked to send. */
export interface SendOrder {
  family: 4 | 6;
  sequence: number;
  probeNumber: number;
  address: string;
  settled: boolean;
}

export interface SendHelperEvents<T extends SendOrder> {
  /** The helper's send failed locally (no route, a local firewall). */
  onSendError(order: T, errno: string): void;
  /** The helper died: these orders were never confirmed as sent and must be sent some other way. */
  onLost(orders: T[]): void;
}

/** The helper's module: .js beside this file, or .ts when the sources run under tsx (tests). */
export function defaultSendHelperModule(): string {
  const here = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`./send-helper${extname(here)}`, import.meta.url));
}

/**
 * The echo prober's end of the send helper (see send-helper.ts): starts it, passes orders in batches (one pipe
 * write per turn of the event loop), and keeps every order until the helper confirms it, so that nothing is lost
 * if the helper dies: the unconfirmed orders go back to the prober.
 */
export class SendHelperClient<T extends SendOrder> {
  ready = false;
  private alive = true;
  private closing = false;
  private readonly child: ChildProcess;
  private readonly unconfirmed = new Fifo<T>();
  private confirmed = 0;
  private queued: Buffer[] = [];
  private flushScheduled = false;

  constructor(
    identifier: number,
    token: Buffer,
    private readonly events: SendHelperEvents<T>,
    module = defaultSendHelperModule(),
  ) {
    // The helper holds almost nothing: small heap limits keep its footprint near a bare Node process's.
    const heap = ['--max-semi-space-size=1', '--max-old-space-size=64'];
    this.child = childProcessModule().spawn(process.execPath, [...process.execArgv, ...heap, module], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const init = Buffer.alloc(INIT_BYTES);
    init[0] = FRAME.init;
    init.writeUInt16BE(identifier, 1);
    token.copy(init, 3);
    this.child.stdin?.on('error', () => undefined);
    this.child.stdin?.write(init);
    const reader = new FrameReader((buffer, offset) => (buffer.length - offset >= REPLY_BYTES ? REPLY_BYTES : undefined));
    this.child.stdout?.on('data', (chunk: Buffer) => {
      for (const { buffer, offset } of reader.frames(chunk)) this.onFrame(buffer, offset);
    });
    this.child.on('error', () => this.die());
    this.child.on('exit', () => this.die());
  }

  get usable(): boolean {
    return this.ready && this.alive && !this.closing;
  }

  /** Orders given and not yet confirmed as sent: the helper's queue. */
  get backlog(): number {
    return this.unconfirmed.length;
  }

  order(order: T): void {
    const address = Buffer.from(order.address, 'latin1');
    const frame = Buffer.allocUnsafe(ORDER_HEADER_BYTES + address.length);
    frame[0] = FRAME.order;
    frame[1] = order.family;
    frame.writeUInt16BE(order.sequence, 2);
    frame.writeUInt32BE(order.probeNumber >>> 0, 4);
    frame[8] = address.length;
    address.copy(frame, ORDER_HEADER_BYTES);
    this.queued.push(frame);
    this.unconfirmed.push(order);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // After the current batch of sends: one pipe write carries them all.
      queueMicrotask(() => this.flush());
    }
  }

  close(): void {
    this.closing = true;
    this.queued = [];
    this.child.stdin?.end();
    this.child.kill('SIGTERM');
    this.unconfirmed.clear();
  }

  private flush(): void {
    this.flushScheduled = false;
    if (!this.alive || this.queued.length === 0) return;
    this.child.stdin?.write(Buffer.concat(this.queued));
    this.queued = [];
  }

  private onFrame(buffer: Buffer, offset: number): void {
    switch (buffer[offset]) {
      case FRAME.ready:
        this.ready = true;
        break;
      case FRAME.handled: {
        const handled = buffer.readUInt32BE(offset + 4);
        for (; this.confirmed < handled; this.confirmed++) this.unconfirmed.shift();
        break;
      }
      case FRAME.sendError: {
        const probeNumber = buffer.readUInt32BE(offset + 4);
        const errno = SEND_ERRNOS[buffer[offset + 8] ?? 0] ?? 'EUNKNOWN';
        this.findAndReport(probeNumber, errno);
        break;
      }
      case FRAME.fatal:
        this.die();
        break;
    }
  }

  private findAndReport(probeNumber: number, errno: string): void {
    // The error frame comes before the HANDLED frame that confirms its order, so the order is still held.
    for (const order of this.unconfirmed.values()) {
      if (order.probeNumber === probeNumber) {
        if (!order.settled) this.events.onSendError(order, errno);
        return;
      }
    }
  }

  private die(): void {
    if (!this.alive) return;
    this.alive = false;
    this.ready = false;
    if (this.closing) return;
    const lost: T[] = [];
    for (let order = this.unconfirmed.shift(); order; order = this.unconfirmed.shift()) {
      if (!order.settled) lost.push(order);
    }
    this.events.onLost(lost);
  }
}
