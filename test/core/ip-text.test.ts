import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isIP as nodeIsIP } from 'node:net';
import fc from 'fast-check';
import { isIP } from '../../src/core/ip-text.js';

/** Text near an address: real addresses with a character changed, added or removed, and a zone id now and then. */
const nearAddress = fc
  .tuple(
    fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4Extended(), fc.constantFrom('::', '::1', '::ffff:1.2.3.4', '1::', 'fe80::1%eth0')),
    fc.nat(),
    fc.constantFrom('', '.', ':', '::', '0', '00', 'f', 'g', '%', '%lo', ' ', '-', '256', '/'),
    fc.constantFrom('insert', 'replace', 'delete', 'keep'),
  )
  .map(([text, at, piece, how]) => {
    const i = at % (text.length + 1);
    if (how === 'insert') return text.slice(0, i) + piece + text.slice(i);
    if (how === 'replace') return text.slice(0, i) + piece + text.slice(i + 1);
    if (how === 'delete') return text.slice(0, i) + text.slice(i + 1);
    return text;
  });

describe('isIP without node:net', () => {
  it('agrees with node:net on addresses, near-addresses and arbitrary text', () => {
    fc.assert(
      fc.property(fc.oneof(nearAddress, fc.string(), fc.stringMatching(/^[0-9a-fA-F:.%]{0,45}$/)), (text) => {
        assert.equal(isIP(text), nodeIsIP(text), JSON.stringify(text));
      }),
      { numRuns: 20_000 },
    );
  });

  it('tells the families apart on known cases', () => {
    assert.equal(isIP('10.0.1.5'), 4);
    assert.equal(isIP('2001:db8::5'), 6);
    assert.equal(isIP('::ffff:198.18.0.1'), 6);
    assert.equal(isIP('10.0.1.256'), 0);
    assert.equal(isIP('010.0.1.5'), 0);
    assert.equal(isIP('db.internal'), 0);
  });
});
