import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import type * as Addon from '@zensweep/icmp-socket';
import { after, before, describe, it } from 'node:test';
import { loadAgentConfig } from '../../src/agent/config.js';
import { icmpSetting, loadEngineConfig } from '../../src/config.js';
import type { HostResult, SweepReport } from '../../src/core/report.js';
import { renderText } from '../../src/views/text.js';
import { run } from '../support/lab.js';
import { EVERY_GROUP, NO_GROUP, createPingNamespace } from '../support/ping-netns.js';
import type { PingNamespace } from '../support/ping-netns.js';
import { assertRoot } from '../support/root.js';

const SWEEP_MODULE = JSON.stringify(new URL('../../dist/engine/sweep.js', import.meta.url).href);
const GRAMMAR_MODULE = JSON.stringify(new URL('../../dist/core/grammar.js', import.meta.url).href);

/** Addresses of the namespace's own lo that its nft rules answer for (only inside the test's namespace). */
const REJECTED = {
  prohibited: '127.0.0.9',
  unreachable: '127.0.0.10',
  netUnreachable: '127.0.0.12',
  hostProhibited: '127.0.0.13',
  dropped: '127.0.0.20',
  v6: '2001:db8:ffff::9',
  v6Unreachable: '2001:db8:ffff::a',
};

const RULES = `
table inet zensweep_ping_test {
  chain input {
    type filter hook input priority 0; policy accept;
    ip daddr ${REJECTED.prohibited} icmp type echo-request reject with icmp type admin-prohibited
    ip daddr ${REJECTED.unreachable} icmp type echo-request reject with icmp type host-unreachable
    ip daddr ${REJECTED.netUnreachable} icmp type echo-request reject with icmp type net-unreachable
    ip daddr ${REJECTED.hostProhibited} icmp type echo-request reject with icmp type host-prohibited
    ip6 daddr ${REJECTED.v6} icmpv6 type echo-request reject with icmpv6 type admin-prohibited
    ip6 daddr ${REJECTED.v6Unreachable} icmpv6 type echo-request reject with icmpv6 type addr-unreachable
    ip daddr ${REJECTED.dropped} drop
  }
}
`;

function host(report: SweepReport, ip: string): HostResult {
  const found = report.hosts.find((h) => h.ip === ip);
  assert.ok(found, `${ip} missing from the report`);
  return found;
}

function parse(result: { code: number | null; stdout: string; stderr: string }): SweepReport {
  assert.equal(result.code, 0, `exit ${String(result.code)}: ${result.stderr}`);
  return JSON.parse(result.stdout) as SweepReport;
}

describe('ZENSWEEP_ICMP', () => {
  it('takes auto (the default), raw, ping or off, in any case; anything else is one clear ConfigError, for the CLI and the agent', () => {
    assert.equal(icmpSetting({}), 'auto');
    assert.equal(icmpSetting({ ZENSWEEP_ICMP: ' ' }), 'auto');
    for (const value of ['auto', 'raw', 'ping', 'off'] as const) {
      assert.equal(icmpSetting({ ZENSWEEP_ICMP: value.toUpperCase() }), value);
      assert.equal(loadEngineConfig({ ZENSWEEP_ICMP: value }).icmp, value);
    }
    const message = 'ZENSWEEP_ICMP=on is invalid: it takes auto (raw where permitted, else a ping socket), raw, ping or off';
    assert.throws(() => loadEngineConfig({ ZENSWEEP_ICMP: 'on' }), { name: 'ConfigError', message });
    const agent = { REDIS_URL: 'redis://127.0.0.1:6379', ZENSWEEP_VPC: 'prod', ZENSWEEP_CIDRS: '10.0.0.0/16' };
    assert.equal(loadAgentConfig(agent).icmp, 'auto');
    assert.equal(loadAgentConfig({ ...agent, ZENSWEEP_ICMP: 'ping' }).icmp, 'ping');
    assert.throws(() => loadAgentConfig({ ...agent, ZENSWEEP_ICMP: 'on' }), { name: 'ConfigError', message });
  });
});

