/**
 * Free TCP ports for the services the tests start (bots, agents' metrics, redis-server).
 */
import { createServer } from 'node:net';

/**
 * A TCP port no one listens on, on any address, for a service to bind later. Taken below the kernel's ephemeral
 * range (32768–60999), where the servers of other tests that bind port 0 in the meantime never land, and checked
 * free on every address at once (`::`, dual stack: a listener on 127.0.0.1 or ::1 alone makes it fail).
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (handedOut.has(port) || !(await bindable(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('no free TCP port between 20000 and 32000 after 50 tries');
}

/** Ports already given to this test process: two asked for at once (before either is bound) are never the same. */
const handedOut = new Set<number>();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '::', () => server.close(() => resolve(true)));
  });
}
