import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { OutOfScopeError, SweepTooLargeError } from '../../src/core/errors.js';
import { parseSweepText } from '../../src/core/grammar.js';
import type { SweepRequest } from '../../src/core/request.js';
import { planSweep, reachOfChunks } from '../../src/queue/plan.js';
import type { SweepPlan } from '../../src/queue/plan.js';
import type { AgentInfo } from '../../src/queue/registry.js';
import { Judge, PolicyRefusedError, checkPolicy, checkRequest, parsePolicy } from '../../src/door/policy.js';
import type { Policy, Requester } from '../../src/door/policy.js';
import { PARSE_LIMITS } from '../../src/slack/commands/sweep.js';

function agent(group: string, cidrs: string[]): AgentInfo {
  const now = new Date().toISOString();
  return { group, id: `${group}-1`, cidrs, version: 'test', icmp: true, load: { active: 0, concurrency: 1 }, startedAt: now, lastSeen: now };
}

/** What each group reaches, in the grammar's words: `{ prod: ['10.0.0.0-10.0.0.255', 'db.internal'] }`. */
const reach = (groups: Record<string, string[]>) => reachOfChunks(Object.entries(groups).map(([group, targets]) => ({ group, targets })));

/** The bot's order: the request against the policy, then the plan against the policy, then its size. */
function planFor(policy: Policy, who: Requester, text: string, agents: AgentInfo[], maxAddresses = 65_536): SweepPlan {
  const request = parseSweepText(text, PARSE_LIMITS);
  checkRequest(policy, who, request);
  return planSweep(request, agents, { maxAddresses, authorize: (r) => checkPolicy(policy, who, r) });
}

const refusedWith = (message: string) => (e: unknown) => e instanceof PolicyRefusedError && e.message === message;

