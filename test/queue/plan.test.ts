import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OutOfScopeError, SweepTooLargeError } from '../../src/core/errors.js';
import { parseSweepText } from '../../src/core/grammar.js';
import { planSweep } from '../../src/queue/plan.js';
import type { AgentInfo } from '../../src/queue/registry.js';

function agent(group: string, id: string, cidrs: string[]): AgentInfo {
  const now = new Date().toISOString();
  return { group, id, cidrs, version: 'test', icmp: true, load: { active: 0, concurrency: 1 }, startedAt: now, lastSeen: now };
}

const agents = [
  agent('prod', 'p1', ['10.0.0.0/16']),
  agent('prod', 'p2', ['10.0.0.0/16']),
  agent('db', 'd1', ['10.0.2.0/24']),
  agent('lab', 'l1', ['198.18.0.0/24', '2001:db8::/120']),
];

describe('planSweep', () => {
  it('routes each address to the narrowest CIDR that holds it (longest prefix wins), in /24 chunks', () => {
    const plan = planSweep(parseSweepText('10.0.1.0/24 10.0.2.0/23'), agents);
    assert.deepEqual(plan.groups, ['db', 'prod']);
    assert.deepEqual(
      plan.chunks.map((c) => [c.index, c.group, c.targets.join(' ')]),
      [
        [0, 'prod', '10.0.1.1-10.0.1.254'],
        [1, 'db', '10.0.2.1-10.0.2.255'],
        [2, 'prod', '10.0.3.0-10.0.3.254'],
      ],
    );
    assert.equal(plan.addresses, 254 + 510);
  });

  it('splits a large target into chunks of at most 256 addresses', () => {
    const plan = planSweep(parseSweepText('10.0.16.0/20 vpc:prod'), agents);
    assert.equal(plan.chunks.length, 16);
    assert.equal(plan.addresses, 4094);
    assert.ok(plan.chunks.every((c) => c.group === 'prod'));
  });

  it('forces a group with vpc:NAME and refuses what that group does not cover, naming it', () => {
    assert.deepEqual(planSweep(parseSweepText('10.0.2.5 vpc:prod'), agents).groups, ['prod']);
    assert.throws(
      () => planSweep(parseSweepText('198.18.0.5 vpc:prod'), agents),
      (e: unknown) => e instanceof OutOfScopeError && /198\.18\.0\.5 is outside group prod: db covers 10\.0\.2\.0\/24; lab covers/.test(e.message),
    );
    assert.throws(() => planSweep(parseSweepText('10.0.0.1 vpc:nope'), agents), /no live agent in group nope/);
  });

  it('refuses targets no agent covers before anything is enqueued, saying what the groups cover', () => {
    assert.throws(
      () => planSweep(parseSweepText('10.9.0.0/24'), agents),
      (e: unknown) =>
        e instanceof OutOfScopeError &&
        e.message === 'no live agent covers 10.9.0.1-10.9.0.254: db covers 10.0.2.0/24; lab covers 198.18.0.0/24, 2001:db8::/120; prod covers 10.0.0.0/16',
    );
    assert.throws(() => planSweep(parseSweepText('10.0.0.1'), []), /no agent is online/);
  });

  it('sweeps every declared CIDR with vpc:all and no target', () => {
    const plan = planSweep(parseSweepText('vpc:all'), [agent('a', 'a1', ['127.0.0.0/25']), agent('b', 'b1', ['127.0.0.128/25'])]);
    assert.deepEqual(plan.groups, ['a', 'b']);
    assert.equal(plan.addresses, 252);
    assert.throws(() => planSweep(parseSweepText('vpc:all'), agents, { maxAddresses: 1000 }), SweepTooLargeError);
  });

  it('sends host names to the one group online, or asks for vpc:NAME when there are several', () => {
    const one = planSweep(parseSweepText('db.internal'), [agent('prod', 'p1', ['10.0.0.0/16'])]);
    assert.deepEqual(one.chunks, [{ index: 0, group: 'prod', targets: ['db.internal'] }]);
    assert.throws(() => planSweep(parseSweepText('db.internal'), agents), /say which group with vpc:NAME \(groups: db, lab, prod\)/);
    const forced = planSweep(parseSweepText('db.internal 10.0.2.7 vpc:db'), agents);
    assert.deepEqual(forced.chunks.map((c) => c.targets), [['10.0.2.7'], ['db.internal']]);
  });

  it('plans IPv6 after IPv4, each in the group that declared it', () => {
    const plan = planSweep(parseSweepText('2001:db8::/120 198.18.0.0/24'), agents);
    assert.deepEqual(plan.chunks.map((c) => c.targets[0]), ['198.18.0.1-198.18.0.254', '2001:db8::-2001:db8::ff']);
    assert.deepEqual(plan.chunks.map((c) => c.group), ['lab', 'lab']);
  });
});

