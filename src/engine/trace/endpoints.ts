import { readFileSync } from 'node:fs';
import { diagnoseLocalError } from '../../core/diagnosis.js';
import type { Reporter } from '../../core/states.js';
import { dgramModule } from '../builtins.js';
import { randomBits } from '../random.js';

/** Linux's default ephemeral range (net.ipv4.ip_local_port_range). */
const EPHEMERAL_FIRST = 32_768;
const EPHEMERAL_LAST = 60_999;

/** Local ports the kernel has sockets on, for TCP or UDP, both families (/proc/net/{tcp,tcp6,udp,udp6}). */
export function portsInUse(protocol: 'tcp' | 'udp'): Set<number> {
  const used = new Set<number>();
  for (const file of [`/proc/net/${protocol}`, `/proc/net/${protocol}6`]) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      const port = local?.split(':')[1];
      if (port) used.add(parseInt(port, 16));
    }
  }
  return used;
}

/**
 * A source port for the probes of one trace: random in the ephemeral range and not used by any socket now. The
 * probes are crafted on a raw socket, so the kernel has no socket for this port: a SYN-ACK that comes back is
 * answered with RST by the kernel itself (as `traceroute -T` relies on), and nothing stays half open.
 */
export function freeSourcePort(protocol: 'tcp' | 'udp'): number {
  const used = portsInUse(protocol);
  for (;;) {
    const port = EPHEMERAL_FIRST + (randomBits(16) % (EPHEMERAL_LAST - EPHEMERAL_FIRST + 1));
    if (!used.has(port)) return port;
  }
}

/**
 * The address the kernel sends from towards `address` (what `ip route get` names as `src`), found by connecting
 * a UDP socket, which sends nothing. Fails as a send would: no route gives ENETUNREACH.
 */
export async function sourceAddressFor(address: string, family: 4 | 6): Promise<{ source: string } | { reporter: Reporter }> {
  const socket = dgramModule().createSocket(family === 4 ? 'udp4' : 'udp6');
  return new Promise((resolve) => {
    socket.on('error', (error: NodeJS.ErrnoException) => resolve({ reporter: diagnoseLocalError(error.code ?? 'EUNKNOWN') }));
    socket.connect(9, address, (error?: NodeJS.ErrnoException) => {
      if (error) resolve({ reporter: diagnoseLocalError(error.code ?? 'EUNKNOWN') });
      else resolve({ source: socket.address().address });
      socket.close();
    });
  });
}
