/**
 * What a refusal by Redis looks like to whoever starts ZenSweep (a wrong password, an untrusted certificate, a user
 * without a command it needs): the agent, the bot and `submit` each end at start with one line on stderr saying why
 * and how to fix it, exit 2, never a retry per attempt, and no password in anything they wrote.
 */
import assert from 'node:assert/strict';
import { zensweep } from './cli.js';
import { BOT_TOKEN } from './fake-slack.js';

/**
 * Runs the agent, the bot and `submit 127.0.0.0/29` with `env` (which reaches Redis one way, with something Redis
 * refuses) and checks each says, in one line, `Redis at ` + `where` + ` refused ZenSweep: ` then `reason`.
 */
export async function assertRefusedAtStart(env: NodeJS.ProcessEnv, where: RegExp, reason: RegExp, secrets: readonly string[]): Promise<void> {
  const runs = [
    ['agent', { ...env, ZENSWEEP_VPC: 'refused', ZENSWEEP_CIDRS: '127.0.0.0/24' }],
    ['bot', { ...env, SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_SIGNING_SECRET: 'x', PORT: '9', SLACK_API_URL: 'http://127.0.0.1:9/api/' }],
    ['submit', env],
  ] as const;
  for (const [command, runEnv] of runs) {
    const args = command === 'submit' ? ['submit', '127.0.0.0/29'] : [command];
    const result = await zensweep(args, { env: runEnv, timeoutMs: 30_000 });
    const shown = `${command}: exit ${String(result.code)}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
    assert.equal(result.code, 2, shown);
    const lines = result.stderr.split('\n').filter((line) => line !== '');
    assert.equal(lines.length, 1, shown);
    assert.match(lines[0] ?? '', new RegExp(`^zensweep: Redis at ${where.source} refused ZenSweep: `), shown);
    assert.match(lines[0] ?? '', reason, shown);
    // A service writes JSON lines only on stdout (what ICMP mode it runs in); never a retry per attempt.
    for (const line of result.stdout.split('\n').filter((l) => l !== '')) assert.match(line, /^\{.*\}$/, shown);
    assert.ok(!/redis_down|redis_still_down/.test(result.stdout), shown);
    for (const secret of secrets) assert.ok(!result.stdout.includes(secret) && !result.stderr.includes(secret), `a password was written:\n${shown}`);
  }
}

/** The words of a wrong password, as every way to reach Redis says them. */
export const WRONG_PASSWORD = /refused ZenSweep: wrong user name or password \(WRONGPASS\): check REDIS_USERNAME and REDIS_PASSWORD$/;
