/**
 * What the engine tells whoever counts its work (an agent's metrics): each probe that leaves, and each that stops
 * being outstanding. The engine knows nothing of Prometheus; a meter is optional and costs one call per probe.
 */
export type ProbeKind = 'icmp' | 'tcp';

export interface ProbeMeter {
  /** One probe left: an echo request, or a TCP connection attempt. */
  sent(kind: ProbeKind): void;
  /** `count` probes are no longer outstanding: answered, timed out, or dropped because the sweep stopped. */
  settled(count: number): void;
}
