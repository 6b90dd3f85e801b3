/**
 * The agent and the bot run the way deploy/kubernetes/ runs them, as far as a process on this machine can: as the
 * manifest's runAsUser and runAsGroup, with no capability at all (bounding, ambient, effective), no_new_privs, and a
 * read-only root file system with a tmpfs on /tmp (the manifest's emptyDir) — a private mount namespace. Real
 * processes, a real redis-server, the fake Slack: each starts, answers /healthz and /readyz, and stops on SIGTERM with
 * exit 0, writing only JSON lines. (Seccomp and the ping sysctl are the container runtime's; not emulated here.)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { freePort } from '../support/bot.js';
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

/**
 * The command that runs a service as a restricted pod would: a private mount namespace whose root is read-only, a
 * fresh tmpfs on /tmp, then setpriv to the user and group with every capability gone and no_new_privs. Each step
 * replaces itself with the next (unshare and sh's exec), so SIGTERM reaches the service.
 */
function restricted(uid: number, gid: number): string[] {
  const script = [
    'mount --make-rprivate /',
    'mount -o remount,bind,ro /',
    'mount -t tmpfs -o size=16m,mode=1777 tmpfs /tmp',
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
      assert.doesNotMatch(service.log(), /EROFS|EACCES|read-only file system/i, 'it tried to write somewhere');
    });
  }
});
