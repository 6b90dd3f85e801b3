import { icmpSetting } from '../../config.js';
import { diagnoseIcmpError } from '../../core/diagnosis.js';
import { concludePathMtu } from '../../core/path-mtu.js';
import type { MtuProbe, PathMtuReport } from '../../core/path-mtu.js';
import { monotonicMs } from '../clock.js';
import { interfaceMtu, routeTo } from '../diag/kernel-tables.js';
import type { IcmpSetting } from '../icmp/raw-transport.js';
import { randomBits } from '../random.js';
import { decodeTraceIcmp, echoRequest } from './packets.js';
import { DatagramProbeSocket, ProbeSocketUnavailableError } from './probe-socket.js';
import { IcmpOffError, RawProbeSocket, TraceUnavailableError } from './raw-socket.js';

export interface PathMtuOptions {
  /** Longest wait for one round of sizes, in milliseconds; default 1000. */
  timeoutMs?: number;
  /** Time budget of the whole search, in milliseconds; default 10,000. */
  budgetMs?: number;
  /** Echoes per size in a round (one lost echo is not a verdict); default 2. */
  tries?: number;
  signal?: AbortSignal;
  /**
   * Which socket (ZENSWEEP_ICMP, read from the environment when absent): auto (a raw socket where permitted, else a
   * ping socket), raw or ping; off sends no echo, so the search is refused (IcmpOffError).
   */
  sockets?: IcmpSetting;
}

/** What came back for echo `sequence`: its reply, or an ICMP error about it (with the MTU a router gave). */
type EchoEvent =
  | { kind: 'reply'; sequence: number; from: string }
  | { kind: 'error'; sequence: number; destination: string; type: number; code: number; mtu?: number; from: string };

interface EchoChannel {
  readonly socket: 'raw' | 'ping';
  setDontFragment(): void;
  send(packet: Buffer, address: string): 'sent' | { errno: string };
  close(): void;
}

/**
 * Raw ICMP (the identifier is ours, every ICMP error of the host read and matched on it), or a ping socket: the
 * kernel writes its own identifier and hands it only its own replies, and the errors about its own echoes on its
 * error queue, "fragmentation needed" / "packet too big" with the router's MTU (ee_info).
 */
function openEchoChannel(family: 4 | 6, identifier: number, setting: IcmpSetting, onEvent: (event: EchoEvent) => void): EchoChannel {
  if (setting === 'off') throw new IcmpOffError('the path MTU search');
  let rawFailure: TraceUnavailableError | undefined;
  if (setting === 'auto' || setting === 'raw') {
    try {
      const raw = new RawProbeSocket(family, 'icmp', (packet, from) => {
        const message = decodeTraceIcmp(family, packet);
        if (!message) return;
        if (message.kind === 'echo-reply') {
          if (message.identifier === identifier) onEvent({ kind: 'reply', sequence: message.sequence, from });
        } else if (message.quoted.protocol === 'icmp' && message.quoted.identifier === identifier) {
          const { type, code, mtu } = message;
          const event: EchoEvent = { kind: 'error', sequence: message.quoted.sequence, destination: message.quoted.destination, type, code, from };
          onEvent(mtu === undefined ? event : { ...event, mtu });
        }
      });
      return {
        socket: 'raw',
        setDontFragment: () => raw.setDontFragment(),
        send: (packet, address) => raw.send(packet, address),
        close: () => raw.close(),
      };
    } catch (error) {
      if (!(error instanceof TraceUnavailableError) || setting === 'raw') throw error;
      rawFailure = error;
    }
  }
  const reply = family === 4 ? 0 : 129;
  let ping: DatagramProbeSocket;
  try {
    ping = new DatagramProbeSocket(family, 'icmp', (record, bytes) => {
      if (bytes.length < 8) return;
      const sequence = bytes.readUInt16BE(6);
      if (record.kind === 'data') {
        if (bytes[0] === reply) onEvent({ kind: 'reply', sequence, from: record.address });
      } else if (record.kind === 'icmp' && record.offender) {
        const tooBig = family === 4 ? record.type === 3 && record.code === 4 : record.type === 2;
        const event: EchoEvent = { kind: 'error', sequence, destination: record.address, type: record.type, code: record.code, from: record.offender };
        onEvent(tooBig ? { ...event, mtu: record.info } : event);
      }
    });
  } catch (error) {
    if (!(error instanceof ProbeSocketUnavailableError)) throw error;
    throw new TraceUnavailableError(
      rawFailure ?? error,
      `the path MTU search needs a raw socket (root or CAP_NET_RAW${rawFailure ? `; ${rawFailure.errno}` : ''}) or ${error.need}`,
    );
  }
  return {
    socket: 'ping',
    setDontFragment: () => ping.setDontFragment(),
    send: (packet, address) => ping.send(packet, address, 0, 0),
    close: () => ping.close(),
  };
}

