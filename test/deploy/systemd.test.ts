/**
 * deploy/systemd/zensweep-agent.service: accepted by `systemd-analyze verify` with not one warning, hardened as the
 * deploy README says (no capability, a dynamic user, the file system read-only, the address families and system calls
 * it needs), and its ping sysctl covers the groups DynamicUser= hands out. `systemd-analyze security` scores it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..');
const DIR = join(ROOT, 'deploy', 'systemd');
const UNIT = 'zensweep-agent.service';
const unitText = readFileSync(join(DIR, UNIT), 'utf8');

/** The range of uids and gids systemd allocates DynamicUser= ids from (systemd's DYNAMIC_UID_MIN/MAX). */
const DYNAMIC_IDS = { min: 61184, max: 65519 };

/** The unit's `[Service]` settings: each key with every value it is given, in order. */
function serviceSettings(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1] ?? '';
      continue;
    }
    if (section !== 'Service') continue;
    const at = line.indexOf('=');
    const key = line.slice(0, at);
    settings.set(key, [...(settings.get(key) ?? []), line.slice(at + 1)]);
  }
  return settings;
}

let workDir = '';

/**
 * Fails the calling test, loudly, when systemd-analyze is not installed: no test here passes by not checking.
 * Debian's package `systemd` provides it (.ci/run installs it).
 */
function requireSystemdAnalyze(): void {
  const found = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  assert.equal(found.error, undefined, 'systemd-analyze is missing: install the Debian package systemd (.ci/run does)');
}

/**
 * Writes `text` as the unit into a fresh directory and runs `systemd-analyze verify` on it. The unit's ExecStart names
 * where `npm install -g` puts the command, which this machine does not have (verify refuses a missing executable):
 * the copy runs this checkout's own CLI with this Node instead, everything else unchanged.
 */
function verify(text: string): { status: number | null; output: string } {
  const copy = text.replace(/^ExecStart=.*$/m, `ExecStart=${process.execPath} ${join(ROOT, 'dist', 'cli.cjs')} agent`);
  assert.notEqual(copy, text, 'the unit has no ExecStart= to rewrite');
  const path = join(workDir, UNIT);
  writeFileSync(path, copy);
  const result = spawnSync('systemd-analyze', ['verify', '--man=no', path], { encoding: 'utf8' });
  assert.equal(result.error, undefined, `systemd-analyze could not run: ${result.error?.message ?? ''}`);
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

describe('deploy/systemd: zensweep-agent.service', () => {
  before(() => {
    workDir = mkdtempSync(join(tmpdir(), 'zensweep-systemd-'));
  });
  after(() => rmSync(workDir, { recursive: true, force: true }));

  it('passes systemd-analyze verify without a single warning', () => {
    requireSystemdAnalyze();
    const { status, output } = verify(unitText);
    assert.equal(status, 0, output);
    assert.equal(output, '', 'verify warned');
  });

  it('fails that check once edited to be wrong: a misspelt key, an unknown system call set, a missing executable', () => {
    requireSystemdAnalyze();
    const misspelt = verify(unitText.replace(/^ProtectHome=yes$/m, 'ProtectHomee=yes'));
    assert.match(misspelt.output, /Unknown key 'ProtectHomee'/);
    const badFilter = verify(unitText.replace(/^SystemCallFilter=@system-service$/m, 'SystemCallFilter=@no-such-set'));
    assert.match(badFilter.output, /Unknown system call group/);
    // Verified as it is, the unit names an executable this machine does not have: an error, not a warning.
    const path = join(workDir, UNIT);
    writeFileSync(path, unitText);
    const missing = spawnSync('systemd-analyze', ['verify', '--man=no', path], { encoding: 'utf8' });
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /is not executable/);
  });

  it('runs with no capability, a dynamic user, a read-only system and only the sockets and system calls it needs', () => {
    const settings = serviceSettings(unitText);
    const one = (key: string): string | undefined => {
      const values = settings.get(key);
      assert.ok(values, `${key}= is not set`);
      return values.at(-1);
    };
    for (const [key, value] of Object.entries({
      DynamicUser: 'yes',
      CapabilityBoundingSet: '',
      AmbientCapabilities: '',
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      ProtectKernelTunables: 'yes',
      ProtectKernelModules: 'yes',
      ProtectControlGroups: 'yes',
      RestrictNamespaces: 'yes',
      RestrictAddressFamilies: 'AF_INET AF_INET6 AF_NETLINK AF_UNIX',
      SystemCallArchitectures: 'native',
      EnvironmentFile: '/etc/zensweep/agent.env',
      Environment: 'ZENSWEEP_ICMP=auto',
    })) {
      assert.equal(one(key), value, `${key}=`);
    }
    assert.equal(settings.get('SystemCallFilter')?.[0], '@system-service');
    // V8 writes machine code at run time: this one would stop Node, and must stay out.
    assert.equal(settings.get('MemoryDenyWriteExecute'), undefined);
    // A stop waits on nothing for long (13 s at most); systemd must not SIGKILL before.
    assert.ok(Number(one('TimeoutStopSec')) >= 15);
    // No secret in the unit: they come from the EnvironmentFile.
    assert.doesNotMatch(unitText, /REDIS_URL=|SLACK_|xox[a-z]-/);
  });

  it('lets the dynamic user’s group open ping sockets (99-zensweep-ping.conf covers every DynamicUser= group)', () => {
    const conf = readFileSync(join(DIR, '99-zensweep-ping.conf'), 'utf8');
    const match = /^net\.ipv4\.ping_group_range\s*=\s*(\d+)\s+(\d+)\s*$/m.exec(conf);
    assert.ok(match, 'no net.ipv4.ping_group_range line');
    const [low, high] = [Number(match[1]), Number(match[2])];
    assert.ok(low <= DYNAMIC_IDS.min && high >= DYNAMIC_IDS.max, `${low}-${high} does not cover ${DYNAMIC_IDS.min}-${DYNAMIC_IDS.max}`);
    // The same syntax sysctl reads: a line sysctl --system would reject is worth nothing.
    assert.doesNotMatch(conf.replace(/^#.*$/gm, ''), /^(?!\s*$)(?!net\.ipv4\.ping_group_range)/m);
  });

  it('scores low in systemd-analyze security (printed; fails above 3.0, "OK")', (t) => {
    requireSystemdAnalyze();
    const copy = join(workDir, UNIT);
    writeFileSync(copy, unitText);
    const text = execFileSync('systemd-analyze', ['security', '--offline=yes', copy], { encoding: 'utf8' });
    const score = /Overall exposure level for \S+: ([\d.]+) (\w+)/.exec(text);
    assert.ok(score, text.slice(-500));
    t.diagnostic(`systemd-analyze security: exposure ${score[1]} ${score[2]}`);
    assert.ok(Number(score[1]) <= 3.0, text.slice(-2000));
  });
});
