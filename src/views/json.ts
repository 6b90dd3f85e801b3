import type { DistributedReport, HostResult, SweepReport, VantageView } from '../core/report.js';
import type { EchoStats, RttStats } from '../core/stats.js';

/** Bytes of JSON handed out at once. */
const CHUNK_BYTES = 1 << 18;

/**
 * The report model as JSON, in pieces of bytes: a /16 report is about 9 MB, and building it as one string would
 * hold that (and its intermediate copies) in memory at once. The hosts come last, after every other field.
 *
 * Equal to JSON.stringify of the report in meaning (and in bytes when the keys are in the order the engine and the
 * report worker make them: a `from:` sweep's vantages, each with its hosts last, then the combined hosts), but
 * written as ASCII straight into bytes: on a /16, JSON.stringify and then encoding its ~9 MB of string to UTF-8
 * took ~190 ms, this takes ~35 ms. Non-ASCII characters in strings are written as \uXXXX escapes.
 */
export function* jsonChunks(report: SweepReport | DistributedReport): Generator<Uint8Array> {
  const { hosts, ...rest } = report;
  // From several vantages: each one's hosts too, written as the combined hosts are, before them.
  const { vantages, ...head } = rest as Omit<DistributedReport, 'hosts'>;
  const out = new JsonBytes();
  out.text(JSON.stringify(head).slice(0, -1));
  if (vantages !== undefined) {
    out.text(',"vantages":[');
    for (let v = 0; v < vantages.length; v++) {
      const { hosts: seen, ...view } = vantages[v] as VantageView;
      out.text(`${v > 0 ? ',' : ''}${JSON.stringify(view).slice(0, -1)},"hosts":[`);
      yield* writeHosts(out, seen);
      out.text(']}');
    }
    out.text(']');
  }
  out.text(',"hosts":[');
  yield* writeHosts(out, hosts);
  out.text(']}\n');
  yield out.take();
}

/** Hosts, comma separated, handing out the bytes written whenever they reach CHUNK_BYTES. */
function* writeHosts(out: JsonBytes, hosts: readonly HostResult[]): Generator<Uint8Array> {
  for (let i = 0; i < hosts.length; i++) {
    if (i > 0) out.text(',');
    writeHost(out, hosts[i] as HostResult);
    if (out.length >= CHUNK_BYTES) yield out.take();
  }
}

// Every field of the shapes written by hand below: a field added to one of them fails to compile here until it is.
type Unwritten =
  | Exclude<keyof HostResult, 'ip' | 'state' | 'icmp' | 'ports' | 'names' | 'reporter' | 'unfinished' | 'link' | 'mac' | 'ptr' | 'ptrError'>
  | Exclude<keyof EchoStats, 'sent' | 'received' | 'lossPct' | 'rtt'>
  | Exclude<keyof RttStats, 'min' | 'avg' | 'max' | 'mdev'>;
const everyFieldWritten: Unwritten extends never ? true : never = true;
void everyFieldWritten;

/** One host, its keys in the engine's order (scheduler.ts finishHost, then LinkLog.decide). */
function writeHost(out: JsonBytes, host: HostResult): void {
  out.text('{"ip":');
  out.string(host.ip);
  out.text(',"state":');
  out.string(host.state);
  out.text(',"icmp":');
  writeEcho(out, host.icmp);
  // Ports, names and reporters are few or absent on most hosts: JSON.stringify is fast enough for them.
  out.text(',"ports":');
  out.text(host.ports.length === 0 ? '[]' : JSON.stringify(host.ports));
  if (host.names !== undefined) out.text(`,"names":${JSON.stringify(host.names)}`);
  if (host.reporter !== undefined) out.text(`,"reporter":${JSON.stringify(host.reporter)}`);
  if (host.unfinished !== undefined) out.text(`,"unfinished":${JSON.stringify(host.unfinished)}`);
  // Decided once the sweep's last neighbour table read is in (link-watch.ts): after every other key.
  if (host.link !== undefined) {
    out.text(',"link":');
    out.string(host.link);
  }
  if (host.mac !== undefined) {
    out.text(',"mac":');
    out.string(host.mac);
  }
  // Looked up once the probes have ended (dns:on): last.
  if (host.ptr !== undefined) {
    out.text(',"ptr":');
    out.string(host.ptr);
  }
  if (host.ptrError !== undefined) {
    out.text(',"ptrError":');
    out.string(host.ptrError);
  }
  out.text('}');
}