/** The sizes the issue names first: Ethernet, a jumbo frame under 9000, AWS's 9001; plus the interface's own. */
const FIRST_SIZES = [1500, 8500, 9001];
/** Sizes every path must carry (RFC 791's 576 for IPv4, RFC 8200's 1280 for IPv6): the floor of the search. */
const MINIMUM_SIZE = { 4: 576, 6: 1280 } as const;
const IP_HEADER = { 4: 20, 6: 40 } as const;
/** Sizes tried at once in each round of the search between what passed and what failed. */
const SIZES_PER_ROUND = 7;
/**
 * A size still silent this many round trips after a smaller one of the same round came back is taken as lost (big
 * packets take a little longer on the wire, not ten times longer); never sooner than SILENT_FLOOR_MS.
 */
const SILENT_FACTOR = 10;
const SILENT_FLOOR_MS = 200;

interface Pending {
  size: number;
  sentAt: number;
  /** An echo of a size known to pass, sent only to time the round (see SILENT_FACTOR). */
  pacer: boolean;
}

/**
 * Finds the path MTU to `address` with ICMP echo requests that have Don't Fragment set: first the sizes 1500, 8500,
 * 9001 and the interface MTU (and the floor, 576 or 1280), then rounds of several sizes at once between the largest
 * that passed and the smallest that failed. A "fragmentation needed" (v4) or "packet too big" (v6) answer is
 * honoured: every size above the MTU it gives fails at that router, so the next round tries that MTU. A size that
 * fails with no such answer while a smaller one passes is a PMTU black hole.
 *
 * @throws IcmpOffError under ZENSWEEP_ICMP=off; TraceUnavailableError when no socket for echoes may be opened.
 */
