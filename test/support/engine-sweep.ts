/**
 * Runs one sweep on a ProbeEngine of its own, as `zensweep sweep` does, and prints one JSON line: the report and the
 * engine's on-link allowance, at its start and the lowest it went to during the sweep. For lab tests that need to see
 * the engine's send budget, not only the report; run it inside a lab namespace (`lab.exec`), never in the host's:
 *
 *   node --import tsx test/support/engine-sweep.ts 198.18.0.0/24 timeout:1000
 *
 * ENGINE_SWEEP_THREAD=1 sends through the sender thread (the engine's sendHelper); by default the event loop sends.
 */
import { parseSweepText } from '../../src/core/grammar.js';
import type { SweepReport } from '../../src/core/report.js';
import { ProbeEngine, inFlightBudget, totalWaitMs } from '../../src/engine/engine.js';
import { runSweep } from '../../src/engine/sweep.js';

export interface EngineSweepOutput {
  report: SweepReport;
  /** The on-link allowance the engine started with (half the neighbour table limit it read). */
  maxOnLink: number;
  /** The lowest on-link allowance seen during the sweep, sampled every few milliseconds and at the end. */
  lowestOnLinkLimit: number;
}

/** How often the allowance is looked at, in ms: it only falls on congestion and grows back one target at a time. */
const SAMPLE_MS = 2;

async function main(text: string): Promise<void> {
  const request = parseSweepText(text);
  const families = new Set(request.targets.flatMap((t) => (t.kind === 'name' ? [] : [t.family])));
  // As runSweep opens its own: the request's rate paces the sweep, the engine adds no second limit.
  const engine = new ProbeEngine({
    families,
    rate: 0,
    maxInFlight: inFlightBudget(request.options.rate, totalWaitMs(request.options)),
    sendHelper: process.env.ENGINE_SWEEP_THREAD === '1',
  });
  let lowest = engine.budget.onLinkLimit;
  const sample = setInterval(() => (lowest = Math.min(lowest, engine.budget.onLinkLimit)), SAMPLE_MS);
  try {
    const report = await runSweep(request, { engine });
    lowest = Math.min(lowest, engine.budget.onLinkLimit);
    const output: EngineSweepOutput = { report, maxOnLink: engine.budget.limits.maxOnLink, lowestOnLinkLimit: lowest };
    process.stdout.write(`${JSON.stringify(output)}\n`);
  } finally {
    clearInterval(sample);
    engine.close();
  }
}

main(process.argv.slice(2).join(' ')).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
