// A name server for reverse DNS, for tests: answers PTR queries for the IPv4 addresses it is given, NXDOMAIN for
// anything else, on UDP ADDRESS:53 (started inside a test's network namespace, where /etc/resolv.conf names it).
//
//   ptr-server.mjs ADDRESS DELAY_MS MODE NAMES_JSON
//     MODE: answer, or drop (reads every query and answers none: a name server that does not answer)
//     NAMES_JSON: {"198.18.0.10": "web.lab.test", …}; "127.0.0.*": "host-*.lo.test" names a whole /24, * the last octet
//
// Prints `ready` once listening, then one line per query (`query NAME TYPE outstanding N`), N the queries received
// and not yet answered, this one included: what the test reads to see how many lookups were out at once.
// Exits on SIGTERM, and when its stdin closes (the test process died).
import dgram from 'node:dgram';

const [address, delayText, mode, namesJson] = process.argv.slice(2);
if (!address || !delayText || (mode !== 'answer' && mode !== 'drop') || !namesJson) {
  process.stderr.write('usage: ptr-server.mjs ADDRESS DELAY_MS answer|drop NAMES_JSON\n');
  process.exit(2);
}
const delayMs = Number(delayText);
const names = JSON.parse(namesJson);

/** `10.0.168.192.in-addr.arpa` → its PTR name, if any. */
function nameOf(qname) {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\.in-addr\.arpa$/i.exec(qname);
  if (!match) return undefined;
  const ip = [match[4], match[3], match[2], match[1]].join('.');
  if (names[ip]) return names[ip];
  const wide = names[`${ip.replace(/\.\d+$/, '')}.*`];
  return wide ? wide.replace('*', match[1]) : undefined;
}

function readName(message, at) {
  const labels = [];
  while (message[at] !== 0) {
    const length = message[at];
    labels.push(message.subarray(at + 1, at + 1 + length).toString('ascii'));
    at += 1 + length;
  }
  return { name: labels.join('.'), end: at + 1 };
}

function writeName(name) {
  const parts = name.split('.').filter(Boolean).map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'ascii')]));
  return Buffer.concat([...parts, Buffer.from([0])]);
}

function answer(query) {
  const { name: qname, end } = readName(query, 12);
  const qtype = query.readUInt16BE(end);
  const question = query.subarray(12, end + 4);
  const target = qtype === 12 ? nameOf(qname) : undefined;
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  // QR, opcode 0, AA, RD copied; RA; RCODE 0 or 3 (NXDOMAIN).
  header[2] = 0x84 | (query[2] & 0x01);
  header[3] = 0x80 | (target ? 0 : 3);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(target ? 1 : 0, 6);
  if (!target) return { qname, qtype, reply: Buffer.concat([header, question]) };
  const rdata = writeName(target);
  const record = Buffer.alloc(12);
  record.writeUInt16BE(0xc00c, 0);
  record.writeUInt16BE(12, 2);
  record.writeUInt16BE(1, 4);
  record.writeUInt32BE(60, 6);
  record.writeUInt16BE(rdata.length, 10);
  return { qname, qtype, reply: Buffer.concat([header, question, record, rdata]) };
}

const socket = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
let outstanding = 0;
socket.on('message', (query, peer) => {
  let parsed;
  try {
    parsed = answer(query);
  } catch {
    return;
  }
  outstanding += 1;
  process.stdout.write(`query ${parsed.qname} ${parsed.qtype} outstanding ${outstanding}\n`);
  if (mode === 'drop') return;
  setTimeout(() => {
    outstanding -= 1;
    socket.send(parsed.reply, peer.port, peer.address);
  }, delayMs);
});
socket.bind(53, address, () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
