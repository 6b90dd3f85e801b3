import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TraceHop, TracePath, TraceReport } from '../../src/core/trace.js';
import { DEFAULT_TRACE_OPTIONS } from '../../src/core/trace.js';
import { PHONE_CODE_COLUMNS, phoneHopLines, traceBlocks } from '../../src/views/trace/slack.js';

function hop(ttl: number, address?: string, extra: Partial<TraceHop> = {}): TraceHop {
  return address
    ? { ttl, sent: 3, received: 3, lossPct: 0, last: 0.4, avg: 12.345, best: 0.3, worst: 30.5, stdev: 1, responders: [{ address, answers: 3 }], ...extra }
    : { ttl, sent: 3, received: 0, lossPct: 100, responders: [], ...extra };
}

function path(hops: TraceHop[]): TracePath {
  return { mode: 'tcp', port: 443, end: 'reached', tcpState: 'open', hops, probes: hops.length * 3, durationMs: 80 };
}

describe('trace view for Slack', () => {
  it('fits the IPv4 hop table (hop, address, loss, avg) in one phone row per hop, a silent hop as *', () => {
    const lines = phoneHopLines(path([hop(1, '10.100.200.254'), hop(2), hop(3, '255.255.255.255', { lossPct: 33.3 }), hop(30, '10.0.0.1')]));
    assert.deepEqual(lines.slice(0, 3), [' # address         loss    avg', ' 1 10.100.200.254    0%   12.3', ' 2 *               100%      -']);
    for (const line of lines) assert.ok(line.length <= PHONE_CODE_COLUMNS, `"${line}" is ${line.length} characters`);
  });

  it('keeps an IPv6 hop, even with a second responder, within two phone rows', () => {
    const wide = hop(4, 'fd00:1234:5678:9abc:def0:1234:5678:9abc', {
      responders: [
        { address: 'fd00:1234:5678:9abc:def0:1234:5678:9abc', answers: 2 },
        { address: 'fd00::2', answers: 1 },
      ],
    });
    for (const line of phoneHopLines(path([wide]))) assert.ok(line.length <= 2 * PHONE_CODE_COLUMNS, `"${line}" is ${line.length} characters`);
  });

  it('puts the conclusion first and stays within Block Kit limits for 64 hops', () => {
    const report: TraceReport = {
      target: 'db.internal',
      address: '10.0.2.15',
      family: 4,
      options: DEFAULT_TRACE_OPTIONS,
      startedAt: '2025-01-01T00:00:00.000Z',
      durationMs: 1234,
      paths: [path(Array.from({ length: 64 }, (_, i) => hop(i + 1, `10.0.${i}.1`)))],
      conclusion: 'TCP 443 reaches 10.0.2.15 in 64 hops: port open',
      agent: { group: 'prod', id: 'agent-1' },
    };
    const blocks = traceBlocks(report);
    const first = blocks[0];
    assert.ok(first?.type === 'section' && first.text?.text.startsWith('*Trace to db.internal (10.0.2.15)* on prod (agent-1)\nTCP 443 reaches'));
    for (const block of blocks) if (block.type === 'section') assert.ok((block.text?.text.length ?? 0) <= 3000);
    assert.ok(blocks.length <= 50);
  });
  it('says what each path went through, and why a mode auto could not run, as the sweep footer says its ICMP mode', () => {
    const report: TraceReport = {
      target: '10.0.2.15',
      address: '10.0.2.15',
      family: 4,
      options: DEFAULT_TRACE_OPTIONS,
      startedAt: '2025-01-01T00:00:00.000Z',
      durationMs: 900,
      paths: [{ ...path([hop(1, '10.0.0.1'), hop(2, '10.0.2.15', { target: true })]), sockets: 'connect' }],
      conclusion: 'TCP 443 reaches 10.0.2.15 in 2 hops: port open',
      warning: 'ICMP not traced: an ICMP trace needs a raw socket (root or CAP_NET_RAW; EPERM) or a ping socket (EACCES)',
    };
    const text = JSON.stringify(traceBlocks(report));
    assert.match(text, /3 probes per hop · TCP 443 through TCP connects \(no privilege\) · /);
    assert.match(text, /port open\\nICMP not traced: an ICMP trace needs/);
    const older = JSON.stringify(traceBlocks({ ...report, paths: [path([hop(1, '10.0.2.15', { target: true })])] }));
    assert.match(older, /3 probes per hop · 900 ms/, 'a report made before the sockets were recorded says nothing of them');
  });
});
