/**
 * Slack's answers that say a token will never work (wrong, revoked, of the wrong kind, without the scope it needs):
 * retrying cannot help, so the bot ends at start with one line naming the setting and the fix, exit 2, as it does
 * when Redis refuses it.
 */
const REFUSALS = new Set(['invalid_auth', 'not_authed', 'account_inactive', 'token_revoked', 'token_expired', 'not_allowed_token_type', 'missing_scope']);

export type SlackToken = 'SLACK_BOT_TOKEN' | 'SLACK_APP_TOKEN';

const FIX: Record<SlackToken, string> = {
  SLACK_BOT_TOKEN: 'set it to the Bot User OAuth Token (xoxb-…) of OAuth & Permissions, once the app is installed to the workspace',
  SLACK_APP_TOKEN: 'set it to an App-Level Token (xapp-…) with the connections:write scope, from Basic Information',
};

/** Why Slack refused `token`, in one sentence with the fix, when `error` (a Web API call's) says it did. */
export function slackRefusal(error: unknown, token: SlackToken): Error | undefined {
  const code = (error as { data?: { error?: unknown } } | undefined)?.data?.error;
  if (typeof code !== 'string' || !REFUSALS.has(code)) return undefined;
  return new Error(`Slack refused ${token} (${code}): ${FIX[token]}`);
}
