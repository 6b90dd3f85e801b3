/**
 * Redis as teams run it: TLS in transit and an ACL user, on a real redis-server (`--tls-port` only, with a CA and a
 * certificate the test makes with openssl, the default user off). The agent, `submit`, `agents` and `history` work
 * through it; a wrong password, a certificate no CA given vouches for, or a user without a command ZenSweep needs is
 * one line on stderr and exit 2 at start, for the agent, the bot and the command line, never a loop of retries, and
 * the password is never written anywhere.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DistributedReport } from '../../src/core/report.js';
import { startAgent } from '../support/agents.js';
import { zensweep } from '../support/cli.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { assertRefusedAtStart, WRONG_PASSWORD } from '../support/refused.js';

const PASSWORD = 'zs-acl-s3cret-0042';
const WEAK_PASSWORD = 'zs-weak-s3cret-0043';
/** What ZenSweep needs of Redis (README, "Redis"): every command but the dangerous ones, and INFO. */
const ZENSWEEP_RULES = `on >${PASSWORD} ~* &* +@all -@dangerous +info`;

describe('Redis over TLS with an ACL user (real redis-server --tls-port, a CA made by the test)', () => {
  let redis: RedisServer;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    redis = await startRedis({ tls: true, users: { default: 'off', zensweep: ZENSWEEP_RULES, weak: `on >${WEAK_PASSWORD} ~* +ping` } });
    env = {
      PATH: process.env.PATH,
      REDIS_URL: `rediss://127.0.0.1:${redis.port}`,
      REDIS_USERNAME: 'zensweep',
      REDIS_PASSWORD: PASSWORD,
      REDIS_TLS_CA: redis.caFile,
    };
  });
  after(async () => {
    await redis?.destroy();
  });

  /** Every line the run wrote, on both streams, holds neither password. */
  function assertNoSecret(...streams: string[]): void {
    for (const text of streams) {
      assert.ok(!text.includes(PASSWORD) && !text.includes(WEAK_PASSWORD), `a password was written:\n${text}`);
    }
  }

  it('runs an agent, a sweep through it, agents and history as the ACL user over TLS', { timeout: 90_000 }, async () => {
    const agent = await startAgent({ redisUrl: env.REDIS_URL ?? '', group: 'tls', cidrs: '127.0.0.0/24', env });
    try {
      const submit = await zensweep(['submit', '127.0.0.0/29', '--json'], { env, timeoutMs: 60_000 });
      assert.equal(submit.code, 0, submit.stderr);
      const report = JSON.parse(submit.stdout) as DistributedReport;
      assert.equal(report.complete, true);
      assert.equal(report.summary.alive, 6);
      assert.deepEqual([...new Set(report.chunks.map((c) => c.agentId))], [agent.id]);
      const agents = await zensweep(['agents'], { env, timeoutMs: 30_000 });
      assert.equal(agents.code, 0, agents.stderr);
      assert.match(agents.stdout, new RegExp(`${agent.id}`));
      const history = await zensweep(['history'], { env, timeoutMs: 30_000 });
      assert.equal(history.code, 0, history.stderr);
      assert.match(history.stdout, /127\.0\.0\.0\/29/);
      assertNoSecret(submit.stdout, submit.stderr, agents.stdout, agents.stderr, history.stdout, history.stderr);
    } finally {
      await agent.stop();
      assertNoSecret(agent.stdout(), agent.stderr());
      assert.equal(agent.stderr(), '', 'the agent wrote nothing but JSON lines on stdout');
    }
  });

  const cases: [string, () => NodeJS.ProcessEnv, RegExp][] = [
    ['a wrong password', () => ({ REDIS_PASSWORD: 'not-the-password' }), WRONG_PASSWORD],
    ['no CA for its certificate', () => ({ REDIS_TLS_CA: undefined }), /refused ZenSweep: its TLS certificate is not trusted \([A-Z_]+\): set REDIS_TLS_CA to the CA file that signed it$/],
    ['a user without a command ZenSweep needs', () => ({ REDIS_USERNAME: 'weak', REDIS_PASSWORD: WEAK_PASSWORD }), /refused ZenSweep: the user may not run a command ZenSweep needs \(NOPERM .*\): see the README for its ACL$/],
  ];
  for (const [what, change, reason] of cases) {
    it(`says ${what} in one line and exits 2: agent, bot and submit`, { timeout: 90_000 }, async () => {
      await assertRefusedAtStart({ ...env, ...change() }, /rediss:\/\/(zensweep|weak):\*\*\*@127\.0\.0\.1:\d+/, reason, [PASSWORD, WEAK_PASSWORD]);
    });
  }
});
