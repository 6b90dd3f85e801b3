import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkRedisUrl, listenHost, redactUrl } from '../src/config-env.js';
import { ConfigError } from '../src/core/errors.js';
import { zensweep } from './support/cli.js';

const EXAMPLE = 'e.g. redis://:password@redis.internal:6379 (rediss:// for TLS)';

describe('checkRedisUrl', () => {
  it('takes redis:// and rediss:// URLs naming a host, trimmed', () => {
    assert.equal(checkRedisUrl(' redis://127.0.0.1:6379 '), 'redis://127.0.0.1:6379');
    assert.equal(checkRedisUrl('rediss://:p%40ss@redis.internal:6380/2'), 'rediss://:p%40ss@redis.internal:6380/2');
    assert.equal(checkRedisUrl('redis://[::1]:6379'), 'redis://[::1]:6379');
  });

  it('refuses anything else in one sentence naming REDIS_URL, never showing the password', () => {
    const cases: [string | undefined, string][] = [
      [undefined, `REDIS_URL is required, ${EXAMPLE}`],
      ['  ', `REDIS_URL is required, ${EXAMPLE}`],
      ['http://:hunter2@x:6379', `REDIS_URL must start with redis:// or rediss://, ${EXAMPLE}; got http://:***@x:6379/`],
      ['hunter2@x:6379', `REDIS_URL must start with redis:// or rediss://, ${EXAMPLE}; got (an unreadable REDIS_URL)`],
      ['redis://:hunter2@x:99999', `REDIS_URL is not a valid URL, ${EXAMPLE}`],
      ['redis://', `REDIS_URL names no host, ${EXAMPLE}`],
    ];
    for (const [url, message] of cases) {
      assert.throws(
        () => checkRedisUrl(url),
        (error: unknown) => error instanceof ConfigError && error.message === message,
        String(url),
      );
    }
  });

  it('redacts the password of a URL', () => {
    assert.equal(redactUrl('redis://user:hunter2@x:6379'), 'redis://user:***@x:6379');
    assert.equal(redactUrl('redis://x:6379'), 'redis://x:6379');
  });
});

describe('listenHost (METRICS_HOST, HOST)', () => {
  it('takes an IPv4 or IPv6 address (brackets dropped) or a host name; unset or empty is every interface', () => {
    const cases: [string | undefined, string | undefined][] = [
      [undefined, undefined],
      ['  ', undefined],
      [' 127.0.0.1 ', '127.0.0.1'],
      ['0.0.0.0', '0.0.0.0'],
      ['::1', '::1'],
      ['[::1]', '::1'],
      ['fe80::1%eth0', 'fe80::1%eth0'],
      ['localhost', 'localhost'],
      ['metrics.prod-1.internal', 'metrics.prod-1.internal'],
    ];
    for (const [text, host] of cases) assert.equal(listenHost(text, 'METRICS_HOST'), host, String(text));
  });

  it('refuses anything else in one sentence naming the variable', () => {
    for (const text of ['127.0.0.256', '999.1.1.1', '1.2.3', 'not a host', 'http://127.0.0.1', '127.0.0.1:9464', '[localhost]', '-bad.example', 'a..b']) {
      assert.throws(
        () => listenHost(text, 'HOST'),
        (error: unknown) =>
          error instanceof ConfigError && error.message.startsWith(`HOST=${text} is not an address to listen on: it takes an IPv4 or IPv6`),
        text,
      );
    }
  });
});

describe('REDIS_URL in every command (the built CLI)', () => {
  it('is refused with the same line, exit 2, by the agent, the bot and every command that uses Redis', async () => {
    const url = 'http://:hunter2-secret@127.0.0.1:6379';
    const env = {
      PATH: process.env.PATH,
      REDIS_URL: url,
      ZENSWEEP_VPC: 'lo',
      ZENSWEEP_CIDRS: '127.0.0.0/8',
      SLACK_BOT_TOKEN: 'xoxb-test',
      SLACK_SIGNING_SECRET: 'signing',
    };
    const expected = `zensweep: REDIS_URL must start with redis:// or rediss://, ${EXAMPLE}; got http://:***@127.0.0.1:6379/\n`;
    for (const args of [['agent'], ['bot'], ['submit', '127.0.0.1'], ['agents'], ['history'], ['cancel', 'abc-123']]) {
      const result = await zensweep(args, { env, timeoutMs: 20_000 });
      assert.equal(result.code, 2, `${args[0]}: ${result.stderr}`);
      assert.equal(result.stderr, expected, args[0]);
      assert.equal(result.stdout, '', args[0]);
    }
  });
});
