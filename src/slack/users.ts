import type { WebClient } from '@slack/web-api';
import { PolicyRefusedError, policyUsergroups } from '../door/policy.js';
import type { Policy } from '../door/policy.js';
import { slackErrorCode } from './errors.js';

/** How long a user group's members are remembered, in ms. */
const MEMBERS_KEPT_MS = 5 * 60_000;

/**
 * The policy's user groups a user belongs to, read with usergroups.users.list (the usergroups:read scope) and kept 5
 * minutes. Only the groups the policy names are read; with none, Slack is never asked.
 */
export class SlackUsergroups {
  private readonly members = new Map<string, { at: number; users: Set<string> }>();
  private readonly groups: string[];

  constructor(
    private readonly client: WebClient,
    policy: Policy,
  ) {
    this.groups = policyUsergroups(policy);
  }

  /** Throws PolicyRefusedError when a group's members cannot be read: the policy cannot be applied without them. */
  async of(user: string): Promise<ReadonlySet<string>> {
    const mine = new Set<string>();
    for (const group of this.groups) {
      let cached = this.members.get(group);
      if (!cached || Date.now() - cached.at > MEMBERS_KEPT_MS) {
        const listed = await this.client.usergroups.users.list({ usergroup: group }).catch((error: unknown) => {
          throw new PolicyRefusedError(
            `the policy names user group ${group}, whose members I cannot read (${slackErrorCode(error) ?? 'Slack did not answer'}): ` +
              'the app needs the usergroups:read scope',
          );
        });
        cached = { at: Date.now(), users: new Set(listed.users ?? []) };
        this.members.set(group, cached);
      }
      if (cached.users.has(user)) mine.add(group);
    }
    return mine;
  }
}