describe('policy', () => {
  const policy = parsePolicy(
    JSON.stringify({
      rules: [
        { channels: ['C0OPS'], groups: ['prod'] },
        { channels: ['C0DB'], cidrs: ['10.0.2.0/24'] },
        { users: ['U0ADMIN'] },
      ],
    }),
  );

  it('allows anything the agents cover when there is no policy', () => {
    assert.deepEqual(checkPolicy(parsePolicy(undefined), { channel: 'C1', user: 'U1' }, reach({ prod: ['10.0.0.0-10.0.255.255', 'db.internal'] })), new Map());
  });

  it('applies rules by channel and user, to the groups and addresses of the plan, and says why it refuses', () => {
    checkPolicy(policy, { channel: 'C0OPS', user: 'U1' }, reach({ prod: ['10.0.0.1-10.0.255.254'] }));
    assert.throws(
      () => checkPolicy(policy, { channel: 'C0OPS', user: 'U1' }, reach({ prod: ['10.0.0.1'], staging: ['10.9.0.1-10.9.0.254'] })),
      refusedWith('this channel may sweep only prod'),
    );
    checkPolicy(policy, { channel: 'C0DB', user: 'U1' }, reach({ prod: ['10.0.2.5-10.0.2.20'] }));
    assert.throws(
      () => checkPolicy(policy, { channel: 'C0DB', user: 'U1' }, reach({ prod: ['10.0.2.1-10.0.3.254'] })),
      refusedWith('this channel may sweep only any group within 10.0.2.0/24'),
    );
    checkPolicy(policy, { channel: 'C0ANY', user: 'U0ADMIN' }, reach({ staging: ['10.9.0.1-10.9.0.254'] }));
    assert.throws(
      () => checkPolicy(policy, { channel: 'C0ANY', user: 'U1' }, reach({ prod: ['10.0.0.1'] })),
      refusedWith('no sweep is allowed from this channel for you; ask an admin to add a rule to ZENSWEEP_POLICY'),
    );
  });

  it('allows each group what the rules for that group allow, together', () => {
    const split = parsePolicy(
      JSON.stringify({ rules: [{ groups: ['a'], cidrs: ['10.0.0.0/24'] }, { groups: ['b'], cidrs: ['10.0.1.0/24'] }, { groups: ['b'], cidrs: ['10.0.2.0/24'] }] }),
    );
    const who = { channel: 'C1', user: 'U1' };
    checkPolicy(split, who, reach({ a: ['10.0.0.1-10.0.0.254'], b: ['10.0.1.0-10.0.2.255'] }));
    // 10.0.0.5 is allowed, but not in group b.
    assert.throws(() => checkPolicy(split, who, reach({ b: ['10.0.0.5'] })), PolicyRefusedError);
  });

  it('refuses vpc:all from a channel limited to a /28 with the policy reason only, before the size cap', () => {
    const small = parsePolicy(JSON.stringify({ rules: [{ channels: ['C0SMALL'], cidrs: ['127.0.0.0/28'] }] }));
    const agents = [agent('lo', ['127.0.0.0/16']), agent('v6', ['2001:db8::/56'])];
    for (const maxAddresses of [65_536, 100]) {
      assert.throws(
        () => planFor(small, { channel: 'C0SMALL', user: 'U1' }, 'vpc:all', agents, maxAddresses),
        refusedWith('this channel may sweep only any group within 127.0.0.0/28'),
      );
    }
    // Asked for by address, a /8 is refused by the policy, not by its size.
    assert.throws(() => planFor(small, { channel: 'C0SMALL', user: 'U1' }, '10.0.0.0/8', agents), refusedWith('this channel may sweep only any group within 127.0.0.0/28'));
    // And where the policy allows it, the size still counts.
    const open = parsePolicy(undefined);
    assert.throws(() => planFor(open, { channel: 'C1', user: 'U1' }, 'vpc:all', [agent('lo', ['127.0.0.0/16'])], 1000), SweepTooLargeError);
    assert.throws(() => planFor(open, { channel: 'C1', user: 'U1' }, '10.0.0.0/8', agents), SweepTooLargeError);
  });

  it('refuses from the request alone what the rules can never allow: addresses outside, a group not allowed', () => {
    const who = { channel: 'C0OPS', user: 'U1' };
    assert.throws(() => checkRequest(policy, { channel: 'C0DB', user: 'U1' }, parseSweepText('10.0.3.1')), refusedWith('this channel may sweep only any group within 10.0.2.0/24'));
    assert.throws(() => checkRequest(policy, who, parseSweepText('10.0.0.1 vpc:staging')), refusedWith('this channel may sweep only prod'));
    checkRequest(policy, who, parseSweepText('10.0.0.1 vpc:prod'));
    checkRequest(policy, who, parseSweepText('vpc:all'));
    checkRequest(policy, { channel: 'C0DB', user: 'U1' }, parseSweepText('db.internal vpc:prod'));
  });

  it('lets host names through a CIDR limit only with that limit on their chunks, for the agent to enforce', () => {
    const who = { channel: 'C0DB', user: 'U1' };
    const plan = planFor(policy, who, 'db.internal 10.0.2.7 vpc:prod', [agent('prod', ['10.0.0.0/16']), agent('db', ['10.0.2.0/24'])]);
    assert.deepEqual(
      plan.chunks.map((c) => [c.group, c.targets, c.scope]),
      [
        ['prod', ['10.0.2.7'], ['10.0.2.0/24']],
        ['prod', ['db.internal'], ['10.0.2.0/24']],
      ],
    );
    const unlimited = planFor(policy, { channel: 'C0OPS', user: 'U1' }, 'db.internal vpc:prod', [agent('prod', ['10.0.0.0/16'])]);
    assert.deepEqual(unlimited.chunks, [{ index: 0, group: 'prod', targets: ['db.internal'] }]);
  });

  it('applies a rule to the members of its user groups', () => {
    const members = parsePolicy(JSON.stringify({ rules: [{ usergroups: ['S0NETOPS'], groups: ['prod'] }] }));
    checkPolicy(members, { channel: 'C1', user: 'U1', usergroups: new Set(['S0NETOPS']) }, reach({ prod: ['10.0.0.1'] }));
    assert.throws(() => checkPolicy(members, { channel: 'C1', user: 'U1', usergroups: new Set() }, reach({ prod: ['10.0.0.1'] })), PolicyRefusedError);
  });

  it('refuses a sweep it no longer knows the reach of, unless the requester may sweep anything', () => {
    const unknown = (p: Policy, who: Requester) => new Judge(p, who).subject('a sweep', undefined, 'no longer on record');
    assert.throws(() => unknown(policy, { channel: 'C0OPS', user: 'U1' }), /no longer on record/);
    assert.throws(() => unknown(policy, { channel: 'C0ANY', user: 'U1' }), /no sweep is allowed from this channel/);
    assert.equal(unknown(policy, { channel: 'C0ANY', user: 'U0ADMIN' }).value, 'a sweep');
    assert.equal(unknown(parsePolicy(undefined), { channel: 'C1', user: 'U1' }).value, 'a sweep');
  });

  it('lets a policy fall back to allow, and refuses a malformed one in one line', () => {
    const open = parsePolicy(JSON.stringify({ rules: [], default: 'allow' }));
    checkPolicy(open, { channel: 'C1', user: 'U1' }, reach({ prod: ['10.0.0.1'] }));
    assert.throws(() => parsePolicy('{'), /^ConfigError: ZENSWEEP_POLICY is not valid JSON/);
    assert.throws(() => parsePolicy('{"rules":[{"cidrs":["10.0.0.0/33"]}]}'), /ZENSWEEP_POLICY: rules\.0\.cidrs: /);
    assert.throws(() => parsePolicy('{"rules":[{"chanels":["C1"]}]}'), /ZENSWEEP_POLICY: rules\.0 /);
  });
});

