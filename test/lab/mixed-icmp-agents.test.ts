/**
 * One sweep run by two real agents, one sending ICMP through a raw socket (ZENSWEEP_ICMP=raw) and one without ICMP
 * at all (ZENSWEEP_ICMP=off), each over its own half of 127.0.0.0/30 (loopback: no lab needed). Each host of the
 * report is worded by the agent that probed it: the raw agent's hosts answer echo (alive), the other's are "TCP
 * answered; ICMP not sent", never "ICMP filtered"; the report says which agent ran without ICMP.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { DistributedReport } from '../../src/core/report.js';
import { reportBlocks } from '../../src/views/blocks.js';
import { renderText } from '../../src/views/text.js';
import { startAgent, type AgentProcess } from '../support/agents.js';
import { zensweep } from '../support/cli.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { UNPRIVILEGED } from '../support/ping-netns.js';
import { assertRoot } from '../support/root.js';

/** A TCP port open on two loopback addresses, one of each agent's half. */
async function listen(addresses: readonly string[]): Promise<{ port: number; servers: Server[] }> {
  const servers: Server[] = [];
  let port = 0;
  for (const address of addresses) {
    const server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, address, () => resolve());
    });
    const bound = server.address();
    if (bound && typeof bound === 'object') port = bound.port;
    servers.push(server);
  }
  return { port, servers };
}

