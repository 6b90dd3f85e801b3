import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCommand } from '../../src/core/grammar.js';
import { parseQuietWindow, quietAt } from '../../src/core/quiet-window.js';

const at = (iso: string): Date => new Date(iso);

describe('maintenance windows (quiet:)', () => {
  it('reads days, hours and a zone into canonical words', () => {
    assert.equal(parseQuietWindow('sat 02:00-04:00 UTC').text, 'sat 02:00-04:00 UTC');
    assert.equal(parseQuietWindow('Saturday 2:00-4:00').text, 'sat 02:00-04:00 UTC');
    assert.equal(parseQuietWindow('23:30-00:30').text, 'daily 23:30-00:30 UTC');
    assert.equal(parseQuietWindow('mon,wed 01:00-03:00 +09:00').text, 'mon,wed 01:00-03:00 +09:00');
    assert.deepEqual(parseQuietWindow('weekdays 12:00-13:00').days, [1, 2, 3, 4, 5]);
    assert.deepEqual(parseQuietWindow('weekends 12:00-13:00').days, [6, 0]);
  });

  it('refuses what is not a window in one sentence naming it, with an example', () => {
    for (const [spec, why] of [
      ['', /it is empty/],
      ['sat', /needs a range of hours/],
      ['sat 25:00-26:00', /25:00 is not a time of day/],
      ['caturday 02:00-04:00', /caturday is not a day/],
      ['sat 02:00-02:00', /begins when it ends/],
      ['sat 02:00-04:00 CET', /CET is not a zone/],
      ['sat 02:00-04:00 UTC please', /please is left over/],
    ] as const) {
      assert.throws(() => parseQuietWindow(spec), (error: Error) => error.name === 'InvalidOptionError' && why.test(error.message) && /e\.g\. quiet:"sat 02:00-04:00 UTC"$/.test(error.message), spec);
    }
  });

  it('says whether an instant lies in the window, and when that window ends, across midnight and in a zone', () => {
    const sat = parseQuietWindow('sat 02:00-04:00 UTC');
    assert.deepEqual(quietAt(sat, at('2026-12-05T02:30:00Z')), { inside: true, endsAt: Date.parse('2026-12-05T04:00:00Z') });
    assert.deepEqual(quietAt(sat, at('2026-12-05T04:00:00Z')), { inside: false });
    assert.deepEqual(quietAt(sat, at('2026-12-06T02:30:00Z')), { inside: false }, 'a Sunday');
    const night = parseQuietWindow('fri 23:00-01:00');
    assert.deepEqual(quietAt(night, at('2026-12-05T00:30:00Z')), { inside: true, endsAt: Date.parse('2026-12-05T01:00:00Z') }, 'Saturday 00:30, in Friday’s window');
    const tokyo = parseQuietWindow('sat 02:00-04:00 +09:00');
    assert.deepEqual(quietAt(tokyo, at('2026-12-04T17:30:00Z')), { inside: true, endsAt: Date.parse('2026-12-04T19:00:00Z') });
  });

  it('is an option of watch, and a command on an existing watch', () => {
    const made = parseCommand('watch 10.0.1.0/24 tcp:5432 every:5m quiet:"sat 02:00-04:00 UTC"');
    assert.equal(made.kind === 'watch' && made.watch.quiet, 'sat 02:00-04:00 UTC');
    assert.deepEqual(parseCommand('quiet w3f9a2c "sun 01:00-02:00"'), { kind: 'quiet', id: 'w3f9a2c', window: 'sun 01:00-02:00 UTC' });
    assert.deepEqual(parseCommand('quiet w3f9a2c off'), { kind: 'quiet', id: 'w3f9a2c' });
    assert.throws(() => parseCommand('quiet w3f9a2c'), /the window is missing/);
    assert.throws(() => parseCommand('watch 10.0.1.0/24 quiet:"sat 02:00"'), /needs a range of hours/);
  });
});
