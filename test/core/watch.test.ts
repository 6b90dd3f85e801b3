import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidOptionError } from '../../src/core/errors.js';
import { describeRequest, parseCommand, parseSweepText } from '../../src/core/grammar.js';
import { FACTS_VERSION, FLAP_CHANGES, QUIET, SETTLE_RUNS, adoptFacts, firstState, holdChanges, hostSignature, incidentNow, observeRun } from '../../src/core/watch.js';
import { compactHosts } from '../../src/core/diff.js';
import { diagnoseIcmpError, diagnoseLocalError } from '../../src/core/diagnosis.js';
import type { HostResult } from '../../src/core/report.js';
import type { RunVerdict, WatchState } from '../../src/core/watch.js';
import { formatEvery, parseDuration } from '../../src/core/watch-grammar.js';
import { changeLines } from '../../src/slack/watches/render.js';

const OPEN = 'alive 5432/open';
const CLOSED = 'alive 5432/closed';
const T0 = new Date('2025-01-01T12:00:00.000Z');

/** Runs the watch over a sequence of observations (each a map of ip → signature), returning every verdict. */
function runs(first: Record<string, string>, later: Record<string, string>[], confirm = 2): RunVerdict[] {
  let state: WatchState = firstState(new Map(Object.entries(first)));
  return later.map((seen, i) => {
    const verdict = observeRun(state, new Map(Object.entries(seen)), confirm, new Date(T0.getTime() + (i + 1) * 60_000));
    state = verdict.state;
    return verdict;
  });
}

const said = (v: RunVerdict): string =>
  [v.opened ? 'opened' : '', v.closed?.how ?? '', v.changes.length ? `changes:${v.changes.map((c) => c.ip).join('+')}` : '', v.flapping.length ? 'flapping' : '', v.calmed.length ? 'calmed' : '']
    .filter(Boolean)
    .join(' ') || '-';

