/**
 * Who may probe and see what: the policy (ZENSWEEP_POLICY) read once at start, and the judge every request of the
 * door passes (door.ts). Decisions are made on what a request will probe or reveal — the exact addresses of its
 * plan, the groups and addresses a stored record touched — never on the words of the request alone.
 */
import { z } from 'zod';
import { ConfigError, ZenSweepError } from '../core/errors.js';
import type { SweepRequest } from '../core/request.js';
import { Scope } from '../core/scope.js';
import { AddressSet, parseNetwork } from '../core/targets.js';
import type { SweepReach } from '../queue/plan.js';

/** A sweep the channel's or the user's policy does not allow. */
export class PolicyRefusedError extends ZenSweepError {
  constructor(message: string) {
    super('policy_refused', message);
  }
}

const ruleSchema = z
  .object({
    /** Channel ids (C…, G…) this rule applies to; absent: every channel. */
    channels: z.array(z.string().regex(/^[CGD][A-Z0-9]+$/)).optional(),
    /** User ids (U…, W…) this rule applies to; absent: every user. */
    users: z.array(z.string().regex(/^[UW][A-Z0-9]+$/)).optional(),
    /** User group ids (S…): the rule applies to their members (needs the usergroups:read scope). */
    usergroups: z.array(z.string().regex(/^S[A-Z0-9]+$/)).optional(),
    /** Agent groups it may sweep; absent or ["*"]: every group. */
    groups: z.array(z.string().min(1)).optional(),
    /** Networks it may sweep; absent: whatever the allowed groups cover. */
    cidrs: z.array(z.string().min(1)).optional(),
  })
  .strict();

const policySchema = z
  .object({
    rules: z.array(ruleSchema),
    /** What a request no rule matches may do: `allow` (what the agents cover) or `deny`. Default deny. */
    default: z.enum(['allow', 'deny']).optional(),
  })
  .strict();

interface Rule {
  channels?: Set<string>;
  users?: Set<string>;
  usergroups?: Set<string>;
  groups?: Set<string>;
  cidrs?: AddressSet;
  cidrText?: string[];
}

export interface Policy {
  rules: Rule[];
  fallback: 'allow' | 'deny';
}

/** With no policy at all, any channel may sweep what the agents cover, and nothing more. */
export const OPEN_POLICY: Policy = { rules: [], fallback: 'allow' };