describe('one sweep, two agents: one with a raw socket, one without ICMP (loopback)', () => {
  let redis: RedisServer;
  let raw: AgentProcess;
  let off: AgentProcess;
  let servers: Server[] = [];
  let port = 0;

  before(async () => {
    // The raw agent needs CAP_NET_RAW: as root it has it; without, this test fails here, saying so.
    assertRoot();
    redis = await startRedis();
    ({ port, servers } = await listen(['127.0.0.1', '127.0.0.2']));
    raw = await startAgent({ redisUrl: redis.url, group: 'withicmp', cidrs: '127.0.0.0/31', id: 'lo-raw', env: { ZENSWEEP_ICMP: 'raw' } });
    off = await startAgent({ redisUrl: redis.url, group: 'noicmp', cidrs: '127.0.0.2/31', id: 'lo-off', env: { ZENSWEEP_ICMP: 'off' } });
  });
  after(async () => {
    await raw?.stop();
    await off?.stop();
    for (const server of servers) await new Promise((resolve) => server.close(resolve));
    await redis?.destroy();
  });

  it('says each host in the words of the agent that probed it, and which agent ran without ICMP and why', { timeout: 90_000 }, async () => {
    // Off by its setting: said as a choice (icmp_mode, info), not as a fault to fix (icmp_unavailable, warn).
    assert.deepEqual(
      off.events('icmp_mode').map((e) => [e.mode, e.reason, e.level, e.msg]),
      [['off', 'setting', 30, 'ICMP not sent: ZENSWEEP_ICMP=off; running the TCP probes only']],
      `the off agent says it runs without ICMP, by its setting:\n${off.log()}`,
    );
    assert.deepEqual(off.events('icmp_unavailable'), [], off.log());
    assert.deepEqual(raw.events('icmp_unavailable'), [], `the raw agent has its raw socket:\n${raw.log()}`);
    const result = await zensweep(['submit', 'vpc:all', `tcp:${port}`, 'timeout:500', '--json'], {
      env: { PATH: process.env.PATH, REDIS_URL: redis.url },
      timeoutMs: 80_000,
    });
    assert.equal(result.code, 0, `submit exited ${String(result.code)}:\n${result.stderr}\nraw:\n${raw.log()}\noff:\n${off.log()}`);
    const report = JSON.parse(result.stdout) as DistributedReport;
    const agentOf = new Map(report.chunks.map((c) => [c.group, c.agentId]));
    assert.deepEqual(
      report.chunks.map((c) => [c.agentId, c.icmpMode, c.icmpReason]).sort(),
      [
        ['lo-off', 'off', 'setting'],
        ['lo-raw', 'raw', undefined],
      ],
    );
    // What the sweep as a whole did: ICMP went (from lo-raw); lo-off's warning kept, for the note that names it.
    assert.deepEqual(report.icmp, { available: true, mode: 'raw', warning: 'ICMP not sent: ZENSWEEP_ICMP=off; running the TCP probes only' });
    assert.deepEqual([agentOf.get('withicmp'), agentOf.get('noicmp')], ['lo-raw', 'lo-off']);
    const hostOf = (ip: string) => report.hosts.find((h) => h.ip === ip);
    // The raw agent's half: loopback answers echo.
    for (const ip of ['127.0.0.0', '127.0.0.1']) {
      const host = hostOf(ip);
      if (!host) continue; // the planner may leave out a /31's ends; what is there is checked
      assert.equal(host.state, 'alive', ip);
      assert.ok(host.icmp.sent > 0, `${ip}: an echo went`);
    }
    // The off agent's half: TCP answered (open on .2, a reset on .3), no echo sent.
    for (const ip of ['127.0.0.2', '127.0.0.3']) {
      const host = hostOf(ip);
      assert.ok(host, `${ip} is in the report`);
      assert.deepEqual([host.state, host.icmp.sent], ['alive_tcp_only', 0], ip);
    }
    assert.ok(hostOf('127.0.0.1'), '127.0.0.1 is in the report');

    const text = renderText(report);
    assert.match(text, /\nTCP answered; ICMP not sent \(2\)\n {2}127\.0\.0\.2 +\d+ open[^\n]*\n {2}127\.0\.0\.3 +\d+ closed/, text);
    assert.match(text, /\nAlive \(\d\)\n {2}127\.0\.0\.\d/, text);
    assert.match(text, /ICMP not sent by agent lo-off \(ZENSWEEP_ICMP=off\): its hosts .*lo-raw sent ICMP\./, text);
    assert.match(text, /\nWarning from lo-off: ICMP not sent: ZENSWEEP_ICMP=off/, text);
    assert.match(text, /ICMP: off on lo-off \(ZENSWEEP_ICMP=off\), sent by the other agents/, text);
    assert.doesNotMatch(text, /NET_RAW|ping_group_range/, text);
    assert.match(text, / — \d alive · 2 TCP answered · /, text);
    assert.doesNotMatch(text, /ICMP filtered|TCP only|silent|Silent|not probed/, text);
    const slack = JSON.stringify(reportBlocks(report, { user: 'U1', text: `vpc:all tcp:${port}`, groups: report.groups, addresses: report.planned }).blocks);
    assert.match(slack, /TCP answered; ICMP not sent \(2\)/);
    assert.match(slack, /ICMP not sent by agent lo-off \(ZENSWEEP_ICMP=off\)/);
    assert.match(slack, /ICMP: off on lo-off \(ZENSWEEP_ICMP=off\), sent by the other agents/);
    assert.doesNotMatch(slack, /ICMP filtered|NET_RAW|ping_group_range/);
  });

  it('the same targets again with ICMP off on both halves: what changed says ICMP was not sent, no invented change', { timeout: 90_000 }, async () => {
    // The raw agent's half is now run by an agent without ICMP: its hosts were alive, and now only TCP can be asked.
    await raw.stop();
    raw = await startAgent({ redisUrl: redis.url, group: 'withicmp', cidrs: '127.0.0.0/31', id: 'lo-raw-now-off', env: { ZENSWEEP_ICMP: 'off' } });
    const result = await zensweep(['submit', 'vpc:all', `tcp:${port}`, 'timeout:500', '--json'], {
      env: { PATH: process.env.PATH, REDIS_URL: redis.url },
      timeoutMs: 80_000,
    });
    assert.equal(result.code, 0, `submit exited ${String(result.code)}:\n${result.stderr}\n${raw.log()}`);
    const report = JSON.parse(result.stdout) as DistributedReport;
    assert.ok(report.changes, 'compared with the sweep before');
    const { diff } = report.changes;
    assert.deepEqual(
      [diff.appeared, diff.wentSilent, diff.changed],
      [[], [], []],
      `no host changed: ${JSON.stringify(diff)}`,
    );
    assert.deepEqual(
      (diff.echoNotCompared ?? []).map((e) => [e.ip, e.then, e.now, e.unsent]),
      [
        ['127.0.0.0', 'alive', 'alive_tcp_only', 'now'],
        ['127.0.0.1', 'alive', 'alive_tcp_only', 'now'],
      ],
    );
    assert.equal(diff.unchanged, 2, "the off agent's own half: the same both times");
    // No agent sent ICMP, both by their setting: the sweep's ICMP is off, and says why.
    assert.deepEqual([report.icmp.available, report.icmp.mode, report.icmp.reason], [false, 'off', 'setting']);
    const text = renderText(report);
    assert.match(text, /\n {2}ICMP: off \(ZENSWEEP_ICMP=off\), TCP probes only\n/, text);
    assert.match(text, /\nSince [^\n]*: no change in 2 hosts\n {2}not compared: 127\.0\.0\.0-1 \(ICMP not sent now, alive then\)\n/, text);
    assert.match(text, /\nTCP answered; ICMP not sent \(4\)\n/, text);
    assert.doesNotMatch(text, /alive → TCP only|went silent|ICMP filtered/, text);
    // The history lists both sweeps in the same words: the first half TCP answered, the second all of it.
    const history = await zensweep(['history'], { env: { PATH: process.env.PATH, REDIS_URL: redis.url } });
    assert.equal(history.code, 0, history.stderr);
    const lines = history.stdout.trim().split('\n');
    assert.equal(lines.length, 2, history.stdout);
    assert.match(history.stdout, / 0 alive · 4 TCP answered · 0 prohibited · 0 unreachable · 0 silent /);
    assert.match(history.stdout, / 2 alive · 2 TCP answered · 0 prohibited · 0 unreachable · 0 silent /);
    assert.doesNotMatch(history.stdout, /TCP only/);
  });
});

