/**
 * A burst of echo requests through the ICMP socket's sender thread, for test/engine/icmp-sender.test.ts, which runs it
 * inside a network namespace of its own (raw as root, ping as nobody):
 *
 *   node --import tsx test/support/echo-burst.ts < plan.json
 *
 * The plan (BurstPlan, on stdin): one order per address, all handed over at once (order i has sequence i), then, once
 * each has come to something, one more to `sentinel`: the thread sends in order and loopback answers inside the send,
 * so when its reply is read every reply there will be is read. Prints one line of JSON (BurstResult).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Addon from '@zensweep/icmp-socket';
import {
  ICMP4_ECHO_REPLY,
  ICMP6_ECHO_REPLY,
  SEND_TIME_OFFSET,
  TOKEN_BYTES,
  decodeIcmp4,
  decodeIcmp6,
  decodeQuotedEchoRequest,
  internetChecksum,
} from '../../src/engine/icmp/codec.js';
import type { EchoMark } from '../../src/engine/icmp/codec.js';
import { IcmpEchoSocket } from '../../src/engine/icmp/icmp-socket.js';
import { until } from './wait.js';

export interface BurstPlan {
  family: 4 | 6;
  mode: 'raw' | 'ping';
  addresses: string[];
  /** An address that answers, ordered last. */
  sentinel: string;
  /** A fault of the sender thread's sends, injected before the burst. */
  fault?: 'send_again' | 'send_shortage';
}

export interface BurstResult {
  uid: number | undefined;
  /**
   * What came of each order, the sentinel last: `reply`, `icmp <type>/<code> from <offender>`, `send error <errno>`,
   * `short tried` or `short untried` (handed back), `refused` (order() said no); several joined by ' + ', '' none.
   */
  outcomes: string[];
  /** Replies and errors of ours that matched no order (another sequence, probe number or address). */
  strangers: string[];
  /** Orders whose reply carried a send time before the order was handed over or after the reply was read. */
  badStamps: string[];
  /** What injectFault('none') said at the end: the fault still waiting, 'none' once the thread took it. */
  faultLeft: string;
  /** False when an order or the sentinel came to nothing within a minute. */
  finished: boolean;
}

/**
 * CLOCK_MONOTONIC in milliseconds, read as the addon reads it. (clock.ts's monotonicMs is the same clock through a
 * fixed offset, measured once as the process starts, which can be some tenths of a millisecond off: too coarse to
 * tell a stamp on loopback from the moment of its send.)
 */
const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

const plan = JSON.parse(readFileSync(0, 'utf8')) as BurstPlan;
const addon = createRequire(import.meta.url)('@zensweep/icmp-socket') as typeof Addon;
const { family, mode } = plan;
const addresses = [...plan.addresses, plan.sentinel];
const identifier = randomBytes(2).readUInt16BE();
const token = randomBytes(TOKEN_BYTES);
const firstProbe = randomBytes(4).readUInt32BE() & 0x7fffffff;
const outcomes: string[][] = addresses.map(() => []);
const orderedAt: number[] = addresses.map(() => Number.NaN);
const strangers: string[] = [];
const badStamps: string[] = [];

/** The order a sequence and mark name, when both are ours and the address is the order's; else undefined. */
function orderOf(sequence: number, mark: EchoMark | undefined, address: string): number | undefined {
  if (sequence >= addresses.length || !mark?.token.equals(token) || mark.probeNumber !== firstProbe + sequence) return undefined;
  return addresses[sequence] === address ? sequence : undefined;
}

function noteReply(sequence: number, mark: EchoMark | undefined, source: string, sentAt: number): void {
  const order = orderOf(sequence, mark, source);
  if (order === undefined) {
    strangers.push(`reply ${sequence} from ${source}`);
    return;
  }
  (outcomes[order] as string[]).push('reply');
  const now = monotonicMs();
  if (!(sentAt >= (orderedAt[order] as number) && sentAt <= now)) badStamps.push(`${order}: ordered ${orderedAt[order]}, stamped ${sentAt}, read ${now}`);
}