describe('the ICMP socket addon\'s mode argument', () => {
  const addon = createRequire(import.meta.url)('@zensweep/icmp-socket') as typeof Addon;

  it('refuses a mode that is not raw or ping, and says EACCES (with errno) for a ping socket the range does not cover', () => {
    const onEvent = (): void => undefined;
    assert.throws(() => new addon.IcmpSocket(4, -1, true, onEvent, 'icmp' as 'ping'), { name: 'RangeError', message: /mode must be 'raw' or 'ping'/ });
    assert.throws(() => new addon.IcmpSocket(4, -1, true, onEvent, 5 as unknown as 'ping'), { name: 'TypeError', message: /mode must be 'raw' or 'ping'/ });
    // The host's namespace: the kernel's default range ("1 0") covers no group, root's included.
    const range = readFileSync('/proc/sys/net/ipv4/ping_group_range', 'utf8').trim().split(/\s+/).map(Number);
    const covered = (range[0] ?? 1) <= 0 && 0 <= (range[1] ?? 0);
    for (const family of [4, 6] as const) {
      if (covered) {
        new addon.IcmpSocket(family, -1, true, onEvent, 'ping').close();
      } else {
        assert.throws(() => new addon.IcmpSocket(family, -1, true, onEvent, 'ping'), (error: Error & { errno?: number }) => {
          assert.match(error.message, /^icmp-socket: socket \(ping\): Permission denied$/);
          assert.equal(error.errno, constants.errno.EACCES);
          return true;
        });
      }
    }
  });
});

/**
 * The echo prober on Linux ping sockets (SOCK_DGRAM, IPPROTO_ICMP / IPPROTO_ICMPV6), run as nobody without any
 * capability, in a network namespace of the test's own whose net.ipv4.ping_group_range covers it: replies without an
 * IP header and with the kernel's identifier, ICMP errors read from the error queue. The same sweeps as root (raw
 * sockets) say the same.
 */
describe('ICMP through a ping socket, unprivileged (real sockets, a namespace of its own)', () => {
  let ns: PingNamespace;

  before(async () => {
    assertRoot();
    ns = await createPingNamespace();
    const loaded = await ns.exec(['nft', '-f', '-'], { input: RULES });
    assert.equal(loaded.code, 0, loaded.stderr);
    for (const address of [REJECTED.v6, REJECTED.v6Unreachable]) {
      const added = await ns.exec(['ip', '-6', 'addr', 'add', `${address}/128`, 'dev', 'lo']);
      assert.equal(added.code, 0, added.stderr);
    }
    await ns.pingGroups(EVERY_GROUP);
  });
  after(async () => {
    await ns?.destroy();
  });

  it('sweeps loopback IPv4 and IPv6 through ping sockets when no raw socket may be opened, and says so once', async () => {
    const result = await ns.sweep(['127.0.1.0/24', '::1', 'retries:0', '--json']);
    const report = parse(result);
    assert.deepEqual(report.icmp, { available: true, mode: 'ping' });
    assert.equal(report.summary.alive, 255, 'every address of 127.0.1.0/24, and ::1');
    for (const h of report.hosts) {
      assert.deepEqual([h.icmp.sent, h.icmp.received], [1, 1], h.ip);
      const rtt = h.icmp.rtt?.avg ?? -1;
      assert.ok(rtt >= 0 && rtt < 1000, `${h.ip}: rtt ${rtt}`);
    }
    const lines = result.stderr.trim().split('\n');
    assert.deepEqual(lines, ['zensweep: ICMP through a ping socket (no raw socket: EPERM, needs root or CAP_NET_RAW)']);
    assert.match(renderText(report), /\n {2}ICMP: ping socket \(no privilege\)\n/);
  });

  for (const sendHelper of [true, false]) {
    it(`sweeps a /22 ${sendHelper ? 'through the sender thread' : 'from the event loop'} on ping sockets: every reply once`, async () => {
      const script = `
        const { runSweep } = await import(${SWEEP_MODULE});
        const { parseSweepText } = await import(${GRAMMAR_MODULE});
        const report = await runSweep(parseSweepText('127.0.4.0/22 retries:0'), { sendHelper: ${sendHelper}, icmp: 'ping' });
        console.log(JSON.stringify(report));`;
      const report = parse(await ns.execUnprivileged([process.execPath, '--input-type=module', '-e', script], { timeoutMs: 60_000 }));
      assert.equal(report.icmp.mode, 'ping');
      assert.equal(report.summary.alive, 1022);
      assert.deepEqual(report.hosts.filter((h) => h.icmp.sent !== 1 || h.icmp.received !== 1).map((h) => h.ip), []);
    });
  }

  it('reads ICMP errors from the error queue: prohibited and unreachable with their codes and senders, as raw sockets do', async () => {
    const { prohibited: p, unreachable: u, netUnreachable, hostProhibited, v6, v6Unreachable } = REJECTED;
    const targets = [p, u, netUnreachable, hostProhibited, v6, v6Unreachable, '127.0.0.11', 'timeout:500', 'retries:0', '--json'];
    const ping = parse(await ns.sweep(targets));
    const raw = parse(await ns.sweep(targets, { privileged: true }));
    assert.equal(ping.icmp.mode, 'ping');
    assert.equal(raw.icmp.mode, 'raw');
    for (const report of [ping, raw]) {
      const mode = report.icmp.mode ?? '?';
      const prohibited = host(report, REJECTED.prohibited);
      assert.equal(prohibited.state, 'prohibited', mode);
      assert.deepEqual(
        [prohibited.reporter?.address, prohibited.reporter?.icmpType, prohibited.reporter?.icmpCode],
        [REJECTED.prohibited, 3, 13],
        mode,
      );
      const unreachable = host(report, REJECTED.unreachable);
      assert.equal(unreachable.state, 'unreachable', mode);
      assert.deepEqual([unreachable.reporter?.address, unreachable.reporter?.icmpCode], [REJECTED.unreachable, 1], mode);
      const v6 = host(report, REJECTED.v6);
      assert.equal(v6.state, 'prohibited', mode);
      assert.deepEqual([v6.reporter?.address, v6.reporter?.icmpType, v6.reporter?.icmpCode], [REJECTED.v6, 1, 1], mode);
      assert.equal(host(report, '127.0.0.11').state, 'alive', mode);
      const codes = (ip: string): unknown[] => {
        const h = host(report, ip);
        return [h.state, h.reporter?.address, h.reporter?.icmpType, h.reporter?.icmpCode];
      };
      assert.deepEqual(codes(netUnreachable), ['unreachable', netUnreachable, 3, 0], mode);
      assert.deepEqual(codes(hostProhibited), ['prohibited', hostProhibited, 3, 10], mode);
      assert.deepEqual(codes(v6Unreachable), ['unreachable', v6Unreachable, 1, 3], mode);
    }
    // The same words in both modes.
    const words = (report: SweepReport): string[] => renderText(report).split('\n').filter((l) => l.includes('said'));
    assert.deepEqual(words(ping), words(raw));
  });

  it('with ZENSWEEP_ICMP=raw unprivileged: no ICMP, the warning names EPERM and the fix', async () => {
    const result = await ns.sweep(['127.0.0.1', 'tcp:1', '--json'], { env: { ZENSWEEP_ICMP: 'raw' } });
    const report = parse(result);
    assert.equal(report.icmp.mode, 'off');
    assert.match(report.icmp.warning ?? '', /no raw socket \(EPERM: needs root or CAP_NET_RAW\).*set net\.ipv4\.ping_group_range, or add NET_RAW/);
    assert.doesNotMatch(result.stderr, /EUNKNOWN/);
  });
});

