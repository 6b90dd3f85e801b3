import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chunksAtOnce } from '../../src/agent/agent.js';
import { DEFAULT_OPTIONS } from '../../src/core/request.js';

describe('chunksAtOnce', () => {
  it('holds enough chunks to keep the rate busy while silent addresses wait out their timeouts, and no more', () => {
    // 10,000/s × 2.5 s × 1.25 = 31,250 probes: 123 chunks of 256, and one ready to start.
    assert.equal(chunksAtOnce({ rate: 10_000, concurrency: undefined }, DEFAULT_OPTIONS), 124);
    // A short timeout needs few: 4000/s × 0.25 s × 1.25 = 1,250 probes.
    assert.equal(chunksAtOnce({ rate: 4000, concurrency: undefined }, { ...DEFAULT_OPTIONS, timeoutMs: 100 }), 6);
    // The sweep's own rate counts when it is the lower one.
    assert.equal(chunksAtOnce({ rate: 10_000, concurrency: undefined }, { ...DEFAULT_OPTIONS, rate: 1000 }), 14);
    assert.equal(chunksAtOnce({ rate: 40, concurrency: undefined }, DEFAULT_OPTIONS), 2, 'never fewer than 2');
    assert.equal(chunksAtOnce({ rate: 1_000_000, concurrency: undefined }, { ...DEFAULT_OPTIONS, rate: 0 }), 256, 'never more than 256');
    assert.equal(chunksAtOnce({ rate: 0, concurrency: undefined }, { ...DEFAULT_OPTIONS, rate: 0 }), 17, 'unlimited: the default budget');
  });

  it('takes ZENSWEEP_CONCURRENCY as it is', () => {
    assert.equal(chunksAtOnce({ rate: 10_000, concurrency: 3 }, DEFAULT_OPTIONS), 3);
  });
});
