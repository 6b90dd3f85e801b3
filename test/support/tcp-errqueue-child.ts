/**
 * For the tests of the sweeper running short: under a low descriptor limit (`ulimit -n 64`,
 * test/engine/tcp-errqueue.test.ts) or in a namespace with few local ports (test/lab/tcp-errqueue.test.ts), it starts
 * COUNT connects at once to ADDRESS:PORT (where nothing answers) with ErrqueueTcpProber, counts their outcomes, then,
 * once they have all ended, starts 5 more to a refused port of 127.0.0.1; prints `{"first": {...}, "again": {...}}`.
 *
 *   node --import tsx test/support/tcp-errqueue-child.ts ADDRESS PORT COUNT
 */
import net from 'node:net';
import type { TcpOutcome } from '../../src/engine/probers.js';
import { ErrqueueTcpProber } from '../../src/engine/tcp-errqueue.js';

function tally(outcomes: TcpOutcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const outcome of outcomes) {
    const key = outcome.kind === 'resource' ? `resource:${outcome.errno}` : outcome.kind;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

function round(prober: ErrqueueTcpProber, address: string, port: number, count: number): Promise<TcpOutcome[]> {
  return new Promise((resolve) => {
    const outcomes: TcpOutcome[] = [];
    for (let i = 0; i < count; i++) {
      prober.connect(address, port, 1000, (outcome) => {
        outcomes.push(outcome);
        if (outcomes.length === count) resolve(outcomes);
      });
    }
  });
}

async function main(): Promise<void> {
  const [address = '127.0.0.1', portText = '', countText = '200'] = process.argv.slice(2);
  const prober = new ErrqueueTcpProber();
  const first = await round(prober, address, Number(portText), Number(countText));
  // A port freed a moment ago refuses: the descriptors are back, so these connect (and are refused).
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: refused } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  const again = await round(prober, '127.0.0.1', refused, 5);
  prober.close();
  process.stdout.write(`${JSON.stringify({ first: tally(first), again: tally(again) })}\n`);
}

await main();
