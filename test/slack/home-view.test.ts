/**
 * The Home tab's view at its largest (50 agent groups, 200 watches of which 30 have an open incident, 5 sweeps):
 * within Block Kit's limits (the fake Slack's validator), every line within two rows of the phone's column, and what
 * does not fit counted, never cut silently.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HomePicture } from '../../src/door/kinds/home.js';
import type { AgentInfo } from '../../src/queue/registry.js';
import type { SweepRecord } from '../../src/queue/history.js';
import type { WatchRecord } from '../../src/queue/watch-store.js';
import { HOME_RERUN, homeView, sweepWords } from '../../src/slack/home.js';
import { blockKitViolations } from '../support/fake-slack.js';
import { phoneRowsPerLine, phoneThreadHeight } from '../support/phone-layout.js';

const NOW = Date.parse('2026-12-06T04:30:00.000Z');

function agent(group: number, n: number, lastSeenAgoMs = 3000): AgentInfo {
  return {
    id: `agent-${group}-${n}`,
    group: `group-${String(group).padStart(2, '0')}`,
    cidrs: [`198.18.${group}.0/24`],
    version: '0.1.0',
    icmp: true,
    icmpMode: 'raw',
    load: { active: 0, concurrency: 8 },
    lastSeen: new Date(NOW - lastSeenAgoMs).toISOString(),
    startedAt: '2026-12-06T00:00:00.000Z',
  } as AgentInfo;
}

function watch(i: number, incident: boolean): WatchRecord {
  return {
    v: 1,
    id: `w${i.toString(16).padStart(6, '0')}`,
    channel: 'C0PUBLIC',
    createdBy: 'U0ONCALL',
    createdAt: '2026-12-01T09:00:00.000Z',
    sweep: `198.18.${i % 250}.0/24 tcp:5432`,
    everyMs: 300_000,
    confirm: 2,
    groups: ['group-01'],
    outbox: [],
    lastRun: { at: new Date(NOW - 120_000).toISOString(), outcome: 'unchanged', summary: '41 alive · 3 TCP only · 210 silent · 1.21 s' },
    state: {
      facts: 1,
      runs: 40,
      baseline: {},
      lastSeen: {},
      pending: {},
      transitions: {},
      flapping: [],
      ...(incident
        ? { incident: { openedAt: new Date(NOW - 600_000).toISOString(), reference: { [`198.18.${i % 250}.5`]: 'alive 5432/open' }, quietRuns: 0, alert: { ts: '1796529600.000100', text: 'x' } } }
        : {}),
    },
  };
}

function sweep(i: number): SweepRecord {
  return {
    id: `s${i}`,
    requestedBy: 'U0ONCALL',
    at: new Date(NOW - i * 60_000).toISOString(),
    targets: [`198.18.${i}.0/24`],
    targetKey: `198.18.${i}.0/24`,
    groups: ['group-01'],
    summary: { alive: 41, alive_tcp_only: 3, prohibited: 1, unreachable: 0, silent: 209, total: 254 },
    durationMs: 1210,
    complete: true,
    hosts: [],
    silent: [],
    probed: { ports: [5432], count: 1 },
  } as SweepRecord;
}

describe('Home at its largest', () => {
  const picture: HomePicture = {
    agents: Array.from({ length: 50 }, (_, g) => [agent(g, 1), agent(g, 2), agent(g, 3, g % 10 === 0 ? 60_000 : 3000)]).flat(),
    watches: Array.from({ length: 200 }, (_, i) => ({ watch: watch(i, i < 30), ...(i === 0 ? { response: { incident: 'x', ack: { by: 'U0ONCALL', at: new Date(NOW).toISOString() } } } : {}) })),
    sweeps: Array.from({ length: 5 }, (_, i) => sweep(i)),
  };
  const links = new Map(picture.watches.slice(0, 30).map(({ watch: w }) => [w.id, `https://test.slack.com/archives/C0PUBLIC/p1796529600000100`]));
  const view = homeView(picture, { now: NOW, alertLinks: links, dm: 'D0HOME' });

  it('stays within Block Kit’s limits: 100 blocks, each within its own', () => {
    assert.equal(view.type, 'home');
    assert.ok(view.blocks.length <= 100, `${view.blocks.length} blocks`);
    for (let at = 0; at < view.blocks.length; at += 50) assert.deepEqual(blockKitViolations({ blocks: view.blocks.slice(at, at + 50) }), []);
  });

  it('shows every group and incident, counts the watches it could not show, and keeps the sweeps with Re-run', () => {
    const words = JSON.stringify(view.blocks);
    assert.match(words, /Open incidents \(30\)/);
    assert.match(words, /Agent groups \(50\)/);
    assert.equal((words.match(/\*group-\d\d\* · 3 agents/g) ?? []).length, 50, 'every group');
    assert.equal((words.match(/late \(1 min\)/g) ?? []).length, 5, 'the late agents named');
    assert.match(words, /Your watches \(200\)/);
    const shownWatches = (words.match(/`w[0-9a-f]{6}` `198/g) ?? []).length;
    const more = /and (\d+) more/.exec(words.slice(words.indexOf('Your watches')))?.[1];
    assert.equal(shownWatches + Number(more ?? 0), 200, 'each watch shown or counted');
    const reruns = view.blocks.flatMap((b) => ('accessory' in b && b.accessory && 'action_id' in b.accessory && b.accessory.action_id === HOME_RERUN ? [b.accessory] : []));
    assert.equal(reruns.length, 5);
    assert.deepEqual(JSON.parse(String((reruns[0] as { value?: string }).value)), { text: '198.18.0.0/24 tcp:5432', dm: 'D0HOME' });
    assert.equal(sweepWords({ targets: ['10.0.1.0/24'], probed: { ports: [22, 5432], count: 3 } }), '10.0.1.0/24 tcp:22,5432 count:3');
  });

  it('reads on a phone: no line over two rows', () => {
    const long: string[] = [];
    for (const block of view.blocks as { type: string; text?: { text: string }; elements?: { text?: unknown }[] }[]) {
      const text = block.type === 'section' ? (block.text?.text ?? '') : block.type === 'context' ? block.elements?.map((e) => (typeof e.text === 'string' ? e.text : '')).join(' ') ?? '' : '';
      const lines = text.split('\n');
      phoneRowsPerLine(text, { context: block.type === 'context' }).forEach((rows, i) => {
        if (rows > 2) long.push(`${rows}: ${lines[i] ?? ''}`);
      });
    }
    assert.deepEqual(long, []);
    assert.ok(phoneThreadHeight([{ blocks: view.blocks }]) > 0);
  });
});
