import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ConfigError,
  EmptySweepError,
  InvalidOptionError,
  InvalidTargetError,
  SweepTooLargeError,
  ZenSweepError,
} from '../../src/core/errors.js';
import { DEFAULT_OPTIONS, SWEEP_LIMITS, type SweepRequest } from '../../src/core/request.js';
import {
  DEFAULT_MAX_ADDRESSES,
  describeRequest,
  parseCommand,
  parseSweepText,
  tokenize,
} from '../../src/core/grammar.js';
import { PORT_PRESETS } from '../../src/core/ports.js';
import { AddressSet } from '../../src/core/targets.js';
import { loadAgentConfig } from '../../src/agent/config.js';
import { loadEngineConfig } from '../../src/config.js';
import { chunkJobSchema } from '../../src/queue/jobs.js';

type ErrorClass = new (...args: never[]) => ZenSweepError;

/** Runs `run`, expects the given class and code, and a one-line message that contains every fragment. */
function assertRefused(run: () => unknown, errorClass: ErrorClass, code: string, ...fragments: string[]): string {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof errorClass, `expected ${errorClass.name}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.doesNotMatch(caught.message, /[\r\n]/);
  for (const fragment of fragments) {
    assert.ok(caught.message.includes(fragment), `message says ${JSON.stringify(fragment)}: ${caught.message}`);
  }
  return caught.message;
}

const optionRefused = (text: string, ...fragments: string[]): string =>
  assertRefused(() => parseSweepText(text), InvalidOptionError, 'invalid_option', ...fragments);
const targetRefused = (text: string, ...fragments: string[]): string =>
  assertRefused(() => parseSweepText(text), InvalidTargetError, 'invalid_target', ...fragments);
const tooLarge = (text: string, limits?: { maxAddresses?: number }, ...fragments: string[]): string =>
  assertRefused(() => parseSweepText(text, limits), SweepTooLargeError, 'sweep_too_large', ...fragments);

const texts = (request: SweepRequest): string[] => request.targets.map((spec) => spec.text);
const sizeOf = (request: SweepRequest): bigint => AddressSet.fromSpecs(request.targets).size;

describe('tokenize', () => {
  it('splits on any whitespace, including non-breaking and zero-width spaces', () => {
    assert.deepEqual(tokenize('  10.0.1.0/24\u00a0tcp:22\tcount:2\u200bvpc:prod\u202f\n'), ['10.0.1.0/24', 'tcp:22', 'count:2', 'vpc:prod']);
  });

  it('takes the label of Slack links and drops the scheme of bare ones', () => {
    assert.deepEqual(tokenize('<http://db.example.com|db.example.com> <mailto:ops@example.com|ops@example.com>'), [
      'db.example.com',
      'ops@example.com',
    ]);
    assert.deepEqual(tokenize('<http://db.example.com>'), ['db.example.com']);
  });

  it('strips backticks and quotes around words', () => {
    assert.deepEqual(tokenize('`10.0.1.0/24` ```tcp:22``` "count:2" \u201cdb01\u201d'), ['10.0.1.0/24', 'tcp:22', 'count:2', 'db01']);
  });

  it('keeps an option value in quotes whole, spaces and all, without its quotes (straight or curly)', () => {
    assert.deepEqual(tokenize('10.0.1.0/24 save:"before cutover" tcp:22'), ['10.0.1.0/24', 'save:before cutover', 'tcp:22']);
    assert.deepEqual(tokenize("compare:'a b' save:\u201cc d\u201d save:\u2018e\u2019"), ['compare:a b', 'save:c d', 'save:e']);
    // A whole message in backticks is still words.
    assert.deepEqual(tokenize('`10.0.1.0/24 tcp:22`'), ['10.0.1.0/24', 'tcp:22']);
  });
});

describe('parseSweepText', () => {
  it('parses targets with default options', () => {
    const request = parseSweepText('10.0.1.0/24 10.0.2.10 10.0.3.5-20 db01.Example.com');
    assert.deepEqual(texts(request), ['10.0.1.0/24', '10.0.2.10', '10.0.3.5-20', 'db01.example.com']);
    assert.deepEqual(request.options, { ...DEFAULT_OPTIONS, ports: [] });
    assert.equal('vpc' in request.options, false);
  });

  it('splits comma-separated targets inside one word', () => {
    assert.deepEqual(texts(parseSweepText('10.0.1.0/24,10.0.2.10, 2001:db8::1,')), ['10.0.1.0/24', '10.0.2.10', '2001:db8::1']);
  });

  it('keeps the first of identical targets, however written', () => {
    const request = parseSweepText('10.0.1.0/24 10.0.1.5/24 10.0.1.0/24,10.0.2.1 DB01 db01.');
    assert.deepEqual(texts(request), ['10.0.1.0/24', '10.0.2.1', 'db01']);
  });

  it('reads IPv6 addresses whose first group looks like an option key', () => {
    assert.deepEqual(texts(parseSweepText('dead:beef::1 add::/120 cafe::1,face::2')), ['dead:beef::1', 'add::/120', 'cafe::1', 'face::2']);
  });

  it('works through Slack formatting', () => {
    const request = parseSweepText('<http://db.example.com|db.example.com>\u00a0`10.0.1.0/24`\u00a0tcp:web');
    assert.deepEqual(texts(request), ['db.example.com', '10.0.1.0/24']);
    assert.deepEqual(request.options.ports, [80, 443]);
  });

  describe('options', () => {
    it('accepts key:value and key=value, keys in any case', () => {
      const a = parseSweepText('10.0.1.0/24 count:5 timeout=800 RETRIES:2 Rate=0 interval:250 VPC:Prod');
      assert.deepEqual(a.options, { ports: [], count: 5, timeoutMs: 800, retries: 2, rate: 0, intervalMs: 250, vpc: 'prod' });
    });

    it('parses tcp ports, ranges and presets, sorted and unique', () => {
      assert.deepEqual(parseSweepText('10.0.1.1 tcp:5432,22,22').options.ports, [22, 5432]);
      assert.deepEqual(parseSweepText('10.0.1.1 tcp:8000-8003,80').options.ports, [80, 8000, 8001, 8002, 8003]);
      assert.deepEqual(parseSweepText('10.0.1.1 tcp:rds,8080').options.ports, [1433, 1521, 3306, 5432, 8080]);
      assert.deepEqual(parseSweepText('10.0.1.1 tcp:RDS,web,ssh,rdp').options.ports, [22, 80, 443, 1433, 1521, 3306, 3389, 5432]);
      assert.deepEqual(parseSweepText('10.0.1.1 tcp:1,65535').options.ports, [1, 65535]);
      assert.deepEqual(parseSweepText('10.0.1.1 tcp:22,').options.ports, [22]);
    });

    it('merges several tcp options', () => {
      assert.deepEqual(parseSweepText('10.0.1.1 tcp:22 tcp=ssh,443 tcp:web').options.ports, [22, 80, 443]);
    });

    it('exports the port presets', () => {
      assert.deepEqual(PORT_PRESETS.rds, [3306, 5432, 1433, 1521]);
      assert.deepEqual(PORT_PRESETS.web, [80, 443]);
      assert.deepEqual(PORT_PRESETS.ssh, [22]);
      assert.deepEqual(PORT_PRESETS.rdp, [3389]);
      assert.ok(Object.isFrozen(PORT_PRESETS));
    });

    it('caps distinct ports at 1,024', () => {
      assert.equal(parseSweepText('10.0.1.1 tcp:1-1024').options.ports.length, 1024);
      assert.equal(parseSweepText('10.0.1.1 tcp:1-1000 tcp:1-1024,22').options.ports.length, 1024);
      optionRefused('10.0.1.1 tcp:1-1025', 'tcp:1-1025', '1,024');
      optionRefused('10.0.1.1 tcp:1-1024 tcp:2000', 'tcp:2000', '1,024');
      optionRefused('10.0.1.1 tcp:1-65535', 'tcp:1-65535', '1,024');
    });

    it('refuses bad ports, naming the bad piece and the token', () => {
      optionRefused('10.0.1.1 tcp:0', '0 in tcp:0', '1 to 65535', 'e.g. tcp:22');
      optionRefused('10.0.1.1 tcp:22,65536', '65536 in tcp:22,65536', 'out of range');
      optionRefused('10.0.1.1 tcp:ssh,mysql', 'mysql in tcp:ssh,mysql', 'rds, web, ssh, rdp');
      optionRefused('10.0.1.1 tcp:22.5', '22.5 in tcp:22.5', 'not a port');
      optionRefused('10.0.1.1 tcp:-22', '-22 in tcp:-22');
      optionRefused('10.0.1.1 tcp:8010-8000', '8010-8000 in tcp:8010-8000', 'backwards');
      optionRefused('10.0.1.1 tcp:', 'tcp:', 'names no port');
      optionRefused('10.0.1.1 tcp:,', 'tcp:,', 'names no port');
    });

    const bounds: Array<[string, string, number, number]> = [
      ['count', 'count', 1, 100],
      ['timeout', 'timeoutMs', 1, 60_000],
      ['retries', 'retries', 0, 10],
      ['rate', 'rate', 0, 1_000_000],
      ['interval', 'intervalMs', 1, 60_000],
    ];
    for (const [key, field, min, max] of bounds) {
      it(`accepts ${key} from ${min} to ${max} and refuses values outside`, () => {
        const options = (value: number): Record<string, unknown> => ({ ...parseSweepText(`10.0.1.1 ${key}:${value}`).options });
        assert.equal(options(min)[field], min);
        assert.equal(options(max)[field], max);
        const range = `from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}`;
        optionRefused(`10.0.1.1 ${key}:${max + 1}`, `${key}:${max + 1} is out of range`, range);
        if (min > 0) {
          optionRefused(`10.0.1.1 ${key}:${min - 1}`, `${key}:${min - 1} is out of range`, range);
        }
        for (const bad of ['1.5', 'abc', '', '-1', '+1', '1e3', '0x10', '99999999999999999999999']) {
          optionRefused(`10.0.1.1 ${key}:${bad}`, `${key}:${bad}`, range);
        }
      });
    }

    it('says count:0 is out of range in one exact sentence', () => {
      const message = optionRefused('10.0.1.0/24 count:0');
      assert.equal(message, 'count:0 is out of range: count takes a whole number from 1 to 100, e.g. count:5');
    });

    it('reads timeout and interval in milliseconds, or seconds with s', () => {
      const { options } = parseSweepText('10.0.1.1 timeout:2s interval:150ms');
      assert.equal(options.timeoutMs, 2000);
      assert.equal(options.intervalMs, 150);
      optionRefused('10.0.1.1 timeout:61s', 'timeout:61s is out of range');
      optionRefused('10.0.1.1 timeout:1.5s', 'timeout:1.5s');
      optionRefused('10.0.1.1 count:2s', 'count:2s is not a whole number');
    });

    it('accepts vpc names, lower-cased, and all', () => {
      assert.equal(parseSweepText('10.0.1.1 vpc:Prod-EU_1').options.vpc, 'prod-eu_1');
      assert.equal(parseSweepText('10.0.1.1 vpc:all').options.vpc, 'all');
      assert.equal(parseSweepText(`10.0.1.1 vpc:${'a'.repeat(63)}`).options.vpc, 'a'.repeat(63));
    });

    it('refuses bad vpc names', () => {
      for (const bad of ['-prod', '_prod', '', 'pr.od', 'prod/eu', 'a'.repeat(64), 'pród']) {
        optionRefused(`10.0.1.1 vpc:${bad}`, `vpc:${bad}`, 'e.g. vpc:prod');
      }
    });

    it('refuses an option given twice, except tcp', () => {
      optionRefused('10.0.1.1 count:5 count:6', 'count:6', 'count:5', 'once');
      optionRefused('10.0.1.1 vpc:a VPC=a', 'VPC=a', 'vpc:a');
      optionRefused('10.0.1.1 timeout:5 timeout=5', 'timeout=5');
    });

    it('refuses an unknown key, naming it and listing the valid keys', () => {
      optionRefused('10.0.1.1 colour:red', 'colour:red', 'colour', 'tcp, count, timeout, retries, rate, interval, dns, vpc');
      optionRefused('10.0.1.1 wait=5', 'wait=5', 'tcp, count');
      optionRefused('10.0.1.1 port:22', 'port:22', 'tcp:22');
      optionRefused('10.0.1.1 dead:beef', 'dead:beef', 'valid options');
      optionRefused('10.0.1.1 =5', '=5', 'valid options');
    });

    it('refuses dashed options and says to write key:value', () => {
      optionRefused('10.0.1.1 \u2014count=5', '\u2014count=5', 'options are written key:value, e.g. count:5');
      optionRefused('10.0.1.1 --count=5', '--count=5', 'options are written key:value, e.g. count:5');
      optionRefused('10.0.1.1 \u2013tcp 22', '\u2013tcp', 'e.g. tcp:22,5432');
      optionRefused('10.0.1.1 --tcp=22', '--tcp=22', 'e.g. tcp:22');
      optionRefused('10.0.1.1 -c 5', '-c', 'options are written key:value, e.g. count:5');
      optionRefused('10.0.3.5 - 20', '- on its own', 'e.g. 10.0.3.5-20');
    });

    it('asks for a space before an option stuck to a target', () => {
      optionRefused('10.0.1.0/24,tcp:22', 'tcp:22 in 10.0.1.0/24,tcp:22', 'space');
    });
  });

  describe('targets', () => {
    it('refuses bad targets, naming them', () => {
      targetRefused('10.0.1.300', '10.0.1.300', 'not a valid IPv4 address', 'e.g. 10.0.1.5');
      targetRefused('10.0.1.0/24 10.0.1', '10.0.1 is', 'not a valid IPv4 address');
      targetRefused('2001:db8::/64', '2001:db8::/64', '/112 or longer');
      targetRefused('db_01', 'db_01', 'host name');
      targetRefused('10.0.1.1,10.0.1.999', '10.0.1.999', 'IPv4');
      targetRefused('<mailto:ops@example.com|ops@example.com>', 'ops@example.com', 'host name');
    });

    it('refuses a sweep without targets', () => {
      for (const text of ['', '   ', '\u00a0', '``', 'tcp:22', 'count:5 tcp:rds']) {
        assertRefused(() => parseSweepText(text), EmptySweepError, 'empty_sweep', 'give at least one target, e.g. 10.0.1.0/24');
      }
    });
  });

  describe('limits', () => {
    it('counts a /16 as 65,534 addresses and accepts it', () => {
      assert.equal(DEFAULT_MAX_ADDRESSES, 65_536);
      assert.equal(sizeOf(parseSweepText('10.0.0.0/16')), 65_534n);
    });

    it('accepts exactly 65,536 distinct addresses and refuses 65,537', () => {
      assert.equal(sizeOf(parseSweepText('10.0.0.0/16 10.1.0.0/31')), 65_536n);
      assert.equal(sizeOf(parseSweepText('2001:db8::/112')), 65_536n);
      tooLarge('10.0.0.0/16 10.1.0.0/31 10.1.0.2', undefined, '65,537', 'at most 65,536', '10.0.0.0/16');
      tooLarge('2001:db8::/112 10.0.0.1', undefined, '65,537');
    });

    it('counts overlapping targets once', () => {
      // The /16 probes 10.0.0.1–10.0.255.254; the /24 and the address are inside it.
      const request = parseSweepText('10.0.0.0/16 10.0.1.0/24 10.0.0.5 10.0.255.255 10.0.0.0');
      assert.equal(sizeOf(request), 65_536n);
      assert.equal(request.targets.length, 5);
    });

    it('names the target, the count and the cap', () => {
      const message = tooLarge('10.0.0.0/8');
      assert.equal(message, '10.0.0.0/8 is 16,777,214 addresses; a sweep may probe at most 65,536 (a /16 or smaller)');
      tooLarge('10.0.0.0/15', undefined, '10.0.0.0/15 is 131,070 addresses');
    });

    it('names the total for several targets', () => {
      tooLarge('10.0.0.0/16 10.1.0.0/16', undefined, '10.0.0.0/16, 10.1.0.0/16', '131,068');
      tooLarge('10.0.0.0/17 10.1.0.0/17 10.2.0.0/17 10.3.0.0/17 10.4.0.0/24', undefined, 'and 2 more', '131,318');
    });

    it('counts names as zero addresses', () => {
      assert.equal(parseSweepText('db01 db02', { maxAddresses: 1 }).targets.length, 2);
    });

    it('applies a custom cap and names its largest CIDR', () => {
      assert.equal(sizeOf(parseSweepText('10.0.1.0/24', { maxAddresses: 254 })), 254n);
      tooLarge('10.0.1.0/24', { maxAddresses: 253 }, 'at most 253 (a /25 or smaller)');
    });

    it('iterates a /8 allowed by a large cap lazily', () => {
      const started = performance.now();
      const request = parseSweepText('10.0.0.0/8', { maxAddresses: 2 ** 25 });
      const iterator = AddressSet.fromSpecs(request.targets)[Symbol.iterator]();
      assert.deepEqual([iterator.next().value, iterator.next().value, iterator.next().value], ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
      assert.ok(performance.now() - started < 50, 'instant');
    });

    it('refuses an invalid cap as a configuration error', () => {
      for (const maxAddresses of [0, -1, 1.5, Number.NaN]) {
        assert.throws(() => parseSweepText('10.0.0.1', { maxAddresses }), ConfigError);
      }
    });
  });
});

describe('parseCommand', () => {
  it('answers help for empty text and help', () => {
    for (const text of ['', '  \u00a0', 'help', 'HELP', ' help tcp', '--help']) {
      assert.deepEqual(parseCommand(text), { kind: 'help' });
    }
  });

  it('parses agents, and refuses words after it', () => {
    assert.deepEqual(parseCommand('Agents'), { kind: 'agents' });
    assertRefused(() => parseCommand('agents prod'), InvalidOptionError, 'invalid_option', 'prod', 'agents takes nothing');
  });

  it('parses history with an optional, validated, canonical target', () => {
    assert.deepEqual(parseCommand('history'), { kind: 'history' });
    assert.deepEqual(parseCommand('history 10.0.1.5/24'), { kind: 'history', target: '10.0.1.0/24' });
    assert.deepEqual(parseCommand('History DB01.'), { kind: 'history', target: 'db01' });
    assertRefused(() => parseCommand('history 10.0.1.300'), InvalidTargetError, 'invalid_target', '10.0.1.300');
    assertRefused(() => parseCommand('history 10.0.1.0/24 10.0.2.0/24'), InvalidTargetError, 'invalid_target', '10.0.2.0/24', 'at most one');
    assertRefused(() => parseCommand('history 10.0.1.1,10.0.1.2'), InvalidTargetError, 'invalid_target', '10.0.1.1,10.0.1.2', 'at most one');
    assertRefused(() => parseCommand('history count:5'), InvalidTargetError, 'invalid_target', 'count:5');
  });

  it('parses baselines, and refuses words after it', () => {
    assert.deepEqual(parseCommand('baselines'), { kind: 'baselines' });
    assert.deepEqual(parseCommand(' Baselines '), { kind: 'baselines' });
    assertRefused(() => parseCommand('baselines prod'), InvalidOptionError, 'invalid_option', 'prod', 'baselines takes nothing');
  });

  it('parses forget with one baseline name, lower-cased as save:NAME stores it, and refuses anything else', () => {
    assert.deepEqual(parseCommand('forget Before-Cutover'), { kind: 'forget', name: 'before-cutover' });
    assert.deepEqual(parseCommand('forget `base-10.0.1.0-24`'), { kind: 'forget', name: 'base-10.0.1.0-24' });
    assertRefused(() => parseCommand('forget'), InvalidOptionError, 'invalid_option', 'a baseline name is missing', 'e.g. forget before-cutover');
    assertRefused(() => parseCommand('forget a b'), InvalidOptionError, 'invalid_option', 'b is one word too many');
    assertRefused(() => parseCommand('forget -x'), InvalidOptionError, 'invalid_option', '-x is not a baseline name');
    assertRefused(() => parseCommand('forget a:b'), InvalidOptionError, 'invalid_option', 'is not a baseline name');
    // A host really named forget is swept with a trailing dot.
    assert.deepEqual(texts((parseCommand('forget.') as { request: SweepRequest }).request), ['forget']);
  });

  it('parses everything else as a sweep', () => {
    const command = parseCommand('10.0.1.0/24 tcp:ssh');
    assert.equal(command.kind, 'sweep');
    assert.deepEqual(command.kind === 'sweep' ? command.request : undefined, parseSweepText('10.0.1.0/24 tcp:ssh'));
    const named = parseCommand('help.');
    assert.equal(named.kind, 'sweep');
    assert.deepEqual(named.kind === 'sweep' ? texts(named.request) : [], ['help']);
  });

  it('passes limits through to the sweep', () => {
    assertRefused(() => parseCommand('10.0.1.0/24', { maxAddresses: 10 }), SweepTooLargeError, 'sweep_too_large', '254');
  });
});

describe('describeRequest', () => {
  it('writes targets then non-default options', () => {
    assert.equal(describeRequest(parseSweepText('10.0.1.0/24 tcp:5432,22 count:5')), '10.0.1.0/24 tcp:22,5432 count:5');
    assert.equal(describeRequest(parseSweepText('db01 count:1 timeout:1000')), 'db01');
    assert.equal(
      describeRequest(parseSweepText('VPC:Prod interval=200 rate:0 retries:3 timeout:1s 10.0.1.5/24 tcp:8003,8000-8002,80,443')),
      // timeout:1s is the default 1000 ms, so it is left out.
      '10.0.1.0/24 tcp:80,443,8000-8003 retries:3 rate:0 interval:200 vpc:prod',
    );
  });

  const tokenArbitrary = fc.oneof(
    fc.constantFrom('10.0.1.0/24', '10.0.1.5', '10.0.3.5-20', '2001:db8::/120', '2001:db8::1-2001:db8::ff', 'db01', 'DB02.example.com.'),
    fc.integer({ min: 1, max: 100 }).map((n) => `count:${n}`),
    fc.integer({ min: 1, max: 60_000 }).map((n) => `timeout=${n}`),
    fc.integer({ min: 0, max: 10 }).map((n) => `retries:${n}`),
    fc.integer({ min: 0, max: 1_000_000 }).map((n) => `rate:${n}`),
    fc.integer({ min: 1, max: 60_000 }).map((n) => `interval:${n}`),
    fc.constantFrom('vpc:prod', 'vpc:ALL', 'vpc:eu-1'),
    fc.array(fc.oneof(fc.integer({ min: 1, max: 65_535 }).map(String), fc.constantFrom('rds', 'web', 'ssh', 'rdp', '8000-8010')), { minLength: 1, maxLength: 6 }).map(
      (ports) => `tcp:${ports.join(',')}`,
    ),
  );

  it('writes text that parses back to the same request', () => {
    fc.assert(
      fc.property(fc.array(tokenArbitrary, { minLength: 1, maxLength: 8 }), (tokens) => {
        let request: SweepRequest;
        try {
          request = parseSweepText(tokens.join(' '));
        } catch (error) {
          // Generated lists may repeat an option or hold no target; those are refused, not described.
          assert.ok(error instanceof InvalidOptionError || error instanceof EmptySweepError, String(error));
          return;
        }
        assert.deepEqual(parseSweepText(describeRequest(request)), request);
      }),
      { numRuns: 1_000 },
    );
  });
});

describe('grammar on arbitrary input', () => {
  const plausible = fc
    .array(
      fc.oneof(
        fc.constantFrom('10', '0', '1', '255', '256', '300', '.', '..', '/', ':', '::', '-', ',', '=', '—', '–', ' ', '\u00a0', '`', '<', '>', '|'),
        fc.constantFrom('tcp', 'count', 'timeout', 'retries', 'rate', 'interval', 'vpc', 'help', 'agents', 'history', 'rds', 'web', 's', 'ms'),
        fc.constantFrom('2001', 'db8', 'ffff', 'fe80', '%eth0', 'db01', 'http://', 'mailto:', '112', '111', '32', '8', '16', '65535', '99999999999999999999'),
        fc.integer({ min: 0, max: 70_000 }).map(String),
      ),
      { maxLength: 30 },
    )
    .map((parts) => parts.join(''));

  it('throws nothing but ZenSweepError, always with a one-line message', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme', maxLength: 60 }), plausible), (text) => {
        for (const run of [() => parseCommand(text), () => parseSweepText(text)]) {
          try {
            const result = run();
            assert.ok(result !== undefined);
          } catch (error) {
            assert.ok(error instanceof ZenSweepError, `${JSON.stringify(text)} threw ${String(error)}`);
            assert.ok(error.message.length > 0);
            assert.doesNotMatch(error.message, /[\r\n\u2028\u2029]/);
          }
        }
      }),
      { numRuns: 5_000 },
    );
  });
});

