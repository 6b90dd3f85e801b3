import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidTargetError, ZenSweepError } from '../../src/core/errors.js';
import type { TargetSpec } from '../../src/core/request.js';
import {
  AddressSet,
  addressToBigInt,
  bigIntToAddress,
  canonicalAddress,
  parseTargetToken,
  probeRange,
  type AddressTargetSpec,
} from '../../src/core/targets.js';

const v4 = (text: string): bigint => addressToBigInt(text).value;

function assertInvalidTarget(token: string, ...fragments: string[]): InvalidTargetError {
  let caught: unknown;
  try {
    parseTargetToken(token);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof InvalidTargetError, `${token} should be refused with InvalidTargetError, got ${String(caught)}`);
  assert.equal(caught.code, 'invalid_target');
  // Long tokens are cut to 77 characters and an ellipsis, to keep the message readable.
  const named = token.length > 80 ? `${token.slice(0, 77)}…` : token;
  assert.ok(caught.message.includes(named), `message names ${token}: ${caught.message}`);
  assert.doesNotMatch(caught.message, /[\r\n]/);
  for (const fragment of fragments) {
    assert.ok(caught.message.includes(fragment), `message says ${fragment}: ${caught.message}`);
  }
  return caught;
}

function addressSpec(token: string): AddressTargetSpec {
  const spec = parseTargetToken(token);
  assert.notEqual(spec.kind, 'name');
  return spec as AddressTargetSpec;
}

/** What a WHATWG URL parser prints for an IPv6 host: an independent RFC 5952 canonicaliser. */
function urlCanonical(ipv6: string): string {
  return new URL(`http://[${ipv6}]/`).hostname.slice(1, -1);
}

