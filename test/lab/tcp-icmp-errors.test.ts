import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { HostResult, PortResult, SweepReport } from '../../src/core/report.js';
import type { SweepProgress } from '../../src/engine/scheduler.js';
import type { EngineRunnerLine } from '../support/engine-runner.js';
import { createLab, ipBatch, nft, stopChild } from '../support/lab.js';
import type { Lab } from '../support/lab.js';
import { assertRoot } from '../support/root.js';

const ENGINE_RUNNER = fileURLToPath(new URL('../support/engine-runner.ts', import.meta.url));
/** Generous: a sweep here takes a second or two, more with both cores busy. */
const SWEEP_TIMEOUT_MS = 60_000;

/** A second address of the sweeper, for the engine that stands for another agent on the same host. */
const SECOND_SOURCE = { v4: '198.18.0.2', v6: '2001:db8:0:1::2' };

/** One engine process in the sweeper namespace (engine-runner.ts): an agent's engine, running sweep after sweep. */
class EngineProcess {
  private nextId = 1;
  private readonly waiting = new Map<
    number,
    { resolve: (line: EngineRunnerLine) => void; onProgress?: (progress: SweepProgress) => void }
  >();
  private ready: () => void = () => undefined;
  private stderr = '';

  private constructor(private readonly child: ChildProcess) {}

  /** Starts one; `source` binds its TCP connects to these addresses (ENGINE_RUNNER_SOURCE). */
  static async start(lab: Lab, source?: { v4: string; v6: string }): Promise<EngineProcess> {
    const env: Record<string, string> = source ? { ENGINE_RUNNER_SOURCE: `${source.v4},${source.v6}` } : {};
    const child = lab.spawn([process.execPath, '--import', 'tsx', ENGINE_RUNNER], { env });
    const engine = new EngineProcess(child);
    const ready = new Promise<void>((resolve, reject) => {
      engine.ready = resolve;
      child.once('exit', (code) => reject(new Error(`the engine process exited (${code}): ${engine.stderr}`)));
    });
    child.stderr?.on('data', (chunk: Buffer) => (engine.stderr += chunk.toString()));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => engine.receive(text));
    await ready;
    return engine;
  }

  /** Runs one sweep on this engine; `onProgress` sees its hosts finish. */
  async sweep(text: string, onProgress?: (progress: SweepProgress) => void): Promise<{ report: SweepReport; congestedAt: number | null }> {
    const id = this.nextId++;
    const answer = new Promise<EngineRunnerLine>((resolve) => this.waiting.set(id, { resolve, onProgress }));
    this.child.stdin?.write(`${JSON.stringify({ id, sweep: text })}\n`);
    let timer: NodeJS.Timeout | undefined;
    const line = await Promise.race([
      answer,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`sweep "${text}" got no answer in ${SWEEP_TIMEOUT_MS} ms: ${this.stderr}`)), SWEEP_TIMEOUT_MS);
      }),
    ]).finally(() => clearTimeout(timer));
    if ('error' in line) throw new Error(`sweep "${text}" failed: ${line.error}`);
    assert.ok('report' in line);
    return { report: line.report, congestedAt: line.congestedAt };
  }

  async stop(): Promise<void> {
    this.child.stdin?.end();
    await stopChild(this.child);
  }

  private receive(text: string): void {
    const line = JSON.parse(text) as EngineRunnerLine;
    if ('ready' in line) return this.ready();
    const waiter = this.waiting.get(line.id);
    if (!waiter) return;
    if ('progress' in line) return waiter.onProgress?.(line.progress);
    this.waiting.delete(line.id);
    waiter.resolve(line);
  }
}

function host(report: SweepReport, ip: string): HostResult {
  const found = report.hosts.find((h) => h.ip === ip);
  assert.ok(found, `${ip} missing from the report`);
  return found;
}

function port(report: SweepReport, ip: string, number: number): PortResult {
  const found = host(report, ip).ports.find((p) => p.port === number);
  assert.ok(found, `${ip}:${number} missing from the report`);
  return found;
}