describe('watch state (observeRun)', () => {
  it('signs a host by its state and each port, silent hosts all alike', () => {
    const port = (p: number, state: 'open' | 'closed' | 'filtered') => ({ port: p, state, attempts: 1 });
    assert.equal(hostSignature({ state: 'alive', ports: [port(5432, 'open'), port(22, 'closed')] }), 'alive 22/closed 5432/open');
    assert.equal(hostSignature({ state: 'alive', ports: [] }), 'alive');
    assert.equal(hostSignature({ state: 'silent', ports: [port(22, 'filtered')] }), QUIET);
  });

  it('compares hosts by their facts, as "what changed" does: an empty address is silent however it was read', () => {
    const empty = (extra: Partial<HostResult>): HostResult => ({ ip: '198.18.0.77', state: 'silent', icmp: { sent: 1, received: 0, lossPct: 100 }, ports: [], ...extra });
    const readings = [
      empty({}),
      empty({ state: 'unreachable', reporter: diagnoseIcmpError(4, 3, 1, '198.18.0.1') }),
      empty({ state: 'unreachable', reporter: diagnoseIcmpError(4, 3, 1, '198.18.0.254') }),
      empty({ state: 'unreachable', reporter: diagnoseLocalError('EHOSTUNREACH') }),
    ];
    let state = firstState(new Map(compactHosts([readings[0] as HostResult])));
    assert.equal(state.facts, FACTS_VERSION);
    for (let run = 0; run < 12; run += 1) {
      const verdict = observeRun(state, new Map(compactHosts([readings[run % readings.length] as HostResult])), 1, T0);
      assert.equal(said(verdict), '-', `run ${run}`);
      state = verdict.state;
    }
    const gone = observeRun(state, new Map(compactHosts([empty({ state: 'unreachable', reporter: diagnoseIcmpError(4, 3, 0, '198.18.0.254') })])), 1, T0);
    assert.equal(said(gone), 'opened changes:198.18.0.77', 'network unreachable (a route went away) is a change');
  });

  it('brings a state of before facts to them without announcing an empty address read the new way', () => {
    // Stored before facts: .77 was read "unreachable" (its neighbour lookup had failed), .10's port 22 likewise.
    const before = { runs: 3, baseline: { a: 'unreachable', b: 'alive 22/unreachable 80/open', c: 'unreachable' }, lastSeen: {}, pending: {}, transitions: {}, flapping: [] };
    const observed = new Map([
      ['a', 'silent'],
      ['b', 'alive 22/filtered 80/open'],
      ['c', 'prohibited'],
    ]);
    const adopted = adoptFacts(before, observed);
    assert.deepEqual(adopted.baseline, { b: 'alive 22/filtered 80/open', c: 'unreachable' });
    assert.equal(adopted.facts, FACTS_VERSION);
    const verdict = observeRun(adopted, observed, 1, T0);
    assert.deepEqual(verdict.changes, [{ ip: 'c', from: 'unreachable', to: 'prohibited' }], 'only the real change');
    assert.equal(adoptFacts(verdict.state, new Map([['c', 'silent']])), verdict.state, 'a state of facts is left as it is');
  });

  it('reports a change once it has held for confirm runs, in one verdict for every host that changed', () => {
    const verdicts = runs({ a: OPEN, b: OPEN, c: OPEN }, [
      { a: CLOSED, b: CLOSED, c: OPEN },
      { a: CLOSED, b: CLOSED, c: OPEN },
      { a: CLOSED, b: CLOSED, c: OPEN },
    ]);
    assert.deepEqual(verdicts.map(said), ['-', 'opened changes:a+b', '-']);
    assert.deepEqual(verdicts[1]?.changes, [
      { ip: 'a', from: OPEN, to: CLOSED },
      { ip: 'b', from: OPEN, to: CLOSED },
    ]);
  });

  it('says nothing of a change that reverts before it is confirmed', () => {
    const quiet = Array.from({ length: 9 }, () => ({ a: OPEN, b: OPEN }));
    const verdicts = runs({ a: OPEN, b: OPEN }, [{ a: CLOSED, b: QUIET }, ...quiet, { a: OPEN, b: QUIET }, { a: OPEN, b: OPEN }]);
    assert.deepEqual(verdicts.map(said).filter((s) => s !== '-'), []);
  });

  it('resolves the incident once its hosts are back, with when it opened', () => {
    const verdicts = runs({ a: OPEN, b: 'silent' }, [{ a: CLOSED, b: QUIET }, { a: CLOSED, b: QUIET }, { a: OPEN, b: QUIET }, { a: OPEN, b: QUIET }]);
    assert.deepEqual(verdicts.map(said), ['-', 'opened changes:a', '-', 'resolved changes:a']);
    assert.equal(verdicts[3]?.closed?.incident.openedAt, new Date(T0.getTime() + 2 * 60_000).toISOString());
    assert.equal(verdicts[3]?.state.incident, undefined);
  });

  it('answers later changes in the open incident, which stays open until every host involved is back', () => {
    const verdicts = runs({ a: OPEN, b: OPEN }, [
      { a: QUIET, b: OPEN },
      { a: QUIET, b: OPEN },
      { a: QUIET, b: QUIET },
      { a: QUIET, b: QUIET },
      { a: OPEN, b: QUIET },
      { a: OPEN, b: QUIET },
      { a: OPEN, b: OPEN },
      { a: OPEN, b: OPEN },
    ]);
    assert.deepEqual(verdicts.map(said), ['-', 'opened changes:a', '-', 'changes:b', '-', 'changes:a', '-', 'resolved changes:b']);
  });

  it('reports a host that keeps changing once as flapping, then nothing until it calms, then resolves', () => {
    const flip = (n: number): Record<string, string>[] => Array.from({ length: n }, (_, i) => ({ a: i % 2 === 0 ? CLOSED : OPEN }));
    // Two runs each way: every change is confirmed, until the fourth change in the window.
    const pairs = [{ a: CLOSED }, { a: CLOSED }, { a: OPEN }, { a: OPEN }, { a: CLOSED }, { a: CLOSED }, { a: OPEN }, { a: OPEN }];
    const slow = runs({ a: OPEN }, [...pairs, ...flip(6), { a: OPEN }, { a: OPEN }, { a: OPEN }, { a: OPEN }, { a: OPEN }]);
    const seen = slow.map(said);
    const flagged = seen.indexOf('flapping');
    assert.ok(flagged > 0, seen.join(', '));
    assert.equal(slow[flagged]?.flapping[0]?.changes, FLAP_CHANGES);
    assert.deepEqual(seen.filter((s) => s === 'flapping'), ['flapping'], 'flapping is said once');
    const after = seen.slice(flagged + 1);
    assert.deepEqual(after.slice(0, -1).filter((s) => s !== '-'), [], `nothing while it flaps: ${after.join(', ')}`);
    assert.equal(after.at(-1), 'resolved calmed');

    // Flipping every run: never confirmed, flapping at its fourth move away, one notice opening an incident.
    const fast = runs({ a: OPEN }, flip(9)).map(said);
    assert.deepEqual(fast, ['-', '-', '-', '-', '-', '-', 'opened flapping', '-', '-']);
  });

  it('does not call a blip, then an outage and its recovery, flapping', () => {
    const verdicts = runs({ a: OPEN }, [{ a: CLOSED }, { a: OPEN }, { a: CLOSED }, { a: CLOSED }, { a: CLOSED }, { a: OPEN }, { a: OPEN }]);
    assert.deepEqual(verdicts.map(said), ['-', '-', '-', 'opened changes:a', '-', '-', 'resolved changes:a']);
  });

  it('leaves hosts the run did not probe as they were (a failed chunk is not a silent subnet)', () => {
    const verdicts = runs({ a: OPEN, b: OPEN }, [{ a: OPEN }, { a: OPEN }, {}, {}]);
    assert.deepEqual(verdicts.map(said), ['-', '-', '-', '-']);
    assert.equal(verdicts.at(-1)?.state.baseline.b, OPEN);
  });

  it('takes the new states as normal after a long quiet when they never went back', () => {
    const still = Array.from({ length: SETTLE_RUNS + 1 }, () => ({ a: 'alive' }));
    const verdicts = runs({ a: QUIET }, still, 1);
    assert.deepEqual(verdicts.map(said).filter((s) => s !== '-'), ['opened changes:a', 'settled']);
  });
});

