/** What the Web API said went wrong, as Slack's error code (`not_in_channel`); undefined for a transport failure. */
export function slackErrorCode(error: unknown): string | undefined {
  const data = (error as { data?: { error?: unknown } }).data;
  return typeof data?.error === 'string' ? data.error : undefined;
}

/** Slack errors that mean "the bot cannot post here": the answer then goes to the user through response_url. */
export const CANNOT_POST: ReadonlySet<string> = new Set(['not_in_channel', 'channel_not_found', 'is_archived', 'restricted_action', 'missing_scope']);