export async function findPathMtu(address: string, family: 4 | 6, options: PathMtuOptions = {}): Promise<PathMtuReport> {
  const started = monotonicMs();
  const timeoutMs = options.timeoutMs ?? 1000;
  const budgetMs = options.budgetMs ?? 10_000;
  const tries = options.tries ?? 2;
  const route = routeTo(address);
  const device = route?.device;
  const deviceMtu = device ? interfaceMtu(device) : undefined;
  const identifier = randomBits(16);
  let nextSequence = randomBits(16);
  const pending = new Map<number, Pending>();
  const results = new Map<number, MtuProbe>();
  const probes: MtuProbe[] = [];
  let fragNeeded: { from: string; mtu: number } | undefined;
  let roundDone: (() => void) | undefined;
  let fastestPass: number | undefined;

  const settle = (size: number, probe: MtuProbe): void => {
    const known = results.get(size);
    if (known && known.outcome !== 'silent') return;
    results.set(size, probe);
    roundDone?.();
  };
  const socket = openEchoChannel(family, identifier, options.sockets ?? icmpSetting(process.env), (event) => {
    const sent = pending.get(event.sequence);
    if (!sent) return;
    if (event.kind === 'reply') {
      if (event.from !== address) return;
      fastestPass = Math.min(fastestPass ?? Infinity, monotonicMs() - sent.sentAt);
      if (!sent.pacer) settle(sent.size, { size: sent.size, outcome: 'passed' });
      else roundDone?.();
    } else if (event.destination === address && !sent.pacer) {
      const { type, code, from } = event;
      const tooBig = family === 4 ? type === 3 && code === 4 : type === 2;
      if (tooBig) {
        const mtu = event.mtu ?? 0;
        fragNeeded ??= { from, mtu };
        settle(sent.size, { size: sent.size, outcome: 'too-big', mtu, from });
      } else if (family === 4 ? type === 3 : type === 1) {
        settle(sent.size, { size: sent.size, outcome: 'refused', from, errno: diagnoseIcmpError(family, type, code, from).reason });
      }
    }
  });

  const send = (size: number, pacer: boolean): void => {
    const sequence = nextSequence;
    nextSequence = (nextSequence + 1) & 0xffff;
    const packet = echoRequest(family, identifier, sequence, size - IP_HEADER[family]);
    pending.set(sequence, { size, sentAt: monotonicMs(), pacer });
    const sent = socket.send(packet, address);
    if (sent !== 'sent' && !pacer) settle(size, { size, outcome: 'local', errno: sent.errno });
  };

  /**
   * Sends `tries` echoes of each size (and one of `pacer`, a size known to pass) and waits until each size is
   * settled, or given up as silent.
   */
  const round = async (sizes: number[], pacer?: number): Promise<void> => {
    const roundStart = monotonicMs();
    fastestPass = undefined;
    const waiting = sizes.filter((size) => !results.has(size));
    socket.setDontFragment();
    if (pacer !== undefined) send(pacer, true);
    for (const size of waiting) for (let i = 0; i < tries; i++) send(size, false);
    await new Promise<void>((resolve) => {
      const check = (): void => {
        const open = waiting.filter((size) => !results.has(size));
        const elapsed = monotonicMs() - roundStart;
        const silentAfter = fastestPass === undefined ? timeoutMs : Math.min(timeoutMs, Math.max(SILENT_FLOOR_MS, SILENT_FACTOR * fastestPass));
        if (open.length === 0 || elapsed >= silentAfter || options.signal?.aborted) {
          clearInterval(timer);
          roundDone = undefined;
          for (const size of open) results.set(size, { size, outcome: 'silent' });
          resolve();
        }
      };
      const timer = setInterval(check, 10);
      roundDone = check;
      check();
    });
    for (const size of waiting) {
      const result = results.get(size);
      if (result) probes.push(result);
    }
  };

  const passed = (): number | undefined => {
    let best: number | undefined;
    for (const r of results.values()) if (r.outcome === 'passed' && (best === undefined || r.size > best)) best = r.size;
    return best;
  };
  /** The smallest size known to fail; a router's "MTU m" says that m + 1 fails there. */
  const failed = (): MtuProbe | undefined => {
    let worst: MtuProbe | undefined;
    for (const r of results.values()) {
      if (r.outcome === 'passed') continue;
      const size = r.outcome === 'too-big' && r.mtu && r.mtu < r.size ? r.mtu + 1 : r.size;
      if (!worst || size < worst.size) worst = { ...r, size };
    }
    return worst;
  };

  let incomplete = false;
  try {
    const floor = MINIMUM_SIZE[family];
    // An IPv4 packet carries at most 65,535 bytes (loopback's MTU is 65,536).
    const ceiling = Math.min(deviceMtu ?? Math.max(...FIRST_SIZES), 65_535);
    const first = [...new Set([floor, ...FIRST_SIZES, ceiling])].filter((size) => size >= floor && size <= ceiling);
    await round(first.sort((a, b) => a - b));
    for (;;) {
      const low = passed();
      const high = failed();
      if (low === undefined || high === undefined || high.size - low <= 1 || options.signal?.aborted) break;
      if (monotonicMs() - started >= budgetMs - timeoutMs) {
        incomplete = true;
        break;
      }
      // A router's MTU first: it usually is the answer.
      const hinted = high.outcome === 'too-big' && high.mtu && high.mtu > low && !results.has(high.mtu) ? [high.mtu] : [];
      const sizes = hinted.length > 0 ? hinted : spread(low, high.size);
      await round(sizes, low);
    }
  } finally {
    socket.close();
  }
  const pathMtu = passed();
  const failedAt = failed();
  const report: Omit<PathMtuReport, 'conclusion'> = {
    address,
    family,
    blackHole: pathMtu !== undefined && failedAt?.outcome === 'silent',
    socket: socket.socket,
    probes,
    incomplete,
    durationMs: Math.round((monotonicMs() - started) * 10) / 10,
  };
  if (device) report.device = device;
  if (deviceMtu !== undefined) report.interfaceMtu = deviceMtu;
  if (pathMtu !== undefined) report.pathMtu = pathMtu;
  if (failedAt) report.failedAt = failedAt;
  if (fragNeeded && failedAt?.outcome === 'too-big') report.fragNeeded = fragNeeded;
  return { ...report, conclusion: concludePathMtu(report) };
}

/** Up to SIZES_PER_ROUND sizes spread evenly strictly between low and high. */
function spread(low: number, high: number): number[] {
  const sizes = new Set<number>();
  const step = (high - low) / (SIZES_PER_ROUND + 1);
  for (let i = 1; i <= SIZES_PER_ROUND; i++) {
    const size = Math.round(low + step * i);
    if (size > low && size < high) sizes.add(size);
  }
  return [...sizes];
}
