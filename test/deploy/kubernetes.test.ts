/**
 * deploy/kubernetes/: every manifest valid against the Kubernetes API's schemas, offline (types, required fields,
 * unknown fields), every pod template within the restricted Pod Security Standard control by control, and what the
 * services need of them (probes on the metrics port, secrets by reference, the ping socket's group, the network
 * policy's lists). Each check is shown to fail on a copy of a manifest edited to break it.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { schemaErrors, unknownFieldErrors, type Manifest } from '../support/kubernetes-schema.js';
import { CONTROLS, podSecurityViolations, type PodTemplate } from '../support/pod-security.js';

const DIR = join(import.meta.dirname, '..', '..', 'deploy', 'kubernetes');

interface Loaded {
  file: string;
  manifest: Manifest;
}

/** Every document of every YAML file in deploy/kubernetes/ but the kustomization, with its file. */
function loadManifests(): Loaded[] {
  const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
  return files.flatMap((file) =>
    parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((doc) => {
      assert.deepEqual(doc.errors, [], `${file}: YAML errors`);
      return { file, manifest: doc.toJS() as Manifest };
    }),
  );
}

const loaded = loadManifests();
const label = ({ file, manifest }: Loaded): string => `${file}: ${manifest.kind} ${manifest.metadata.name}`;

function find(kind: string, name: string): Manifest {
  const found = loaded.find((l) => l.manifest.kind === kind && l.manifest.metadata.name === name);
  assert.ok(found, `no ${kind} ${name} in deploy/kubernetes/`);
  return found.manifest;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}

interface WorkloadContainer {
  name: string;
  image: string;
  args?: string[];
  env?: EnvVar[];
  ports?: { name?: string; containerPort: number }[];
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  securityContext?: { readOnlyRootFilesystem?: boolean; runAsUser?: number; runAsGroup?: number };
}

interface Deployment extends Manifest {
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: PodTemplate & {
      metadata: { labels: Record<string, string> };
      spec: PodTemplate['spec'] & { containers: WorkloadContainer[]; terminationGracePeriodSeconds?: number; automountServiceAccountToken?: boolean };
    };
  };
}

const workloads = loaded.filter((l) => l.manifest.kind === 'Deployment') as (Loaded & { manifest: Deployment })[];
const agent = (): Deployment => structuredClone(find('Deployment', 'zensweep-agent') as Deployment);

/** The first container's securityContext, to edit a copy. */
function containerContext(pod: Deployment['spec']['template']): Record<string, unknown> {
  const context = pod.spec.containers[0]?.securityContext;
  assert.ok(context);
  return context as unknown as Record<string, unknown>;
}

function envOf(container: WorkloadContainer, name: string): EnvVar | undefined {
  return container.env?.find((e) => e.name === name);
}