/** Reads the policy's JSON (ZENSWEEP_POLICY, inline or a file); throws ConfigError on anything wrong. */
export function parsePolicy(text: string | undefined): Policy {
  if (!text) return OPEN_POLICY;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`ZENSWEEP_POLICY is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = policySchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`ZENSWEEP_POLICY: ${issue?.path.join('.') || 'policy'} ${issue?.message ?? 'is invalid'}`);
  }
  const rules = parsed.data.rules.map((rule, index): Rule => {
    let cidrs: AddressSet | undefined;
    if (rule.cidrs) {
      cidrs = new AddressSet();
      for (const cidr of rule.cidrs) {
        try {
          const network = parseNetwork(cidr);
          cidrs.add(network.family, network.start, network.end);
        } catch (error) {
          throw new ConfigError(`ZENSWEEP_POLICY: rules.${index}.cidrs: ${(error as Error).message}`);
        }
      }
    }
    return {
      channels: rule.channels && new Set(rule.channels),
      users: rule.users && new Set(rule.users),
      usergroups: rule.usergroups && new Set(rule.usergroups),
      groups: rule.groups && !rule.groups.includes('*') ? new Set(rule.groups) : undefined,
      cidrs,
      cidrText: rule.cidrs,
    };
  });
  return { rules, fallback: parsed.data.default ?? 'deny' };
}

/** The user groups the policy names, which a user's membership has to be looked up for. */
export function policyUsergroups(policy: Policy): string[] {
  return [...new Set(policy.rules.flatMap((r) => [...(r.usergroups ?? [])]))];
}

/** Who asks: the policy applies by channel, user and the user's user groups. */
export interface Requester {
  channel: string;
  user: string;
  /** The policy's user groups this user belongs to. */
  usergroups?: ReadonlySet<string>;
}

/** The rules that apply to this requester; undefined when none does and the policy allows by default. */
function rulesFor(policy: Policy, who: Requester): Rule[] | undefined {
  const member = (groups: Set<string>): boolean => [...groups].some((g) => who.usergroups?.has(g) ?? false);
  // A rule naming users and user groups applies to either.
  const isWho = (r: Rule): boolean =>
    (!r.users && !r.usergroups) || (r.users?.has(who.user) ?? false) || (r.usergroups ? member(r.usergroups) : false);
  const applying = policy.rules.filter((r) => (!r.channels || r.channels.has(who.channel)) && isWho(r));
  if (applying.length > 0) return applying;
  if (policy.fallback === 'allow') return undefined;
  throw new PolicyRefusedError('no sweep is allowed from this channel for you; ask an admin to add a rule to ZENSWEEP_POLICY');
}

/**
 * What the rules allow in one agent group (undefined: in some group): every address (`cidrs` absent), the union of
 * their networks, or nothing at all (undefined).
 */
function allowance(rules: readonly Rule[], group: string | undefined): { cidrs?: AddressSet; text?: string[] } | undefined {
  const inGroup = rules.filter((r) => group === undefined || !r.groups || r.groups.has(group));
  if (inGroup.length === 0) return undefined;
  if (inGroup.some((r) => !r.cidrs)) return {};
  const cidrs = new AddressSet();
  for (const rule of inGroup) for (const r of rule.cidrs?.ranges() ?? []) cidrs.add(r.family, r.start, r.end);
  return { cidrs, text: [...new Set(inGroup.flatMap((r) => r.cidrText ?? []))] };
}

/** The refusal, in the policy's words only: never what the agents cover or what the plan came to. */
function refusal(rules: readonly Rule[]): PolicyRefusedError {
  const scopes = rules.map((r) => {
    const groups = r.groups ? [...r.groups].join(', ') : 'any group';
    return r.cidrText ? `${groups} within ${r.cidrText.join(', ')}` : groups;
  });
  return new PolicyRefusedError(`this channel may sweep only ${scopes.join('; or ')}`);
}

/**
 * Refuses, before anything is planned or sized, a request whose own addresses or `vpc:NAME` no applying rule
 * allows, so that a restricted channel learns nothing of the agents from the answer. Passing it is necessary, not
 * enough: `checkPolicy` decides on the plan.
 */
export function checkRequest(policy: Policy, who: Requester, request: SweepRequest): void {
  const rules = rulesFor(policy, who);
  if (!rules) return;
  const { vpc, vpcs } = request.options;
  // vpc:a,b from:each: every group named must be allowed the targets.
  const named = vpcs ?? [vpc !== undefined && vpc !== 'all' ? vpc : undefined];
  for (const group of named) {
    const allowed = allowance(rules, group);
    if (!allowed || (allowed.cidrs && !allowed.cidrs.covers(AddressSet.fromSpecs(request.targets)))) throw refusal(rules);
  }
}

/**
 * Checks what a sweep will touch against the policy for this channel and user: every address each group probes
 * must lie in a network that an applying rule allowing that group allows. Host names, resolved only inside the
 * network, pass where their group is allowed: the networks returned for each CIDR-limited group travel with its
 * chunks, and the agent refuses any address outside them. Throws PolicyRefusedError saying what the channel may do.
 */
export function checkPolicy(policy: Policy, who: Requester, reach: SweepReach): Map<string, string[]> {
  const scopes = new Map<string, string[]>();
  const rules = rulesFor(policy, who);
  if (!rules) return scopes;
  const groups = new Set([...reach.addresses.keys(), ...reach.names.keys()]);
  for (const group of groups) {
    const allowed = allowance(rules, group);
    const addresses = reach.addresses.get(group);
    if (!allowed || (allowed.cidrs && addresses && !allowed.cidrs.covers(addresses))) throw refusal(rules);
    if (allowed.text) scopes.set(group, allowed.text);
  }
  return scopes;
}

/**
 * What a stored thing touched (a finished sweep, a watch, a baseline, a started request): each agent group with the
 * addresses it probed there. A group probing only host names holds no address: the group alone is judged.
 */
export type Touched = ReadonlyMap<string, AddressSet>;

const ALLOWED: unique symbol = Symbol('allowed by the policy');

/**
 * A value the policy let through for one requester. Only a {@link Judge} makes one, so a kind of command whose
 * `decide` returns it cannot have skipped the policy: a kind without a decision does not compile.
 */
export interface Allowed<T> {
  readonly value: T;
  readonly [ALLOWED]: true;
}

function allowed<T>(value: T): Allowed<T> {
  return { value, [ALLOWED]: true };
}

/**
 * The policy applied to one requester: every kind of command asks it, once, about what it will probe (a plan) or
 * reveal (stored records, the agents), and gets an {@link Allowed} value or a PolicyRefusedError. A requester no rule
 * applies to, where the policy denies by default, is refused whatever the kind (one refusal, nothing revealed).
 */
export class Judge {
  constructor(
    readonly policy: Policy,
    readonly who: Requester,
  ) {}

  /** What this requester may reach in one group: a Scope (Scope.ANY: whatever its agents cover), or undefined. */
  scopeIn(group: string): Scope | undefined {
    const rules = rulesFor(this.policy, this.who);
    if (!rules) return Scope.ANY;
    const allowed = allowance(rules, group);
    if (!allowed) return undefined;
    return allowed.text ? Scope.of(allowed.text) : Scope.ANY;
  }

  /**
   * Something that probes (a sweep, a trace, a diag, a watch): the request's own words first, then the exact plan
   * `plan` makes, which hands `authorize` to the planner so the policy judges the addresses of each group before any
   * size or coverage message. Throws the refusal.
   */
  async probe<P>(request: SweepRequest, plan: (authorize: (reach: SweepReach) => Map<string, string[]>) => Promise<P>): Promise<Allowed<P>> {
    checkRequest(this.policy, this.who, request);
    return allowed(await plan((reach) => checkPolicy(this.policy, this.who, reach)));
  }

  /**
   * Stored things, each shown as `show` makes it from the requester's scope in each group, or left out where `show`
   * says undefined. Throws the refusal when the requester may do nothing here at all.
   */
  revealEach<T, U>(items: readonly T[], show: (item: T, scopeIn: (group: string) => Scope | undefined) => U | undefined): Allowed<U[]> {
    rulesFor(this.policy, this.who);
    const scopeIn = (group: string): Scope | undefined => this.scopeIn(group);
    return allowed(items.flatMap((item) => show(item, scopeIn) ?? []));
  }

  /** Stored things, each shown only where the requester may reach all it touched. */
  reveal<T>(items: readonly T[], touched: (item: T) => Touched): Allowed<T[]> {
    return this.revealEach(items, (item) => (this.reaches(touched(item)) ? item : undefined));
  }

  /**
   * One stored thing to act on or show (a watch, a sweep's hosts, a baseline): refused, in the policy's words, unless
   * the requester may reach all it touched. Where what it touched is no longer known (`touched` undefined), only a
   * requester who may reach anything anywhere passes; the others hear `unknown`.
   */
  subject<T>(item: T, touched: Touched | undefined, unknown: string): Allowed<T> {
    const rules = rulesFor(this.policy, this.who);
    if (!rules) return allowed(item);
    if (touched === undefined) {
      if (!rules.some((r) => !r.groups && !r.cidrs)) throw new PolicyRefusedError(unknown);
    } else if (!this.reaches(touched)) {
      throw refusal(rules);
    }
    return allowed(item);
  }

  /**
   * Something whose reach cannot be judged and that reveals nothing (a watch whose record no longer reads, removed
   * by its id): allowed to any requester the policy allows anything here.
   */
  admitted<T>(item: T): Allowed<T> {
    rulesFor(this.policy, this.who);
    return allowed(item);
  }

  /** What probes nothing and reveals nothing of anyone's (help). */
  nothing(): Allowed<undefined> {
    return allowed(undefined);
  }

  private reaches(touched: Touched): boolean {
    for (const [group, addresses] of touched) {
      const scope = this.scopeIn(group);
      if (!scope || !scope.covers(addresses)) return false;
    }
    return true;
  }
}
