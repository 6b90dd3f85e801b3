import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_OPTIONS } from '../../src/core/request.js';
import type { SweepOptions } from '../../src/core/request.js';
import { attemptTimeoutMs, sweepTimeBoundMs } from '../../src/engine/time-bound.js';

const options = (over: Partial<SweepOptions>): SweepOptions => ({ ...DEFAULT_OPTIONS, ...over });

describe('sweepTimeBoundMs', () => {
  it('adds the pacing of every packet to the waits of every attempt, with room for a loaded machine', () => {
    // The routed /24 of the report: 254 × (1 echo + 3 ports) × 2 attempts = 2,032 packets at 10,000/s = 203.2 ms;
    // every probe's attempts wait 1,500 + 2,250 ms, all in one wave; (203.2 + 3,750) × 1.5 + 5,000.
    const bound = sweepTimeBoundMs(options({ ports: [22, 443, 5432], timeoutMs: 1500, retries: 1 }), {
      addresses: 254,
      echo: true,
      maxInFlight: 4096,
    });
    assert.equal(bound, 10_930);
  });

  it('counts one wave of probes per in-flight budget', () => {
    // A /16 of echoes, 4,096 in flight: 16 waves of 1,000 + 1,500 ms, and 131,072 packets at 10,000/s.
    const bound = sweepTimeBoundMs(options({}), { addresses: 65_536, echo: true, maxInFlight: 4096 });
    assert.equal(bound, Math.ceil((13_107.2 + 16 * 2500) * 1.5 + 5000));
  });

  it('spaces count echoes by the interval and leaves echoes out when ICMP cannot be used', () => {
    const ping = options({ count: 5, intervalMs: 1000, timeoutMs: 1000, rate: 0 });
    assert.equal(sweepTimeBoundMs(ping, { addresses: 1, echo: true, maxInFlight: 4096 }), Math.ceil(5000 * 1.5 + 5000));
    const tcpOnly = options({ ports: [80], count: 5, rate: 0, retries: 0 });
    assert.equal(sweepTimeBoundMs(tcpOnly, { addresses: 1, echo: false, maxInFlight: 4096 }), Math.ceil(1000 * 1.5 + 5000));
  });

  it('waits 1.5 times longer at each retry', () => {
    assert.deepEqual([0, 1, 2].map((a) => attemptTimeoutMs({ timeoutMs: 1000 }, a)), [1000, 1500, 2250]);
  });
});