/*
 * The property: over random agents, policies, requesters and requests (vpc:all, names, ranges, overlapping targets,
 * several groups), a plan that passes probes only addresses that a rule applying to that channel and user allows in
 * that group, and limits its chunks to such addresses where names are resolved later; a plan refused holds something
 * no such rule allows; and a request the policy refuses hears only the policy. The oracle below is written apart
 * from the code under test: plain numbers, one address at a time.
 */

interface RuleSpec {
  channels?: string[];
  users?: string[];
  usergroups?: string[];
  groups?: string[];
  cidrs?: string[];
}

/** The space everything happens in: 10.0.0.0/22, 1,024 addresses. */
const BASE = (10 << 24) >>> 0;

function ipv4(text: string): number {
  return text.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
}

function bounds(cidr: string): [number, number] {
  const [address = '', bits = '32'] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const start = Math.floor(ipv4(address) / size) * size;
  return [start, start + size - 1];
}

/** The addresses of a target as a plan writes it: `10.0.0.1` or `10.0.0.1-10.0.0.9`. */
function addressesOf(target: string): number[] {
  const [first = '', last = first] = target.split('-');
  const out: number[] = [];
  for (let a = ipv4(first); a <= ipv4(last); a += 1) out.push(a);
  return out;
}

const isName = (target: string): boolean => /[a-z]/.test(target);
const text = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

function oracle(rules: RuleSpec[], fallback: 'allow' | 'deny', who: Required<Pick<Requester, 'channel' | 'user'>> & { usergroups: string[] }) {
  const applying = rules.filter(
    (r) =>
      (!r.channels || r.channels.includes(who.channel)) &&
      ((!r.users && !r.usergroups) || (r.users?.includes(who.user) ?? false) || (r.usergroups?.some((g) => who.usergroups.includes(g)) ?? false)),
  );
  const inGroup = (group: string | undefined) =>
    applying.filter((r) => group === undefined || !r.groups || r.groups.includes('*') || r.groups.includes(group));
  return {
    /** May this requester have `group` (any group: undefined) probe `address`? */
    allows(address: number, group: string | undefined): boolean {
      if (applying.length === 0) return fallback === 'allow';
      return inGroup(group).some((r) => !r.cidrs || r.cidrs.some((c) => bounds(c)[0] <= address && address <= bounds(c)[1]));
    },
    /** May this requester probe anything at all in `group`? */
    unlimited(group: string): boolean {
      if (applying.length === 0) return fallback === 'allow';
      return inGroup(group).some((r) => !r.cidrs);
    },
    /** Does any rule apply, or the fallback allow? */
    anything(): boolean {
      return applying.length > 0 || fallback === 'allow';
    },
    groupAllowed(group: string): boolean {
      return applying.length === 0 ? fallback === 'allow' : inGroup(group).length > 0;
    },
  };
}

