/**
 * The Slack thread laid out as the phone shows it: the report's lines in the 306 px column with the real fonts
 * (test/support/phone-layout.ts, which agrees with Chromium on every line of these threads: phone-check.ts), the
 * map picture at the column's width.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseSweepText } from '../../src/core/grammar.js';
import type { DistributedReport, HostResult } from '../../src/core/report.js';
import { summarize } from '../../src/core/report.js';
import type { HostState } from '../../src/core/states.js';
import { HOST_STATES } from '../../src/core/states.js';
import { filesComment, reportBlocks } from '../../src/views/blocks.js';
import { MAP_WIDTH, mapSvg, sweepMap } from '../../src/views/map.js';
import { PHONE, phoneRowsPerLine, phoneThreadHeight, pngSize } from '../support/phone-layout.js';
import { loadReportFixture } from '../support/report-fixtures.js';
import { phoneThread } from '../support/phone-thread.js';
import { alertSeries, alertThread, chartThread, resolvedThread } from '../support/alert-fixture.js';
import { chartSvg, worstHosts } from '../../src/views/chart.js';

interface Block {
  type: string;
  text?: { text: string };
  elements?: { text?: string | { text: string } }[];
}

/** Every line of a message's sections and contexts with the rows it takes. */
function rowsOf(blocks: readonly unknown[]): { line: string; rows: number }[] {
  const out: { line: string; rows: number }[] = [];
  for (const block of blocks as Block[]) {
    if (block.type === 'section') {
      const lines = (block.text?.text ?? '').split('\n');
      phoneRowsPerLine(block.text?.text ?? '').forEach((rows, i) => out.push({ line: lines[i] ?? '', rows }));
    }
    if (block.type === 'context') {
      for (const element of block.elements ?? []) {
        if (typeof element.text !== 'string') continue;
        const lines = element.text.split('\n');
        phoneRowsPerLine(element.text, { context: true }).forEach((rows, i) => out.push({ line: lines[i] ?? '', rows }));
      }
    }
  }
  return out;
}

function assertFitsTwoRows(blocks: readonly unknown[]): void {
  const long = rowsOf(blocks).filter((l) => l.rows > 2);
  assert.deepEqual(long, [], 'a line takes more than two rows of the phone');
}

