import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCommand } from '../../src/core/grammar.js';
import { conditionWords, qualityWords } from '../../src/core/watch-conditions.js';
import { QUIET, firstState, observeRun } from '../../src/core/watch.js';
import { bounded, MAX_POINTS, usualRtts } from '../../src/core/series.js';
import type { SeriesPoint } from '../../src/core/series.js';
import { changePhrase } from '../../src/slack/watches/render.js';

const echo = (sent: number, received: number, avg?: number) => ({
  sent,
  received,
  lossPct: Math.round(((sent - received) / sent) * 100),
  ...(avg !== undefined ? { rtt: { min: avg, avg, max: avg * 2, mdev: 0 } } : {}),
});

describe('watch conditions: loss and round trips', () => {
  it('reads loss:>N% and rtt:>Nms or rtt:>Nx on a watch, and refuses what cannot be measured', () => {
    const made = parseCommand('watch 10.0.1.0/24 count:5 loss:>20% rtt:>50ms rtt:>2x');
    assert.ok(made.kind === 'watch');
    assert.deepEqual(made.watch.conditions, { lossPct: 20, rttMs: 50, rttFactor: 2 });
    assert.deepEqual(conditionWords(made.watch.conditions), ['loss:>20%', 'rtt:>50ms', 'rtt:>2x']);
    assert.throws(() => parseCommand('watch 10.0.1.0/24 loss:>20%'), /^InvalidOptionError: loss:>20% needs several echoes a host to measure loss: add count:5/);
    assert.throws(() => parseCommand('watch 10.0.1.0/24 count:5 loss:>120%'), /loss takes a share of echoes lost in one run, 1 to 99 percent/);
    assert.throws(() => parseCommand('watch 10.0.1.0/24 rtt:>fast'), /rtt takes a round trip in ms/);
    const lan = parseCommand('watch 10.0.1.0/24 rtt:>0.5ms');
    assert.deepEqual(lan.kind === 'watch' && lan.watch.conditions, { rttMs: 0.5 });
    assert.throws(() => parseCommand('watch 10.0.1.0/24 rtt:>0.001ms'), /0\.01 to 60000/);
    assert.throws(() => parseCommand('watch 10.0.1.0/24 rtt:>1x'), /1\.1 to 100 times/);
    assert.throws(() => parseCommand('watch 10.0.1.0/24 rtt:>5ms rtt:>9ms'), /repeats rtt/);
    assert.throws(() => parseCommand('watch 10.0.1.0/24 count:5 loss:>20% confirm:agents'), /do not go with confirm:agents/);
  });

  it('gives a host the words of the limits it is over this run, and none to one that did not answer', () => {
    const conditions = { lossPct: 20, rttMs: 50, rttFactor: 2 };
    assert.deepEqual(qualityWords(echo(10, 4, 30), conditions, 20), ['loss/>20%']);
    assert.deepEqual(qualityWords(echo(10, 10, 80), conditions, 30), ['rtt/>50ms', 'rtt/>2x']);
    assert.deepEqual(qualityWords(echo(10, 10, 45), conditions, 20), ['rtt/>2x']);
    assert.deepEqual(qualityWords(echo(10, 10, 45), conditions, undefined), [], 'no usual round trip yet: no relative limit');
    assert.deepEqual(qualityWords(echo(10, 0), conditions, 20), [], 'a host that answered no echo is a change of state, not of loss');
  });

  it('confirms a host over a limit as a change, opens an incident, says it with the figures, and resolves it', () => {
    let state = firstState(new Map([['198.18.0.10', 'alive']]));
    const lossy = new Map([['198.18.0.10', 'alive loss/>20%']]);
    const first = observeRun(state, lossy, 2, new Date());
    assert.equal(first.opened, false, 'not yet confirmed');
    const second = observeRun(first.state, lossy, 2, new Date());
    assert.equal(second.opened, true);
    assert.deepEqual(second.changes, [{ ip: '198.18.0.10', from: 'alive', to: 'alive loss/>20%' }]);
    assert.equal(changePhrase('alive', 'alive loss/>20% lost/60%'), 'loss over 20% (60% lost)');
    assert.equal(changePhrase('alive 5432/open', 'alive 5432/open rtt/>50ms avg/80.2ms'), 'rtt over 50 ms (avg 80.2 ms)');
    assert.equal(changePhrase('alive rtt/>2x', 'alive'), 'rtt back within 2× its usual');
    state = second.state;
    const back = observeRun(observeRun(state, new Map([['198.18.0.10', 'alive']]), 2, new Date()).state, new Map([['198.18.0.10', 'alive']]), 2, new Date());
    assert.equal(back.closed?.how, 'resolved');
    assert.equal(changePhrase('alive loss/>20%', 'alive'), 'loss back under 20%');
    assert.equal(changePhrase('alive loss/>20%', QUIET), 'went silent');
  });

  it('keeps a bounded series: a week at most, the oldest merged in pairs, and each host’s usual round trip', () => {
    const now = Date.parse('2026-12-06T05:00:00Z');
    const point = (minutesAgo: number, avg: number): SeriesPoint => ({ at: new Date(now - minutesAgo * 60_000).toISOString(), hosts: { a: [0, avg, avg * 2, null] } });
    const many = Array.from({ length: MAX_POINTS + 100 }, (_, i) => point(MAX_POINTS + 100 - i, i % 2 === 0 ? 10 : 20));
    const kept = bounded(many, now);
    assert.ok(kept.length <= MAX_POINTS, `${kept.length} points`);
    assert.equal(kept[0]?.runs, 2, 'the oldest are merged in pairs');
    assert.deepEqual(kept[0]?.hosts.a, [0, 15, 40, null], 'means, and the worst');
    assert.equal(kept.at(-1)?.runs, undefined, 'the newest keep their own run');
    assert.deepEqual(bounded([point(8 * 24 * 60, 5), point(1, 5)], now).length, 1, 'older than a week: dropped');
    assert.equal(usualRtts([point(3, 10), point(2, 30), point(1, 20)], now - 24 * 3600_000).get('a'), 20);
    assert.equal(usualRtts([point(2, 10), point(1, 20)], now - 24 * 3600_000).get('a'), undefined, 'two points are not a usual');
  });
});
