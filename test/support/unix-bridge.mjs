// Listens on 127.0.0.1:PORT and passes every connection on to a Unix socket: started inside the lab's sweeper
// namespace, it lets processes there reach a service of the host namespace (a test's redis-server) at the same
// URL as the test itself, with no network link between the namespaces. Prints `ready` once listening; exits on
// SIGTERM, and when its stdin closes (the test process died).
import net from 'node:net';

const [portText, socketPath] = process.argv.slice(2);
const port = Number(portText);
if (!Number.isInteger(port) || port < 1 || port > 65_535 || !socketPath) {
  process.stderr.write('usage: unix-bridge.mjs PORT UNIX_SOCKET_PATH\n');
  process.exit(2);
}

// Half-open both ways: an end from one side is passed on, and what the other side still sends gets through.
const server = net.createServer({ allowHalfOpen: true }, (client) => {
  const upstream = net.connect({ path: socketPath, allowHalfOpen: true });
  client.pipe(upstream).pipe(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close).on('close', close);
  upstream.on('error', close).on('close', close);
});
server.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
server.on('error', (error) => {
  process.stderr.write(`unix-bridge: ${error.message}\n`);
  process.exit(1);
});
process.on('SIGTERM', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