describe('parseSweepText: baselines and vpc:all', () => {
  it('reads save:NAME and compare:NAME, lower-cased', () => {
    const request = parseSweepText('10.0.1.0/24 save:Before-Cutover compare=last.week');
    assert.equal(request.options.save, 'before-cutover');
    assert.equal(request.options.compare, 'last.week');
  });

  it('refuses a bad baseline name in one sentence naming it', () => {
    assert.throws(() => parseSweepText('10.0.1.0/24 save:-x'), (e: unknown) => e instanceof InvalidOptionError && /save:-x/.test(e.message));
    // In quotes with a space: one value, named as written, not a second word taken for a host.
    assert.throws(
      () => parseSweepText('10.0.1.0/24 save:"bad name!"'),
      (e: unknown) => e instanceof InvalidOptionError && e.message.startsWith('save:"bad name!" is not a valid baseline name: '),
    );
  });

  it('accepts vpc:all without targets (the agents declare them), but nothing else without targets', () => {
    assert.deepEqual(parseSweepText('vpc:all').targets, []);
    assert.throws(() => parseSweepText('vpc:prod'), EmptySweepError);
  });
});

describe('SWEEP_LIMITS: the grammar, the job schema and the agent', () => {
  /** Whether the agent would take a chunk with these options. */
  const jobTakes = (options: Partial<SweepRequest['options']>): boolean =>
    chunkJobSchema.safeParse({ v: 1, sweepId: 's', group: 'g', index: 0, targets: ['10.0.1.1'], options: { ...DEFAULT_OPTIONS, ...options } })
      .success;
  /** Whether the grammar takes the option word; any refusal is an InvalidOptionError. */
  const grammarTakes = (word: string): boolean => {
    try {
      parseSweepText(`10.0.1.1 ${word}`);
      return true;
    } catch (error) {
      assert.ok(error instanceof InvalidOptionError, String(error));
      return false;
    }
  };
  const numeric = [
    ['count', 'count'],
    ['timeout', 'timeoutMs'],
    ['retries', 'retries'],
    ['rate', 'rate'],
    ['interval', 'intervalMs'],
  ] as const;

  it('holds the figures the help and the README give', () => {
    assert.deepEqual(
      { ...SWEEP_LIMITS, ports: { ...SWEEP_LIMITS.ports }, addresses: { ...SWEEP_LIMITS.addresses } },
      {
        ports: { min: 1, max: 65_535, distinct: 1_024 },
        count: { min: 1, max: 100 },
        timeoutMs: { min: 1, max: 60_000 },
        retries: { min: 0, max: 10 },
        rate: { min: 0, max: 1_000_000 },
        intervalMs: { min: 1, max: 60_000 },
        addresses: { default: 65_536, max: 16_777_216 },
      },
    );
    assert.equal(DEFAULT_MAX_ADDRESSES, SWEEP_LIMITS.addresses.default);
  });

  for (const [key, field] of numeric) {
    it(`takes and refuses ${key} at the same values in the grammar and in job data`, () => {
      const { min, max } = SWEEP_LIMITS[field];
      for (const value of [min - 1, min, min + 1, max - 1, max, max + 1]) {
        const expected = value >= min && value <= max;
        assert.equal(grammarTakes(`${key}:${value}`), expected, `${key}:${value}`);
        assert.equal(jobTakes({ [field]: value }), expected, `job ${field}: ${value}`);
      }
      fc.assert(
        fc.property(fc.integer({ min: -10, max: max * 2 }), (value) => grammarTakes(`${key}:${value}`) === jobTakes({ [field]: value })),
        { numRuns: 300 },
      );
    });
  }

  it('takes and refuses ports, and the number of distinct ports, at the same values', () => {
    const { min, max, distinct } = SWEEP_LIMITS.ports;
    for (const port of [min - 1, min, max, max + 1]) {
      const expected = port >= min && port <= max;
      assert.equal(grammarTakes(`tcp:${port}`), expected, `tcp:${port}`);
      assert.equal(jobTakes({ ports: [port] }), expected, `job port ${port}`);
    }
    const run = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);
    assert.equal(grammarTakes(`tcp:1-${distinct}`), true);
    assert.equal(jobTakes({ ports: run(distinct) }), true);
    assert.equal(grammarTakes(`tcp:1-${distinct + 1}`), false);
    assert.equal(jobTakes({ ports: run(distinct + 1) }), false);
  });

  it('gives the agent the same bounds for its rate, and the bot and the CLI the same address cap', () => {
    const agentEnv = { REDIS_URL: 'redis://127.0.0.1:6379', ZENSWEEP_VPC: 'lo', ZENSWEEP_CIDRS: '127.0.0.0/8' };
    const agentRate = (rate: number): number => loadAgentConfig({ ...agentEnv, ZENSWEEP_RATE: String(rate) }).rate;
    assert.equal(agentRate(SWEEP_LIMITS.rate.max), SWEEP_LIMITS.rate.max);
    assert.throws(() => agentRate(SWEEP_LIMITS.rate.max + 1), ConfigError);
    const cap = (value: number): number => loadEngineConfig({ ZENSWEEP_MAX_ADDRESSES: String(value) }).maxAddresses;
    assert.equal(cap(SWEEP_LIMITS.addresses.max), SWEEP_LIMITS.addresses.max);
    assert.throws(() => cap(SWEEP_LIMITS.addresses.max + 1), ConfigError);
    assert.equal(loadEngineConfig({}).maxAddresses, SWEEP_LIMITS.addresses.default);
  });
});

