/**
 * The image and docker-compose.yml, for real: podman builds the Dockerfile, podman-compose runs the repository's
 * compose file (redis, agent, bot) on a container network of the test's own, and the services are driven from
 * outside: a sweep submitted inside the agent's container, a /sweep POSTed to the bot with the fake Slack answering
 * its Web API calls. Then docker-compose runs the same file through podman's Docker API, the path where an exec-form
 * healthcheck used to arrive mangled. Nothing is mocked but Slack.
 *
 * No image registry is reached: a base image the engine lacks is built as a local stand-in of the same name
 * (test/deploy/standins.sh, cached in the engine's storage). Network safety: the network is internal (no default
 * route in any container, so no probe can leave it), its subnet is 198.18.200.0/24, the agent covers only that /24,
 * and the sweeps name only the test's own containers and one empty address of that /24.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { APP_TOKEN, BOT_TOKEN, FakeSlack, type SlackCall } from '../support/fake-slack.js';
import { SIGNING_SECRET, commandFields, postSigned } from '../support/bot.js';
import { assertRoot } from '../support/root.js';
import { until } from '../support/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const IMAGE = 'localhost/zensweep:image-test';
const SUBNET = '198.18.200.0/24';
const GATEWAY = '198.18.200.1';
/** An address of the test's /24 that no container holds: nothing answers there. */
const EMPTY = '198.18.200.250';
const PROJECT = `zsimage${process.pid}`;
const NETWORK = `${PROJECT}_net`;
/** The image's user, and the group ping_group_range must cover. */
const UID = 10001;

interface Run {
  stdout: string;
  stderr: string;
}

class CommandFailedError extends Error {
  readonly code = 'COMMAND_FAILED';
}

/** Runs a command to its end; a non-zero exit throws with its output. `timeoutMs` only keeps a hang from lasting. */
function run(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { env: options.env ?? env, cwd: options.cwd ?? ROOT, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        if (error) reject(new CommandFailedError(`${command} ${args.join(' ')}: ${error.message}\n${stderr.slice(-4000)}\n${stdout.slice(-2000)}`));
        else resolve({ stdout, stderr });
      },
    );
  });
}

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => existsSync(join(dir, tool)));
}

/**
 * This machine's root lacks CAP_SYS_RESOURCE, and podman's default rlimits for a rootful container (1,048,576 open
 * files, 4,194,304 processes) are above the hard limits it runs with: runc then fails to start any container. The
 * containers get the limits podman itself has (processes: at most kernel.pid_max, as observed here).
 */
function containersConf(dir: string): string {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const hard = (name: string): number => {
    const value = new RegExp(`^${name}\\s+\\S+\\s+(\\S+)`, 'm').exec(limits)?.[1];
    return value === undefined || value === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(value);
  };
  const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
  const nofile = Math.min(hard('Max open files'), 1_048_576);
  const nproc = Math.min(hard('Max processes'), pidMax, 4_194_304);
  const file = join(dir, 'containers.conf');
  writeFileSync(
    file,
    [
      '[containers]',
      `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`,
      '[engine]',
      // crun refuses cgroups v1 with a v2 hierarchy beside it (this machine's "hybrid" mode); runc runs.
      'runtime = "runc"',
      '',
    ].join('\n'),
  );
  return file;
}

/** The CA bundle npm uses here, passed to the build as a secret: a registry behind a TLS-inspecting proxy needs it. */
async function caBundle(): Promise<string | undefined> {
  const configured = (await run('npm', ['config', 'get', 'cafile']).catch(() => ({ stdout: '' }))).stdout.trim();
  return [configured, process.env.NODE_EXTRA_CA_CERTS, '/etc/ssl/certs/ca-certificates.crt'].find(
    (file): file is string => typeof file === 'string' && file !== '' && file !== 'null' && file !== 'undefined' && existsSync(file),
  );
}