describe('agents without ICMP, one by its setting and one wanting a raw socket: the log, the heartbeat, `zensweep agents`', () => {
  let redis: RedisServer;
  let bySetting: AgentProcess;
  let noRaw: AgentProcess;

  before(async () => {
    assertRoot();
    redis = await startRedis();
    bySetting = await startAgent({ redisUrl: redis.url, group: 'lo', cidrs: '127.0.0.0/31', id: 'lo-setting', env: { ZENSWEEP_ICMP: 'off' } });
    // As nobody without any capability, raw only: no raw socket, whatever this host's ping_group_range allows.
    noRaw = await startAgent({ redisUrl: redis.url, group: 'lo', cidrs: '127.0.0.2/31', id: 'lo-noraw', env: { ZENSWEEP_ICMP: 'raw' }, wrapper: [...UNPRIVILEGED, '--'] });
  });
  after(async () => {
    await bySetting?.stop();
    await noRaw?.stop();
    await redis?.destroy();
  });

  it('says the setting where it was the setting, and the missing privilege with its fix where it was that', { timeout: 60_000 }, async () => {
    assert.deepEqual(bySetting.events('icmp_mode').map((e) => [e.mode, e.reason]), [['off', 'setting']], bySetting.log());
    assert.deepEqual(bySetting.events('icmp_unavailable'), [], bySetting.log());
    const unavailable = noRaw.events('icmp_unavailable');
    assert.deepEqual(unavailable.map((e) => [e.mode, e.reason, e.level]), [['off', 'unavailable', 40]], noRaw.log());
    assert.match(String(unavailable[0]?.msg), /^ICMP not sent: no raw socket \(EPERM: needs root or CAP_NET_RAW\); running the TCP probes only \(set net\.ipv4\.ping_group_range, or add NET_RAW\)$/);

    const env = { PATH: process.env.PATH, REDIS_URL: redis.url };
    const listed = await zensweep(['agents'], { env });
    assert.equal(listed.code, 0, listed.stderr);
    const line = (id: string): string => listed.stdout.split('\n').find((l) => l.trimStart().startsWith(`${id} `)) ?? '';
    assert.match(line('lo-setting'), /TCP only \(ICMP off: ZENSWEEP_ICMP=off\)/, listed.stdout);
    assert.doesNotMatch(line('lo-setting'), /NET_RAW|ping_group_range/, listed.stdout);
    assert.match(line('lo-noraw'), /TCP only \(ICMP off: no NET_RAW, no ping_group_range\)/, listed.stdout);
    const json = JSON.parse((await zensweep(['agents', '--json'], { env })).stdout) as { id: string; icmp: boolean; icmpMode?: string; icmpReason?: string }[];
    assert.deepEqual(
      json.map((a) => [a.id, a.icmp, a.icmpMode, a.icmpReason]).sort(),
      [
        ['lo-noraw', false, 'off', 'unavailable'],
        ['lo-setting', false, 'off', 'setting'],
      ],
    );
  });
});
