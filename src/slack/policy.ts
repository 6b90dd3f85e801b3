import { z } from 'zod';
import { ConfigError, ZenSweepError } from '../core/errors.js';
import type { SweepRequest } from '../core/request.js';
import { AddressSet, parseNetwork, probeRange } from '../core/targets.js';
import type { SweepPlan } from '../queue/plan.js';

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

/**
 * Checks a planned sweep against the policy for this channel and user: every group it runs in and every address
 * it probes must be allowed by one rule that applies. Throws PolicyRefusedError saying why.
 */
export function checkPolicy(
  policy: Policy,
  who: { channel: string; user: string; usergroups?: ReadonlySet<string> },
  request: SweepRequest,
  plan: SweepPlan,
): void {
  const member = (groups: Set<string>): boolean => [...groups].some((g) => who.usergroups?.has(g) ?? false);
  // A rule naming users and user groups applies to either.
  const isWho = (r: Rule): boolean =>
    (!r.users && !r.usergroups) || (r.users?.has(who.user) ?? false) || (r.usergroups ? member(r.usergroups) : false);
  const applying = policy.rules.filter((r) => (!r.channels || r.channels.has(who.channel)) && isWho(r));
  if (applying.length === 0) {
    if (policy.fallback === 'allow') return;
    throw new PolicyRefusedError('no sweep is allowed from this channel for you; ask an admin to add a rule to ZENSWEEP_POLICY');
  }
  const addresses = new AddressSet();
  let names = false;
  for (const spec of request.targets) {
    if (spec.kind === 'name') names = true;
    else {
      const range = probeRange(spec);
      addresses.add(range.family, range.start, range.end);
    }
  }
  const allowed = applying.some((rule) => {
    if (rule.groups && !plan.groups.every((g) => rule.groups?.has(g))) return false;
    if (!rule.cidrs) return true;
    // A name's addresses are known only inside the network, so a rule limited to CIDRs does not allow names.
    return !names && rule.cidrs.covers(addresses);
  });
  if (allowed) return;
  const scopes = applying.map((r) => {
    const groups = r.groups ? [...r.groups].join(', ') : 'any group';
    return r.cidrText ? `${groups} within ${r.cidrText.join(', ')}` : groups;
  });
  throw new PolicyRefusedError(
    `this channel may sweep only ${scopes.join('; or ')}${names ? ' (and host names only where no CIDR limit applies)' : ''}`,
  );
}