/** One base64 line from the middle of each certificate of `bundle` that Node does not already carry. */
function extraCaLines(bundle: string): string[] {
  const builtIn = new Set(rootCertificates.map((pem) => pem.replace(/\s+/g, '')));
  const pems = bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return pems
    .filter((pem) => !builtIn.has(pem.replace(/\s+/g, '')))
    .map((pem) => {
      const lines = pem.split('\n').filter((line) => /^[A-Za-z0-9+/]{64}$/.test(line.trim()));
      return (lines[Math.floor(lines.length / 2)] ?? '').trim();
    })
    .filter((line) => line !== '');
}

interface Compose {
  services: Record<string, Record<string, unknown>>;
  networks?: Record<string, unknown>;
  volumes?: Record<string, unknown>;
}

interface Health {
  status: string;
  log: string;
}

const env: NodeJS.ProcessEnv = { ...process.env };

/** Compose's Redis asks for it (REDIS_PASSWORD in .env); the agent and the bot read it from there too. */
const REDIS_PASSWORD = 'zs-compose-s3cret-0099';

describe('the image and docker-compose.yml (podman, podman-compose, docker-compose, local base images)', () => {
  let work: string;
  let slack: FakeSlack | undefined;
  let composeFile: string;
  /** Test 3: podman's Docker API service, and docker-compose through it. */
  let apiService: ChildProcess | undefined;
  let apiCompose: ((args: readonly string[]) => Promise<Run>) | undefined;
  const interfacesBefore = new Set<string>();
  let forwardBefore = '';

  const compose = (args: readonly string[], timeoutMs = 180_000): Promise<Run> =>
    run('podman-compose', ['-p', PROJECT, '-f', composeFile, ...args], { timeoutMs, cwd: work });
  const container = (service: string): string => `${PROJECT}_${service}_1`;
  const inspect = async (name: string): Promise<Record<string, unknown>> => {
    const [first] = JSON.parse((await run('podman', ['container', 'inspect', name])).stdout) as Record<string, unknown>[];
    assert.ok(first, `no container ${name}`);
    return first;
  };
  const addressOf = async (service: string): Promise<string> => {
    const settings = (await inspect(container(service))).NetworkSettings as { Networks?: Record<string, { IPAddress?: string }> };
    const ip = settings.Networks?.[NETWORK]?.IPAddress;
    assert.ok(ip, `${service} has no address on ${NETWORK}`);
    return ip;
  };
  const health = async (name: string): Promise<Health> => {
    const state = (await inspect(name)).State as { Health?: { Status: string; Log?: { Output?: string }[] }; Healthcheck?: { Status: string } };
    const h = state.Health ?? state.Healthcheck;
    return { status: h?.Status ?? 'none', log: (state.Health?.Log ?? []).map((l) => l.Output ?? '').join(' | ').slice(-1500) };
  };
  /** A container's output, stdout then stderr (the services write pino lines; a bad setting is a line on stderr). */
  const logsOf = async (service: string, tail?: number): Promise<string> => {
    const output = await run('podman', ['logs', ...(tail === undefined ? [] : ['--tail', String(tail)]), container(service)]);
    return output.stdout + output.stderr;
  };
  /** What the containers are doing, for the message of a failed assertion. */
  const containersNow = async (): Promise<string> => {
    const lines = await Promise.all(
      ['redis', 'agent', 'bot'].map(async (s) => {
        const c = await inspect(container(s)).catch(() => ({}) as Record<string, unknown>);
        const state = c.State as { Status?: string; StartedAt?: string } | undefined;
        const networks = (c.NetworkSettings as { Networks?: Record<string, { IPAddress?: string }> } | undefined)?.Networks;
        return `${s}: ${state?.Status} since ${state?.StartedAt}, restarts ${String(c.RestartCount)}, ${networks?.[NETWORK]?.IPAddress}\n${await logsOf(s, 6).catch((e: Error) => e.message)}`;
      }),
    );
    return lines.join('\n');
  };
  /**
   * Waits until each container is healthy by its own compose healthcheck. Without systemd podman runs no healthcheck
   * timer, so this runs each container's configured check (`podman healthcheck run`) until it passes.
   */
  const waitHealthy = async (names: readonly string[], show: () => Promise<unknown>): Promise<void> => {
    const healthy = new Set<string>();
    await until(
      `${names.join(', ')} healthy`,
      async () => {
        for (const name of names.filter((n) => !healthy.has(n))) {
          await run('podman', ['healthcheck', 'run', name]).catch(() => undefined);
          if ((await health(name)).status === 'healthy') healthy.add(name);
        }
        return healthy.size === names.length;
      },
      {
        timeoutMs: 120_000,
        everyMs: 1000,
        show: async () => ({ healthy: [...healthy], health: await Promise.all(names.map(async (n) => `${n}: ${JSON.stringify(await health(n))}`)), more: await show() }),
      },
    );
  };
  /** docker-compose.yml on the test's network, with the test's image: nothing else changes. */
  const derive = (original: Compose): Compose => {
    const derived = structuredClone(original);
    for (const [name, service] of Object.entries(derived.services)) {
      service.networks = ['zensweep'];
      if (name !== 'redis') {
        delete service.build;
        service.image = IMAGE;
      }
    }
    delete derived.services.bot?.ports;
    derived.networks = { zensweep: { external: true, name: NETWORK } };
    return derived;
  };
  /** The .env the compose file reads: the fake Slack's tokens and URL, the agent's group and its one /24. */
  const envFile = (fake: FakeSlack): string =>
    [`REDIS_PASSWORD=${REDIS_PASSWORD}`, `SLACK_BOT_TOKEN=${BOT_TOKEN}`, `SLACK_SIGNING_SECRET=${SIGNING_SECRET}`, `SLACK_API_URL=${fake.apiUrl}`, 'PORT=3000', 'ZENSWEEP_VPC=imagetest', `ZENSWEEP_CIDRS=${SUBNET}`, ''].join('\n');
  const links = async (): Promise<string[]> =>
    (await run('ip', ['-o', 'link', 'show'])).stdout.split('\n').map((line) => line.split(':')[1]?.trim().split('@')[0] ?? '').filter(Boolean);

  before(async () => {
    assertRoot();
    const missing = ['podman', 'podman-compose', 'runc', 'debootstrap', 'npm'].filter((tool) => !onPath(tool));
    assert.deepEqual(missing, [], `the image test needs ${missing.join(', ')}: apt-get install -y podman podman-compose runc debootstrap (as .ci/run does)`);
    work = mkdtempSync(join(tmpdir(), 'zensweep-image-'));
    env.CONTAINERS_CONF = containersConf(work);
    // What a killed run of this test left (its after hook never ran): it holds the subnet, so it goes first.
    for (const stale of (await run('podman', ['network', 'ls', '--format', '{{.Name}}'])).stdout.split('\n').filter((n) => /^zsimage\d+_net$/.test(n))) {
      const base = stale.slice(0, -'_net'.length);
      for (const project of [base, `${base}api`]) {
        const label = `label=com.docker.compose.project=${project}`;
        const ids = (await run('podman', ['ps', '-a', '-q', '--filter', label])).stdout.split('\n').filter(Boolean);
        if (ids.length > 0) await run('podman', ['rm', '-f', '-t', '0', ...ids]);
        const volumes = (await run('podman', ['volume', 'ls', '-q', '--filter', label])).stdout.split('\n').filter(Boolean);
        if (volumes.length > 0) await run('podman', ['volume', 'rm', '-f', ...volumes]);
      }
      await run('podman', ['network', 'rm', '-f', stale]);
    }
    for (const name of await links()) interfacesBefore.add(name);
    forwardBefore = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  });

  after(async () => {
    await slack?.close();
    if (composeFile) await compose(['down', '-v', '-t', '15']).catch(() => undefined);
    if (apiCompose) await apiCompose(['down', '-v', '-t', '15']).catch(() => undefined);
    if (apiService && apiService.exitCode === null) {
      const gone = new Promise((resolve) => apiService?.once('exit', resolve));
      apiService.kill('SIGTERM');
      await gone;
    }
    await run('podman', ['network', 'rm', '-f', NETWORK]).catch(() => undefined);
    // netavark turns forwarding on for its bridges; the host had it as it was before the test.
    if (forwardBefore !== '' && readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() !== forwardBefore) {
      writeFileSync('/proc/sys/net/ipv4/ip_forward', forwardBefore);
    }
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('builds from the Dockerfile: a non-root user, no capability, no CA bundle left in any layer', { timeout: 1_200_000 }, async (t) => {
    const started = Date.now();
    await run('bash', [join(ROOT, 'test/deploy/standins.sh'), 'podman'], { timeoutMs: 900_000 });
    const standins = Date.now();
    const bundle = await caBundle();
    await run(
      'podman',
      ['build', '--network', 'host', '--pull=never', ...(bundle ? ['--secret', `id=ca_bundle,src=${bundle}`] : []), '-t', IMAGE, ROOT],
      { timeoutMs: 900_000 },
    );
    const built = Date.now();
    const [image] = JSON.parse((await run('podman', ['image', 'inspect', IMAGE])).stdout) as { Size: number; Config: { User?: string; Env?: string[]; Entrypoint?: string[] } }[];
    assert.ok(image);
    t.diagnostic(`base images ready in ${((standins - started) / 1000).toFixed(1)} s, image built in ${((built - standins) / 1000).toFixed(1)} s; image size ${(image.Size / 1e6).toFixed(1)} MB`);
    assert.equal(image.Config.User, `${UID}:${UID}`);
    assert.deepEqual(image.Config.Entrypoint, ['node', '--max-semi-space-size=2', 'dist/cli.cjs']);
    assert.ok(!(image.Config.Env ?? []).some((v) => /CA_CERTS|ca_bundle/i.test(v)), `the image's environment names a CA: ${image.Config.Env?.join(' ')}`);

    // What its process is: uid and gid 10001, no capability in any set, and the CLI answers.
    const status = (await run('podman', ['run', '--rm', '--network', 'none', '--entrypoint', 'sh', IMAGE, '-c', 'id -u; id -g; grep ^Cap /proc/self/status; ls /run/secrets 2>&1; node dist/cli.cjs help >/dev/null && echo cli-answers'])).stdout;
    assert.match(status, new RegExp(`^${UID}\\n${UID}\\n`));
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapAmb']) assert.match(status, new RegExp(`${set}:\\s+0{16}\\n`), status);
    assert.match(status, /No such file or directory/, 'a /run/secrets left in the image');
    assert.match(status, /cli-answers/);

    // The CA the build was given is in no layer of the image: every layer, searched byte for byte.
    if (bundle) {
      const lines = extraCaLines(readFileSync(bundle, 'utf8'));
      t.diagnostic(`${lines.length} certificate(s) of ${bundle} beyond Node's own looked for in the image`);
      const archive = join(work, 'image.tar');
      await run('podman', ['save', '--format', 'docker-archive', '-o', archive, IMAGE], { timeoutMs: 300_000 });
      const bytes = readFileSync(archive);
      rmSync(archive);
      assert.ok(bytes.length > 50_000_000, `the saved image is ${bytes.length} bytes: not the image`);
      // The search itself finds what is there: Node's own first root certificate is in the node binary.
      const own = rootCertificates[0]?.split('\n')[2] ?? '';
      assert.ok(own.length > 0 && bytes.includes(own), 'the layer search does not see a certificate that is there');
      for (const line of lines) assert.ok(!bytes.includes(line), `a certificate of ${bundle} is in the image (${line.slice(0, 16)}…)`);
    } else {
      t.diagnostic('no CA bundle on this machine: the build had no secret');
    }
  });

  it('runs redis, agent and bot with compose: healthy, a sweep through the agent, a /sweep through the bot, then nothing left', { timeout: 900_000 }, async (t) => {
    const original = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as Compose;
    const { agent, bot, redis } = original.services;
    assert.ok(agent && bot && redis, 'docker-compose.yml lost a service');
    // What the file promises, before it is run: no capability, ping sockets for the image's group, CMD-SHELL checks.
    assert.deepEqual(agent.cap_drop, ['ALL']);
    assert.equal(agent.cap_add, undefined, 'NET_RAW is an option, not the default');
    const range = (agent.sysctls as string[]).find((s) => s.startsWith('net.ipv4.ping_group_range='))?.split('=')[1]?.split(/\s+/).map(Number);
    assert.ok(range && range[0]! <= UID && UID <= range[1]!, `ping_group_range ${String(range)} leaves out gid ${UID}`);
    for (const [name, service] of Object.entries(original.services)) {
      assert.equal((service.healthcheck as { test: string[] }).test[0], 'CMD-SHELL', `${name}'s healthcheck is not CMD-SHELL`);
    }

    // The same file, on the test's network, with the test's image and settings: nothing else changes.
    await run('podman', ['network', 'create', '--internal', '--subnet', SUBNET, '--gateway', GATEWAY, NETWORK]);
    const derived = derive(original);
    composeFile = join(work, 'docker-compose.yml');
    // JSON is YAML, and it quotes every string: podman-compose reads YAML 1.1, where a bare `yes` is a boolean.
    writeFileSync(composeFile, JSON.stringify(derived, null, 2));
    const up = Date.now();
    // Redis first, for the bridge: it needs only its password.
    writeFileSync(join(work, '.env'), `REDIS_PASSWORD=${REDIS_PASSWORD}\n`);
    await compose(['up', '-d', 'redis']);
    // The bridge exists now: the fake Slack listens on the host's side of it, reachable from that network only.
    slack = await FakeSlack.start({ host: GATEWAY });
    writeFileSync(join(work, '.env'), envFile(slack));
    await compose(['up', '-d']);

    const services = ['redis', 'agent', 'bot'];
    await waitHealthy(services.map(container), containersNow);
    t.diagnostic(`compose up to healthy in ${((Date.now() - up) / 1000).toFixed(1)} s`);

    const redisIp = await addressOf('redis');
    const agentIp = await addressOf('agent');
    const botIp = await addressOf('bot');
    for (const ip of [redisIp, agentIp, botIp]) assert.match(ip, /^198\.18\.200\.\d+$/);
    // Redis asks for the password (the services have it from .env), and no process shows it on its command line.
    const open = await run('podman', ['exec', '-e', 'REDISCLI_AUTH=', container('redis'), 'redis-cli', 'ping']);
    assert.match(open.stdout + open.stderr, /NOAUTH/, 'Redis answered without the password');
    const commandLines = (await run('podman', ['exec', container('redis'), 'sh', '-c', 'cat /proc/[0-9]*/cmdline | tr "\\0" " "'])).stdout;
    assert.ok(commandLines.includes('redis-server') && !commandLines.includes(REDIS_PASSWORD), `a command line holds the password:\n${commandLines}`);
    // No container has a default route: nothing it sends can leave the test's /24.
    const routes = (await run('podman', ['exec', container('agent'), 'cat', '/proc/net/route'])).stdout;
    assert.doesNotMatch(routes, /^\S+\t00000000\t/m, `the agent's container has a default route:\n${routes}`);
    const agentLog = await logsOf('agent');
    const icmp = !agentLog.includes('"event":"icmp_unavailable"');
    t.diagnostic(`the agent ${icmp ? 'has ICMP' : 'runs TCP probes only (icmp_unavailable)'}`);

    // A sweep submitted inside the agent's container, through Redis, run by the agent.
    const submitted = await run(
      'podman',
      // Redis by its address: the services found it by name already (aardvark-dns), and a one-off lookup from the
      // host's side of the bridge is one more thing that a loaded machine can make wait past submit's 5 s.
      ['exec', '-e', `REDIS_URL=redis://${redisIp}:6379`, container('agent'), 'node', 'dist/cli.cjs', 'submit', redisIp, agentIp, botIp, EMPTY, 'tcp:6379,9464', '--json'],
      { timeoutMs: 120_000 },
    );
    const report = JSON.parse(submitted.stdout) as { hosts: { ip: string; state: string; ports?: { port: number; state: string }[] }[] };
    const host = (ip: string) => report.hosts.find((h) => h.ip === ip);
    const alive = icmp ? 'alive' : 'alive_tcp_only';
    try {
      assert.equal(host(redisIp)?.state, alive);
      assert.equal(host(redisIp)?.ports?.find((p) => p.port === 6379)?.state, 'open');
      assert.equal(host(agentIp)?.ports?.find((p) => p.port === 9464)?.state, 'open');
      assert.equal(host(botIp)?.ports?.find((p) => p.port === 9464)?.state, 'open');
      assert.ok(['silent', 'unreachable'].includes(host(EMPTY)?.state ?? ''), `${EMPTY}: ${JSON.stringify(host(EMPTY))}`);
    } catch (error) {
      // Seen in 2 of some 30 runs, while another test run loaded the machine: one container's address silent (no
      // ARP answer), or the agent's own port filtered, right after all three were healthy. Not explained yet; one
      // suspect is the ARP table, one for the whole machine (test/support/neighbour-limit.ts), which another run's
      // lab sweeps can fill. What the containers were doing is in the message.
      throw new Error(`${(error as Error).message}\nredis ${redisIp}, agent ${agentIp}, bot ${botIp}\n${submitted.stdout}\n${await containersNow()}`, { cause: error });
    }

    // The documented option: NET_RAW added (and everything else dropped) gives the image's non-root user raw ICMP
    // under podman, which makes an added capability ambient. One local sweep of Redis's container, by echo.
    const raw = await run('podman', ['run', '--rm', '--network', NETWORK, '--cap-drop', 'ALL', '--cap-add', 'NET_RAW', IMAGE, 'sweep', redisIp, '--json'], { timeoutMs: 60_000 });
    const rawHost = (JSON.parse(raw.stdout) as { hosts: { ip: string; state: string }[] }).hosts[0];
    assert.deepEqual(rawHost, { ...rawHost, ip: redisIp, state: 'alive' }, raw.stdout);

    // A /sweep POSTed to the bot in its container, as Slack signs it; the report comes back through the fake Slack.
    const target = `${redisIp} tcp:6379`;
    const ack = await postSigned(`http://${botIp}:3000/slack/events`, commandFields(target, { response_url: slack.responseUrl() }));
    assert.equal(ack.status, 200, ack.body);
    assert.match(ack.body, /Sweeping/);
    const fake = slack;
    const reply = await fake.waitFor(
      'the threaded report',
      () => fake.callsOf('chat.postMessage').find((c: SlackCall) => c.args.thread_ts !== undefined),
      120_000,
    );
    // Redis's container answers on 6379: alive, or alive by TCP alone while the agent has no ICMP.
    assert.match(JSON.stringify(reply.args.blocks), icmp ? /\*1 alive\*/ : /\*1 TCP only\*/);
    assert.match(JSON.stringify(reply.args.blocks), new RegExp(redisIp.replaceAll('.', '\\.')));
    assert.deepEqual(fake.violations, []);
    assert.deepEqual(fake.badTokens, []);

    // Asked to stop, each stops by itself (exit 0 before the 15 s of grace), then down leaves nothing behind.
    const stopping = Date.now();
    await compose(['stop', '-t', '15'], 120_000);
    t.diagnostic(`compose stop took ${((Date.now() - stopping) / 1000).toFixed(1)} s`);
    for (const service of services) {
      const state = (await inspect(container(service))).State as { ExitCode: number; Status: string };
      assert.equal(state.ExitCode, 0, `${service} exited with ${state.ExitCode} on SIGTERM`);
    }
    const logs = (await Promise.all(['agent', 'bot'].map((s) => logsOf(s)))).join('');
    assert.doesNotMatch(logs, new RegExp(`${BOT_TOKEN}|${SIGNING_SECRET}|${APP_TOKEN}`), 'a secret in the logs');
    await slack.close();
    slack = undefined;
    await compose(['down', '-v', '-t', '15'], 120_000);
    await run('podman', ['network', 'rm', NETWORK]);
    const label = `label=io.podman.compose.project=${PROJECT}`;
    assert.equal((await run('podman', ['ps', '-a', '-q', '--filter', label])).stdout.trim(), '', 'containers left');
    assert.equal((await run('podman', ['volume', 'ls', '-q', '--filter', label])).stdout.trim(), '', 'volumes left');
    assert.equal((await run('podman', ['network', 'ls', '-q', '--filter', `name=${PROJECT}`])).stdout.trim(), '', 'networks left');
    const added = (await links()).filter((name) => !interfacesBefore.has(name));
    assert.deepEqual(added, [], 'network interfaces left on the host');
    assert.deepEqual(readdirSync(work).sort(), ['.env', 'containers.conf', 'docker-compose.yml']);
  });

  it("runs the same file with docker-compose through podman's Docker API: the healthchecks arrive intact and pass", { timeout: 600_000 }, async (t) => {
    assert.ok(onPath('docker-compose'), 'this test needs docker-compose: apt-get install -y docker-compose (as .ci/run does)');
    // What the test before left if it failed half-way: its network holds the subnet.
    await slack?.close();
    slack = undefined;
    if (composeFile) await compose(['down', '-v', '-t', '1']).catch(() => undefined);
    await run('podman', ['network', 'rm', '-f', NETWORK]).catch(() => undefined);
    const original = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as Compose;
    const dir = join(work, 'api');
    mkdirSync(dir);
    const socket = join(dir, 'podman.sock');
    apiService = spawn('podman', ['system', 'service', '--time=0', `unix://${socket}`], { env, stdio: 'ignore' });
    await until('the Docker API socket', () => existsSync(socket), { timeoutMs: 30_000 });
    const project = `${PROJECT}api`;
    const name = (service: string): string => `${project}_${service}_1`;
    const dc = (args: readonly string[]): Promise<Run> =>
      run('docker-compose', ['-p', project, '-f', join(dir, 'docker-compose.yml'), ...args], { env: { ...env, DOCKER_HOST: `unix://${socket}` }, cwd: dir, timeoutMs: 180_000 });
    apiCompose = dc;
    writeFileSync(join(dir, 'docker-compose.yml'), JSON.stringify(derive(original), null, 2));
    await run('podman', ['network', 'create', '--internal', '--subnet', SUBNET, '--gateway', GATEWAY, NETWORK]);
    const up = Date.now();
    // docker-compose honours depends_on's service_healthy: Redis first, made healthy, then the rest. It reads every
    // service's env_file from the start: Redis's password alone until the fake Slack has its address.
    writeFileSync(join(dir, '.env'), `REDIS_PASSWORD=${REDIS_PASSWORD}\n`);
    await dc(['up', '-d', 'redis']);
    await waitHealthy([name('redis')], async () => '');
    const fake = await FakeSlack.start({ host: GATEWAY });
    slack = fake;
    writeFileSync(join(dir, '.env'), envFile(fake));
    await dc(['up', '-d']);
    await waitHealthy([name('agent'), name('bot')], async () => (await Promise.all(['agent', 'bot'].map(async (s) => (await run('podman', ['logs', '--tail', '6', name(s)]).catch((e: Error) => ({ stdout: e.message }))).stdout))).join('\n'));
    t.diagnostic(`docker-compose up to healthy in ${((Date.now() - up) / 1000).toFixed(1)} s`);
    for (const [service, spec] of Object.entries(original.services)) {
      const config = (await inspect(name(service))).Config as { Healthcheck?: { Test?: string[] } };
      assert.deepEqual(config.Healthcheck?.Test, (spec.healthcheck as { test: string[] }).test, `${service}'s healthcheck changed on its way through the Docker API`);
    }
    await fake.close();
    slack = undefined;
    await dc(['down', '-v', '-t', '15']);
    apiCompose = undefined;
    await run('podman', ['network', 'rm', NETWORK]);
    const label = `label=com.docker.compose.project=${project}`;
    assert.equal((await run('podman', ['ps', '-a', '-q', '--filter', label])).stdout.trim(), '', 'containers left');
    assert.equal((await run('podman', ['volume', 'ls', '-q', '--filter', label])).stdout.trim(), '', 'volumes left');
    assert.deepEqual((await links()).filter((n) => !interfacesBefore.has(n)), [], 'network interfaces left on the host');
  });
});