describe('several vantages: from:all, vpc:a,b from:each', () => {
  it('reads from:all and from:each, and several groups with vpc:a,b (sorted, each once)', () => {
    assert.equal(parseSweepText('10.0.1.0/24 from:all').options.from, 'all');
    assert.equal(parseSweepText('10.0.1.0/24 vpc:prod FROM=all').options.from, 'all');
    const each = parseSweepText('10.0.1.0/24 vpc:prod,OnPrem,prod from:each');
    assert.deepEqual([each.options.vpc, each.options.vpcs, each.options.from], [undefined, ['onprem', 'prod'], 'each']);
    // One name, however often: one group, as vpc:NAME.
    assert.deepEqual(parseSweepText('10.0.1.0/24 vpc:prod,prod from:all').options.vpc, 'prod');
    // Every agent of each named group.
    assert.deepEqual(parseSweepText('10.0.1.0/24 vpc:a,b from:all').options.vpcs, ['a', 'b']);
  });

  it('writes them back in the words that parse to the same request', () => {
    for (const text of ['10.0.1.0/24 from:all', '10.0.1.0/24 vpc:prod from:all', '10.0.1.0/24 tcp:22 vpc:onprem,prod from:each save:x']) {
      const request = parseSweepText(text);
      assert.equal(describeRequest(request), text);
      assert.deepEqual(parseSweepText(describeRequest(request)), request);
    }
  });

  it('refuses what does not say which vantages, in one sentence with an example', () => {
    optionRefused('10.0.1.0/24 from:some', 'from:some', 'from takes all', 'e.g. from:all');
    optionRefused('10.0.1.0/24 vpc:onprem,prod', 'vpc:onprem,prod names several groups', 'from:each');
    optionRefused('10.0.1.0/24 from:each', 'from:each sweeps the same targets from each of several groups', 'vpc:onprem,prod from:each');
    optionRefused('10.0.1.0/24 vpc:prod from:each', 'from:each', 'name two or more');
    optionRefused('10.0.1.0/24 vpc:all,prod from:each', 'lists all with other groups');
    optionRefused('10.0.1.0/24 vpc:prod,Bad! from:each', 'is not a valid agent group');
    optionRefused('10.0.1.0/24 from:all from:each', 'repeats from');
  });

  it('keeps the vantages in chunk and report job data, which the agents check again', () => {
    const request = parseSweepText('10.0.1.0/24 vpc:a,b from:each');
    const chunk = { v: 1, sweepId: 's', group: 'a', agent: 'a-1', index: 0, targets: ['10.0.1.1'], options: request.options };
    assert.deepEqual(chunkJobSchema.parse(chunk), chunk);
    assert.equal(chunkJobSchema.safeParse({ ...chunk, options: { ...request.options, from: 'some' } }).success, false);
    assert.equal(chunkJobSchema.safeParse({ ...chunk, options: { ...request.options, vpcs: ['a'] } }).success, false);
  });
});