const GROUPS = ['a', 'b', 'c'];
/** An aligned network inside the space, /22 to /32. */
const network = fc
  .tuple(fc.integer({ min: 22, max: 32 }), fc.integer({ min: 0, max: 1023 }))
  .map(([bits, offset]) => {
    const size = 2 ** (32 - bits);
    return `${text(BASE + Math.floor(offset / size) * size)}/${bits}`;
  });
const target = fc.oneof(
  network,
  fc.integer({ min: 0, max: 1023 }).map((o) => text(BASE + o)),
  fc.tuple(fc.integer({ min: 0, max: 1023 }), fc.integer({ min: 0, max: 40 })).map(([o, n]) => `${text(BASE + o)}-${text(Math.min(BASE + o + n, BASE + 1023))}`),
  fc.constantFrom('db.internal', 'web.internal'),
);
const ruleSpec: fc.Arbitrary<RuleSpec> = fc.record(
  {
    channels: fc.subarray(['C1', 'C2'], { minLength: 1 }),
    users: fc.subarray(['U1', 'U2'], { minLength: 1 }),
    usergroups: fc.constant(['S1']),
    groups: fc.oneof(fc.subarray(GROUPS, { minLength: 1 }), fc.constant(['*']).map((g) => [...g])),
    cidrs: fc.array(network, { minLength: 1, maxLength: 3 }),
  },
  { requiredKeys: [] },
);
const scenario = fc.record({
  agents: fc.array(fc.tuple(fc.constantFrom(...GROUPS), fc.array(network, { minLength: 1, maxLength: 2 })), { minLength: 1, maxLength: 4 }),
  rules: fc.array(ruleSpec, { maxLength: 4 }),
  fallback: fc.constantFrom('allow' as const, 'deny' as const),
  who: fc.record({ channel: fc.constantFrom('C1', 'C2'), user: fc.constantFrom('U1', 'U2'), usergroups: fc.subarray(['S1']) }),
  targets: fc.array(target, { maxLength: 4 }),
  vpc: fc.option(fc.constantFrom('all', ...GROUPS), { nil: undefined }),
  maxAddresses: fc.constantFrom(16, 300, 65_536),
});

