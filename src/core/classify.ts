import type { PortResult } from './report.js';
import type { HostState, Reporter } from './states.js';

/**
 * Decides a host's state from everything its probes saw. An echo reply wins; then any TCP answer (open, or refused:
 * an RST proves the host is there); then a firewall's "prohibited"; then "unreachable"; else silent.
 */
export function classifyHost(
  echoReplies: number,
  echoError: Reporter | undefined,
  ports: readonly PortResult[],
): { state: HostState; reporter?: Reporter } {
  if (echoReplies > 0) return { state: 'alive' };
  if (ports.some((p) => p.state === 'open' || p.state === 'closed')) return { state: 'alive_tcp_only' };
  const reporters: Reporter[] = [];
  if (echoError) reporters.push(echoError);
  for (const p of ports) if (p.reporter) reporters.push(p.reporter);
  const prohibited = reporters.find((r) => r.verdict === 'prohibited');
  if (prohibited) return { state: 'prohibited', reporter: prohibited };
  const unreachable = reporters.find((r) => r.verdict === 'unreachable');
  if (unreachable) return { state: 'unreachable', reporter: unreachable };
  return { state: 'silent' };
}