function writeEcho(out: JsonBytes, icmp: EchoStats): void {
  out.text('{"sent":');
  out.number(icmp.sent);
  out.text(',"received":');
  out.number(icmp.received);
  out.text(',"lossPct":');
  out.number(icmp.lossPct);
  const rtt = icmp.rtt;
  if (rtt !== undefined) {
    out.text(',"rtt":{"min":');
    out.number(rtt.min);
    out.text(',"avg":');
    out.number(rtt.avg);
    out.text(',"max":');
    out.number(rtt.max);
    out.text(',"mdev":');
    out.number(rtt.mdev);
    out.text('}');
  }
  out.text('}');
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const ZERO = 0x30;
const DOT = 0x2e;
const HEX = '0123456789abcdef';

/** JSON text written as ASCII bytes into a growing buffer, taken out in pieces. */
class JsonBytes {
  private bytes = new Uint8Array(CHUNK_BYTES + 1024);
  private at = 0;

  get length(): number {
    return this.at;
  }

  /** The bytes written since the last take. */
  take(): Uint8Array {
    const taken = this.bytes.subarray(0, this.at);
    this.bytes = new Uint8Array(CHUNK_BYTES + 1024);
    this.at = 0;
    return taken;
  }

  private room(count: number): void {
    if (this.at + count <= this.bytes.length) return;
    const bigger = new Uint8Array(Math.max(this.bytes.length * 2, this.at + count));
    bigger.set(this.bytes.subarray(0, this.at));
    this.bytes = bigger;
  }

  /** JSON text as it is, but for characters outside ASCII, which become \uXXXX (inside strings, the only place JSON allows them). */
  text(json: string): void {
    this.room(json.length * 6);
    const bytes = this.bytes;
    let at = this.at;
    for (let i = 0; i < json.length; i++) {
      const code = json.charCodeAt(i);
      if (code < 0x80) {
        bytes[at++] = code;
      } else {
        bytes[at++] = BACKSLASH;
        bytes[at++] = 0x75; // u
        for (let shift = 12; shift >= 0; shift -= 4) bytes[at++] = HEX.charCodeAt((code >> shift) & 0xf);
      }
    }
    this.at = at;
  }

  /** A JSON string: quoted as is when it needs no escape (an address, a state), by JSON.stringify otherwise. */
  string(value: string): void {
    for (let i = 0; i < value.length; i++) {
      const code = value.charCodeAt(i);
      if (code < 0x20 || code === QUOTE || code === BACKSLASH || code > 0x7e) {
        this.text(JSON.stringify(value));
        return;
      }
    }
    this.room(value.length + 2);
    const bytes = this.bytes;
    let at = this.at;
    bytes[at++] = QUOTE;
    for (let i = 0; i < value.length; i++) bytes[at++] = value.charCodeAt(i);
    bytes[at++] = QUOTE;
    this.at = at;
  }

  /**
   * A number as JSON.stringify writes it. Most are whole or in thousandths (milliseconds to the microsecond, see
   * core/stats.ts): those are written from integers, which is several times faster than V8's double-to-string.
   */
  number(value: number): void {
    if (value >= 0 && value < 1e12) {
      const thousandths = Math.round(value * 1000);
      // Exactly k/1000: JS prints it as the decimal k/1000, trailing zeros trimmed.
      if (thousandths / 1000 === value) {
        this.room(20);
        const whole = Math.floor(thousandths / 1000);
        this.integer(whole);
        let fraction = thousandths - whole * 1000;
        if (fraction !== 0) {
          const bytes = this.bytes;
          bytes[this.at++] = DOT;
          for (let unit = 100; fraction !== 0; unit /= 10) {
            const digit = Math.floor(fraction / unit);
            bytes[this.at++] = ZERO + digit;
            fraction -= digit * unit;
          }
        }
        return;
      }
    }
    this.text(JSON.stringify(value));
  }

  /** A whole number from 0 to 1e12. */
  private integer(value: number): void {
    const bytes = this.bytes;
    let digits = 1;
    for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits += 1;
    let at = this.at + digits;
    this.at = at;
    let rest = value;
    do {
      const next = Math.floor(rest / 10);
      bytes[--at] = ZERO + rest - next * 10;
      rest = next;
    } while (rest > 0);
  }
}
