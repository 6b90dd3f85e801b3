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
