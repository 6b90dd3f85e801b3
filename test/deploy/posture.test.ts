/**
 * The agent and the bot run the way deploy/kubernetes/ runs them, as far as a process on this machine can: as the
 * manifest's runAsUser and runAsGroup, with no capability at all (bounding, ambient, effective), no_new_privs, and a
 * read-only root file system with a tmpfs on /tmp (the manifest's emptyDir) — a private mount namespace. Real
 * processes, a real redis-server, the fake Slack: each starts, answers /healthz and /readyz, and stops on SIGTERM with
 * exit 0, writing only JSON lines. (Seccomp is the container runtime's; not emulated here.)
 *
 * And the ping sysctl each artefact sets does what it is there for, in the kernel itself: in a fresh network namespace
 * (as a pod's, with only loopback) set to the artefact's value, a process of the artefact's group with no capability
 * opens an ICMP ping socket and gets an echo reply from 127.0.0.1; under Linux's default it is refused.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { freePort } from '../support/bot.js';
import { destroyNamespaces, run, runOk } from '../support/lab.js';
import { APP_TOKEN, BOT_TOKEN, FakeSlack } from '../support/fake-slack.js';
import { probe } from '../support/metrics.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { assertRoot } from '../support/root.js';
import { spawnService, type ServiceProcess } from '../support/service.js';
import { until, waitFor } from '../support/wait.js';

const DIR = join(import.meta.dirname, '..', '..', 'deploy', 'kubernetes');

interface Workload {
  spec: { template: { spec: { securityContext: { runAsUser: number; runAsGroup: number }; containers: { args: string[] }[] } } };
}

/** The user and group a workload's pods run as. */
function identityOf(file: string): { uid: number; gid: number } {
  const manifest = parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))[0]?.toJS() as Workload;
  const { runAsUser, runAsGroup } = manifest.spec.template.spec.securityContext;
  return { uid: runAsUser, gid: runAsGroup };
}

/** The checkout whose dist/ the services run from. */
const CHECKOUT = resolve(import.meta.dirname, '..', '..');

/**
 * The command that runs a service as a restricted pod would: a private mount namespace whose root is read-only, a
 * fresh tmpfs on /tmp, then setpriv to the user and group with every capability gone and no_new_privs. Each step
 * replaces itself with the next (unshare and sh's exec), so SIGTERM reaches the service.
 */
function restricted(uid: number, gid: number): string[] {
  // A checkout under /tmp (CI clones there) would vanish under the fresh tmpfs: it is carried over, read-only, by way
  // of /mnt (bind mounts need no write to their mount point).
  const underTmp = CHECKOUT === '/tmp' || CHECKOUT.startsWith('/tmp/');
  const script = [
    'mount --make-rprivate /',
    ...(underTmp ? [`mount --bind '${CHECKOUT}' /mnt`] : []),
    'mount -o remount,bind,ro /',
    'mount -t tmpfs -o size=16m,mode=1777 tmpfs /tmp',
    ...(underTmp ? [`mkdir -p '${CHECKOUT}'`, `mount --bind /mnt '${CHECKOUT}'`, `mount -o remount,bind,ro '${CHECKOUT}'`, 'umount /mnt'] : []),
    `exec setpriv --reuid ${uid} --regid ${gid} --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- "$@"`,
  ].join(' && ');
  return ['unshare', '--mount', '--', 'sh', '-e', '-c', script, 'sh'];
}

/** The fields of /proc/PID/status that say who the process is and what it may do. */
function statusOf(pid: number): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const at = line.indexOf(':');
    if (at > 0) fields[line.slice(0, at)] = line.slice(at + 1).trim();
  }
  return fields;
}

/** Whether the process sees its root mount read-only (/proc/PID/mountinfo: mount point `/`, its options). */
function rootReadOnly(pid: number): boolean {
  const root = readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .find((fields) => fields[4] === '/');
  return (root?.[5] ?? '').split(',').includes('ro');
}

