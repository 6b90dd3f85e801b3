/**
 * deploy/ecs/agent-task-definition.json: the shape ECS's RegisterTaskDefinition accepts for Fargate (only keys it
 * knows, awsvpc, a valid CPU and memory pair), the agent without root or capability (ICMP through a ping socket whose
 * group the task sets), and no secret inline: REDIS_URL only through `secrets` / `valueFrom`. No test reaches AWS.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const FILE = join(import.meta.dirname, '..', '..', 'deploy', 'ecs', 'agent-task-definition.json');

/** RegisterTaskDefinition's request fields (ECS API reference). */
const TASK_KEYS = new Set([
  'family',
  'taskRoleArn',
  'executionRoleArn',
  'networkMode',
  'containerDefinitions',
  'volumes',
  'placementConstraints',
  'requiresCompatibilities',
  'cpu',
  'memory',
  'tags',
  'pidMode',
  'ipcMode',
  'proxyConfiguration',
  'inferenceAccelerators',
  'ephemeralStorage',
  'runtimePlatform',
  'enableFaultInjection',
]);

/** ContainerDefinition's fields (ECS API reference). */
const CONTAINER_KEYS = new Set([
  'name',
  'image',
  'repositoryCredentials',
  'cpu',
  'memory',
  'memoryReservation',
  'links',
  'portMappings',
  'essential',
  'restartPolicy',
  'entryPoint',
  'command',
  'environment',
  'environmentFiles',
  'mountPoints',
  'volumesFrom',
  'linuxParameters',
  'secrets',
  'dependsOn',
  'startTimeout',
  'stopTimeout',
  'versionConsistency',
  'hostname',
  'user',
  'workingDirectory',
  'disableNetworking',
  'privileged',
  'readonlyRootFilesystem',
  'dnsServers',
  'dnsSearchDomains',
  'extraHosts',
  'dockerSecurityOptions',
  'interactive',
  'pseudoTerminal',
  'dockerLabels',
  'ulimits',
  'logConfiguration',
  'healthCheck',
  'systemControls',
  'resourceRequirements',
  'firelensConfiguration',
  'credentialSpecs',
]);

/** Fargate's CPU units and the memory (MiB) each allows, for the sizes an agent would use. */
const FARGATE_SIZES: Record<string, number[]> = {
  '256': [512, 1024, 2048],
  '512': [1024, 2048, 3072, 4096],
  '1024': [2048, 3072, 4096, 5120, 6144, 7168, 8192],
  '2048': Array.from({ length: 13 }, (_, i) => 4096 + i * 1024),
};

/** Names whose value is a secret: never in `environment`. */
const SECRET_NAMES = /^(REDIS_URL|SLACK_.*|.*(TOKEN|SECRET|PASSWORD).*)$/;
/** Values that look like one: a URL with a password, a Slack token. */
const SECRET_VALUES = /:\/\/[^/@]*:[^/@]+@|xox[a-z]-|xapp-/;

interface KeyValue {
  name: string;
  value?: string;
  valueFrom?: string;
}

interface ContainerDefinition {
  name: string;
  image: string;
  command?: string[];
  essential?: boolean;
  user?: string;
  privileged?: boolean;
  readonlyRootFilesystem?: boolean;
  linuxParameters?: { capabilities?: { add?: string[]; drop?: string[] } };
  systemControls?: { namespace: string; value: string }[];
  environment?: KeyValue[];
  secrets?: KeyValue[];
  portMappings?: { containerPort: number; protocol?: string }[];
  healthCheck?: { command: string[] };
  stopTimeout?: number;
  logConfiguration?: { logDriver: string };
  [key: string]: unknown;
}

interface TaskDefinition {
  family: string;
  requiresCompatibilities: string[];
  networkMode: string;
  cpu: string;
  memory: string;
  executionRoleArn?: string;
  containerDefinitions: ContainerDefinition[];
  [key: string]: unknown;
}

const original = JSON.parse(readFileSync(FILE, 'utf8')) as TaskDefinition;

