import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressCount, countOf, formatCount } from '../../src/core/format.js';

describe('counts in words', () => {
  it('groups thousands with commas', () => {
    assert.deepEqual([formatCount(0), formatCount(999), formatCount(65_534), formatCount(1_000_000n)], ['0', '999', '65,534', '1,000,000']);
  });

  it('says one in the singular and every other count in the plural, as the views and errors do', () => {
    assert.deepEqual([addressCount(1), addressCount(0), addressCount(2), addressCount(65_534), addressCount(1n)], ['1 address', '0 addresses', '2 addresses', '65,534 addresses', '1 address']);
    assert.deepEqual([countOf(1, 'host'), countOf(254, 'host'), countOf(1, 'chunk'), countOf(3, 'chunk')], ['1 host', '254 hosts', '1 chunk', '3 chunks']);
  });
});