function notJsonLines(service: ServiceProcess): string[] {
  return `${service.stdout()}\n${service.stderr()}`.split('\n').filter((line) => {
    if (line === '') return false;
    try {
      return typeof JSON.parse(line) !== 'object';
    } catch {
      return true;
    }
  });
}

describe('deploy/kubernetes: the services run as the restricted pods run them (non-root, no capability, read-only root)', () => {
  let redis: RedisServer;
  let slack: FakeSlack;
  const services: ServiceProcess[] = [];

  before(async () => {
    assertRoot();
    redis = await startRedis();
    slack = await FakeSlack.start();
  });
  after(async () => {
    await Promise.all(services.map((s) => s.kill()));
    await slack.close();
    await redis.destroy();
  });

  for (const [name, file] of [
    ['agent', 'agent.yaml'],
    ['bot', 'bot.yaml'],
  ] as const) {
    it(`${name}: starts as ${file}'s user and group with no capability on a read-only root, is ready, and stops with exit 0`, { timeout: 90_000 }, async (t) => {
      const { uid, gid } = identityOf(file);
      assert.ok(uid > 0 && gid > 0);
      const metricsPort = await freePort();
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        REDIS_URL: redis.url,
        METRICS_PORT: String(metricsPort),
        ...(name === 'agent'
          ? { ZENSWEEP_VPC: 'posture', ZENSWEEP_CIDRS: '127.0.0.0/30' }
          : { SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_APP_TOKEN: APP_TOKEN, SLACK_API_URL: slack.apiUrl }),
      };
      const service = spawnService([name], env, undefined, restricted(uid, gid));
      services.push(service);
      await until(`${name} started`, () => new RegExp(`"event":"${name}_started"`).test(service.log()), { timeoutMs: 30_000, show: () => service.log() });

      const pid = service.child.pid;
      assert.ok(pid !== undefined);
      const status = statusOf(pid);
      assert.equal(status.Uid?.split(/\s+/)[0], String(uid), service.log());
      assert.equal(status.Gid?.split(/\s+/)[0], String(gid));
      assert.equal(status.Groups, '', 'no supplementary group');
      for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) assert.equal(status[set], '0000000000000000', `${set}: ${status[set]}`);
      assert.equal(status.NoNewPrivs, '1');
      assert.ok(rootReadOnly(pid), 'its root file system is read-only');

      assert.equal((await probe(metricsPort, '/healthz')).status, 200);
      const ready = await waitFor(`${name} /readyz 200`, async () => {
        const answer = await probe(metricsPort, '/readyz');
        return answer.status === 200 ? answer : undefined;
      }, { timeoutMs: 30_000, show: () => service.log() });
      t.diagnostic(`${name} as ${uid}:${gid}, no capability, read-only root: /readyz ${ready.body.trim()}`);

      assert.equal(await service.stop(20_000), 0, service.log());
      assert.deepEqual(notJsonLines(service), [], 'lines that are not JSON');
      // The one EACCES that is no write: the ping socket refused by the host's ping_group_range (this test shares the
      // host's network namespace to reach its Redis; the pod sets the sysctl in its own, tested below).
      const writes = service.log().split('\n').filter((line) => !line.includes('"event":"icmp_unavailable"'));
      assert.doesNotMatch(writes.join('\n'), /EROFS|EACCES|read-only file system/i, 'it tried to write somewhere');
    });
  }
});

/**
 * Debian's Python (the package python3, which .ci/run installs for node-gyp), by its path: a `python3` found first on
 * PATH may be a shim in root's home that the unprivileged user cannot run.
 */
const PYTHON = '/usr/bin/python3';

