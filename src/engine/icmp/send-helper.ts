/**
 * The send helper: a process that only sends echo requests, on orders from the echo prober through its stdin.
 *
 * On loopback and fast LANs each sendto() carries the kernel's whole round trip (the target's reply is built and
 * queued inside the call), which makes a large sweep bound by one core. Sending from this process puts that work
 * on another core while the main process reads the replies and keeps the books. This socket receives nothing
 * (its ICMP filter blocks every type), so no reply is read twice. Each request carries its send time in the
 * payload (as ping's do), so the main process times replies without hearing from this one first.
 */
import { monotonicMs } from '../clock.js';
import { TOKEN_BYTES, newEchoPacket, writeEchoRequest } from './codec.js';
import { RawIcmpTransport } from './raw-transport.js';
import { FRAME, FrameReader, REPLY_BYTES, errnoIndex, orderLength } from './send-frames.js';
import { Fifo } from '../queue.js';

interface Order {
  family: 4 | 6;
  sequence: number;
  probeNumber: number;
  address: string;
}

let identifier = 0;
let token = Buffer.alloc(TOKEN_BYTES);
const packet = newEchoPacket();
const transports = new Map<4 | 6, RawIcmpTransport>();
const waiting = new Fifo<Order>();
let handled = 0;
let reported = 0;
let inputEnded = false;
let retryTimer: NodeJS.Timeout | undefined;
/** Pause after ENOBUFS before the next try, in ms. */
const SHORT_PAUSE_MS = 20;

function reply(type: number, family: number, sequence: number, value: number, errno = 0): Buffer {
  const frame = Buffer.alloc(REPLY_BYTES);
  frame[0] = type;
  frame[1] = family;
  frame.writeUInt16BE(sequence, 2);
  frame.writeUInt32BE(value >>> 0, 4);
  frame[8] = errno;
  return frame;
}

function transportFor(family: 4 | 6): RawIcmpTransport {
  let transport = transports.get(family);
  if (!transport) {
    transport = new RawIcmpTransport(family, () => undefined, flush, false);
    transports.set(family, transport);
  }
  return transport;
}

/** Sends what waits; stops at a full socket buffer until it drains. */
function flush(): void {
  const out: Buffer[] = [];
  for (let order = waiting.peek(); order; order = waiting.peek()) {
    writeEchoRequest(packet, order.family, identifier, order.sequence, token, order.probeNumber, monotonicMs());
    const result = transportFor(order.family).send(packet, order.address);
    if (result === 'again') break;
    if (result === 'short') {
      retryTimer ??= setTimeout(() => {
        retryTimer = undefined;
        flush();
      }, SHORT_PAUSE_MS);
      break;
    }
    waiting.shift();
    handled += 1;
    if (result !== 'sent') out.push(reply(FRAME.sendError, order.family, order.sequence, order.probeNumber, errnoIndex(result.errno)));
  }
  if (handled !== reported) {
    reported = handled;
    out.push(reply(FRAME.handled, 0, 0, handled));
  }
  if (out.length > 0) process.stdout.write(Buffer.concat(out));
  if (inputEnded && waiting.length === 0) shutdown();
}

function shutdown(): void {
  for (const transport of transports.values()) transport.close();
  transports.clear();
}

const reader = new FrameReader(orderLength);
process.stdin.on('data', (chunk: Buffer) => {
  for (const { buffer, offset } of reader.frames(chunk)) {
    if (buffer[offset] === FRAME.init) {
      identifier = buffer.readUInt16BE(offset + 1);
      token = Buffer.from(buffer.subarray(offset + 3, offset + 3 + TOKEN_BYTES));
      try {
        transportFor(4);
        transportFor(6);
        process.stdout.write(reply(FRAME.ready, 0, 0, 0));
      } catch {
        process.stdout.write(reply(FRAME.fatal, 0, 0, 0, errnoIndex('EPERM')));
        process.exit(1);
      }
      continue;
    }
    const length = buffer[offset + 8] as number;
    waiting.push({
      family: buffer[offset + 1] === 6 ? 6 : 4,
      sequence: buffer.readUInt16BE(offset + 2),
      probeNumber: buffer.readUInt32BE(offset + 4),
      address: buffer.toString('latin1', offset + 9, offset + 9 + length),
    });
  }
  flush();
});
process.stdin.on('end', () => {
  inputEnded = true;
  flush();
});
// The main process is gone: nobody reads the replies any more.
process.stdout.on('error', () => process.exit(0));
