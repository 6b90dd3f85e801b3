/**
 * An agent's engine without the agent: one ProbeEngine, opened at start and kept open, that runs the sweeps it is
 * given on stdin, one JSON line each, as an agent runs its chunks on the engine it keeps. For lab tests where two
 * engines share a host (two agents, or two replicas of one agent group) or one engine runs sweep after sweep. Run it
 * inside a lab namespace (`lab.spawn`), never in the host's:
 *
 *   node --import tsx test/support/engine-runner.ts
 *
 * In:  `{"id": 1, "sweep": "198.18.0.12 tcp:5432 timeout:1000"}`
 * Out: `{"ready": true}` once the engine is open; then per sweep `{"id": 1, "progress": {…}}` as hosts finish and
 *      `{"id": 1, "report": {…}, "congestedAt": null}` (when the engine last slowed down for want of kernel buffers, in
 *      ms before the report, or null if it never did), or `{"id": 1, "error": "…"}`.
 *
 * ENGINE_RUNNER_SOURCE=198.18.0.2,2001:db8:0:1::2 binds its TCP connects to these source addresses (one per family),
 * so that a firewall in the lab can answer two engines on one host differently.
 */
import net from 'node:net';
import { createInterface } from 'node:readline';
import { parseSweepText } from '../../src/core/grammar.js';
import type { SweepReport } from '../../src/core/report.js';
import { ProbeEngine } from '../../src/engine/engine.js';
import { runSweep } from '../../src/engine/sweep.js';
import type { SweepProgress } from '../../src/engine/scheduler.js';
import type { ProbeSocketFactory } from '../../src/engine/tcp.js';

export type EngineRunnerLine =
  | { ready: true }
  | { id: number; progress: SweepProgress }
  | { id: number; report: SweepReport; congestedAt: number | null }
  | { id: number; error: string };

function sourceBinding(text: string | undefined): ProbeSocketFactory | undefined {
  if (!text) return undefined;
  const sources = new Map(text.split(',').map((address) => [net.isIP(address), address] as const));
  return (options) => {
    const localAddress = sources.get(net.isIP(options.host ?? ''));
    return net.connect(localAddress === undefined ? options : { ...options, localAddress });
  };
}

function write(line: EngineRunnerLine): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function main(): void {
  const engine = new ProbeEngine({
    families: [4, 6],
    rate: 0,
    maxInFlight: 4096,
    sendHelper: true,
    openSocket: sourceBinding(process.env.ENGINE_RUNNER_SOURCE),
  });
  const input = createInterface({ input: process.stdin });
  const running = new Set<Promise<void>>();
  input.on('line', (line) => {
    const { id, sweep } = JSON.parse(line) as { id: number; sweep: string };
    const run = runSweep(parseSweepText(sweep), { engine, onProgress: (progress) => write({ id, progress }) })
      .then((report) => {
        const at = engine.budget.lastCongestionAt;
        write({ id, report, congestedAt: at === -Infinity ? null : performance.now() - at });
      })
      .catch((error: unknown) => write({ id, error: error instanceof Error ? error.message : String(error) }))
      .finally(() => running.delete(run));
    running.add(run);
  });
  input.on('close', () => {
    void Promise.all(running).finally(() => engine.close());
  });
  write({ ready: true });
}

main();
