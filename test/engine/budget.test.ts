import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_OPTIONS } from '../../src/core/request.js';
import type { SweepOptions } from '../../src/core/request.js';
import { AddressSet, parseNetwork } from '../../src/core/targets.js';
import { SendBudget, TokenBucket } from '../../src/engine/budget.js';
import { ProbeEngine, inFlightBudget, totalWaitMs } from '../../src/engine/engine.js';
import type { EchoDone, EchoProber, TcpProber } from '../../src/engine/probers.js';
import { parseRoutes4, parseRoutes6 } from '../../src/engine/diag/kernel-tables.js';
import { RouteTable } from '../../src/engine/routes.js';

/** Answers nothing: every echo ends at its timeout, as in a mostly empty VPC. Records when each was sent. */
class SilentEcho implements EchoProber {
  readonly sent: { address: string; at: number }[] = [];
  inFlight = 0;
  maxInFlight = 0;
  echo<C>(address: string, _family: 4 | 6, timeoutMs: number, context: C, done: EchoDone<C>): void {
    this.sent.push({ address, at: performance.now() });
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    setTimeout(() => {
      this.inFlight -= 1;
      done(context, -1, undefined);
    }, timeoutMs);
  }
  poll(): void {}
  close(): void {}
}

const noTcp: TcpProber = { connect: () => ({ flows: [] }), close: () => undefined };
const options = (over: Partial<SweepOptions>): SweepOptions => ({ ...DEFAULT_OPTIONS, retries: 0, ...over });
const set = (cidr: string): AddressSet => {
  const { family, start, end } = parseNetwork(cidr);
  return new AddressSet().add(family, start, end);
};

