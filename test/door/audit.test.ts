import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { AuditTrail } from '../../src/door/audit.js';
import { redisForSuite } from '../support/redis.js';

describe('AuditTrail (real redis-server)', () => {
  const suite = redisForSuite();

  it('reads back the good entries, newest first, and logs one line per entry that is not JSON, misshapen or older', async () => {
    const redis = suite.client;
    const lines: Record<string, unknown>[] = [];
    const log = pino({ base: null }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const audit = new AuditTrail(redis, log, 'a1');
    await audit.record({ user: 'U1', channel: 'C1', text: '10.0.1.0/24', outcome: 'started', sweepId: 's1' });
    await redis.lpush('a1:audit', 'hunter2-planted');
    await redis.lpush('a1:audit', JSON.stringify({ at: new Date().toISOString(), user: 'U1', channel: 'C1', text: 'x', outcome: 'hunter2-planted' }));
    // An older entry: no channel yet.
    await redis.lpush('a1:audit', JSON.stringify({ at: new Date().toISOString(), user: 'U1', text: 'x', outcome: 'started' }));
    await audit.record({ user: 'U2', channel: 'C2', text: '10.0.2.0/24', outcome: 'refused', reason: 'policy' });
    lines.length = 0;

    const entries = await audit.recent(10);
    assert.deepEqual(entries.map((e) => [e.user, e.outcome]), [['U2', 'refused'], ['U1', 'started']]);
    assert.deepEqual(
      lines.map((l) => [l.level, l.event, l.what, l.key, l.reason]),
      [
        [40, 'bad_record', 'audit entry', 'a1:audit[1]', 'channel: Invalid input: expected string, received undefined'],
        [40, 'bad_record', 'audit entry', 'a1:audit[2]', 'outcome: Invalid option: expected one of "started"|"refused"|"invalid"|"delivered"|"cancelled"|"failed"|"allowed"'],
        [40, 'bad_record', 'audit entry', 'a1:audit[3]', 'not JSON'],
      ],
    );
    assert.doesNotMatch(JSON.stringify(lines), /hunter2/);
  });
});
