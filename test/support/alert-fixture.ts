/**
 * A watch's alert on call, for looking at it and laying it out at phone width: an incident of a /24 watched with
 * tcp:5432 (a database port closed on three hosts, a host gone silent, one flapping), acknowledged and silenced,
 * with a reply in its thread; then the same alert once resolved, with the reply that ends it.
 */
import { QUIET } from '../../src/core/watch.js';
import type { IncidentResponse, WatchNoticeRecord, WatchRecord } from '../../src/queue/watch-store.js';
import { closedAlert, closedMessage, livingAlert, updateMessage, watchChart } from '../../src/slack/watches/render.js';
import { mapPng } from '../../src/slack/map-picture.js';
import type { SeriesPoint } from '../../src/core/series.js';
import type { PhoneMessage } from './phone-html.js';
import type { HomePicture } from '../../src/door/kinds/home.js';
import type { AgentInfo } from '../../src/queue/registry.js';
import type { SweepRecord } from '../../src/queue/history.js';
import { homeView } from '../../src/slack/home.js';

const OPENED = '2026-12-06T03:41:00.000Z';
const NOW = Date.parse('2026-12-06T04:02:00.000Z');

export function alertWatch(): WatchRecord {
  const open = 'alive 5432/open';
  const closed = 'alive 5432/closed';
  return {
    v: 1,
    id: 'w3f9a2c',
    channel: 'C0PUBLIC',
    createdBy: 'U0ONCALL',
    createdAt: '2026-12-01T09:00:00.000Z',
    sweep: '10.0.1.0/24 tcp:5432',
    everyMs: 300_000,
    confirm: 2,
    groups: ['prod'],
    outbox: [],
    lastRun: { at: '2026-12-06T04:01:00.000Z', outcome: 'changed', summary: '41 alive · 3 TCP only · 210 silent · 1.21 s' },
    state: {
      facts: 1,
      runs: 312,
      baseline: { '10.0.1.21': closed, '10.0.1.22': closed, '10.0.1.23': closed, '10.0.1.40': open, '10.0.1.57': open },
      lastSeen: {},
      pending: {},
      transitions: { '10.0.1.57': [305, 307, 309, 311] },
      flapping: ['10.0.1.57'],
      incident: {
        openedAt: OPENED,
        reference: { '10.0.1.21': open, '10.0.1.22': open, '10.0.1.23': open, '10.0.1.31': open, '10.0.1.57': open },
        quietRuns: 0,
        alert: { ts: '1796529600.000100', text: ':rotating_light: 10.0.1.0/24 tcp:5432: 10.0.1.21-23 5432/tcp open → closed' },
      },
    },
  };
}

export const ALERT_RESPONSE: IncidentResponse = {
  incident: OPENED,
  ack: { by: 'U0ONCALL', at: '2026-12-06T03:44:00.000Z' },
  silence: { by: 'U0ONCALL', at: '2026-12-06T03:46:00.000Z', reason: 'known: the database is being moved', until: '2026-12-06T04:46:00.000Z' },
};

/** The alert as it stands, acknowledged and silenced, with the reply that said the host gone silent. */
export function alertThread(): PhoneMessage[] {
  const watch = alertWatch();
  const alert = livingAlert(watch, ALERT_RESPONSE, NOW);
  if (!alert) throw new Error('no incident');
  const update: Extract<WatchNoticeRecord, { kind: 'update' }> = {
    kind: 'update',
    changes: [{ ip: '10.0.1.31', from: 'alive 5432/open', to: QUIET }],
    flapping: [],
    calmed: [],
    summary: '41 alive · 3 TCP only · 210 silent · 1.19 s',
  };
  return [alert, updateMessage(watch, update)];
}

/** The same alert once resolved, and the reply in its thread that says so (with what changed while silenced). */
export function resolvedThread(): PhoneMessage[] {
  const watch = alertWatch();
  const notice: Extract<WatchNoticeRecord, { kind: 'resolved' | 'settled' }> = {
    kind: 'resolved',
    changes: [{ ip: '10.0.1.21', from: 'alive 5432/closed', to: 'alive 5432/open' }, { ip: '10.0.1.22', from: 'alive 5432/closed', to: 'alive 5432/open' }],
    calmed: [],
    openedAt: OPENED,
    at: '2026-12-06T04:32:00.000Z',
    summary: '44 alive · 210 silent · 1.20 s',
    silence: { by: 'U0ONCALL', at: '2026-12-06T03:46:00.000Z', reason: 'known: the database is being moved' },
    held: { changes: [{ ip: '10.0.1.23', from: 'alive 5432/closed', to: 'alive 5432/open' }], flapping: [], calmed: [] },
  };
  const text = watch.state?.incident?.alert?.text ?? '';
  return [closedAlert(text, notice), closedMessage(watch, notice)];
}

