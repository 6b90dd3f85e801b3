/**
 * Kubernetes' Pod Security Standards, baseline and restricted, as checks on a pod template: one function per control
 * of https://kubernetes.io/docs/concepts/security/pod-security-standards/, each returning what breaks it. The API
 * server's PodSecurity admission enforces the same rules on a namespace labelled
 * `pod-security.kubernetes.io/enforce: restricted`; this lets a test see a manifest break one without a cluster.
 */

/** The parts of a container's securityContext the standards look at. */
interface SecurityContext {
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  runAsNonRoot?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  procMount?: string;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type?: string };
  appArmorProfile?: { type?: string };
  seLinuxOptions?: { type?: string; user?: string; role?: string; level?: string };
  windowsOptions?: { hostProcess?: boolean };
}

export interface Container {
  name: string;
  securityContext?: SecurityContext;
  ports?: { name?: string; containerPort?: number; hostPort?: number }[];
}

export interface PodSpec {
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  securityContext?: SecurityContext & { sysctls?: { name: string; value: string }[]; supplementalGroups?: number[]; fsGroup?: number };
  containers: Container[];
  initContainers?: Container[];
  ephemeralContainers?: Container[];
  volumes?: ({ name: string } & Record<string, unknown>)[];
}

export interface PodTemplate {
  metadata?: { annotations?: Record<string, string> };
  spec: PodSpec;
}

/** A control of the standards: its name as the page titles it, its level, and what breaks it in a pod template. */
export interface Control {
  name: string;
  level: 'baseline' | 'restricted';
  violations: (pod: PodTemplate) => string[];
}

/** Capabilities baseline lets a container add (Docker's default set). */
const BASELINE_CAPABILITIES = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);

/** The "safe" sysctls (namespaced, isolated per pod): the only ones baseline allows, as of Kubernetes 1.29. */
export const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
]);

/** The volume sources restricted allows; everything else (hostPath, nfs, iscsi, …) is refused. */
const RESTRICTED_VOLUME_SOURCES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);

const SELINUX_TYPES = new Set(['container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t']);

/** Every container of the pod, with where it is (for the messages). */
function containersOf(pod: PodTemplate): { where: string; container: Container }[] {
  const kinds = ['containers', 'initContainers', 'ephemeralContainers'] as const;
  return kinds.flatMap((kind) => (pod.spec[kind] ?? []).map((container) => ({ where: `${kind}[${container.name}]`, container })));
}

/** The pod's securityContext and every container's, each with where it is. */
function contextsOf(pod: PodTemplate): { where: string; context: SecurityContext | undefined }[] {
  return [
    { where: 'spec.securityContext', context: pod.spec.securityContext },
    ...containersOf(pod).map(({ where, container }) => ({ where: `${where}.securityContext`, context: container.securityContext })),
  ];
}

