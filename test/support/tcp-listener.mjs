// Listens on every `address:port` given in argv (IPv6 as `[addr]:port`), accepts each connection and closes it at
// once, like a database port that is open. Prints `ready` once all are listening so the lab can wait for it.
// Started inside the lab's LAN namespace; exits on SIGTERM/SIGINT, and when its stdin closes if started with
// `--exit-with-stdin` (the test process died, so nothing is left running in the namespace).
import net from 'node:net';

const args = process.argv.slice(2);
const exitWithStdin = args.includes('--exit-with-stdin');
const endpoints = args.filter((arg) => arg !== '--exit-with-stdin').map(parseEndpoint);

if (endpoints.length === 0) {
  process.stderr.write('usage: tcp-listener.mjs [--exit-with-stdin] ADDRESS:PORT [[ADDRESS6]:PORT ...]\n');
  process.exit(2);
}

function parseEndpoint(text) {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(text);
  if (!match || net.isIP(match[1]) === 0) {
    process.stderr.write(`tcp-listener: not an ADDRESS:PORT pair: ${text}\n`);
    process.exit(2);
  }
  return { host: match[1], port: Number(match[2]) };
}

function listen({ host, port }) {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.end();
      socket.destroy();
    });
    server.once('error', (error) => reject(new Error(`cannot listen on ${host}:${port}: ${error.message}`)));
    server.listen({ host, port, exclusive: true }, () => resolve(server));
  });
}

try {
  await Promise.all(endpoints.map(listen));
} catch (error) {
  process.stderr.write(`tcp-listener: ${error.message}\n`);
  process.exit(1);
}

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
if (exitWithStdin) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
process.stdout.on('error', () => {});
process.stdout.write('ready\n');