describe('planSweep from several vantages', () => {
  const fleet = [
    agent('prod', 'p1', ['10.0.0.0/16']),
    agent('prod', 'p2', ['10.0.0.0/16']),
    // Covers only part of what a sweep of 10.0.1.0/24 asks: not a vantage of it.
    agent('prod', 'p3', ['10.0.1.0/25']),
    agent('onprem', 'o1', ['10.0.0.0/8']),
  ];

  it('from:all: one copy of the chunks per live agent of the group that covers them, each for that agent', () => {
    const plan = planSweep(parseSweepText('10.0.1.0/24 10.0.2.0/24 vpc:prod from:all'), fleet);
    assert.deepEqual(
      plan.chunks.map((c) => [c.index, c.group, c.agent, c.targets[0]]),
      [
        [0, 'prod', 'p1', '10.0.1.1-10.0.1.254'],
        [1, 'prod', 'p1', '10.0.2.1-10.0.2.254'],
        [2, 'prod', 'p2', '10.0.1.1-10.0.1.254'],
        [3, 'prod', 'p2', '10.0.2.1-10.0.2.254'],
      ],
    );
    assert.deepEqual(plan.vantages, [
      { name: 'p1', group: 'prod', agent: 'p1', first: 0, count: 2, addresses: 508 },
      { name: 'p2', group: 'prod', agent: 'p2', first: 2, count: 2, addresses: 508 },
    ]);
    assert.equal(plan.addresses, 508, 'the distinct addresses, once');
  });

  it('from:all leaves out an agent whose heartbeat is late (on its way out)', () => {
    const late = { ...agent('prod', 'p2', ['10.0.0.0/16']), lastSeen: new Date(Date.now() - 60_000).toISOString() };
    const plan = planSweep(parseSweepText('10.0.1.0/24 vpc:prod from:all'), [agent('prod', 'p1', ['10.0.0.0/16']), late]);
    assert.deepEqual(plan.vantages?.map((v) => v.name), ['p1']);
  });

  it('vpc:a,b from:each: each group sweeps every target, and the policy judges each group’s addresses once', () => {
    const judged: [string, string[]][] = [];
    const plan = planSweep(parseSweepText('10.0.1.0/28 db.internal vpc:onprem,prod from:each'), fleet, {
      authorize: (reach) => {
        for (const [group, set] of reach.addresses) judged.push([group, set.toTargets()]);
        return new Map([['prod', ['10.0.1.0/24']]]);
      },
    });
    assert.deepEqual(judged, [
      ['onprem', ['10.0.1.1-10.0.1.14']],
      ['prod', ['10.0.1.1-10.0.1.14']],
    ]);
    assert.deepEqual(
      plan.chunks.map((c) => [c.index, c.group, c.agent, c.targets.join(' '), c.scope?.join(' ')]),
      [
        [0, 'onprem', undefined, '10.0.1.1-10.0.1.14', undefined],
        [1, 'onprem', undefined, 'db.internal', undefined],
        [2, 'prod', undefined, '10.0.1.1-10.0.1.14', '10.0.1.0/24'],
        [3, 'prod', undefined, 'db.internal', '10.0.1.0/24'],
      ],
    );
    assert.deepEqual(plan.vantages?.map((v) => [v.name, v.first, v.count]), [
      ['onprem', 0, 2],
      ['prod', 2, 2],
    ]);
  });

  it('refuses a group that does not cover the targets, or has no live agent', () => {
    assert.throws(() => planSweep(parseSweepText('10.1.0.1 vpc:onprem,prod from:each'), fleet), /10\.1\.0\.1 is outside group prod/);
    assert.throws(() => planSweep(parseSweepText('10.0.1.1 vpc:onprem,gone from:each'), fleet), /no live agent in group gone/);
  });

  it('counts every vantage’s addresses against the size cap: N agents, N times the probes', () => {
    assert.doesNotThrow(() => planSweep(parseSweepText('10.0.1.0/24 vpc:prod from:all'), fleet, { maxAddresses: 600 }));
    assert.throws(
      () => planSweep(parseSweepText('10.0.1.0/24 10.0.2.0/24 vpc:prod from:all'), fleet, { maxAddresses: 1000 }),
      (e: unknown) =>
        e instanceof SweepTooLargeError &&
        e.message === "this sweep comes to 508 addresses from each of 2 agents, 1,016 in all; a sweep may probe at most 1,000 (from:all counts each vantage's)",
    );
  });
});