describe('policy (property)', () => {
  it('passes only plans whose every address a rule applying to that channel and user allows in its group', () => {
    let passed = 0;
    let refused = 0;
    fc.assert(
      fc.property(scenario, (s) => {
        const agents = s.agents.map(([group, cidrs]) => agent(group, cidrs));
        const policy = parsePolicy(JSON.stringify({ rules: s.rules, default: s.fallback }));
        const who = { ...s.who, usergroups: new Set(s.who.usergroups) };
        const truth = oracle(s.rules, s.fallback, s.who);
        const words = [...s.targets, ...(s.vpc ? [`vpc:${s.vpc}`] : [])];
        if (s.targets.length === 0 && s.vpc !== 'all') return;
        const request: SweepRequest = parseSweepText(words.join(' '), PARSE_LIMITS);

        // What the sweep would touch with no policy at all, judged by the oracle.
        let bare: SweepPlan | undefined;
        try {
          bare = planSweep(request, agents);
        } catch (error) {
          if (!(error instanceof OutOfScopeError)) throw error;
        }
        // The addresses the request names (an IPv4 /30 or wider without its network and broadcast addresses).
        const known = request.targets.flatMap((t) => {
          if (t.kind === 'name') return [];
          const skip = t.kind === 'cidr' && t.prefix <= 30 ? 1 : 0;
          return addressesOf(`${text(Number(t.start) + skip)}-${text(Number(t.end) - skip)}`);
        });
        const forced = s.vpc !== undefined && s.vpc !== 'all' ? s.vpc : undefined;
        const requestAllowed = truth.anything() && (forced === undefined || truth.groupAllowed(forced)) && known.every((a) => truth.allows(a, forced));
        const planAllowed =
          bare !== undefined &&
          bare.chunks.every((c) => (c.targets.some(isName) ? truth.groupAllowed(c.group) : true) && c.targets.filter((t) => !isName(t)).every((t) => addressesOf(t).every((a) => truth.allows(a, c.group))));

        let plan: SweepPlan;
        try {
          plan = planFor(policy, who, words.join(' '), agents, s.maxAddresses);
        } catch (error) {
          if (error instanceof PolicyRefusedError) {
            refused += 1;
            // Refused: something in the request or the plan is not allowed, and the answer names only the policy.
            assert.ok(!planAllowed || !requestAllowed, `refused an allowed sweep: ${error.message}`);
            assert.doesNotMatch(error.message, /covers|addresses|agent/);
            return;
          }
          assert.ok(error instanceof OutOfScopeError || error instanceof SweepTooLargeError, String(error));
          // Never a size or planning answer to a sweep the policy refuses: not to its request, nor to its plan.
          assert.ok(requestAllowed, `${error.message}, to a request the policy refuses`);
          assert.ok(bare === undefined || planAllowed, `${error.message}, to a plan the policy refuses`);
          return;
        }
        passed += 1;
        assert.ok(planAllowed);
        for (const chunk of plan.chunks) {
          for (const t of chunk.targets.filter((x) => !isName(x))) {
            for (const a of addressesOf(t)) assert.ok(truth.allows(a, chunk.group), `${text(a)} in ${chunk.group} is not allowed`);
          }
          if (chunk.scope === undefined) {
            assert.ok(truth.unlimited(chunk.group), `chunk ${chunk.index} in ${chunk.group} has no scope under a CIDR limit`);
            continue;
          }
          // What the agent will let through (names once resolved included) is all allowed, and holds the chunk.
          for (const cidr of chunk.scope) {
            const [start, end] = bounds(cidr);
            for (let a = start; a <= end; a += 1) assert.ok(truth.allows(a, chunk.group), `scope ${cidr} of ${chunk.group} holds ${text(a)}`);
          }
          for (const t of chunk.targets.filter((x) => !isName(x))) {
            for (const a of addressesOf(t)) assert.ok(chunk.scope.some((c) => bounds(c)[0] <= a && a <= bounds(c)[1]));
          }
        }
      }),
      { numRuns: 400 },
    );
    // The generators reach both outcomes, or the property says little.
    assert.ok(passed > 20 && refused > 20, `passed ${passed}, refused ${refused}`);
  });
});

describe('policy on sweeps from several vantages', () => {
  const policy = parsePolicy(JSON.stringify({ rules: [{ channels: ['C0OPS'], groups: ['prod'] }, { channels: ['C0BOTH'], groups: ['prod', 'onprem'] }] }));
  const agents = [agent('prod', ['10.0.0.0/16']), agent('onprem', ['10.0.0.0/8'])];

  it('vpc:a,b from:each: every group named must be allowed, from the words and again on the plan', () => {
    const ops = { channel: 'C0OPS', user: 'U1' };
    assert.throws(() => planFor(policy, ops, '10.0.1.0/24 vpc:onprem,prod from:each', agents), refusedWith('this channel may sweep only prod'));
    const plan = planFor(policy, { channel: 'C0BOTH', user: 'U1' }, '10.0.1.0/24 vpc:onprem,prod from:each', agents);
    assert.deepEqual(plan.vantages?.map((v) => v.name), ['onprem', 'prod']);
  });

  it('from:all: the same addresses, judged once per group, whatever the number of agents', () => {
    const judged: string[] = [];
    const twice = [agent('prod', ['10.0.0.0/16']), { ...agent('prod', ['10.0.0.0/16']), id: 'prod-2' }];
    const plan = planSweep(parseSweepText('10.0.1.0/24 from:all'), twice, {
      authorize: (r) => {
        judged.push(...r.addresses.keys());
        return checkPolicy(policy, { channel: 'C0OPS', user: 'U1' }, r);
      },
    });
    assert.deepEqual(judged, ['prod']);
    assert.equal(plan.vantages?.length, 2);
  });
});