describe('watch grammar', () => {
  it('parses watch with its own every: and confirm:, the rest as a sweep', () => {
    const command = parseCommand('watch 10.0.1.0/24 tcp:5432 every:90s confirm=3');
    assert.deepEqual(command, { kind: 'watch', watch: { request: parseSweepText('10.0.1.0/24 tcp:5432'), everyMs: 90_000, confirm: 3 } });
    assert.deepEqual(parseCommand('Watch 10.0.1.5'), { kind: 'watch', watch: { request: parseSweepText('10.0.1.5'), everyMs: 300_000, confirm: 2 } });
  });

  it('parses watches, unwatch ID and mute ID DURATION|off', () => {
    assert.deepEqual(parseCommand('watches'), { kind: 'watches' });
    assert.deepEqual(parseCommand('unwatch W3F9A2C'), { kind: 'unwatch', id: 'w3f9a2c' });
    assert.deepEqual(parseCommand('mute w3f9a2c 1h30m'), { kind: 'mute', id: 'w3f9a2c', forMs: 5_400_000 });
    assert.deepEqual(parseCommand('mute w3f9a2c off'), { kind: 'mute', id: 'w3f9a2c', forMs: 0 });
  });

  it('refuses bad watch input in one sentence naming the word, with an example', () => {
    const cases: [string, RegExp][] = [
      ['watch 10.0.1.0/24 every:5', /^every:5 is not a valid interval: .* e\.g\. every:5m$/],
      ['watch 10.0.1.0/24 every:2d', /^every:2d is not a valid interval/],
      ['watch 10.0.1.0/24 confirm:0', /^confirm:0 is not valid: .* e\.g\. confirm:2$/],
      ['watch 10.0.1.0/24 every:1m every:2m', /repeats every/],
      ['watch 10.0.1.0/24 save:x', /^save:x does not apply to a watch/],
      ['watch every:5m', /nothing to sweep/],
      ['unwatch', /^a watch id is missing: unwatch takes one id/],
      ['unwatch 12', /^12 is not a watch id/],
      ['mute w3f9a2c', /how long is missing/],
      ['mute w3f9a2c forever', /^forever is not a valid mute duration/],
      ['watches now', /watches takes nothing after it/],
    ];
    for (const [text, expected] of cases) {
      assert.throws(() => parseCommand(text), (error: unknown) => {
        assert.ok(error instanceof Error && 'code' in error, text);
        assert.match(error.message, expected, text);
        assert.doesNotMatch(error.message, /\n/);
        return error instanceof InvalidOptionError || (error as { code?: string }).code === 'empty_sweep';
      });
    }
  });

  it('reads and writes intervals', () => {
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('1d2h'), 93_600_000);
    assert.equal(parseDuration(''), undefined);
    assert.equal(parseDuration('5'), undefined);
    assert.equal(formatEvery(300_000), '5m');
    assert.equal(formatEvery(5_400_000), '1h30m');
    assert.equal(formatEvery(2000), '2s');
  });
});