/** What is wrong with a task definition for the agent on Fargate, one line each; empty when nothing is. */
function problems(task: TaskDefinition): string[] {
  const found: string[] = [];
  const expect = (ok: boolean, message: string): void => {
    if (!ok) found.push(message);
  };
  for (const key of Object.keys(task)) expect(TASK_KEYS.has(key), `unknown task key ${key}`);
  expect(typeof task.family === 'string' && /^[A-Za-z0-9_-]{1,255}$/.test(task.family), 'family');
  expect(task.requiresCompatibilities?.includes('FARGATE'), 'requiresCompatibilities must include FARGATE');
  expect(task.networkMode === 'awsvpc', `networkMode ${task.networkMode}: Fargate needs awsvpc`);
  expect(FARGATE_SIZES[task.cpu]?.includes(Number(task.memory)) ?? false, `cpu ${task.cpu} with memory ${task.memory} is not a Fargate size`);
  expect(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+/.test(task.executionRoleArn ?? ''), 'executionRoleArn (needed to read the secrets) is not a role ARN');
  expect(task.containerDefinitions?.length === 1, 'one container');
  for (const container of task.containerDefinitions ?? []) {
    const where = `container ${container.name}`;
    for (const key of Object.keys(container)) expect(CONTAINER_KEYS.has(key), `${where}: unknown key ${key}`);
    expect(typeof container.image === 'string' && container.image.length > 0, `${where}: image`);
    expect(container.essential === true, `${where}: essential`);
    expect(JSON.stringify(container.command) === '["agent"]', `${where}: command is not ["agent"]`);
    const user = /^(\d+):(\d+)$/.exec(container.user ?? '');
    expect(user !== null && Number(user[1]) > 0 && Number(user[2]) > 0, `${where}: user ${container.user} is not a non-root uid:gid`);
    expect(container.privileged !== true, `${where}: privileged`);
    expect(container.readonlyRootFilesystem === true, `${where}: the root file system is writable`);
    const capabilities = container.linuxParameters?.capabilities;
    expect((capabilities?.drop ?? []).includes('ALL'), `${where}: does not drop ALL capabilities`);
    expect((capabilities?.add ?? []).length === 0, `${where}: adds ${capabilities?.add?.join(', ')}`);
    const ping = container.systemControls?.find((s) => s.namespace === 'net.ipv4.ping_group_range');
    expect(user !== null && ping?.value === `${user[2]} ${user[2]}`, `${where}: ping_group_range ${ping?.value} is not the user's group`);
    for (const env of container.environment ?? []) {
      expect(!SECRET_NAMES.test(env.name), `${where}: ${env.name} in environment (a secret belongs in secrets)`);
      expect(!SECRET_VALUES.test(env.value ?? ''), `${where}: ${env.name} holds a secret inline`);
    }
    const redis = container.secrets?.find((s) => s.name === 'REDIS_URL');
    expect(/^arn:aws[a-z-]*:(secretsmanager|ssm):[a-z0-9-]+:\d{12}:(secret:|parameter\/).+/.test(redis?.valueFrom ?? ''), `${where}: REDIS_URL is not from a secret ARN`);
    for (const secret of container.secrets ?? []) expect(secret.value === undefined, `${where}: secret ${secret.name} has a value`);
    const metricsPort = Number(container.environment?.find((e) => e.name === 'METRICS_PORT')?.value);
    expect(container.portMappings?.some((p) => p.containerPort === metricsPort) ?? false, `${where}: no port mapping for METRICS_PORT ${metricsPort}`);
    expect(container.healthCheck?.command.join(' ').includes(`127.0.0.1:${metricsPort}/healthz`) ?? false, `${where}: the health check does not ask /healthz`);
    expect((container.stopTimeout ?? 30) >= 15 && (container.stopTimeout ?? 30) <= 120, `${where}: stopTimeout`);
    expect(container.logConfiguration?.logDriver === 'awslogs', `${where}: logs`);
  }
  return found;
}

describe('deploy/ecs: the agent’s Fargate task definition', () => {
  it('has the shape ECS accepts for Fargate, no root, no capability, its ping group, and secrets by ARN only', () => {
    assert.deepEqual(problems(original), []);
  });

  it('says in its README what happens to ICMP on Fargate, plainly', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', 'deploy', 'ecs', 'README.md'), 'utf8');
    assert.match(readme, /net\.ipv4\.ping_group_range/);
    assert.match(readme, /no ICMP and runs TCP probes only/);
  });

  /** Edits that each make the definition wrong in one way, and what the check must say of it. */
  const edits: [string, (task: TaskDefinition, container: ContainerDefinition) => void, RegExp][] = [
    ['a misspelt key', (_task, c) => (c.readOnlyRootFilesystem = true), /unknown key readOnlyRootFilesystem/],
    ['bridge networking', (task) => (task.networkMode = 'bridge'), /needs awsvpc/],
    ['a size Fargate does not have', (task) => (task.memory = '300'), /not a Fargate size/],
    ['root', (_task, c) => (c.user = '0:0'), /not a non-root uid:gid/],
    ['no user at all', (_task, c) => delete c.user, /not a non-root uid:gid/],
    ['NET_RAW added', (_task, c) => (c.linuxParameters = { capabilities: { drop: ['ALL'], add: ['NET_RAW'] } }), /adds NET_RAW/],
    ['capabilities kept', (_task, c) => (c.linuxParameters = {}), /does not drop ALL/],
    ['the ping group of another group', (_task, c) => (c.systemControls = [{ namespace: 'net.ipv4.ping_group_range', value: '0 0' }]), /not the user's group/],
    ['REDIS_URL inline', (_task, c) => (c.environment ?? []).push({ name: 'REDIS_URL', value: 'redis://:hunter2@redis:6379' }), /REDIS_URL in environment/],
    ['a token under another name', (_task, c) => (c.environment ?? []).push({ name: 'BOT', value: 'xoxb-123' }), /BOT holds a secret inline/],
    ['the secret not by ARN', (_task, c) => (c.secrets = [{ name: 'REDIS_URL', valueFrom: 'zensweep/redis-url' }]), /not from a secret ARN/],
    ['a writable root', (_task, c) => (c.readonlyRootFilesystem = false), /writable/],
    ['the health check on /readyz', (_task, c) => (c.healthCheck = { command: ['CMD', 'node', '-e', "fetch('http://127.0.0.1:9464/readyz')"] }), /does not ask \/healthz/],
  ];
  for (const [what, edit, says] of edits) {
    it(`refuses a copy edited to have ${what}`, () => {
      const copy = structuredClone(original);
      const container = copy.containerDefinitions[0];
      assert.ok(container);
      edit(copy, container);
      assert.match(problems(copy).join('\n'), says);
    });
  }
});