describe('the report on a phone (306 px column)', () => {
  for (const [name, limit] of [
    ['mixed-24', 1300],
    ['three-networks', 1400],
  ] as const) {
    it(`lays out the ${name} lab report with no line over two rows, the map at the column's width, within ${limit} px`, () => {
      const { report, now } = loadReportFixture(name);
      const thread = phoneThread(report, now);
      for (const message of thread) assertFitsTwoRows(message.blocks ?? []);
      const files = thread[2];
      assert.ok(files?.text && phoneRowsPerLine(files.text).every((rows) => rows <= 2), 'the files comment fits two rows');
      const picture = files?.files?.find((f) => f.png)?.png;
      assert.ok(picture, 'the thread has a map');
      assert.equal(pngSize(picture).width, PHONE.column);
      const height = phoneThreadHeight(thread.map((m) => ({ ...m, files: (m.files ?? []).map((f) => (f.png ? { picture: pngSize(f.png) } : {})) })));
      assert.ok(height <= limit, `the thread is ${height} px tall`);
      // The first screen (about 650 px of thread under the app's bars) holds the summary and what changed.
      const report1 = thread[1]?.blocks as Block[];
      const changes = report1.findIndex((b) => /^\*Since /.test(b.text?.text ?? ''));
      assert.ok(changes === 1 || changes === 2, 'what changed follows the summary');
      const firstScreen = [{ blocks: thread[0]?.blocks ?? [] }, { blocks: report1.slice(0, changes + 1) }];
      assert.ok(phoneThreadHeight(firstScreen) < 650, 'the summary and what changed are on the first screen');
    });
  }

  it('keeps every line of a /24 of any mix of states, reasons and names within two rows', () => {
    const reasons = ['host unreachable', 'communication administratively prohibited', 'port unreachable', 'network unreachable'];
    const senders = (i: number): string => ['198.18.0.254', `198.18.0.${i}`, '198.18.7.1', 'local'][i % 4] ?? 'local';
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(4), fc.nat(3), fc.nat(3), fc.boolean(), fc.nat(2)), { minLength: 254, maxLength: 254 }),
        fc.subarray([...HOST_STATES], { minLength: 1 }),
        fc.subarray([22, 80, 443, 3306, 5432, 8080]),
        fc.integer({ min: 1, max: 5 }),
        (draws, states, ports, count) => {
          const hosts: HostResult[] = draws.map(([pick, reason, sender, open, layer2], i): HostResult => {
            // Some sweeps have every state, some only a few: the legend and the sections differ.
            const state = states[pick % states.length] ?? 'silent';
            const ip = `198.18.0.${i + 1}`;
            const answered = state === 'alive' || state === 'alive_tcp_only';
            const stateOf = (port: number): 'open' | 'closed' | 'filtered' => (answered ? (open && port === ports[0] ? 'open' : 'closed') : 'filtered');
            return {
              ip,
              state: state as HostState,
              icmp: state === 'alive' ? { sent: count, received: count, lossPct: 0, rtt: { min: 0.1, avg: 12.345, max: 123.4, mdev: 1 } } : { sent: count, received: 0, lossPct: 100 },
              ports: ports.map((port) => ({ port, state: stateOf(port), ms: 12.3, attempts: 1 })),
              ...(state === 'prohibited' || state === 'unreachable'
                ? { reporter: { verdict: state, address: senders(sender) === 'local' ? 'local' : senders(sender === 1 ? i + 1 : sender), reason: reasons[reason] ?? '', ...(sender === 3 ? { errno: 'EHOSTUNREACH' } : {}) } }
                : {}),
              // What layer 2 said (an on-link /24): answered with a MAC of its own, nothing answered, or not known.
              ...(layer2 === 1 ? { link: 'answered' as const, mac: `02:42:ac:11:${(i >> 4).toString(16).padStart(2, '0')}:${((i * 37) & 255).toString(16).padStart(2, '0')}` } : {}),
              ...(layer2 === 2 && state !== 'alive' && state !== 'alive_tcp_only' ? { link: 'no_answer' as const } : {}),
            };
          });
          const report: DistributedReport = {
            targets: ['198.18.0.0/24'],
            options: { ...parseSweepText('198.18.0.0/24').options, ports, count },
            startedAt: '2026-11-30T14:14:00.000Z',
            durationMs: 2345,
            complete: true,
            planned: 254,
            icmp: { available: true },
            summary: summarize(hosts),
            names: [],
            hosts,
            sweepId: 'mi2k3x-1a2b3c4d',
            groups: ['prod'],
            requestedBy: 'U1',
            chunks: [{ index: 0, group: 'prod', agentId: 'prod-agent-7f9c', attempt: 1, stalled: 0, durationMs: 5 }],
            failures: [],
            cancelled: false,
          };
          const header = { user: 'U1', text: '198.18.0.0/24', groups: ['prod'], addresses: 254 };
          assertFitsTwoRows(reportBlocks(report, header).blocks);
          const map = sweepMap(report);
          assert.ok(map);
          assert.ok(phoneRowsPerLine(filesComment(report, map)).every((rows) => rows <= 2));
        },
      ),
      { numRuns: 50 },
    );
  });

  it('lays out a watch’s alert (acknowledged, silenced, five hosts) and its end with no line over two rows, within 560 and 420 px', () => {
    for (const [thread, limit] of [
      [alertThread(), 560],
      [resolvedThread(), 420],
    ] as const) {
      for (const message of thread) assertFitsTwoRows(message.blocks ?? []);
      const height = phoneThreadHeight(thread.map((m) => ({ text: m.text, blocks: m.blocks })));
      assert.ok(height <= limit, `the thread is ${height} px tall`);
    }
    // The alert's buttons fit one row of the phone, and its first line one row.
    const alert = alertThread()[0]?.blocks as Block[];
    assert.equal(phoneRowsPerLine(alert[0]?.text?.text ?? '')[0], 1, 'the first line takes one row');
  });

  it('draws a watch’s chart at the column’s width with its words in two rows, within 300 px; nothing to draw, no chart', () => {
    const [chart] = chartThread();
    assert.ok(phoneRowsPerLine(chart?.text ?? '').every((rows) => rows <= 2), 'the legend fits two rows');
    const png = chart?.files?.[0]?.png;
    assert.ok(png);
    assert.equal(pngSize(png).width, PHONE.column);
    const height = phoneThreadHeight([{ text: chart?.text, files: [{ picture: pngSize(png) }] }]);
    assert.ok(height <= 300, `${height} px`);
    assert.equal(chartSvg({ points: alertSeries(), hosts: ['198.18.9.9'], now: Date.now() }), undefined);
    assert.deepEqual(worstHosts(alertSeries(), Date.parse('2026-12-06T04:02:00.000Z'), 2), ['10.0.1.21', '10.0.1.23']);
  });

  it('draws every map, one network or several or a /16, within the column', () => {
    const hostsOf = (ips: string[]): HostResult[] => ips.map((ip) => ({ ip, state: 'silent', icmp: { sent: 1, received: 0, lossPct: 100 }, ports: [] }));
    const shapes = [
      Array.from({ length: 14 }, (_, i) => `198.18.0.${i + 1}`),
      Array.from({ length: 3 * 254 }, (_, i) => `198.18.${i % 3}.${Math.floor(i / 3) + 1}`),
      Array.from({ length: 4096 }, (_, i) => `198.18.${i >> 4}.${(i & 15) * 16}`),
    ];
    for (const ips of shapes) {
      const map = sweepMap({ ...loadReportFixture('mixed-24').report, hosts: hostsOf(ips) });
      assert.ok(map);
      const picture = mapSvg(map);
      assert.equal(picture.width, MAP_WIDTH);
      for (const x of [...picture.svg.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/g)]) {
        assert.ok(Number(x[1]) + Number(x[2]) <= MAP_WIDTH, 'a square lies outside the picture');
      }
    }
  });
});
