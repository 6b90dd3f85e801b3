/**
 * A real `zensweep bot` process against the fake Slack, and requests signed the way Slack signs them (v0 HMAC).
 */
import { createHmac } from 'node:crypto';
import { freePort } from './ports.js';
import { spawnService, type ServiceProcess } from './service.js';
import { APP_TOKEN, BOT_TOKEN, type FakeSlack } from './fake-slack.js';
import { until } from './wait.js';

export const SIGNING_SECRET = 'test-signing-secret-0000';

export interface BotProcess extends ServiceProcess {
  /** HTTP mode: http://127.0.0.1:PORT/slack/events */
  readonly eventsUrl: string;
}

export { freePort } from './ports.js';

export async function startBot(
  options: { redisUrl: string; slack: FakeSlack; socketMode?: boolean; env?: NodeJS.ProcessEnv },
  readyTimeoutMs = 30_000,
): Promise<BotProcess> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    REDIS_URL: options.redisUrl,
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_API_URL: options.slack.apiUrl,
    ...(options.socketMode ? { SLACK_APP_TOKEN: APP_TOKEN } : { SLACK_SIGNING_SECRET: SIGNING_SECRET, PORT: String(port) }),
    ...options.env,
  };
  const service = spawnService(['bot'], env);
  const bot: BotProcess = { ...service, eventsUrl: `http://127.0.0.1:${port}/slack/events` };
  try {
    await until('the bot to start', () => bot.log().includes('"event":"bot_started"'), {
      timeoutMs: readyTimeoutMs,
      everyMs: 25,
      stopIf: () => (bot.child.exitCode === null ? undefined : `bot exited with ${bot.child.exitCode}:\n${bot.log()}`),
      show: () => bot.log(),
    });
  } catch (error) {
    if (bot.child.exitCode === null) await bot.kill();
    throw error;
  }
  return bot;
}

export function sign(body: string, timestamp: number, secret = SIGNING_SECRET): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

let trigger = 0;

/** The form fields of a slash command, as Slack sends them. */
export function commandFields(text: string, overrides: Record<string, string> = {}): Record<string, string> {
  trigger += 1;
  return {
    token: 'deprecated-verification-token',
    team_id: 'T1',
    team_domain: 'test',
    channel_id: 'C0PUBLIC',
    channel_name: 'ops',
    user_id: 'U0ONCALL',
    user_name: 'oncall',
    command: '/sweep',
    text,
    api_app_id: 'A0TEST',
    response_url: 'http://127.0.0.1:9/unused',
    trigger_id: `${Date.now()}.${process.pid}.${trigger}`,
    ...overrides,
  };
}

export interface PostOptions {
  /** Seconds since the epoch; default now. */
  timestamp?: number;
  /** Replace the signature (e.g. a wrong one); `null` sends none. */
  signature?: string | null;
  secret?: string;
  headers?: Record<string, string>;
}

/** POSTs a form to the bot as Slack does, signed with v0 HMAC unless told otherwise. */
export async function postSigned(url: string, fields: Record<string, string>, options: PostOptions = {}): Promise<{ status: number; body: string }> {
  const body = new URLSearchParams(fields).toString();
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(timestamp),
    ...options.headers,
  };
  const signature = options.signature === undefined ? sign(body, timestamp, options.secret) : options.signature;
  if (signature !== null) headers['x-slack-signature'] = signature;
  const response = await fetch(url, { method: 'POST', headers, body });
  return { status: response.status, body: await response.text() };
}

/** A button click (block_actions), as Slack POSTs it: one form field `payload` holding JSON. */
export function actionFields(
  actionId: string,
  value: string,
  responseUrl: string,
  user = 'U0ONCALL',
  where: { channel?: string; messageTs?: string } = {},
): Record<string, string> {
  const channel = where.channel ?? 'C0PUBLIC';
  return {
    payload: JSON.stringify({
      type: 'block_actions',
      team: { id: 'T1', domain: 'test' },
      user: { id: user, username: 'oncall', team_id: 'T1' },
      api_app_id: 'A0TEST',
      token: 'deprecated-verification-token',
      container: { type: 'message', message_ts: where.messageTs ?? '1700000001.000100', channel_id: channel },
      trigger_id: `${Date.now()}.action`,
      channel: { id: channel, name: 'ops' },
      response_url: responseUrl,
      actions: [{ type: 'button', action_id: actionId, block_id: 'sweep_report', value, text: { type: 'plain_text', text: 'x' }, action_ts: `${Date.now() / 1000}` }],
    }),
  };
}

/**
 * A modal submitted (view_submission), as Slack POSTs it: the view the bot opened (its callback_id and
 * private_metadata as it sent them) with `values` in its state: block id → action id → what the element holds.
 */
export function viewSubmissionFields(view: { callback_id: string; private_metadata?: string }, values: Record<string, Record<string, unknown>>, user = 'U0ONCALL'): Record<string, string> {
  return {
    payload: JSON.stringify({
      type: 'view_submission',
      team: { id: 'T1', domain: 'test' },
      user: { id: user, username: 'oncall', team_id: 'T1' },
      api_app_id: 'A0TEST',
      token: 'deprecated-verification-token',
      trigger_id: `${Date.now()}.view`,
      view: {
        id: 'V0TEST',
        team_id: 'T1',
        type: 'modal',
        callback_id: view.callback_id,
        private_metadata: view.private_metadata ?? '',
        state: { values },
        hash: '1700000000.abc',
        app_id: 'A0TEST',
        bot_id: 'BBOT',
      },
    }),
  };
}

/** An Events API event (`event_callback`), as Slack POSTs it: JSON, signed. */
export async function postEvent(url: string, event: Record<string, unknown>): Promise<{ status: number; body: string }> {
  const body = JSON.stringify({
    token: 'deprecated-verification-token',
    team_id: 'T1',
    api_app_id: 'A0TEST',
    event: { event_ts: `${Date.now() / 1000}`, ...event },
    type: 'event_callback',
    event_id: `Ev${Date.now()}`,
    event_time: Math.floor(Date.now() / 1000),
  });
  const timestamp = Math.floor(Date.now() / 1000);
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': sign(body, timestamp) },
    body,
  });
  return { status: response.status, body: await response.text() };
}
