/**
 * One TCP connect by ErrqueueTcpProber, for lab tests that run it unprivileged inside the sweeper namespace:
 *
 *   node --import tsx test/support/errqueue-probe.ts ADDRESS PORT TIMEOUT_MS [TTL]
 *
 * Prints `{"uid": …, "outcome": {…}}` (the TcpOutcome) and exits 0.
 */
import { ErrqueueTcpProber } from '../../src/engine/tcp-errqueue.js';

const [address = '', port = '', timeoutMs = '', ttl] = process.argv.slice(2);
const prober = new ErrqueueTcpProber();
prober.probe(
  address,
  Number(port),
  Number(timeoutMs),
  (outcome) => {
    process.stdout.write(`${JSON.stringify({ uid: process.getuid?.(), outcome })}\n`);
    prober.close();
  },
  ttl === undefined ? {} : { ttl: Number(ttl) },
);