/** What a port came to, as one comparable line: state, and who said so. */
const said = (result: PortResult): string => `${result.state}${result.reporter ? ` from ${result.reporter.address}` : ''}`;

/**
 * ICMP errors about TCP connects, met by engines that live long (an agent's) and share a host: an error ends the one
 * attempt whose SYN it quotes, in this engine, and is not kept for a later attempt, a later sweep or another engine.
 */
describe('ICMP errors about TCP connects in the network lab (engines that stay open, two on one host)', () => {
  let lab: Lab;
  const engines: EngineProcess[] = [];
  /** A LAN host whose firewall rules the tests set (nothing listens on its TCP ports: without a rule, RST). */
  let target: { v4: string; v6: string };

  /** Replaces this test's firewall rules on the LAN hosts (ahead of the lab's own). */
  async function firewall(rules: readonly string[]): Promise<void> {
    await nft(
      lab.namespaces.lan,
      `table inet sweepers {}
flush table inet sweepers
table inet sweepers {
  chain input {
    type filter hook input priority filter - 10; policy accept;
${rules.map((rule) => `    ${rule}`).join('\n')}
  }
}
`,
    );
  }

  async function startEngine(source?: { v4: string; v6: string }): Promise<EngineProcess> {
    const engine = await EngineProcess.start(lab, source);
    engines.push(engine);
    return engine;
  }

  before(async () => {
    assertRoot();
    lab = await createLab();
    const alive = lab.addresses.lan.alive;
    target = { v4: alive.v4[2] as string, v6: alive.v6[1] as string };
    await ipBatch(lab.sweeperNs, [`addr add ${SECOND_SOURCE.v4}/24 dev eth0`, `addr add ${SECOND_SOURCE.v6}/64 dev eth0 nodad`]);
  });
  after(async () => {
    await Promise.all(engines.map((engine) => engine.stop()));
    await lab?.destroy();
  });

  it('says closed one second after the firewall switched from an ICMP reject to a TCP reset, on every engine of the host', { timeout: 120_000 }, async () => {
    // Two engines on one host, as two replicas of one agent group: the chunks of successive sweeps go to either.
    const [first, second] = [await startEngine(), await startEngine()];
    const sweep = `${target.v4} ${target.v6} tcp:5432 timeout:1000 retries:0`;
    await firewall([
      `ip daddr ${target.v4} tcp dport 5432 reject with icmpx admin-prohibited`,
      `ip6 daddr ${target.v6} tcp dport 5432 reject with icmpx admin-prohibited`,
    ]);
    const rejected = (await first.sweep(sweep)).report;
    for (const ip of [target.v4, target.v6]) {
      assert.equal(said(port(rejected, ip, 5432)), `prohibited from ${ip}`, `${ip} while the firewall rejects with ICMP`);
    }

    await firewall([
      `ip daddr ${target.v4} tcp dport 5432 reject with tcp reset`,
      `ip6 daddr ${target.v6} tcp dport 5432 reject with tcp reset`,
    ]);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    for (const [name, engine] of [['the other engine', second], ['the same engine', first]] as const) {
      const reset = (await engine.sweep(sweep)).report;
      for (const ip of [target.v4, target.v6]) {
        assert.equal(said(port(reset, ip, 5432)), 'closed', `${ip} on ${name}, one second after the rule changed to a TCP reset`);
        assert.equal(host(reset, ip).state, 'alive', ip);
      }
    }
  });

  it('does not give a later sweep the answer that came after an earlier sweep of the same engine timed out', { timeout: 120_000 }, async () => {
    // The router answers host unreachable once its ARP fails, ~300 ms after each SYN: after a 100 ms timeout.
    const { v4, failsAfterMs } = lab.addresses.arpFails;
    assert.ok(failsAfterMs > 100);
    const engine = await startEngine();
    const sweep = `${v4} tcp:5432 timeout:100 retries:0`;
    for (const run of ['first', 'second']) {
      const { report } = await engine.sweep(sweep);
      assert.equal(said(port(report, v4, 5432)), 'filtered', `${run} sweep: its own attempt timed out before any answer`);
      // Long enough for the router's late answer to the SYN of this sweep to come in before the next sweep.
      await new Promise((resolve) => setTimeout(resolve, failsAfterMs + 700));
    }
  });

  it('keeps two engines of one host apart while their sweeps run at once: each takes only the errors about its own SYNs', { timeout: 120_000 }, async () => {
    // The firewall tells the engines apart by their source address: each has one port rejected with ICMP, and a
    // TCP reset on the other; the two sweeps probe the same host and ports at the same time.
    const engineA = await startEngine({ v4: lab.addresses.sweeper.v4, v6: lab.addresses.sweeper.v6 });
    const engineB = await startEngine(SECOND_SOURCE);
    await firewall([
      `ip saddr ${lab.addresses.sweeper.v4} ip daddr ${target.v4} tcp dport 5433 reject with icmpx admin-prohibited`,
      `ip6 saddr ${lab.addresses.sweeper.v6} ip6 daddr ${target.v6} tcp dport 5433 reject with icmpx admin-prohibited`,
      `ip saddr ${SECOND_SOURCE.v4} ip daddr ${target.v4} tcp dport 5434 reject with icmpx admin-prohibited`,
      `ip6 saddr ${SECOND_SOURCE.v6} ip6 daddr ${target.v6} tcp dport 5434 reject with icmpx admin-prohibited`,
    ]);
    // The silent host keeps each sweep running for its timeout, so the one started second runs beside the first.
    const sweep = `${target.v4} ${target.v6} ${lab.addresses.lan.silent.v4} tcp:5433,5434 timeout:1500 retries:0`;
    const expected = {
      A: { 5433: (ip: string) => `prohibited from ${ip}`, 5434: () => 'closed' },
      B: { 5433: () => 'closed', 5434: (ip: string) => `prohibited from ${ip}` },
    };
    for (const [firstName, secondName] of [['A', 'B'], ['B', 'A']] as const) {
      const engine = { A: engineA, B: engineB };
      let targetsDone!: () => void;
      const firstProbedTargets = new Promise<void>((resolve) => (targetsDone = resolve));
      // The first sweep's two targets are done (their errors read by every engine of the host) before the second
      // sweep starts, and the first sweep is still running (its silent host) when the second one probes.
      const firstSweep = engine[firstName].sweep(sweep, (progress) => progress.done >= 2 && targetsDone());
      await firstProbedTargets;
      const secondSweep = engine[secondName].sweep(sweep);
      const reports = { [firstName]: (await firstSweep).report, [secondName]: (await secondSweep).report } as Record<'A' | 'B', SweepReport>;
      for (const name of ['A', 'B'] as const) {
        for (const ip of [target.v4, target.v6]) {
          for (const number of [5433, 5434] as const) {
            assert.equal(
              said(port(reports[name], ip, number)),
              expected[name][number](ip),
              `engine ${name} (its sweep ${name === firstName ? 'first' : 'second'}), ${ip}:${number}`,
            );
          }
        }
      }
    }
  });

  it('ends a link-local or multicast IPv6 target at once, with why, without slowing the engine down', { timeout: 120_000 }, async () => {
    const engine = await startEngine();
    const { report, congestedAt } = await engine.sweep('fe80::1 ff02::1 tcp:5432 timeout:1000');
    const reasons = { 'fe80::1': /link-local address needs the interface it is on/, 'ff02::1': /multicast address is a group, not a host/ };
    for (const [ip, reason] of Object.entries(reasons)) {
      const result = host(report, ip);
      assert.equal(result.state, 'unreachable', ip);
      assert.equal(result.reporter?.address, 'local', ip);
      assert.match(result.reporter?.reason ?? '', reason, ip);
      assert.equal(result.icmp.received, 0, ip);
      const tcp = port(report, ip, 5432);
      assert.equal(tcp.state, 'unreachable', ip);
      assert.match(tcp.reporter?.reason ?? '', reason, ip);
    }
    assert.equal(congestedAt, null, 'the engine was slowed down as for a full neighbour table');
  });
});