/**
 * A routing loop between the test's namespace and a second one it makes (a veth pair, 198.18.250.0/30, a route each
 * way for 198.18.251.0/24 and forwarding on; no default route anywhere): an echo to 198.18.251.5 goes round until its
 * TTL runs out. The sweeper's side sends with TTL (and hop limit) 63, so that the other side, the "router", is the one
 * that receives it with 1 left and answers time exceeded, as a router on a real path would. Also 2001:db8:250:1::/64
 * for IPv6. (The sweeper's own namespace forwards too, and takes back packets with its own source address:
 * accept_local, no reverse path filter.)
 */
describe('time exceeded through ping sockets (a routing loop between two namespaces of the test)', () => {
  let sweeper: PingNamespace;
  let loop: PingNamespace;
  const sides = { sweeper: { v4: '198.18.250.1', v6: '2001:db8:250::1' }, loop: { v4: '198.18.250.2', v6: '2001:db8:250::2' } };
  const looping = { v4: '198.18.251.5', v6: '2001:db8:250:1::5' };

  before(async () => {
    assertRoot();
    sweeper = await createPingNamespace();
    loop = await createPingNamespace();
    await sweeper.pingGroups(EVERY_GROUP);
    for (const [ns, settings] of [
      [sweeper, ['net.ipv4.ip_default_ttl=63', 'net.ipv6.conf.default.hop_limit=63', 'net.ipv6.conf.all.hop_limit=63', 'net.ipv4.conf.default.accept_local=1', 'net.ipv4.conf.all.accept_local=1', 'net.ipv4.conf.default.rp_filter=0', 'net.ipv4.conf.all.rp_filter=0']],
      [loop, []],
    ] as const) {
      const common = ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv4.icmp_ratelimit=0', 'net.ipv6.icmp.ratelimit=0'];
      const set = await ns.exec(['sysctl', '-q', '-w', ...common, ...settings]);
      assert.equal(set.code, 0, set.stderr);
    }
    const veth = `zsv${sweeper.name.slice(-6)}`;
    const steps: string[][] = [
      ['ip', 'link', 'add', veth, 'netns', sweeper.name, 'type', 'veth', 'peer', 'name', `${veth}p`, 'netns', loop.name],
      ['ip', '-n', sweeper.name, 'addr', 'add', `${sides.sweeper.v4}/30`, 'dev', veth],
      ['ip', '-n', sweeper.name, 'addr', 'add', `${sides.sweeper.v6}/64`, 'dev', veth, 'nodad'],
      ['ip', '-n', loop.name, 'addr', 'add', `${sides.loop.v4}/30`, 'dev', `${veth}p`],
      ['ip', '-n', loop.name, 'addr', 'add', `${sides.loop.v6}/64`, 'dev', `${veth}p`, 'nodad'],
      ['ip', '-n', sweeper.name, 'link', 'set', veth, 'up'],
      ['ip', '-n', loop.name, 'link', 'set', `${veth}p`, 'up'],
      ['ip', '-n', sweeper.name, 'route', 'add', '198.18.251.0/24', 'via', sides.loop.v4],
      ['ip', '-n', loop.name, 'route', 'add', '198.18.251.0/24', 'via', sides.sweeper.v4],
      ['ip', '-n', sweeper.name, '-6', 'route', 'add', '2001:db8:250:1::/64', 'via', sides.loop.v6],
      ['ip', '-n', loop.name, '-6', 'route', 'add', '2001:db8:250:1::/64', 'via', sides.sweeper.v6],
    ];
    for (const step of steps) {
      const result = await run(step);
      assert.equal(result.code, 0, `${step.join(' ')}: ${result.stderr}`);
    }
    // The link's own settings too: whether it took the defaults depends on where the kernel made it.
    const link = await sweeper.exec(['sysctl', '-q', '-w', `net.ipv6.conf.${veth}.hop_limit=63`, `net.ipv4.conf.${veth}.accept_local=1`, `net.ipv4.conf.${veth}.rp_filter=0`]);
    assert.equal(link.code, 0, link.stderr);
  });
  after(async () => {
    await sweeper?.destroy();
    await loop?.destroy();
  });

  it('says "TTL exceeded" and "hop limit exceeded" with the router that said it, as raw sockets do', async () => {
    const targets = [looping.v4, looping.v6, 'timeout:1000', 'retries:0', '--json'];
    // The neighbours first (ARP, ND between the two sides): this test is about time exceeded. (Cold, the first IPv6
    // echo into the loop from a ping socket was seen lost, from a raw socket not: not understood, not hidden here.)
    const warm = parse(await sweeper.sweep([sides.loop.v4, sides.loop.v6, '--json']));
    assert.equal(warm.summary.alive, 2);
    const ping = parse(await sweeper.sweep(targets));
    const raw = parse(await sweeper.sweep(targets, { privileged: true }));
    for (const report of [ping, raw]) {
      const mode = report.icmp.mode ?? '?';
      const said = (ip: string): unknown[] => {
        const h = host(report, ip);
        return [h.state, h.reporter?.address, h.reporter?.icmpType, h.reporter?.icmpCode, h.reporter?.reason];
      };
      assert.deepEqual(said(looping.v4), ['unreachable', sides.loop.v4, 11, 0, 'TTL exceeded in transit (routing loop?)'], mode);
      assert.deepEqual(said(looping.v6), ['unreachable', sides.loop.v6, 3, 0, 'hop limit exceeded in transit (routing loop?)'], mode);
    }
    const words = (report: SweepReport): string[] => renderText(report).split('\n').filter((l) => l.includes('said'));
    assert.deepEqual(words(ping), words(raw));
    assert.deepEqual([ping.icmp.mode, raw.icmp.mode], ['ping', 'raw']);
  });
});