// Kernel text as the sweeper namespace of the lab shows it: an on-link /24, routed ones via 198.18.0.254.
const LAB_ROUTES_V4 = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t000012C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
eth0\t000112C6\tFE0012C6\t0003\t0\t0\t0\t00FFFFFF\t0\t0\t0
eth0\t000013C6\tFE0012C6\t0003\t0\t0\t0\t0000FFFF\t0\t0\t0
eth0\t800012C6\tFE0012C6\t0003\t0\t0\t0\t80FFFFFF\t0\t0\t0
`;
const LAB_ROUTES_V6 = `20010db8000000010000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000002 00000000 00000001     eth0
20010db8000000020000000000000000 40 00000000000000000000000000000000 00 20010db80000000100000000000000fe 00000400 00000001 00000000 00000003     eth0
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000003 00000000 80200001       lo
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
`;

describe('RouteTable', () => {
  const table = new RouteTable([...parseRoutes4(LAB_ROUTES_V4), ...parseRoutes6(LAB_ROUTES_V6)]);

  it('tells on-link addresses from routed ones by the longest matching route', () => {
    const onLink = table.onLinkTest(set('198.18.0.0/24'));
    assert.ok(onLink);
    assert.equal(onLink('198.18.0.77'), true);
    // The /25 via the router is more specific than the on-link /24.
    const mixed = table.onLinkTest(set('198.18.0.0/23'));
    assert.deepEqual(['198.18.0.5', '198.18.0.200', '198.18.1.5'].map((a) => mixed?.(a)), [true, false, false]);
    const v6 = table.onLinkTest(set('2001:db8:0:1::/120'));
    assert.equal(v6?.('2001:db8:0:1::77'), true);
  });

  it('asks nothing per address for a sweep that no on-link route touches: a routed VPC, loopback, no route', () => {
    assert.equal(table.onLinkTest(set('198.19.0.0/17')), undefined);
    assert.equal(table.onLinkTest(set('127.0.0.0/16')), undefined);
    assert.equal(table.onLinkTest(set('2001:db8:0:2::/120')), undefined);
    assert.equal(table.onLinkTest(set('198.18.3.0/24')), undefined);
  });

  it('counts neither a reject route nor the host\'s own addresses as on-link', () => {
    // Only the `unreachable` default route of IPv6 matches these; ::1 is the host's own.
    assert.equal(table.onLinkTest(set('2001:db8:0:9::/120')), undefined);
    assert.equal(table.onLinkTest(set('::1/128')), undefined);
  });
});

describe('in-flight budget', () => {
  it('holds rate × the whole wait of a silent address, within the default and the echo tables', () => {
    assert.equal(totalWaitMs({ timeoutMs: 1000, retries: 1 }), 2500);
    assert.equal(inFlightBudget(10_000, 2500), 31_250);
    assert.equal(inFlightBudget(0, 2500), 4096, 'an unlimited rate keeps the default');
    assert.equal(inFlightBudget(100, 2500), 4096);
    assert.equal(inFlightBudget(1_000_000, 2500), 60_000);
  });
});

describe('SendBudget shared by several schedulers (ProbeEngine)', () => {
  it('keeps all of them together under one rate, and serves the oldest first', async () => {
    const echo = new SilentEcho();
    const engine = new ProbeEngine({ families: [4], rate: 2000, maxInFlight: 10_000, kit: { echo, tcp: noTcp }, routes: new RouteTable([]) });
    const sweeps = ['198.19.0.0/24', '198.19.1.0/24', '198.19.2.0/24'].map((cidr) =>
      engine.scheduler(set(cidr), 256, options({ timeoutMs: 50, rate: 0 })).run(),
    );
    const started = performance.now();
    const results = await Promise.all(sweeps);
    const elapsed = performance.now() - started;
    engine.close();
    assert.deepEqual(results.map((r) => [r.complete, r.hosts.length]), [[true, 256], [true, 256], [true, 256]]);
    assert.ok(results.every((r) => r.hosts.every((h) => h.state === 'silent')));
    // 768 sends at 2000/s take about 384 ms (less a first burst of 20): not three times faster, as three own rates would.
    assert.ok(elapsed >= 330, `took ${elapsed.toFixed(0)} ms`);
    // The first sweep's probes all go before the second's, and so on: chunks finish in the order they came.
    const order = echo.sent.map((s) => s.address.split('.')[2]);
    const firstOf = (third: string): number => order.indexOf(third);
    const lastOf = (third: string): number => order.lastIndexOf(third);
    assert.ok(lastOf('0') < firstOf('1') && lastOf('1') < firstOf('2'), `sent in this order: ${[...new Set(order)].join(', ')}`);
  });

  it('never lets them together have more probes outstanding than the engine allows', async () => {
    const echo = new SilentEcho();
    const engine = new ProbeEngine({ families: [4], rate: 0, maxInFlight: 100, kit: { echo, tcp: noTcp }, routes: new RouteTable([]) });
    const results = await Promise.all(
      ['198.19.0.0/24', '198.19.1.0/24'].map((cidr) => engine.scheduler(set(cidr), 256, options({ timeoutMs: 20, rate: 0 })).run()),
    );
    engine.close();
    assert.deepEqual(results.map((r) => r.hosts.length), [256, 256]);
    assert.equal(echo.maxInFlight, 100);
    assert.equal(engine.budget.inFlight, 0);
  });

  it('holds on-link targets to the allowance, each for the time its neighbour entry may live', async () => {
    const echo = new SilentEcho();
    const routes = new RouteTable(parseRoutes4(LAB_ROUTES_V4));
    const engine = new ProbeEngine({ families: [4], rate: 0, maxInFlight: 1000, maxOnLink: 40, kit: { echo, tcp: noTcp }, routes });
    const onLinkPart = engine.scheduler(set('198.18.0.0/25'), 128, options({ timeoutMs: 20, rate: 0 })).run();
    const routed = await engine.scheduler(set('198.19.0.0/24'), 256, options({ timeoutMs: 20, rate: 0 })).run();
    // Routed targets are not held back by the on-link allowance.
    assert.equal(routed.hosts.length, 256);
    const sentOnLink = echo.sent.filter((s) => s.address.startsWith('198.18.0.')).length;
    assert.equal(sentOnLink, 40, 'the first 40 on-link targets, then a wait of about 3 s');
    assert.equal(engine.budget.onLink, 40);
    engine.close();
    void onLinkPart;
  });

  it('halves the on-link allowance when the kernel is short of buffers, and grows it back as targets finish', () => {
    const budget = new SendBudget({ rate: 0, maxInFlight: 1000, maxOnLink: 512 });
    budget.congested();
    budget.congested();
    assert.equal(budget.onLinkLimit, 128);
    for (let i = 0; i < 10; i += 1) budget.congested();
    assert.equal(budget.onLinkLimit, 8, 'never below 8');
    const waiter = { wake: () => undefined };
    for (let i = 0; i < 8; i += 1) assert.equal(budget.takeOnLink(waiter), true);
    assert.equal(budget.takeOnLink(waiter), false);
    budget.onLinkDone(undefined);
    assert.equal(budget.onLinkLimit, 9);
    assert.equal(budget.onLink, 7);
    budget.close();
  });

  it('wakes a waiter once a token is due, however the clock falls', async () => {
    const budget = new SendBudget({ rate: 1000, maxInFlight: 1000, maxOnLink: 10 });
    let taken = 0;
    const waiter = {
      wake: () => {
        while (budget.takeProbe(waiter)) taken += 1;
      },
    };
    waiter.wake();
    const deadline = performance.now() + 300;
    while (taken < 100 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    budget.close();
    assert.ok(taken >= 100, `only ${taken} tokens in 300 ms at 1000/s`);
  });
});

describe('TokenBucket', () => {
  it('lets a burst of 10 ms go, then paces', () => {
    const bucket = new TokenBucket(10_000);
    let sent = 0;
    while (bucket.ready() && sent < 1000) {
      bucket.take();
      sent += 1;
    }
    assert.ok(sent >= 100 && sent < 110, `${sent}`);
    assert.ok(bucket.waitMs() >= 1);
  });
});
