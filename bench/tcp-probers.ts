/**
 * What a TCP connect probe costs with each prober, on loopback (no root, nothing leaves the machine):
 * NodeTcpProber (node:net) and ErrqueueTcpProber (the addon's connects with IP_RECVERR, tcp-errqueue.ts).
 *
 *   tsx bench/tcp-probers.ts
 *
 * BENCH_TCP_CONNECTS connects (default 20,000) to a refused port on 127.0.0.1, BENCH_TCP_IN_FLIGHT at once (default
 * 4,096, the engine's default budget), then the same to an open port (a listener in this process that closes what it
 * accepts); BENCH_TCP_RUNS runs of each prober (default 7), alternating (net, errqueue, errqueue, net…) after one run
 * of each not counted. Prints, per prober and target, the medians [quartiles] of the wall time and of the process's CPU
 * time per 1,000 connects. The listener's accepts are counted in the CPU time of both alike.
 */
import net from 'node:net';
import type { TcpOutcome, TcpProber } from '../src/engine/probers.js';
import { NodeTcpProber } from '../src/engine/tcp.js';
import { ErrqueueTcpProber } from '../src/engine/tcp-errqueue.js';
import { spread as spreadOf } from './stats.js';

const CONNECTS = Number(process.env.BENCH_TCP_CONNECTS ?? 20_000);
const IN_FLIGHT = Number(process.env.BENCH_TCP_IN_FLIGHT ?? 4096);
const RUNS = Number(process.env.BENCH_TCP_RUNS ?? 7);

const spread = (values: readonly number[]): string => spreadOf(values, 1);

/** Runs `CONNECTS` connects to `port`, `IN_FLIGHT` at once; resolves with the outcomes' kinds counted. */
function wave(prober: TcpProber, port: number): Promise<Record<string, number>> {
  return new Promise((resolve) => {
    const counts: Record<string, number> = {};
    let started = 0;
    let ended = 0;
    const next = (): void => {
      if (started >= CONNECTS) return;
      started += 1;
      prober.connect('127.0.0.1', port, 5000, (outcome: TcpOutcome) => {
        counts[outcome.kind] = (counts[outcome.kind] ?? 0) + 1;
        ended += 1;
        if (ended === CONNECTS) resolve(counts);
        else next();
      });
    };
    for (let i = 0; i < IN_FLIGHT; i++) next();
  });
}

async function main(): Promise<void> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve));
  const open = (server.address() as net.AddressInfo).port;
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const refused = (probe.address() as net.AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));

  const makers = { net: () => new NodeTcpProber(), errqueue: () => new ErrqueueTcpProber() } as const;
  type Name = keyof typeof makers;
  const figures: Record<string, { wallMs: number[]; cpuMs: number[] }> = {};
  for (let i = -2; i < RUNS * 2; i++) {
    const name: Name = i < 0 ? (i === -2 ? 'net' : 'errqueue') : Math.floor((i + 1) / 2) % 2 === 0 ? 'net' : 'errqueue';
    for (const [target, port] of [['refused', refused], ['open', open]] as const) {
      const prober = makers[name]();
      const cpu = process.cpuUsage();
      const wall = performance.now();
      const counts = await wave(prober, port);
      const wallMs = performance.now() - wall;
      const used = process.cpuUsage(cpu);
      prober.close();
      const expected = target === 'refused' ? 'closed' : 'open';
      if (counts[expected] !== CONNECTS) throw new Error(`${name} ${target}: ${JSON.stringify(counts)}`);
      if (i < 0) continue;
      const key = `${name} ${target}`;
      figures[key] ??= { wallMs: [], cpuMs: [] };
      figures[key].wallMs.push((wallMs / CONNECTS) * 1000);
      figures[key].cpuMs.push(((used.user + used.system) / 1000 / CONNECTS) * 1000);
      // Let the open port's TIME_WAIT-free resets and the listener's closes settle between runs.
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  server.close();
  process.stdout.write(`${CONNECTS} connects per run, ${IN_FLIGHT} in flight, ${RUNS} runs: ms per 1,000 connects, median [quartiles]\n`);
  for (const [key, { wallMs, cpuMs }] of Object.entries(figures)) {
    process.stdout.write(`  ${key.padEnd(18)} wall ${spread(wallMs)}   cpu ${spread(cpuMs)}\n`);
  }
}

await main();