describe('parseTargetToken', () => {
  it('parses an IPv4 CIDR into its network range', () => {
    assert.deepEqual(parseTargetToken('10.0.1.0/24'), {
      kind: 'cidr',
      text: '10.0.1.0/24',
      family: 4,
      prefix: 24,
      start: v4('10.0.1.0'),
      end: v4('10.0.1.255'),
    });
  });

  it('normalises host bits of a CIDR to the network, in value and in text', () => {
    const spec = parseTargetToken('10.0.1.5/24');
    assert.equal(spec.kind, 'cidr');
    assert.equal(spec.text, '10.0.1.0/24');
    assert.deepEqual(spec, parseTargetToken('10.0.1.0/24'));
  });

  it('parses /0, /31 and /32 IPv4 CIDRs', () => {
    const all = addressSpec('0.0.0.0/0');
    assert.equal(all.start, 0n);
    assert.equal(all.end, 2n ** 32n - 1n);
    const pair = addressSpec('10.0.0.7/31');
    assert.equal(pair.text, '10.0.0.6/31');
    assert.equal(pair.end - pair.start, 1n);
    const one = addressSpec('10.0.0.7/32');
    assert.equal(one.start, one.end);
  });

  it('parses IPv6 CIDRs of /112 or longer, canonical and normalised', () => {
    const spec = addressSpec('2001:DB8:0:0::1:5/112');
    assert.equal(spec.kind, 'cidr');
    assert.equal(spec.text, '2001:db8::1:0/112');
    assert.equal(spec.family, 6);
    assert.equal(spec.end - spec.start + 1n, 65_536n);
    assert.equal(addressSpec('::1/128').text, '::1/128');
  });

  it('accepts an IPv6 CIDR written with an embedded IPv4 tail', () => {
    const spec = addressSpec('::ffff:10.0.1.9/120');
    assert.equal(spec.text, '::ffff:a00:100/120');
    assert.equal(spec.end - spec.start + 1n, 256n);
  });

  it('refuses an IPv6 CIDR shorter than /112, naming the token', () => {
    assertInvalidTarget('2001:db8::/111', '/112 or longer');
    assertInvalidTarget('2001:db8::/64', '/112 or longer');
    assertInvalidTarget('::/0', '/112 or longer');
  });

  it('refuses malformed CIDRs', () => {
    for (const token of ['10.0.1.0/33', '10.0.1.0/024', '10.0.1.0/', '10.0.1/24', '1.2.3.4/8/8', '/24', '10.0.1.0/+8', 'db01/24', '2001:db8::/129', 'fe80::1%eth0/120']) {
      assertInvalidTarget(token, 'CIDR');
    }
  });

  it('parses single IPv4 and IPv6 addresses, IPv6 in RFC 5952 form', () => {
    assert.deepEqual(parseTargetToken('10.0.2.10'), { kind: 'address', text: '10.0.2.10', family: 4, start: v4('10.0.2.10'), end: v4('10.0.2.10') });
    const spec = addressSpec('2001:0DB8:0000:0000:0000:0000:0000:0010');
    assert.equal(spec.kind, 'address');
    assert.equal(spec.text, '2001:db8::10');
    assert.equal(spec.start, spec.end);
  });

  it('parses a last-octet range', () => {
    const spec = addressSpec('10.0.3.5-20');
    assert.deepEqual(spec, { kind: 'range', text: '10.0.3.5-20', family: 4, start: v4('10.0.3.5'), end: v4('10.0.3.20') });
    assert.equal(addressSpec('10.0.3.5-5').end, v4('10.0.3.5'));
    assert.equal(addressSpec('10.0.3.0-255').end, v4('10.0.3.255'));
  });

  it('refuses a last-octet range that ends past 255 or runs backwards', () => {
    assertInvalidTarget('10.0.3.5-256', '255');
    assertInvalidTarget('10.0.3.20-5', 'backwards');
    assertInvalidTarget('10.0.3.5-', 'after the dash');
    assertInvalidTarget('10.0.3.5-x', 'after the dash');
  });

  it('parses full IPv4 and IPv6 ranges', () => {
    const a = addressSpec('10.0.3.5-10.0.4.20');
    assert.equal(a.kind, 'range');
    assert.equal(a.end - a.start + 1n, 256n + 16n);
    const b = addressSpec('2001:DB8::1-2001:db8::ff');
    assert.equal(b.text, '2001:db8::1-2001:db8::ff');
    assert.equal(b.family, 6);
    assert.equal(b.end - b.start + 1n, 255n);
  });

  it('refuses ranges that mix families or run backwards', () => {
    assertInvalidTarget('10.0.3.5-2001:db8::1', 'same family');
    assertInvalidTarget('2001:db8::1-10.0.3.5', 'same family');
    assertInvalidTarget('10.0.4.5-10.0.3.5', 'backwards');
    assertInvalidTarget('2001:db8::ff-2001:db8::1', 'backwards');
  });

  it('parses host names, lower-cased, trailing dot removed', () => {
    assert.deepEqual(parseTargetToken('db01'), { kind: 'name', text: 'db01', name: 'db01' });
    assert.deepEqual(parseTargetToken('DB-01.Example.COM.'), { kind: 'name', text: 'db-01.example.com', name: 'db-01.example.com' });
    assert.equal(parseTargetToken('10-0-1-5.internal').kind, 'name');
    assert.equal(parseTargetToken('1-2').kind, 'name');
  });

  it('enforces label and name lengths', () => {
    const label63 = 'a'.repeat(63);
    assert.equal(parseTargetToken(`${label63}.example`).kind, 'name');
    assertInvalidTarget(`${'a'.repeat(64)}.example`, '63');
    const name253 = [label63, label63, label63, 'a'.repeat(61)].join('.');
    assert.equal(name253.length, 253);
    assert.equal(parseTargetToken(name253).kind, 'name');
    assert.equal(parseTargetToken(`${name253}.`).kind, 'name');
    assertInvalidTarget(`a${name253}`, '253');
  });

  it('refuses malformed host names', () => {
    for (const token of ['-db01', 'db01-', 'db-.example.com', 'a..b', '.db01', 'db_01', 'bücher.example', 'db01..', 'a@b']) {
      assertInvalidTarget(token, 'host name');
    }
  });

  it('never reads digits and dots as a name', () => {
    for (const token of ['10.0.1.300', '10.0.1', '1.2.3.4.5', '10.0.01.5', '10', '1.']) {
      assertInvalidTarget(token, 'not a valid IPv4 address');
    }
    assertInvalidTarget('10.0.1-5', 'range');
  });

  it("never reads a token with ':' or '/' as a name", () => {
    assertInvalidTarget('db01:80', 'IPv6');
    assertInvalidTarget('db01/24', 'CIDR');
    assertInvalidTarget('fe80::1%eth0', 'zone id');
  });

  it('refuses an empty token', () => {
    assert.throws(() => parseTargetToken(''), InvalidTargetError);
  });
});

describe('probeRange', () => {
  const size = (token: string): bigint => {
    const range = probeRange(addressSpec(token));
    return range.end - range.start + 1n;
  };

  it('skips network and broadcast of an IPv4 CIDR up to /30', () => {
    assert.deepEqual(probeRange(addressSpec('10.0.1.0/24')), { family: 4, start: v4('10.0.1.1'), end: v4('10.0.1.254') });
    assert.equal(size('10.0.0.0/16'), 65_534n);
    assert.equal(size('10.0.0.0/30'), 2n);
  });

  it('keeps every address of /31 and /32', () => {
    assert.equal(size('10.0.0.0/31'), 2n);
    assert.equal(size('10.0.0.9/32'), 1n);
  });

  it('keeps IPv6 CIDRs, addresses and ranges as they are', () => {
    assert.equal(size('2001:db8::/112'), 65_536n);
    assert.equal(size('10.0.3.0-255'), 256n);
    assert.equal(size('10.0.3.255'), 1n);
  });
});

