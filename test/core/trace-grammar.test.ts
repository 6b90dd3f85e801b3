import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidOptionError, InvalidTargetError } from '../../src/core/errors.js';
import { parseCommand, tokenize } from '../../src/core/grammar.js';
import { describeTrace, parseDiagTokens, parseTraceTokens } from '../../src/core/trace-grammar.js';
import { DEFAULT_TRACE_OPTIONS } from '../../src/core/trace.js';

const trace = (text: string) => parseTraceTokens(tokenize(text));
const diag = (text: string) => parseDiagTokens(tokenize(text));

function refused(run: () => unknown, errorClass: typeof InvalidOptionError | typeof InvalidTargetError, ...fragments: string[]): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${String(error)}`);
    assert.ok(!error.message.includes('\n'), 'one line');
    for (const fragment of fragments) assert.ok(error.message.includes(fragment), `"${error.message}" lacks "${fragment}"`);
    return true;
  });
}

describe('trace grammar', () => {
  it('takes one host and the defaults: auto mode (ICMP, then TCP 443), 3 probes, 30 hops, no DNS', () => {
    const request = trace('10.0.2.15');
    assert.equal(request.target.text, '10.0.2.15');
    assert.deepEqual(request.options, DEFAULT_TRACE_OPTIONS);
    assert.equal(request.options.mode, 'auto');
    assert.equal(request.options.port, 443);
  });

  it('reads the mode words and options of the issue: tcp:PORT, udp, icmp, count:N, max:HOPS, dns:on, vpc:NAME', () => {
    const tcp = trace('db.internal tcp:5432 count:5 max:12 timeout:2000 dns:on vpc:Prod');
    assert.deepEqual(tcp.target, { kind: 'name', text: 'db.internal', name: 'db.internal' });
    assert.deepEqual(tcp.options, { mode: 'tcp', port: 5432, count: 5, maxHops: 12, timeoutMs: 2000, dns: true, vpc: 'prod' });
    assert.equal(trace('10.0.0.1 udp').options.mode, 'udp');
    assert.equal(trace('2001:db8::5 icmp').options.mode, 'icmp');
    assert.equal(trace('10.0.0.1 count=2').options.count, 2, 'key=value works too');
  });

  it('writes a request back in canonical words that parse to the same request', () => {
    for (const text of ['10.0.2.15', '10.0.2.15 tcp:5432 count:5', '10.0.2.15 udp max:8 dns:on vpc:prod']) {
      const request = trace(text);
      assert.equal(describeTrace(request), text);
      assert.deepEqual(trace(describeTrace(request)), request);
    }
  });

  it('refuses several hosts, a missing host, two modes and out-of-range numbers, in one sentence each', () => {
    refused(() => trace('10.0.1.0/24'), InvalidTargetError, '10.0.1.0/24', 'one host');
    refused(() => trace('10.0.1.5-9'), InvalidTargetError, 'one host');
    refused(() => trace(''), InvalidTargetError, 'trace 10.0.1.5');
    refused(() => trace('tcp:443'), InvalidTargetError, 'needs one host first');
    refused(() => trace('10.0.0.1 udp icmp'), InvalidOptionError, 'repeats mode');
    refused(() => trace('10.0.0.1 tcp'), InvalidOptionError, 'tcp:443');
    refused(() => trace('10.0.0.1 tcp:70000'), InvalidOptionError, 'from 1 to 65535');
    refused(() => trace('10.0.0.1 count:0'), InvalidOptionError, 'from 1 to 20');
    refused(() => trace('10.0.0.1 max:65'), InvalidOptionError, 'from 1 to 64');
    refused(() => trace('10.0.0.1 dns:yes'), InvalidOptionError, 'dns:on');
    refused(() => trace('10.0.0.1 ports:22'), InvalidOptionError, 'not a trace option');
  });
});

describe('diag grammar', () => {
  it('takes one host and TCP ports (numbers and presets), 443 when none is given', () => {
    assert.deepEqual(diag('10.0.2.15').options.ports, [443]);
    assert.deepEqual(diag('10.0.2.15 tcp:5432,web vpc:prod').options, { ports: [5432, 80, 443], vpc: 'prod' });
  });

  it('refuses ranges, unknown options and too many ports', () => {
    refused(() => diag('10.0.2.0/24'), InvalidTargetError, 'one host');
    refused(() => diag('10.0.2.15 count:3'), InvalidOptionError, 'not a diag option');
    refused(() => diag('10.0.2.15 tcp:1-20'), InvalidOptionError, 'not a port');
    refused(() => diag(`10.0.2.15 tcp:${Array.from({ length: 17 }, (_, i) => i + 1).join(',')}`), InvalidOptionError, 'at most 16');
  });
});

describe('command grammar with trace and diag', () => {
  it('routes `trace …` and `diag …` to their parsers, and a host named trace (`trace.`) to a sweep', () => {
    const trace = parseCommand('trace 10.0.2.15 udp');
    assert.equal(trace.kind, 'trace');
    assert.equal(trace.kind === 'trace' && trace.request.options.mode, 'udp');
    const diag = parseCommand('DIAG db.internal tcp:5432');
    assert.deepEqual(diag.kind === 'diag' && diag.request.options.ports, [5432]);
    assert.equal(parseCommand('trace.').kind, 'sweep');
    assert.throws(() => parseCommand('trace'), InvalidTargetError);
  });
});