/** Sends one ICMP echo to 127.0.0.1 through a ping socket (SOCK_DGRAM, IPPROTO_ICMP) and prints the reply's type. */
const PING_SOCKET = [
  'import socket, struct, sys',
  'try:',
  '    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)',
  'except PermissionError:',
  '    print("EACCES"); sys.exit(13)',
  's.settimeout(5)',
  's.sendto(struct.pack("!BBHHH", 8, 0, 0, 0, 1) + b"zensweep", ("127.0.0.1", 0))',
  'reply, _ = s.recvfrom(1024)',
  'print("reply type", reply[0])',
].join('\n');

describe('the ping sysctl of each artefact lets its group, with no capability, open ping sockets (kernel check)', () => {
  const namespace = `zsping${randomBytes(3).toString('hex')}`;

  before(async () => {
    assertRoot();
    assert.ok(existsSync(PYTHON), `${PYTHON} is missing: install the Debian package python3`);
    await runOk(['ip', 'netns', 'add', namespace]);
    await runOk(['ip', '-n', namespace, 'link', 'set', 'lo', 'up']);
  });
  after(() => destroyNamespaces([namespace]));

  /** In the namespace, with `range` set: a process of group `gid`, no capability, pings 127.0.0.1 through a ping socket. */
  async function pingAs(range: string, gid: number): Promise<{ code: number | null; out: string }> {
    await runOk(['ip', 'netns', 'exec', namespace, 'sysctl', '-q', '-w', `net.ipv4.ping_group_range=${range}`]);
    const setpriv = ['setpriv', '--reuid', '65534', '--regid', String(gid), '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs'];
    const result = await run(['ip', 'netns', 'exec', namespace, ...setpriv, PYTHON, '-c', PING_SOCKET], { timeoutMs: 20_000 });
    return { code: result.code, out: `${result.stdout}${result.stderr}`.trim() };
  }

  const pingConf = /^net\.ipv4\.ping_group_range\s*=\s*(\d+)\s+(\d+)/m.exec(readFileSync(join(import.meta.dirname, '..', '..', 'deploy', 'systemd', '99-zensweep-ping.conf'), 'utf8'));
  const ecs = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'deploy', 'ecs', 'agent-task-definition.json'), 'utf8')) as {
    containerDefinitions: { user: string; systemControls: { namespace: string; value: string }[] }[];
  };
  const agentPod = parseAllDocuments(readFileSync(join(DIR, 'agent.yaml'), 'utf8'))[0]?.toJS() as {
    spec: { template: { spec: { securityContext: { runAsGroup: number; sysctls: { name: string; value: string }[] } } } };
  };
  const podContext = agentPod.spec.template.spec.securityContext;
  const ecsContainer = ecs.containerDefinitions[0];
  const cases: [string, string, number[]][] = [
    ['deploy/kubernetes/agent.yaml', podContext.sysctls.find((s) => s.name === 'net.ipv4.ping_group_range')?.value ?? '', [podContext.runAsGroup]],
    ['deploy/ecs/agent-task-definition.json', ecsContainer?.systemControls.find((s) => s.namespace === 'net.ipv4.ping_group_range')?.value ?? '', [Number(ecsContainer?.user.split(':')[1])]],
    // DynamicUser= takes a group anywhere in 61184-65519: the ends of that range.
    ['deploy/systemd/99-zensweep-ping.conf', pingConf ? `${pingConf[1]} ${pingConf[2]}` : '', [61184, 65519]],
  ];
  for (const [artefact, range, gids] of cases) {
    it(`${artefact}: "${range}" lets group ${gids.join(' and ')} ping 127.0.0.1 with no capability; Linux's default "1 0" does not`, { timeout: 60_000 }, async () => {
      assert.match(range, /^\d+ \d+$/, `${artefact}: no ping_group_range`);
      for (const gid of gids) {
        const allowed = await pingAs(range, gid);
        assert.equal(allowed.code, 0, `${artefact}, group ${gid}: ${allowed.out}`);
        assert.equal(allowed.out, 'reply type 0');
        const refused = await pingAs('1 0', gid);
        assert.equal(refused.code, 13, `${artefact}, group ${gid}, default range: ${refused.out}`);
      }
    });
  }
});