describe('watch messages (changeLines)', () => {
  it('folds hosts that changed the same way and says what changed in words', () => {
    const lines = changeLines([
      { ip: '10.0.1.23', from: 'alive', to: QUIET },
      { ip: '10.0.1.40', from: QUIET, to: 'alive' },
      { ip: '10.0.1.10', from: OPEN, to: CLOSED },
      { ip: '10.0.1.11', from: OPEN, to: CLOSED },
      { ip: '10.0.1.50', from: 'alive 5432/open', to: 'alive_tcp_only 5432/open' },
      { ip: '10.0.1.60', from: 'alive', to: 'unreachable' },
    ]);
    assert.deepEqual(lines, [
      '10.0.1.23 went silent',
      '10.0.1.40 appeared',
      '10.0.1.10-11 5432/tcp open → closed',
      '10.0.1.50 alive → TCP only',
      '10.0.1.60 became unreachable',
    ]);
  });
});

describe('watch grammar: confirm:agents', () => {
  it('sweeps from every agent and needs their agreement, with or without a number of runs', () => {
    const agents = parseCommand('watch 10.0.1.0/24 tcp:5432 confirm:agents');
    assert.deepEqual(agents, {
      kind: 'watch',
      watch: { request: parseSweepText('10.0.1.0/24 tcp:5432 from:all'), everyMs: 300_000, confirm: 1, agents: true },
    });
    const both = parseCommand('watch 10.0.1.0/24 confirm:AGENTS,3');
    assert.equal(both.kind === 'watch' && both.watch.confirm, 3);
    assert.equal(both.kind === 'watch' && both.watch.agents, true);
    // from:each says which vantages must agree: the groups.
    const groups = parseCommand('watch 10.0.1.0/24 vpc:onprem,prod from:each confirm:agents');
    assert.equal(groups.kind === 'watch' && groups.watch.request.options.from, 'each');
    assert.equal(groups.kind === 'watch' && describeRequest(groups.watch.request), '10.0.1.0/24 vpc:onprem,prod from:each');
  });

  it('refuses a confirm that is neither runs nor agents, or says either twice', () => {
    for (const text of ['confirm:agent', 'confirm:agents,agents', 'confirm:2,3', 'confirm:agents,0']) {
      const pattern = new RegExp(`^${text.replace(/[.,]/g, '\\$&')} is not valid: confirm takes .* e\\.g\\. confirm:2$`);
      assert.throws(() => parseCommand(`watch 10.0.1.0/24 ${text}`), (e: unknown) => e instanceof InvalidOptionError && pattern.test(e.message));
    }
  });
});

describe('an incident as it stands, and what a silence held back', () => {
  it('says each host of the incident from before it to now, leaves out those back as they were, and names those that flap', () => {
    const state: WatchState = {
      ...firstState(new Map([['198.18.0.1', 'alive 5432/closed'], ['198.18.0.3', 'alive']])),
      flapping: ['198.18.0.3'],
      incident: { openedAt: '2026-12-06T04:00:00.000Z', reference: { '198.18.0.1': 'alive 5432/open', '198.18.0.2': 'alive', '198.18.0.3': 'alive' }, quietRuns: 0 },
    };
    assert.deepEqual(incidentNow(state), {
      changes: [
        { ip: '198.18.0.1', from: 'alive 5432/open', to: 'alive 5432/closed' },
        { ip: '198.18.0.2', from: 'alive', to: QUIET },
      ],
      flapping: ['198.18.0.3'],
    });
    assert.deepEqual(incidentNow({ ...state, incident: undefined }), { changes: [], flapping: [] });
  });

  it('keeps one change a host, from its first `from` to its last `to`, and drops a host back where it began', () => {
    const held = holdChanges(undefined, { changes: [{ ip: 'a', from: 'alive', to: QUIET }, { ip: 'b', from: 'alive 22/open', to: 'alive 22/closed' }], flapping: [], calmed: [] });
    const more = holdChanges(held, { changes: [{ ip: 'a', from: QUIET, to: 'alive' }, { ip: 'b', from: 'alive 22/closed', to: QUIET }], flapping: [{ ip: 'c', changes: 4 }], calmed: [] });
    assert.deepEqual(more, { changes: [{ ip: 'b', from: 'alive 22/open', to: QUIET }], flapping: [{ ip: 'c', changes: 4 }], calmed: [] });
  });
});