/** Home as the on-call engineer of the alert above sees it: three groups (one agent late), four watches, three sweeps. */
export function homeScreen(): PhoneMessage[] {
  const agent = (group: string, id: string, cidr: string, ageMs = 4000): AgentInfo =>
    ({ id, group, cidrs: [cidr], version: '0.1.0', icmp: true, icmpMode: 'raw', load: { active: 0, concurrency: 8 }, lastSeen: new Date(NOW - ageMs).toISOString(), startedAt: '2026-12-06T00:00:00.000Z' }) as AgentInfo;
  const watch = alertWatch();
  const quiet = (id: string, sweep: string, channel: string): WatchRecord => ({ ...alertWatch(), id, sweep, channel, state: { ...alertWatch().state!, incident: undefined } });
  const record = (id: string, targets: string[], minutesAgo: number, alive: number, silent: number): SweepRecord =>
    ({
      id,
      requestedBy: 'U0ONCALL',
      at: new Date(NOW - minutesAgo * 60_000).toISOString(),
      targets,
      targetKey: targets.join(' '),
      groups: ['prod'],
      summary: { alive, alive_tcp_only: 2, prohibited: 0, unreachable: 0, silent, total: alive + 2 + silent },
      durationMs: 1200,
      complete: true,
      hosts: [],
      silent: [],
      probed: { ports: [5432], count: 1 },
    }) as SweepRecord;
  const picture: HomePicture = {
    agents: [agent('prod', 'prod-a1', '10.0.0.0/16'), agent('prod', 'prod-a2', '10.0.0.0/16'), agent('staging', 'stg-a1', '10.1.0.0/16', 95_000), agent('onprem', 'dc1-a1', '192.0.2.0/24')],
    watches: [
      { watch, response: ALERT_RESPONSE },
      { watch: quiet('w1c2d3e', '10.0.2.0/24 tcp:443', 'C0PUBLIC') },
      { watch: quiet('w4f5a6b', '10.1.0.0/24 tcp:5432', 'C0STAGING') },
      { watch: quiet('w7c8d9e', '192.0.2.0/24', 'C0DC1') },
    ],
    sweeps: [record('s1', ['10.0.1.0/24'], 12, 41, 210), record('s2', ['10.0.3.0/24', '10.0.4.10'], 95, 12, 241), record('s3', ['10.1.0.0/24'], 1440, 8, 246)],
  };
  const view = homeView(picture, { now: NOW, alertLinks: new Map([[watch.id, 'https://example.slack.com/archives/C0PUBLIC/p1796529600000100']]), dm: 'D0ONCALL' });
  return [{ blocks: view.blocks }];
}

/**
 * A day of a watch's series (every 5 minutes): three hosts with a round trip about 0.8 ms, one of which (10.0.1.21)
 * loses echoes and slows down for the 21 minutes of its incident.
 */
export function alertSeries(): SeriesPoint[] {
  const points: SeriesPoint[] = [];
  const opened = Date.parse(OPENED);
  for (let t = NOW - 24 * 3600_000; t <= NOW; t += 300_000) {
    const wave = Math.sin(t / 3_600_000) * 0.15;
    const bad = t >= opened - 300_000;
    const hosts: SeriesPoint['hosts'] = {
      '10.0.1.21': bad ? [45 + ((t / 300_000) % 3) * 10, 38 + wave * 40, 95, null] : [0, 0.8 + wave, 1.6 + wave, 2.1],
      '10.0.1.22': [0, 0.7 + wave, 1.3, 1.9],
      '10.0.1.23': [0, 0.9 + wave, 2.4, 2.2],
    };
    points.push({ at: new Date(t).toISOString(), hosts });
  }
  return points;
}

/** The chart the Graph button posts in the alert's thread, with its words. */
export function chartThread(): PhoneMessage[] {
  const watch = alertWatch();
  const watchOf: WatchRecord = { ...watch, state: { ...watch.state!, incident: { ...watch.state!.incident!, reference: { '10.0.1.21': 'alive 5432/open' } } } };
  const chart = watchChart(watchOf, alertSeries(), NOW);
  if (!chart) throw new Error('no chart');
  return [{ text: chart.legend, files: [{ name: `${watch.id}-chart.png`, png: mapPng(chart.picture) }] }];
}