describe('deploy/kubernetes: the manifests against the Kubernetes API schemas, offline', () => {
  it('holds the namespace, both workloads, secrets, network policies and disruption budgets', () => {
    const kinds = loaded.map((l) => `${l.manifest.kind}/${l.manifest.metadata.name}`).sort();
    for (const expected of [
      'Namespace/zensweep',
      'Deployment/zensweep-agent',
      'Deployment/zensweep-bot',
      'Secret/zensweep-redis',
      'Secret/zensweep-slack',
      'NetworkPolicy/zensweep-agent',
      'NetworkPolicy/zensweep-bot',
      'NetworkPolicy/default-deny',
      'PodDisruptionBudget/zensweep-agent',
      'PodDisruptionBudget/zensweep-bot',
    ]) {
      assert.ok(kinds.includes(expected), `${expected} missing; found ${kinds.join(', ')}`);
    }
  });

  it('validates every manifest against its kind’s JSON schema (types, required fields, apiVersion and kind)', async () => {
    assert.ok(loaded.length >= 10, `${loaded.length} manifests`);
    for (const l of loaded) assert.deepEqual(await schemaErrors(l.manifest), [], label(l));
  });

  it('finds no field the API does not know in any manifest (strict field validation, as kubectl apply does)', () => {
    assert.deepEqual(unknownFieldErrors(loaded.map((l) => ({ label: label(l), manifest: l.manifest }))), []);
  });

  it('refuses copies edited to be wrong: a user id as text, a container without a name, a kind that does not exist, a misspelt field', async () => {
    const textUser = agent();
    (textUser.spec.template.spec.securityContext as Record<string, unknown>).runAsUser = 'zensweep';
    assert.match((await schemaErrors(textUser)).join('\n'), /securityContext\/runAsUser type \{"type":"integer"\}/);

    const noName = agent();
    delete (noName.spec.template.spec.containers[0] as Partial<WorkloadContainer>).name;
    assert.match((await schemaErrors(noName)).join('\n'), /containers\/0 required \{"missingProperty":"name"\}/);

    const badKind = { ...agent(), kind: 'Deploymnet' };
    assert.match((await schemaErrors(badKind)).join('\n'), /no schema for apps\/v1 Deploymnet/);

    const typo = agent();
    const context = typo.spec.template.spec.containers[0]?.securityContext as Record<string, unknown>;
    context.allowPrivilegeEscalaton = context.allowPrivilegeEscalation;
    delete context.allowPrivilegeEscalation;
    // The JSON schema lets an unknown field pass; the API server does not.
    assert.deepEqual(await schemaErrors(typo), []);
    assert.match(unknownFieldErrors([{ label: 'typo', manifest: typo }]).join('\n'), /typo: .*'"?allowPrivilegeEscalaton"?' does not exist/);
  });

  it('lists in kustomization.yaml every manifest but the example secrets', () => {
    const kustomization = parseAllDocuments(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8'))[0]?.toJS() as { resources: string[]; namespace: string };
    const files = [...new Set(loaded.map((l) => l.file))];
    assert.deepEqual([...kustomization.resources].sort(), files.filter((f) => !f.endsWith('.example.yaml')).sort());
    assert.equal(kustomization.namespace, 'zensweep');
    for (const l of loaded) if (l.manifest.kind !== 'Namespace') assert.equal(l.manifest.metadata.namespace, 'zensweep', label(l));
  });
});

describe('deploy/kubernetes: the restricted Pod Security Standard', () => {
  it('labels the namespace to enforce restricted', () => {
    const labels = find('Namespace', 'zensweep').metadata.labels ?? {};
    assert.equal(labels['pod-security.kubernetes.io/enforce'], 'restricted');
  });

  it('keeps every pod template within restricted (and so baseline), control by control', () => {
    assert.equal(workloads.length, 2);
    for (const w of workloads) assert.deepEqual(podSecurityViolations(w.manifest.spec.template), [], label(w));
  });

  /** One edit per control of the standard, each of which breaks that control and no other. */
  const breaks: Record<string, (pod: Deployment['spec']['template']) => void> = {
    HostProcess: (pod) => ((pod.spec.securityContext ??= {}).windowsOptions = { hostProcess: true }),
    'Host Namespaces': (pod) => (pod.spec.hostNetwork = true),
    'Privileged Containers': (pod) => (containerContext(pod).privileged = true),
    'Capabilities (baseline)': (pod) => (((containerContext(pod).capabilities as { add?: string[] }).add = ['NET_RAW'])),
    'HostPath Volumes': (pod) => (pod.spec.volumes ??= []).push({ name: 'host', hostPath: { path: '/' } }),
    'Host Ports': (pod) => (pod.spec.containers[0]?.ports ?? []).forEach((p) => Object.assign(p, { hostPort: 9464 })),
    AppArmor: (pod) => (pod.metadata.annotations = { 'container.apparmor.security.beta.kubernetes.io/agent': 'unconfined' }),
    SELinux: (pod) => ((pod.spec.securityContext ??= {}).seLinuxOptions = { type: 'spc_t' }),
    '/proc Mount Type': (pod) => (containerContext(pod).procMount = 'Unmasked'),
    'Seccomp (baseline)': (pod) => (containerContext(pod).seccompProfile = { type: 'Unconfined' }),
    Sysctls: (pod) => (pod.spec.securityContext?.sysctls ?? []).push({ name: 'net.ipv4.ip_forward', value: '1' }),
    'Volume Types': (pod) => (pod.spec.volumes ??= []).push({ name: 'share', nfs: { server: 'nfs.example', path: '/' } }),
    'Privilege Escalation': (pod) => delete containerContext(pod).allowPrivilegeEscalation,
    'Running as Non-root': (pod) => {
      delete pod.spec.securityContext?.runAsNonRoot;
      delete containerContext(pod).runAsNonRoot;
    },
    'Running as Non-root user': (pod) => ((pod.spec.securityContext ??= {}).runAsUser = 0),
    'Seccomp (restricted)': (pod) => {
      delete pod.spec.securityContext?.seccompProfile;
      delete containerContext(pod).seccompProfile;
    },
    'Capabilities (restricted)': (pod) => (((containerContext(pod).capabilities as { drop?: string[] }).drop = ['NET_RAW'])),
  };

  it('has an edit for every control the checks know', () => {
    assert.deepEqual(Object.keys(breaks).sort(), CONTROLS.map((c) => c.name).sort());
  });

  for (const control of CONTROLS) {
    it(`fails a copy of the agent edited to break "${control.name}" (${control.level}), on that control alone`, () => {
      const copy = agent();
      const edit = breaks[control.name];
      assert.ok(edit, `no edit for ${control.name}`);
      edit(copy.spec.template);
      const controlsBroken = (level: 'baseline' | 'restricted'): string[] => [
        ...new Set(podSecurityViolations(copy.spec.template, level).map((v) => v.split(':')[0] ?? '')),
      ];
      assert.ok(controlsBroken('restricted').includes(control.name), `${control.name}: the edited copy passed`);
      // Within its own level it breaks that control alone. (Restricted tightens some of baseline's: a hostPath
      // volume is also not one of restricted's volume types, NET_RAW also not NET_BIND_SERVICE.)
      if (control.level === 'baseline') {
        assert.deepEqual(controlsBroken('baseline'), [control.name]);
      } else {
        assert.deepEqual(controlsBroken('restricted'), [control.name]);
        assert.deepEqual(controlsBroken('baseline'), [], 'a restricted control that baseline does not have');
      }
    });
  }
});

describe('deploy/kubernetes: what ZenSweep needs of them', () => {
  it('runs both as a non-root user and group, on a read-only root file system, with no service account token', () => {
    for (const w of workloads) {
      const spec = w.manifest.spec.template.spec;
      assert.ok((spec.securityContext?.runAsUser ?? 0) > 0 && (spec.securityContext?.runAsGroup ?? 0) > 0, label(w));
      assert.equal(spec.automountServiceAccountToken, false, label(w));
      for (const container of spec.containers) assert.equal(container.securityContext?.readOnlyRootFilesystem, true, `${label(w)} ${container.name}`);
    }
  });

  it('lets the agent open ping sockets with no capability: ping_group_range is exactly its group', () => {
    const spec = agent().spec.template.spec;
    const gid = spec.securityContext?.runAsGroup;
    assert.ok(gid !== undefined && gid > 0);
    const sysctl = spec.securityContext?.sysctls?.find((s) => s.name === 'net.ipv4.ping_group_range');
    assert.equal(sysctl?.value, `${gid} ${gid}`);
    const container = spec.containers[0];
    assert.ok(container);
    assert.equal(container.securityContext?.runAsGroup ?? gid, gid);
    assert.deepEqual(container.args, ['agent']);
    assert.equal(envOf(container, 'ZENSWEEP_ICMP')?.value, 'auto');
  });

  it('probes /healthz for liveness and /readyz for readiness on the port METRICS_PORT names', () => {
    for (const w of workloads) {
      for (const container of w.manifest.spec.template.spec.containers) {
        const where = `${label(w)} ${container.name}`;
        const port = Number(envOf(container, 'METRICS_PORT')?.value);
        const named = container.ports?.find((p) => p.containerPort === port);
        assert.ok(named, `${where}: no container port ${port}`);
        for (const [probe, path] of [[container.livenessProbe, '/healthz'], [container.readinessProbe, '/readyz']] as const) {
          assert.equal(probe?.httpGet?.path, path, where);
          assert.ok(probe.httpGet.port === port || probe.httpGet.port === named.name, `${where}: ${path} on ${probe.httpGet.port}`);
        }
      }
      // Enough for a stop that waits on nothing (the agent's 13 s, the bot's 8 s).
      assert.ok((w.manifest.spec.template.spec.terminationGracePeriodSeconds ?? 30) >= 15, label(w));
    }
  });

  it('takes the Slack tokens and the Redis URL from Secrets only, which the example file defines with placeholders', () => {
    const secrets = loaded.filter((l) => l.manifest.kind === 'Secret');
    assert.ok(secrets.every((s) => s.file === 'secrets.example.yaml'), 'a Secret outside the example file');
    const keys = new Set(secrets.flatMap((s) => Object.keys((s.manifest.stringData ?? {}) as Record<string, string>).map((k) => `${s.manifest.metadata.name}/${k}`)));
    for (const s of secrets) {
      for (const value of Object.values((s.manifest.stringData ?? {}) as Record<string, string>)) assert.match(value, /REPLACE/, `${label(s)}: ${value} is not a placeholder`);
    }
    const needs: Record<string, string[]> = { 'zensweep-agent': ['REDIS_URL'], 'zensweep-bot': ['REDIS_URL', 'SLACK_BOT_TOKEN', 'SLACK_APP_TOKEN'] };
    for (const w of workloads) {
      for (const container of w.manifest.spec.template.spec.containers) {
        for (const name of needs[w.manifest.metadata.name] ?? []) {
          const ref = envOf(container, name)?.valueFrom?.secretKeyRef;
          assert.ok(ref, `${label(w)}: ${name} not from a Secret`);
          assert.ok(keys.has(`${ref.name}/${ref.key}`), `${label(w)}: ${name} names ${ref.name}/${ref.key}, which the example does not define`);
        }
        for (const env of container.env ?? []) {
          assert.doesNotMatch(env.value ?? '', /xox[a-z]-|xapp-|:\/\/[^/]*:[^@]*@/, `${label(w)}: ${env.name} holds a secret inline`);
        }
      }
    }
  });

  it('selects each Deployment’s pods with its own selector and a disruption budget', () => {
    const budgets = loaded.filter((l) => l.manifest.kind === 'PodDisruptionBudget').map((l) => l.manifest as Manifest & { spec: { selector: { matchLabels: Record<string, string> } } });
    for (const w of workloads) {
      const labels = w.manifest.spec.template.metadata.labels;
      const selects = (selector: Record<string, string>): boolean => Object.entries(selector).every(([k, v]) => labels[k] === v);
      assert.ok(selects(w.manifest.spec.selector.matchLabels), label(w));
      assert.equal(budgets.filter((b) => selects(b.spec.selector.matchLabels)).length, 1, `${label(w)}: one disruption budget`);
      assert.ok((w.manifest.spec.replicas ?? 1) >= 2, `${label(w)}: a budget of 1 needs 2 replicas to drain a node`);
    }
  });

  it('lets the agent reach DNS, Redis and the networks of ZENSWEEP_CIDRS only, behind a default deny', () => {
    interface Peer {
      ipBlock?: { cidr: string; except?: string[] };
      namespaceSelector?: unknown;
      podSelector?: unknown;
    }
    interface Rule {
      to?: Peer[];
      ports?: { protocol?: string; port?: number }[];
    }
    const deny = find('NetworkPolicy', 'default-deny') as Manifest & { spec: { podSelector: object; policyTypes: string[]; ingress?: unknown; egress?: unknown } };
    assert.deepEqual(deny.spec.podSelector, {});
    assert.deepEqual([...deny.spec.policyTypes].sort(), ['Egress', 'Ingress']);
    assert.equal(deny.spec.ingress ?? deny.spec.egress, undefined);

    const policy = find('NetworkPolicy', 'zensweep-agent') as Manifest & { spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; egress: Rule[] } };
    assert.deepEqual(policy.spec.podSelector.matchLabels, agent().spec.selector.matchLabels);
    assert.ok(policy.spec.policyTypes.includes('Egress'));
    const [dns, redis, ...probed] = policy.spec.egress;
    assert.deepEqual(dns?.ports?.map((p) => `${p.protocol}/${p.port}`).sort(), ['TCP/53', 'UDP/53']);
    assert.ok(redis?.to?.every((peer) => peer.ipBlock !== undefined) && redis.ports?.every((p) => p.protocol === 'TCP'), 'Redis: an address and TCP ports');
    // Every other rule is the list of probed networks: exactly ZENSWEEP_CIDRS, every protocol (ICMP has no port).
    const cidrs = (envOf(agent().spec.template.spec.containers[0] as WorkloadContainer, 'ZENSWEEP_CIDRS')?.value ?? '').split(',');
    assert.deepEqual(probed.flatMap((rule) => (rule.to ?? []).map((peer) => peer.ipBlock?.cidr)).sort(), [...cidrs].sort());
    assert.ok(probed.every((rule) => rule.ports === undefined), 'the probed networks: every protocol');
    const text = readFileSync(join(DIR, 'network-policy.yaml'), 'utf8');
    assert.match(text, /EDIT: PROBED NETWORKS/);
    assert.match(text, /EDIT: REDIS/);
  });
});