export const CONTROLS: readonly Control[] = [
  {
    name: 'HostProcess',
    level: 'baseline',
    violations: (pod) => contextsOf(pod).flatMap(({ where, context }) => (context?.windowsOptions?.hostProcess === true ? [`${where}.windowsOptions.hostProcess is true`] : [])),
  },
  {
    name: 'Host Namespaces',
    level: 'baseline',
    violations: (pod) => (['hostNetwork', 'hostPID', 'hostIPC'] as const).filter((field) => pod.spec[field] === true).map((field) => `spec.${field} is true`),
  },
  {
    name: 'Privileged Containers',
    level: 'baseline',
    violations: (pod) => containersOf(pod).flatMap(({ where, container }) => (container.securityContext?.privileged === true ? [`${where} is privileged`] : [])),
  },
  {
    name: 'Capabilities (baseline)',
    level: 'baseline',
    violations: (pod) =>
      containersOf(pod).flatMap(({ where, container }) =>
        (container.securityContext?.capabilities?.add ?? []).filter((cap) => !BASELINE_CAPABILITIES.has(cap)).map((cap) => `${where} adds ${cap}`),
      ),
  },
  {
    name: 'HostPath Volumes',
    level: 'baseline',
    violations: (pod) => (pod.spec.volumes ?? []).filter((volume) => volume.hostPath !== undefined).map((volume) => `volume ${volume.name} is a hostPath`),
  },
  {
    name: 'Host Ports',
    level: 'baseline',
    violations: (pod) =>
      containersOf(pod).flatMap(({ where, container }) =>
        (container.ports ?? []).filter((port) => port.hostPort !== undefined && port.hostPort !== 0).map((port) => `${where} uses hostPort ${port.hostPort}`),
      ),
  },
  {
    name: 'AppArmor',
    level: 'baseline',
    violations: (pod) => [
      ...contextsOf(pod).flatMap(({ where, context }) => {
        const type = context?.appArmorProfile?.type;
        return type === undefined || type === 'RuntimeDefault' || type === 'Localhost' ? [] : [`${where}.appArmorProfile.type is ${type}`];
      }),
      ...Object.entries(pod.metadata?.annotations ?? {})
        .filter(([key]) => key.startsWith('container.apparmor.security.beta.kubernetes.io/'))
        .filter(([, value]) => value !== 'runtime/default' && !value.startsWith('localhost/'))
        .map(([key, value]) => `annotation ${key} is ${value}`),
    ],
  },
  {
    name: 'SELinux',
    level: 'baseline',
    violations: (pod) =>
      contextsOf(pod).flatMap(({ where, context }) => {
        const options = context?.seLinuxOptions;
        if (!options) return [];
        const problems: string[] = [];
        if (options.type !== undefined && !SELINUX_TYPES.has(options.type)) problems.push(`${where}.seLinuxOptions.type is ${options.type}`);
        if (options.user !== undefined) problems.push(`${where}.seLinuxOptions.user is set`);
        if (options.role !== undefined) problems.push(`${where}.seLinuxOptions.role is set`);
        return problems;
      }),
  },
  {
    name: '/proc Mount Type',
    level: 'baseline',
    violations: (pod) =>
      containersOf(pod).flatMap(({ where, container }) => {
        const mount = container.securityContext?.procMount;
        return mount === undefined || mount === 'Default' ? [] : [`${where}.securityContext.procMount is ${mount}`];
      }),
  },
  {
    name: 'Seccomp (baseline)',
    level: 'baseline',
    violations: (pod) => contextsOf(pod).flatMap(({ where, context }) => (context?.seccompProfile?.type === 'Unconfined' ? [`${where}.seccompProfile is Unconfined`] : [])),
  },
  {
    name: 'Sysctls',
    level: 'baseline',
    violations: (pod) => (pod.spec.securityContext?.sysctls ?? []).filter((sysctl) => !SAFE_SYSCTLS.has(sysctl.name)).map((sysctl) => `sysctl ${sysctl.name} is not a safe one`),
  },
  {
    name: 'Volume Types',
    level: 'restricted',
    violations: (pod) =>
      (pod.spec.volumes ?? []).flatMap((volume) => {
        const sources = Object.keys(volume).filter((key) => key !== 'name');
        return sources.filter((source) => !RESTRICTED_VOLUME_SOURCES.has(source)).map((source) => `volume ${volume.name} is a ${source}`);
      }),
  },
  {
    name: 'Privilege Escalation',
    level: 'restricted',
    violations: (pod) =>
      containersOf(pod).flatMap(({ where, container }) =>
        container.securityContext?.allowPrivilegeEscalation === false ? [] : [`${where}.securityContext.allowPrivilegeEscalation is not false`],
      ),
  },
  {
    name: 'Running as Non-root',
    level: 'restricted',
    violations: (pod) => {
      const podLevel = pod.spec.securityContext?.runAsNonRoot;
      return containersOf(pod).flatMap(({ where, container }) => {
        const own = container.securityContext?.runAsNonRoot;
        if (own === false) return [`${where}.securityContext.runAsNonRoot is false`];
        return own === true || podLevel === true ? [] : [`${where}: runAsNonRoot is true neither for the pod nor for it`];
      });
    },
  },
  {
    name: 'Running as Non-root user',
    level: 'restricted',
    violations: (pod) => contextsOf(pod).flatMap(({ where, context }) => (context?.runAsUser === 0 ? [`${where}.runAsUser is 0`] : [])),
  },
  {
    name: 'Seccomp (restricted)',
    level: 'restricted',
    violations: (pod) => {
      const allowed = (type: string | undefined): boolean => type === 'RuntimeDefault' || type === 'Localhost';
      const podType = pod.spec.securityContext?.seccompProfile?.type;
      return containersOf(pod).flatMap(({ where, container }) => {
        const own = container.securityContext?.seccompProfile?.type;
        if (own !== undefined) return allowed(own) ? [] : [`${where}.securityContext.seccompProfile is ${own}`];
        return allowed(podType) ? [] : [`${where}: no RuntimeDefault or Localhost seccomp profile, for the pod or for it`];
      });
    },
  },
  {
    name: 'Capabilities (restricted)',
    level: 'restricted',
    violations: (pod) =>
      containersOf(pod).flatMap(({ where, container }) => {
        const capabilities = container.securityContext?.capabilities;
        const problems: string[] = [];
        if (!(capabilities?.drop ?? []).includes('ALL')) problems.push(`${where} does not drop ALL capabilities`);
        for (const cap of capabilities?.add ?? []) if (cap !== 'NET_BIND_SERVICE') problems.push(`${where} adds ${cap}`);
        return problems;
      }),
  },
];

/** What breaks the standard at `level` (restricted includes baseline), each message prefixed with its control. */
export function podSecurityViolations(pod: PodTemplate, level: 'baseline' | 'restricted' = 'restricted'): string[] {
  return CONTROLS.filter((control) => level === 'restricted' || control.level === 'baseline').flatMap((control) =>
    control.violations(pod).map((message) => `${control.name}: ${message}`),
  );
}