describe('addressToBigInt and bigIntToAddress', () => {
  it('converts IPv4 both ways', () => {
    assert.deepEqual(addressToBigInt('10.0.1.5'), { family: 4, value: 0x0a000105n });
    assert.equal(bigIntToAddress(0x0a000105n, 4), '10.0.1.5');
    assert.equal(bigIntToAddress(0n, 4), '0.0.0.0');
    assert.equal(bigIntToAddress(2n ** 32n - 1n, 4), '255.255.255.255');
  });

  it('prints IPv6 as inet_ntop does (RFC 5952)', () => {
    const cases: Array<[string, string]> = [
      ['2001:db8:0:0:0:0:0:10', '2001:db8::10'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['0:0:0:0:0:0:0:0', '::'],
      ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['2001:DB8:0000:0000:0001:0000:0000:0000', '2001:db8:0:0:1::'],
      ['1:0:0:0:0:0:0:0', '1::'],
      ['fe80:0:0:0:0:0:0:1', 'fe80::1'],
      ['::ffff:1.2.3.4', '::ffff:102:304'],
    ];
    for (const [input, expected] of cases) {
      const { family, value } = addressToBigInt(input);
      assert.equal(family, 6);
      assert.equal(bigIntToAddress(value, 6), expected, input);
      assert.equal(canonicalAddress(input), expected);
    }
  });

  it('refuses text that is not an address', () => {
    for (const text of ['', 'db01', '10.0.1.300', '1::2::3', 'fe80::1%eth0', '[::1]', '10.0.1.0/24']) {
      assert.throws(() => addressToBigInt(text), InvalidTargetError, text);
    }
  });

  it('refuses values outside the family', () => {
    assert.throws(() => bigIntToAddress(2n ** 32n, 4), RangeError);
    assert.throws(() => bigIntToAddress(-1n, 6), RangeError);
    assert.throws(() => bigIntToAddress(2n ** 128n, 6), RangeError);
  });

  it('round-trips random IPv4 values and matches the URL parser', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (n) => {
        const text = bigIntToAddress(BigInt(n), 4);
        assert.deepEqual(addressToBigInt(text), { family: 4, value: BigInt(n) });
        assert.equal(new URL(`http://${text}/`).hostname, text);
      }),
      { numRuns: 2_000 },
    );
  });

  // Groups drawn mostly from 0 so that runs of zeros (and ties between runs) are common.
  const group = fc.oneof(fc.constant(0), fc.constant(0), fc.constant(1), fc.integer({ min: 0, max: 0xffff }));
  const groupsArbitrary = fc.array(group, { minLength: 8, maxLength: 8 });
  const toValue = (groups: number[]): bigint => groups.reduce((value, g) => (value << 16n) | BigInt(g), 0n);

  it('round-trips random IPv6 values and prints what the URL parser prints', () => {
    fc.assert(
      fc.property(groupsArbitrary, (groups) => {
        const value = toValue(groups);
        const text = bigIntToAddress(value, 6);
        assert.deepEqual(addressToBigInt(text), { family: 6, value });
        const full = groups.map((g) => g.toString(16).toUpperCase().padStart(4, '0')).join(':');
        assert.equal(text, urlCanonical(full));
      }),
      { numRuns: 5_000 },
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }), (value) => {
        const text = bigIntToAddress(value, 6);
        assert.equal(addressToBigInt(text).value, value);
        assert.equal(text, urlCanonical(text));
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('AddressSet', () => {
  const setOf = (...tokens: string[]): AddressSet => AddressSet.fromSpecs(tokens.map((t) => parseTargetToken(t)));

  it('sweeps overlapping and repeated targets once', () => {
    // /24 probes .1–.254; .5 and the /25's .1–.126 are inside it.
    const set = setOf('10.0.1.0/24', '10.0.1.5', '10.0.1.0/25');
    assert.equal(set.size, 254n);
    assert.deepEqual(set.ranges(), [{ family: 4, start: v4('10.0.1.1'), end: v4('10.0.1.254') }]);
    const all = [...set];
    assert.equal(all.length, 254);
    assert.equal(all[0], '10.0.1.1');
    assert.equal(all[253], '10.0.1.254');
    // A /31 keeps its two addresses, so .0 joins; a /32 of the broadcast adds .255.
    assert.equal(setOf('10.0.1.0/24', '10.0.1.5', '10.0.1.0/25', '10.0.1.0/31').size, 255n);
    const full = setOf('10.0.1.0/24', '10.0.1.0/31', '10.0.1.255/32');
    assert.equal(full.size, 256n);
    assert.equal(full.ranges().length, 1);
  });

  it('merges adjacent ranges and keeps gaps', () => {
    const set = new AddressSet().add(4, 1n, 5n).add(4, 6n, 10n).add(4, 12n, 12n).add(4, 3n, 4n);
    assert.deepEqual(set.ranges(), [
      { family: 4, start: 1n, end: 10n },
      { family: 4, start: 12n, end: 12n },
    ]);
    assert.equal(set.size, 11n);
  });

  it('yields IPv4 before IPv6, each in numeric order', () => {
    const set = setOf('2001:db8::2', '10.0.0.9', '2001:db8::1', '9.255.255.255', '10.0.0.9');
    assert.deepEqual([...set], ['9.255.255.255', '10.0.0.9', '2001:db8::1', '2001:db8::2']);
  });

  it('carries across IPv6 groups while iterating', () => {
    const set = setOf('2001:db8::fffe-2001:db8::1:1');
    assert.deepEqual([...set], ['2001:db8::fffe', '2001:db8::ffff', '2001:db8::1:0', '2001:db8::1:1']);
    const top = setOf('ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127');
    assert.deepEqual([...top], ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']);
  });

  it('answers contains() for any text form and false for non-addresses', () => {
    const set = setOf('10.0.1.0/24', '2001:db8::/120');
    assert.equal(set.contains('10.0.1.1'), true);
    assert.equal(set.contains('10.0.1.0'), false);
    assert.equal(set.contains('10.0.1.255'), false);
    assert.equal(set.contains('2001:DB8:0::00ff'), true);
    assert.equal(set.contains('2001:db8::100'), false);
    // The same number in the other family is a different address.
    assert.equal(set.contains('::a00:101'), false);
    assert.equal(set.contains('db01'), false);
    assert.equal(set.contains(''), false);
  });

  it('skips names in fromSpecs', () => {
    const specs: TargetSpec[] = [parseTargetToken('db01'), parseTargetToken('10.0.0.1')];
    assert.deepEqual([...AddressSet.fromSpecs(specs)], ['10.0.0.1']);
    assert.equal(AddressSet.fromSpecs([parseTargetToken('db01')]).size, 0n);
  });

  it('refuses ranges outside the address space', () => {
    assert.throws(() => new AddressSet().add(4, 0n, 2n ** 32n), RangeError);
    assert.throws(() => new AddressSet().add(6, -1n, 0n), RangeError);
  });

  it('iterates a /8 lazily: the first addresses come at once', () => {
    const started = performance.now();
    const set = setOf('10.0.0.0/8');
    const iterator = set[Symbol.iterator]();
    const first = [iterator.next().value, iterator.next().value, iterator.next().value];
    assert.deepEqual(first, ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    assert.equal(set.size, 16_777_214n);
    // Materializing a /8 takes tens of seconds; a lazy iterator answers at once.
    assert.ok(performance.now() - started < 2000, 'a lazy iterator starts at once');
  });

  it('creates an iterator over the whole IPv6 space without work', () => {
    const set = new AddressSet().add(6, 0n, 2n ** 128n - 1n);
    assert.equal(set.size, 2n ** 128n);
    const iterator = set[Symbol.iterator]();
    assert.deepEqual([iterator.next().value, iterator.next().value], ['::', '::1']);
  });

  it('iterates 65,536 addresses quickly', () => {
    const timed = (set: AddressSet): number => {
      const started = performance.now();
      let count = 0;
      for (const address of set) {
        count += address.length > 0 ? 1 : 0;
      }
      assert.equal(count, 65_536);
      return performance.now() - started;
    };
    const ipv4 = timed(new AddressSet().add(4, v4('10.0.0.0'), v4('10.0.255.255')));
    const ipv6 = timed(setOf('2001:db8::/112'));
    assert.ok(ipv4 < 250, `IPv4: ${ipv4} ms`);
    assert.ok(ipv6 < 500, `IPv6: ${ipv6} ms`);
  });

  it('agrees with a naive set for random small ranges', () => {
    const bases: Array<[4 | 6, bigint]> = [
      [4, 0n],
      [4, v4('10.0.0.250')],
      [4, 2n ** 32n - 41n],
      [6, addressToBigInt('2001:db8::fff0').value],
      [6, 0n],
    ];
    const rangeArbitrary = fc
      .tuple(fc.integer({ min: 0, max: bases.length - 1 }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 10 }))
      .map(([base, offset, length]) => {
        const [family, origin] = bases[base] ?? [4, 0n];
        return { family, start: origin + BigInt(offset), end: origin + BigInt(offset + length) };
      });
    fc.assert(
      fc.property(fc.array(rangeArbitrary, { maxLength: 12 }), fc.array(fc.integer({ min: 0, max: 45 }), { maxLength: 10 }), (ranges, probes) => {
        const set = new AddressSet();
        const naive = new Set<string>();
        for (const range of ranges) {
          set.add(range.family, range.start, range.end);
          for (let value = range.start; value <= range.end; value += 1n) {
            naive.add(`${range.family}:${value}`);
          }
        }
        const listed = [...set];
        assert.equal(BigInt(listed.length), set.size);
        assert.equal(listed.length, naive.size);
        const keys = listed.map((text) => {
          const { family, value } = addressToBigInt(text);
          return { family, value };
        });
        for (let i = 1; i < keys.length; i += 1) {
          const a = keys[i - 1];
          const b = keys[i];
          assert.ok(a !== undefined && b !== undefined);
          assert.ok(a.family < b.family || (a.family === b.family && a.value < b.value), 'sorted and unique');
        }
        for (const { family, value } of keys) {
          assert.ok(naive.has(`${family}:${value}`));
        }
        for (const [family, origin] of bases) {
          for (const offset of probes) {
            const value = origin + BigInt(offset);
            if (value <= (family === 4 ? 2n ** 32n - 1n : 2n ** 128n - 1n)) {
              assert.equal(set.contains(bigIntToAddress(value, family)), naive.has(`${family}:${value}`));
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('only throws ZenSweepError from parseTargetToken on arbitrary text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.stringMatching(/^[0-9a-f.:/%-]{0,40}$/)), (token) => {
        try {
          parseTargetToken(token);
        } catch (error) {
          assert.ok(error instanceof ZenSweepError, String(error));
          assert.doesNotMatch(error.message, /[\r\n]/);
        }
      }),
      { numRuns: 3_000 },
    );
  });
});

describe('AddressSet algebra (slice, intersect, subtract, covers, toTargets)', () => {
  const v4 = (text: string): bigint => addressToBigInt(text).value;
  it('cuts the iteration order into contiguous parts that put back together give the whole', () => {
    const set = new AddressSet();
    set.add(4, 10n, 19n).add(4, 100n, 104n).add(6, 1n, 3n);
    const whole = [...set];
    const parts = [set.slice(0n, 7n), set.slice(7n, 7n), set.slice(14n, 100n)];
    assert.deepEqual(parts.flatMap((p) => [...p]), whole);
    assert.deepEqual(parts.map((p) => p.size), [7n, 7n, 4n]);
    assert.equal(set.slice(30n, 5n).size, 0n);
  });

  it('intersects and subtracts ranges, and prints them back as targets the grammar reads', () => {
    const sweep = new AddressSet().add(4, v4('10.0.0.0'), v4('10.0.3.255'));
    const agent = new AddressSet().add(4, v4('10.0.1.0'), v4('10.0.1.255')).add(4, v4('10.0.3.128'), v4('10.0.9.0'));
    assert.deepEqual(sweep.intersect(agent).toTargets(), ['10.0.1.0-10.0.1.255', '10.0.3.128-10.0.3.255']);
    assert.deepEqual(sweep.subtract(agent).toTargets(), ['10.0.0.0-10.0.0.255', '10.0.2.0-10.0.3.127']);
    assert.equal(agent.covers(sweep), false);
    assert.equal(sweep.covers(sweep.intersect(agent)), true);
    assert.deepEqual(new AddressSet().add(4, 5n, 5n).toTargets(), ['0.0.0.5']);
  });

  it('agrees with a naive set on random ranges', () => {
    const range = fc.tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 8 }));
    fc.assert(
      fc.property(fc.array(range, { maxLength: 5 }), fc.array(range, { maxLength: 5 }), (xs, ys) => {
        const a = new AddressSet();
        const b = new AddressSet();
        for (const [s, l] of xs) a.add(4, BigInt(s), BigInt(s + l));
        for (const [s, l] of ys) b.add(4, BigInt(s), BigInt(s + l));
        const inB = new Set(b);
        assert.deepEqual([...a.intersect(b)], [...a].filter((x) => inB.has(x)));
        assert.deepEqual([...a.subtract(b)], [...a].filter((x) => !inB.has(x)));
      }),
    );
  });
});
