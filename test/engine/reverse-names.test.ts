/**
 * `dns:on` without a network: the lookups' bound and deadline with a scripted resolver, the grammar, and what every
 * view (text, Slack, CSV, JSON) says of the names. The real name server is in test/lab/ptr-names.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeRequest, parseSweepText } from '../../src/core/grammar.js';
import { summarize } from '../../src/core/report.js';
import type { DistributedReport, HostResult } from '../../src/core/report.js';
import { sweepReportSchema } from '../../src/queue/report-schema.js';
import { arpaName, reverseNames } from '../../src/engine/reverse-names.js';
import { factMrkdwn, reportBlocks } from '../../src/views/blocks.js';
import { renderCsv } from '../../src/views/csv.js';
import { jsonChunks } from '../../src/views/json.js';
import { stateSections } from '../../src/views/outline.js';
import { renderText } from '../../src/views/text.js';

const failure = (code: string) => Object.assign(new Error(code), { code });

describe('reverse lookups', () => {
  it('asks at most `concurrency` at once, and names each address by its first PTR, without the root dot', async () => {
    let out = 0;
    let most = 0;
    const addresses = Array.from({ length: 300 }, (_, i) => `198.18.${i >> 8}.${i & 255}`);
    const names = await reverseNames(addresses, {
      concurrency: 16,
      reverse: async (address) => {
        out += 1;
        most = Math.max(most, out);
        await new Promise((resolve) => setTimeout(resolve, 1));
        out -= 1;
        return [`h-${address}.lab.test.`, 'other.lab.test'];
      },
    });
    assert.equal(most, 16);
    assert.equal(names.size, 300);
    assert.deepEqual(names.get('198.18.1.7'), { name: 'h-198.18.1.7.lab.test' });
  });

  it('says nothing of an address without a record, and keeps why a lookup failed', async () => {
    const names = await reverseNames(['198.18.0.1', '198.18.0.2', '198.18.0.3', '198.18.0.4'], {
      reverse: async (address) => {
        if (address.endsWith('.1')) throw failure('ENOTFOUND');
        if (address.endsWith('.2')) throw failure('ENODATA');
        if (address.endsWith('.3')) throw failure('ESERVFAIL');
        return [];
      },
    });
    assert.deepEqual([...names], [
      ['198.18.0.1', {}],
      ['198.18.0.2', {}],
      ['198.18.0.3', { error: 'ESERVFAIL' }],
      ['198.18.0.4', {}],
    ]);
  });

  it('ends at its deadline: what was not answered by then reads ETIMEOUT', async () => {
    const names = await reverseNames(['198.18.0.1', '198.18.0.2'], {
      timeoutMs: 50,
      reverse: (address) => (address.endsWith('.1') ? Promise.resolve(['fast.lab.test']) : new Promise<string[]>(() => {})),
    });
    assert.deepEqual([...names], [
      ['198.18.0.1', { name: 'fast.lab.test' }],
      ['198.18.0.2', { error: 'ETIMEOUT' }],
    ]);
  });

  it('writes the names PTR queries ask for', () => {
    assert.equal(arpaName('198.18.0.10'), '10.0.18.198.in-addr.arpa');
    assert.equal(arpaName('2001:db8::1'), `1.${'0.'.repeat(23)}8.b.d.0.1.0.0.2.ip6.arpa`);
  });
});

describe('dns:on in the grammar', () => {
  it('is on with dns:on, off by default and with dns:off, and written back as it was asked', () => {
    assert.equal(parseSweepText('198.18.0.0/24 dns:on').options.dns, true);
    assert.equal(parseSweepText('198.18.0.0/24 DNS=ON').options.dns, true);
    assert.equal('dns' in parseSweepText('198.18.0.0/24 dns:off').options, false);
    assert.equal('dns' in parseSweepText('198.18.0.0/24').options, false);
    assert.equal(describeRequest(parseSweepText('198.18.0.0/24 tcp:22 dns:on')), '198.18.0.0/24 tcp:22 dns:on');
  });

  it('refuses anything else in one line, with an example', () => {
    assert.throws(() => parseSweepText('198.18.0.0/24 dns:yes'), {
      message: "dns:yes is not valid: dns takes on or off (the PTR names of the hosts that answer), e.g. dns:on",
    });
    assert.throws(() => parseSweepText('198.18.0.0/24 dns:on dns:on'), /repeats dns/);
  });
});

function host(ip: string, over: Partial<HostResult> = {}): HostResult {
  return { ip, state: 'alive', icmp: { sent: 1, received: 1, lossPct: 0, rtt: { min: 0.5, avg: 0.5, max: 0.5, mdev: 0 } }, ports: [], ...over };
}

function report(hosts: HostResult[], dns = true): DistributedReport {
  return {
    targets: ['198.18.0.0/24'],
    options: parseSweepText(`198.18.0.0/24${dns ? ' dns:on' : ''}`).options,
    startedAt: '2026-12-06T04:00:00.000Z',
    durationMs: 1200,
    complete: true,
    planned: 254,
    icmp: { available: true, mode: 'raw' },
    summary: summarize(hosts),
    names: [],
    sweepId: 'ptr1',
    groups: ['lab'],
    requestedBy: 'U1',
    chunks: [{ index: 0, group: 'lab', agentId: 'agent-1', attempt: 1, stalled: 0, durationMs: 1200 }],
    failures: [],
    cancelled: false,
    // Last, as the report worker writes them.
    hosts,
  };
}

describe('PTR names in the views', () => {
  const hosts = [
    host('198.18.0.10', { ptr: 'web-1.lab.test' }),
    host('198.18.0.11', { names: ['db.lab.test'], ptr: 'ip-198-18-0-11.lab.test' }),
    host('198.18.0.12', { names: ['cache.lab.test'], ptr: 'cache.lab.test' }),
    host('198.18.0.13', { ptrError: 'ETIMEOUT' }),
    host('198.18.0.14'),
  ];
  const withNames = report(hosts);

  it('the terminal: the name beside the address (once when it is the one asked for), and what the lookups gave', () => {
    const text = renderText(withNames);
    assert.match(text, /\n {2}198\.18\.0\.10 \(web-1\.lab\.test\) +rtt /);
    assert.match(text, /\n {2}198\.18\.0\.11 \(db\.lab\.test, ip-198-18-0-11\.lab\.test\) +rtt /);
    assert.match(text, /\n {2}198\.18\.0\.12 \(cache\.lab\.test\) +rtt /);
    assert.match(text, /\n {2}198\.18\.0\.14 +rtt /);
    assert.match(text, /\n {2}PTR names: 3 of 5 hosts that answered · 1 lookup failed: name resolution timed out \(ETIMEOUT\)\n/);
    assert.doesNotMatch(renderText(report([host('198.18.0.10')], false)), /PTR/);
    assert.match(renderText(report([host('198.18.0.10', { state: 'silent' })])), /\n {2}PTR names: no host answered, none looked up\n/);
  });

  it('Slack: the name on the host line, and the lookups in the run line', () => {
    const [alive] = stateSections(withNames);
    assert.match(alive?.lines.map(factMrkdwn).join('\n') ?? '', /`198\.18\.0\.10` web-1\.lab\.test/);
    const { blocks } = reportBlocks(withNames, { user: 'U1', text: '198.18.0.0/24 dns:on', groups: ['lab'], addresses: 254 });
    assert.match(JSON.stringify(blocks), /PTR names: 3 of 5 hosts that answered · 1 lookup failed/);
  });

  it('CSV: a ptr column, last; JSON: ptr and ptrError, as JSON.stringify writes them; both read back', () => {
    const rows = renderCsv(withNames).trim().split('\n');
    assert.match(rows[0] ?? '', /,icmp,ptr$/);
    assert.match(rows[1] ?? '', /^198\.18\.0\.10,,alive,.*,sent,web-1\.lab\.test$/);
    assert.match(rows[4] ?? '', /^198\.18\.0\.13,,alive,.*,sent,$/);
    const json = Buffer.concat([...jsonChunks(withNames)]).toString('latin1');
    assert.equal(json, `${JSON.stringify(withNames)}\n`);
    assert.deepEqual(sweepReportSchema.parse(JSON.parse(json)).hosts, withNames.hosts);
  });
});
