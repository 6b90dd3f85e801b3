import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HEARTBEAT_MS, agentHealth, describeAgentHealth } from '../../src/core/agent-health.js';

const NOW = Date.parse('2025-01-01T12:00:00.000Z');
const ago = (ms: number): string => new Date(NOW - ms).toISOString();

describe('agentHealth', () => {
  it('turns the facts of a heartbeat into ages, counts and a lateness verdict', () => {
    const health = agentHealth(
      { lastSeen: ago(3200), inFlight: 120, sendRate: 450, rateLimit: 10_000, lastError: { at: ago(302_000), message: 'chunk failed: bad chunk data' } },
      NOW,
    );
    assert.deepEqual(health, {
      heartbeatAgeMs: 3200,
      late: false,
      inFlight: 120,
      sendRate: 450,
      rateLimit: 10_000,
      lastError: { ageMs: 302_000, message: 'chunk failed: bad chunk data' },
    });
    assert.equal(
      describeAgentHealth(health),
      'as of its heartbeat 3.20 s ago: 120 probes in flight · 450/10,000 pkt/s · last error 5 min 2 s ago: chunk failed: bad chunk data',
    );
  });

  it('calls a heartbeat late past two periods, and reads an older agent without the new facts as idle', () => {
    const health = agentHealth({ lastSeen: ago(2 * HEARTBEAT_MS + 1) }, NOW);
    assert.equal(health.late, true);
    assert.equal(describeAgentHealth(health), 'LATE: as of its last heartbeat, 20.0 s ago: 0 probes in flight · 0 pkt/s');
    assert.equal(agentHealth({ lastSeen: ago(2 * HEARTBEAT_MS) }, NOW).late, false);
  });

  it('never reports a negative age when the agent’s clock is ahead, and says unlimited for a rate of 0', () => {
    const health = agentHealth({ lastSeen: new Date(NOW + 5000).toISOString(), rateLimit: 0, sendRate: 12.6 }, NOW);
    assert.equal(health.heartbeatAgeMs, 0);
    assert.equal(describeAgentHealth(health), 'as of its heartbeat 0 ms ago: 0 probes in flight · 13/unlimited pkt/s');
  });

  it('says the chunks it runs of the most it holds, and one in the singular, as of the heartbeat', () => {
    const busy = agentHealth({ lastSeen: ago(4000), inFlight: 1, load: { active: 1, concurrency: 2 } }, NOW);
    assert.equal(describeAgentHealth(busy), 'as of its heartbeat 4.00 s ago: 1 of 2 chunks running · 1 probe in flight · 0 pkt/s');
    const one = agentHealth({ lastSeen: ago(4000), load: { active: 0, concurrency: 1 } }, NOW);
    assert.match(describeAgentHealth(one), /: 0 of 1 chunk running · /);
  });

  it('puts a deaf connection first, in words, with how long it has been silent as of now', () => {
    const health = agentHealth({ lastSeen: ago(1000), deaf: { since: ago(31_000), queues: ['sweep.{lo}', 'report-parts.{lo}'] } }, NOW);
    assert.deepEqual(health.deaf, { silentMs: 31_000, queues: ['sweep.{lo}', 'report-parts.{lo}'] });
    assert.equal(
      describeAgentHealth(health),
      'NOT TAKING WORK: its connections waiting on sweep.{lo}, report-parts.{lo} have not answered for 31.0 s · as of its heartbeat 1.00 s ago: 0 probes in flight · 0 pkt/s',
    );
    const one = agentHealth({ lastSeen: ago(1000), deaf: { since: ago(26_000), queues: ['sweep.{lo}'] } }, NOW);
    assert.match(describeAgentHealth(one), /^NOT TAKING WORK: its connection waiting on sweep\.\{lo\} has not answered for 26\.0 s · /);
  });
});