function noteError(type: number, code: number, offender: string, sequence: number, mark: EchoMark | undefined, destination: string): void {
  const order = orderOf(sequence, mark, destination);
  if (order === undefined) strangers.push(`icmp ${type}/${code} quoting ${sequence} to ${destination}`);
  else (outcomes[order] as string[]).push(`icmp ${type}/${code} from ${offender}`);
}

function onPacket(buffer: Buffer, offset: number, length: number, index: number): void {
  const end = offset + length;
  if (mode === 'ping') {
    const error = socket.errorOf(index);
    if (error) {
      const quoted = decodeQuotedEchoRequest(family, buffer, offset, end);
      if (quoted) noteError(error.type, error.code, error.offender, quoted.sequence, quoted.mark, error.destination);
      else strangers.push(`error queue: ${error.origin} ${error.errno}, not an echo request`);
      return;
    }
    // A reply without its IP header, with the kernel's identifier; IPv4's checksum is the kernel's to check on
    // the way in, and is checked here once more.
    if (buffer[offset] !== (family === 4 ? ICMP4_ECHO_REPLY : ICMP6_ECHO_REPLY) || length < 8 + SEND_TIME_OFFSET + 8) return;
    if (family === 4 && internetChecksum(buffer, offset, end) !== 0) {
      strangers.push('a reply with a bad checksum');
      return;
    }
    const mark = { token: buffer.subarray(offset + 8, offset + 8 + TOKEN_BYTES), probeNumber: buffer.readUInt32BE(offset + 8 + TOKEN_BYTES) };
    noteReply(buffer.readUInt16BE(offset + 6), mark, socket.sourceText(index), buffer.readDoubleBE(offset + 8 + SEND_TIME_OFFSET));
    return;
  }
  const packet = buffer.subarray(offset, end);
  const message = family === 4 ? decodeIcmp4(packet) : decodeIcmp6(packet);
  if (!message) return;
  if (message.kind === 'echo-reply') {
    if (message.identifier !== identifier) return;
    const start = family === 4 ? ((packet[0] as number) & 0x0f) * 4 : 0;
    noteReply(message.sequence, message.mark, socket.sourceText(index), packet.readDoubleBE(start + 8 + SEND_TIME_OFFSET));
  } else if (message.quoted.protocol === 'icmp' && message.quoted.identifier === identifier) {
    const { sequence, mark, destination } = message.quoted;
    noteError(message.type, message.code, socket.sourceText(index), sequence, mark, destination);
  }
}

const socket = new IcmpEchoSocket(family, identifier, onPacket, () => undefined, true, mode);
const started = socket.startSender(token, {
  onSendError: (sequence, probeNumber, errno) => outcomes[sequence]?.push(probeNumber === firstProbe + sequence ? `send error ${errno}` : 'stranger'),
  onShort: (sequence, probeNumber, tried) =>
    outcomes[sequence]?.push(probeNumber === firstProbe + sequence ? `short ${tried ? 'tried' : 'untried'}` : 'stranger'),
});
if (!started) throw new Error('the sender thread did not start');
if (plan.fault) addon.injectFault(plan.fault);

function order(sequence: number): void {
  orderedAt[sequence] = monotonicMs();
  if (!socket.order(sequence, firstProbe + sequence, addresses[sequence] as string, 1 << 20)) outcomes[sequence]?.push('refused');
}

const last = addresses.length - 1;
const accounted = (from: number, to: number): boolean => outcomes.slice(from, to).every((o) => o.length > 0);
for (let sequence = 0; sequence < last; sequence++) order(sequence);
// Replies come on readable events; the waits only look at what they left. A wait that runs out ends the burst, and
// the test shows what did not come.
let finished = false;
try {
  await until('every order to come to something', () => accounted(0, last), { everyMs: 5 });
  order(last);
  await until('the sentinel\'s reply', () => accounted(last, last + 1), { everyMs: 5 });
  finished = true;
} catch {
  finished = false;
}
socket.drain();
const result: BurstResult = {
  uid: process.getuid?.(),
  outcomes: outcomes.map((o) => o.join(' + ')),
  strangers,
  badStamps,
  faultLeft: addon.injectFault('none'),
  finished,
};
socket.close();
process.stdout.write(`${JSON.stringify(result)}\n`);
