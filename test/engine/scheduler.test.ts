import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DEFAULT_OPTIONS } from '../../src/core/request.js';
import type { SweepOptions } from '../../src/core/request.js';
import type { Reporter } from '../../src/core/states.js';
import type { EchoDone, EchoProber, TcpAttempt, TcpOutcome, TcpProber } from '../../src/engine/probers.js';
import { SendBudget } from '../../src/engine/budget.js';
import { ProbeScheduler } from '../../src/engine/scheduler.js';
import type { ProbeKit } from '../../src/engine/scheduler.js';

/** What a scripted echo comes to: an RTT for a reply, a reporter for an ICMP error. */
type EchoOutcome = { kind: 'reply'; rttMs: number } | { kind: 'error'; reporter: Reporter };
/** `never`: no answer, the timeout ends it; `lost`: not even the timeout (a prober bug the scheduler must survive). */
type EchoBehaviour = (address: string, attempt: number) => { outcome: EchoOutcome; afterMs: number } | 'never' | 'lost';

/** Every scripted prober made, closed after the tests: what they still wait on must not hold the process. */
const scripted: ScriptedEcho[] = [];

/**
 * An echo prober that answers by a rule, honours the timeout it is given, and records every call. Closed, it drops
 * the answers still to come, as the engine's prober does with its sockets.
 */
class ScriptedEcho implements EchoProber {
  readonly calls: { address: string; timeoutMs: number; at: number }[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private readonly attempts = new Map<string, number>();
  private readonly pending = new Set<NodeJS.Timeout>();
  constructor(private readonly behaviour: EchoBehaviour) {
    scripted.push(this);
  }

  /** Settles after `ms`, unless closed first. */
  private later(ms: number, settle: () => void): void {
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      settle();
    }, ms);
    this.pending.add(timer);
  }

  echo<C>(address: string, _family: 4 | 6, timeoutMs: number, context: C, done: EchoDone<C>): void {
    const attempt = this.attempts.get(address) ?? 0;
    this.attempts.set(address, attempt + 1);
    this.calls.push({ address, timeoutMs, at: performance.now() });
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const planned = this.behaviour(address, attempt);
    const settle = (rttMs: number, reporter?: Reporter): void => {
      this.inFlight -= 1;
      done(context, rttMs, reporter);
    };
    if (planned === 'never') this.later(timeoutMs, () => settle(-1));
    else if (planned !== 'lost') {
      const { outcome } = planned;
      this.later(planned.afterMs, () => (outcome.kind === 'reply' ? settle(outcome.rttMs) : settle(-1, outcome.reporter)));
    }
  }
  poll(): void {}
  close(): void {
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
  }
}

class ScriptedTcp implements TcpProber {
  readonly calls: string[] = [];
  /** Per call, the flows of the attempt it was told it retries (`after`). */
  readonly after: (readonly string[] | undefined)[] = [];
  constructor(private readonly rule: (address: string, port: number, attempt: number) => TcpOutcome) {}
  private readonly attempts = new Map<string, number>();
  connect(address: string, port: number, _timeoutMs: number, done: (o: TcpOutcome) => void, after?: TcpAttempt): TcpAttempt {
    const key = `${address}:${port}`;
    const attempt = this.attempts.get(key) ?? 0;
    this.attempts.set(key, attempt + 1);
    this.calls.push(key);
    this.after.push(after?.flows);
    setImmediate(() => done(this.rule(address, port, attempt)));
    return { flows: [...(after?.flows ?? []), `${key}#${attempt}`] };
  }
  close(): void {}
}

function* targets(count: number, pulled?: { n: number }): Generator<string> {
  for (let i = 0; i < count; i++) {
    if (pulled) pulled.n += 1;
    yield `198.18.${i >> 8}.${i & 255}`;
  }
}

const options = (over: Partial<SweepOptions>): SweepOptions => ({ ...DEFAULT_OPTIONS, rate: 0, ...over });
const reply = (ms = 1): { outcome: EchoOutcome; afterMs: number } => ({ outcome: { kind: 'reply', rttMs: ms }, afterMs: 1 });
const noTcp = new ScriptedTcp(() => ({ kind: 'timeout' }));