describe('TCP only, said honestly: no ping_group_range, no NET_RAW', () => {
  let ns: PingNamespace;

  before(async () => {
    assertRoot();
    ns = await createPingNamespace();
    const loaded = await ns.exec(['nft', '-f', '-'], { input: RULES });
    assert.equal(loaded.code, 0, loaded.stderr);
    await ns.pingGroups(NO_GROUP);
  });
  after(async () => {
    await ns?.destroy();
  });

  it('says once that ICMP was not sent and why (EPERM, EACCES) with the fix; hosts are "TCP answered" or "not probed by ICMP"', async () => {
    const result = await ns.sweep(['127.0.0.1', '127.0.0.2', REJECTED.dropped, 'tcp:1', 'timeout:300', 'retries:0', '--json']);
    const report = parse(result);
    assert.deepEqual([report.icmp.available, report.icmp.mode, report.icmp.reason], [false, 'off', 'unavailable']);
    const warnings = result.stderr.trim().split('\n');
    assert.equal(warnings.length, 1, result.stderr);
    assert.match(
      warnings[0] ?? '',
      /^zensweep: warning: ICMP not sent: no raw socket \(EPERM: needs root or CAP_NET_RAW\), and no ping socket \(EACCES: net\.ipv4\.ping_group_range does not cover group 65534\); running the TCP probes only \(set net\.ipv4\.ping_group_range, or add NET_RAW\)$/,
    );
    assert.doesNotMatch(result.stderr, /EUNKNOWN/);
    assert.equal(host(report, '127.0.0.1').state, 'alive_tcp_only');
    assert.equal(host(report, '127.0.0.1').icmp.sent, 0);
    assert.equal(host(report, REJECTED.dropped).state, 'silent');

    const text = renderText(report);
    assert.match(text, /^127\.0\.0\.1 127\.0\.0\.2 127\.0\.0\.20 — 2 TCP answered · 1 not probed by ICMP · /);
    assert.match(text, /\nTCP answered; ICMP not sent \(2\)\n/);
    assert.match(text, /\nNot probed by ICMP \(1\)\n/);
    assert.match(text, /\nWarning: ICMP not sent: .*EPERM.*EACCES.*set net\.ipv4\.ping_group_range, or add NET_RAW\)\n/);
    assert.match(text, /\n {2}ICMP: off, TCP probes only\n/);
    assert.doesNotMatch(text, /ICMP filtered|Silent|silent/);
  });

  it('a sweep without ports sends nothing and says so: every host "not probed by ICMP", never "silent"', async () => {
    const report = parse(await ns.sweep(['127.0.0.0/30', '--json']));
    assert.equal(report.icmp.mode, 'off');
    const text = renderText(report);
    assert.match(text, /^127\.0\.0\.0\/30 — 2 not probed by ICMP · /);
    assert.doesNotMatch(text, /silent|Silent/);
  });

  it('as root with ZENSWEEP_ICMP=ping: EACCES, TCP only; ZENSWEEP_ICMP=off: off by the setting; a bad value: one line, exit 2', async () => {
    const ping = parse(await ns.sweep(['127.0.0.1', 'tcp:1', '--json'], { privileged: true, env: { ZENSWEEP_ICMP: 'ping' } }));
    assert.deepEqual([ping.icmp.mode, ping.icmp.reason], ['off', 'unavailable']);
    assert.match(ping.icmp.warning ?? '', /no ping socket \(EACCES: net\.ipv4\.ping_group_range does not cover group 0\)/);
    const off = parse(await ns.sweep(['127.0.0.1', 'tcp:1', '--json'], { privileged: true, env: { ZENSWEEP_ICMP: 'off' } }));
    assert.deepEqual([off.icmp.mode, off.icmp.reason, off.icmp.warning], ['off', 'setting', 'ICMP not sent: ZENSWEEP_ICMP=off; running the TCP probes only']);
    // Here too, where a ping socket is refused: the setting is why, and nothing asks for a privilege.
    assert.match(renderText(off), /\n {2}ICMP: off \(ZENSWEEP_ICMP=off\), TCP probes only\n/);
    assert.doesNotMatch(renderText(off), /ping_group_range|NET_RAW/);
    const raw = parse(await ns.sweep(['127.0.0.1', '--json'], { privileged: true, env: { ZENSWEEP_ICMP: 'RAW' } }));
    assert.deepEqual([raw.icmp.mode, raw.summary.alive], ['raw', 1]);
    const bad = await ns.sweep(['127.0.0.1'], { env: { ZENSWEEP_ICMP: 'sometimes' } });
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, '');
    assert.deepEqual(bad.stderr.trimEnd().split('\n'), [
      'zensweep: ZENSWEEP_ICMP=sometimes is invalid: it takes auto (raw where permitted, else a ping socket), raw, ping or off',
    ]);
  });
});