describe('ProbeScheduler', () => {
  after(() => {
    for (const echo of scripted) echo.close();
  });

  it('never has more probes outstanding than the cap, and pulls addresses lazily', async () => {
    const echo = new ScriptedEcho(() => reply());
    const pulled = { n: 0 };
    let worstAhead = 0;
    let done = 0;
    const scheduler = new ProbeScheduler(targets(5000, pulled), 5000, options({}), { echo, tcp: noTcp }, {
      maxInFlight: 64,
      onProgress: (p) => {
        done = p.done;
        worstAhead = Math.max(worstAhead, pulled.n - done);
      },
    });
    const result = await scheduler.run();
    assert.equal(result.hosts.length, 5000);
    assert.equal(result.complete, true);
    assert.ok(echo.maxInFlight <= 64, `max in flight ${echo.maxInFlight}`);
    assert.ok(echo.maxInFlight >= 32, `the cap should be used, saw ${echo.maxInFlight}`);
    // Hosts held at once stay bounded by the cap, however many addresses there are.
    assert.ok(worstAhead <= 65, `addresses pulled ahead of finished hosts: ${worstAhead}`);
    assert.deepEqual(
      result.hosts.slice(0, 3).map((h) => h.ip),
      ['198.18.0.0', '198.18.0.1', '198.18.0.2'],
    );
  });

  it('retries an unanswered echo with a 1.5× longer timeout, and counts every echo sent', async () => {
    const echo = new ScriptedEcho((address, attempt) =>
      address.endsWith('.1') && attempt === 1 ? reply() : 'never',
    );
    const { hosts } = await new ProbeScheduler(targets(2), 2, options({ timeoutMs: 40, retries: 2 }), {
      echo,
      tcp: noTcp,
    }).run();
    const [silent, late] = hosts;
    assert.equal(silent?.state, 'silent');
    assert.equal(silent?.icmp.sent, 3);
    assert.deepEqual(
      echo.calls.filter((c) => c.address === '198.18.0.0').map((c) => c.timeoutMs),
      [40, 60, 90],
    );
    assert.equal(late?.state, 'alive');
    assert.deepEqual([late?.icmp.sent, late?.icmp.received, late?.icmp.lossPct], [2, 1, 50]);
  });

  it('sends an on-link echo again when the neighbour table was full while it waited, beyond its retries', async () => {
    const budget = new SendBudget({ rate: 0, maxInFlight: 64, maxOnLink: 64 });
    // 198.18.0.0 and .1 are on the link, .2 is routed. The table fills while the first two echoes of .0, .1 and .2 wait
    // (the kernel may drop them with their neighbour entries); .0 answers the third; the table stays full while each
    // echo of .1 waits, and .1 never answers.
    const echo = new ScriptedEcho((address, attempt) => {
      if (attempt < 2 || address === '198.18.0.1') {
        setTimeout(() => budget.congested(), 5);
        return 'never';
      }
      return reply();
    });
    const { hosts } = await new ProbeScheduler(targets(3), 3, options({ timeoutMs: 30, retries: 1 }), { echo, tcp: noTcp }, {
      budget,
      onLink: (ip) => ip !== '198.18.0.2',
    }).run();
    budget.close();
    assert.deepEqual(
      hosts.map((h) => [h.ip, h.state, h.icmp.sent]),
      [
        ['198.18.0.0', 'alive', 3],
        // At most FULL_TABLE_RETRIES more than its retries: the table was full after every echo.
        ['198.18.0.1', 'silent', 4],
        // A routed host holds no neighbour entry: its retries are all it gets.
        ['198.18.0.2', 'silent', 2],
      ],
    );
  });

  it('sends an unanswered on-link echo no more than its retries when the table had room', async () => {
    const budget = new SendBudget({ rate: 0, maxInFlight: 64, maxOnLink: 64 });
    budget.congested(); // before any echo went: no echo waited on a full table
    const echo = new ScriptedEcho(() => 'never');
    const { hosts } = await new ProbeScheduler(targets(2), 2, options({ timeoutMs: 20, retries: 1 }), { echo, tcp: noTcp }, {
      budget,
      onLink: () => true,
    }).run();
    budget.close();
    assert.deepEqual(hosts.map((h) => [h.state, h.icmp.sent]), [['silent', 2], ['silent', 2]]);
  });

  it('sends count echoes per host spaced by the interval and reports ping statistics', async () => {
    const rtts = [1, 2, 3, 4];
    const echo = new ScriptedEcho((_a, attempt) =>
      attempt === 2 ? 'never' : { outcome: { kind: 'reply', rttMs: rtts[attempt] as number }, afterMs: 1 },
    );
    const { hosts } = await new ProbeScheduler(
      targets(1),
      1,
      options({ count: 4, intervalMs: 30, timeoutMs: 50, retries: 3 }),
      { echo, tcp: noTcp },
    ).run();
    const host = hosts[0];
    assert.equal(echo.calls.length, 4, 'retries do not add echoes when count > 1');
    for (let i = 1; i < echo.calls.length; i++) {
      const gap = (echo.calls[i]?.at ?? 0) - (echo.calls[i - 1]?.at ?? 0);
      assert.ok(gap >= 25, `echoes ${i - 1} and ${i} only ${gap.toFixed(1)} ms apart`);
    }
    assert.deepEqual([host?.icmp.sent, host?.icmp.received, host?.icmp.lossPct], [4, 3, 25]);
    // rtts 1, 2 and 4 ms: avg 7/3, mdev sqrt(21/3 − (7/3)²) = 1.2472…
    assert.equal(host?.icmp.rtt?.min, 1);
    assert.equal(host?.icmp.rtt?.max, 4);
    // Kept to the microsecond, as ping prints them: avg 2.333, mdev 1.247.
    assert.equal(host?.icmp.rtt?.avg, 2.333);
    assert.equal(host?.icmp.rtt?.mdev, 1.247);
  });

  it('paces sends to the rate', async () => {
    const echo = new ScriptedEcho(() => reply());
    const started = performance.now();
    await new ProbeScheduler(targets(60), 60, options({ rate: 200 }), { echo, tcp: noTcp }).run();
    const elapsed = performance.now() - started;
    // 60 packets at 200/s with a burst of 2: at least ~290 ms; only a lower bound is checked.
    assert.ok(elapsed >= 250, `60 packets at 200 pps took only ${elapsed.toFixed(0)} ms`);
    const firstHalf = echo.calls.filter((c) => c.at - started < elapsed / 2).length;
    assert.ok(firstHalf < 45, `sends should be spread out, ${firstHalf} of 60 went in the first half`);
  });

  it('stops at once when aborted, reports the sweep as incomplete, and keeps the hosts it had probed, unfinished', async () => {
    const echo = new ScriptedEcho(() => 'never');
    const controller = new AbortController();
    const scheduler = new ProbeScheduler(targets(1000), 1000, options({ timeoutMs: 60_000 }), { echo, tcp: noTcp }, {
      maxInFlight: 10,
      signal: controller.signal,
    });
    const running = scheduler.run();
    setTimeout(() => controller.abort(), 20);
    const result = await running;
    assert.equal(result.complete, false);
    assert.ok(echo.calls.length <= 10);
    // What was probed is not thrown away: each host an echo went to, with what it has (nothing yet), unfinished.
    assert.equal(result.hosts.length, new Set(echo.calls.map((c) => c.address)).size);
    assert.ok(result.hosts.length > 0, 'echoes went out before the abort');
    assert.deepEqual(new Set(result.hosts.map((h) => `${h.state} ${h.icmp.sent} ${h.unfinished === true}`)), new Set(['silent 1 true']));
  });

  it('classifies from every probe: TCP answers beat silence, prohibited beats unreachable', async () => {
    const firewall: Reporter = { verdict: 'prohibited', address: '198.18.0.254', icmpType: 3, icmpCode: 13, reason: 'x' };
    const noRoute: Reporter = { verdict: 'unreachable', address: 'local', errno: 'ENETUNREACH', reason: 'y' };
    const echo = new ScriptedEcho((address) => {
      if (address.endsWith('.2')) return { outcome: { kind: 'error', reporter: noRoute }, afterMs: 1 };
      if (address.endsWith('.3')) return { outcome: { kind: 'error', reporter: firewall }, afterMs: 1 };
      return 'never';
    });
    const tcp = new ScriptedTcp((address, port) => {
      if (address.endsWith('.0')) return { kind: 'open', ms: 1 };
      if (address.endsWith('.1') && port === 22) return { kind: 'closed', ms: 1 };
      return { kind: 'timeout' };
    });
    const kit: ProbeKit = { echo, tcp };
    const { hosts } = await new ProbeScheduler(targets(5), 5, options({ ports: [22, 5432], timeoutMs: 20, retries: 1 }), kit).run();
    assert.deepEqual(
      hosts.map((h) => h.state),
      ['alive_tcp_only', 'alive_tcp_only', 'unreachable', 'prohibited', 'silent'],
    );
    assert.equal(hosts[3]?.reporter?.address, '198.18.0.254');
    assert.deepEqual(hosts[0]?.ports.map((p) => p.state), ['open', 'open']);
    assert.deepEqual(hosts[4]?.ports.map((p) => [p.state, p.attempts]), [['filtered', 2], ['filtered', 2]]);
  });

  it('puts a probe back when the sweeper runs short of ports, without counting an attempt', async () => {
    const tcp = new ScriptedTcp((_a, _p, attempt) =>
      attempt < 3 ? { kind: 'resource', errno: 'EADDRNOTAVAIL' } : { kind: 'open', ms: 1 },
    );
    const { hosts } = await new ProbeScheduler(targets(1), 1, options({ ports: [80] }), { tcp }).run();
    assert.equal(hosts[0]?.ports[0]?.state, 'open');
    assert.equal(hosts[0]?.ports[0]?.attempts, 1);
    assert.equal(tcp.calls.length, 4);
  });

  it('ends a TCP attempt whose outcome never comes at its own deadline, retries it, and completes', async () => {
    const lost: TcpProber = { connect: () => ({ flows: [] }), close: () => undefined };
    const started = performance.now();
    const { hosts, complete } = await new ProbeScheduler(targets(2), 2, options({ ports: [22], timeoutMs: 20, retries: 1 }), {
      tcp: lost,
    }).run();
    assert.equal(complete, true);
    assert.deepEqual(hosts.map((h) => [h.state, h.ports[0]?.state, h.ports[0]?.attempts]), [
      ['silent', 'filtered', 2],
      ['silent', 'filtered', 2],
    ]);
    // Each attempt waited for its timeout and the grace after it: the deadline did not cut it short.
    assert.ok(performance.now() - started >= 20 + 30, 'ended before the attempts could time out');
  });

  it('hands each retry the attempts it retries, so a late ICMP error about an earlier SYN answers the probe', async () => {
    const router: Reporter = { verdict: 'unreachable', address: '198.18.0.254', icmpType: 3, icmpCode: 1, reason: 'host unreachable' };
    // 198.18.0.1: the router's answer to the first SYN comes while the third attempt is in flight.
    const tcp = new ScriptedTcp((address, _port, attempt) =>
      address.endsWith('.1') && attempt === 2 ? { kind: 'error', reporter: router } : { kind: 'timeout' },
    );
    const { hosts } = await new ProbeScheduler(targets(2), 2, options({ ports: [443], retries: 2 }), { tcp }).run();
    assert.deepEqual(hosts[0]?.ports.map((p) => [p.state, p.attempts]), [['filtered', 3]]);
    assert.deepEqual(hosts[1]?.ports.map((p) => [p.state, p.attempts, p.reporter?.address]), [['unreachable', 3, '198.18.0.254']]);
    assert.equal(hosts[1]?.state, 'unreachable');
    const afterOf = (address: string): (readonly string[] | undefined)[] =>
      tcp.calls.flatMap((call, i) => (call === `${address}:443` ? [tcp.after[i]] : []));
    assert.deepEqual(afterOf('198.18.0.1'), [undefined, ['198.18.0.1:443#0'], ['198.18.0.1:443#0', '198.18.0.1:443#1']]);
  });

  it('stops past its time bound, reports the hosts in progress as unfinished and why it stopped', async () => {
    // 198.18.0.1 never gets an outcome for its echo (lost) nor for its connect: something the probers must never do.
    const echo = new ScriptedEcho((address) => (address.endsWith('.1') ? 'lost' : reply()));
    const tcp: TcpProber = {
      connect: (address, _port, _timeoutMs, done) => {
        if (!address.endsWith('.1')) setImmediate(() => done({ kind: 'open', ms: 1 }));
        return { flows: [] };
      },
      close: () => undefined,
    };
    const result = await new ProbeScheduler(targets(3), 3, options({ ports: [5432], timeoutMs: 60_000 }), { echo, tcp }, {
      maxInFlight: 2,
      timeBoundMs: 200,
    }).run();
    assert.equal(result.complete, false);
    assert.equal(result.stopped?.code, 'over_time');
    assert.match(result.stopped?.reason ?? '', /past its time bound of 200 ms.*1 host still had probes unanswered, and some addresses were not probed/);
    const [done, unfinished, ...rest] = result.hosts;
    assert.deepEqual(rest, [], '198.18.0.2 was never admitted');
    assert.equal(done?.state, 'alive');
    assert.equal(done?.unfinished, undefined);
    assert.equal(done?.ports[0]?.unanswered, undefined);
    assert.equal(unfinished?.ip, '198.18.0.1');
    assert.equal(unfinished?.unfinished, true);
    assert.equal(unfinished?.state, 'silent');
    assert.deepEqual(unfinished?.ports.map((p) => [p.state, p.unanswered]), [['filtered', true]]);
  });
});
