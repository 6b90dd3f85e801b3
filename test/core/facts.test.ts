import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diagnoseIcmpError, diagnoseLocalError } from '../../src/core/diagnosis.js';
import { compactHosts, diffSweeps } from '../../src/core/diff.js';
import type { FactHost } from '../../src/core/diff-model.js';
import { hostFact, readFact, saysNoNeighbour } from '../../src/core/facts.js';
import type { FactSource } from '../../src/core/facts.js';
import type { HostResult, PortResult } from '../../src/core/report.js';
import type { HostState, PortState, Reporter } from '../../src/core/states.js';

const SWEEPER = '198.18.0.1';
const ROUTER = '198.18.0.254';

/** What the engine records for each answer, made by the same functions the engine uses. */
const SAID = {
  /** The sweeper's own stack, once the ARP entry of an on-link address has failed (its own address sends it). */
  ownHostUnreachable: diagnoseIcmpError(4, 3, 1, SWEEPER),
  /** The last router, once its ARP for the target failed. */
  routerHostUnreachable: diagnoseIcmpError(4, 3, 1, ROUTER),
  /** IPv6: address unreachable (neighbour discovery failed), from the sweeper's own address. */
  ownAddressUnreachable6: diagnoseIcmpError(6, 1, 3, '2001:db8:0:1::1'),
  /** A TCP connect whose neighbour lookup failed. */
  localNoNeighbour: diagnoseLocalError('EHOSTUNREACH'),
  /** A route went away: network unreachable. */
  routerNetUnreachable: diagnoseIcmpError(4, 3, 0, ROUTER),
  noRouteV6: diagnoseIcmpError(6, 1, 0, '2001:db8:0:1::fe'),
  localNoRoute: diagnoseLocalError('ENETUNREACH'),
  prohibited: diagnoseIcmpError(4, 3, 13, ROUTER),
  prohibited6: diagnoseIcmpError(6, 1, 1, '2001:db8:0:1::fe'),
  portUnreachable: diagnoseIcmpError(4, 3, 3, '198.18.0.31'),
} satisfies Record<string, Reporter>;

function port(number: number, state: PortState, reporter?: Reporter, unanswered = false): PortResult {
  return { port: number, state, attempts: 1, ...(reporter ? { reporter } : {}), ...(unanswered ? { unanswered: true as const } : {}) };
}

function host(state: HostState, extra: Partial<FactSource> = {}): FactSource {
  return { state, ports: [], ...extra };
}

function result(ip: string, state: HostState, extra: Partial<HostResult> = {}): HostResult {
  return { ip, state, icmp: { sent: 1, received: state === 'alive' ? 1 : 0, lossPct: state === 'alive' ? 0 : 100 }, ports: [], ...extra };
}

describe('hostFact', () => {
  it('reads every answer that only says "nothing answered the neighbour lookup" as silent', () => {
    const silent = hostFact(host('silent'));
    assert.equal(silent, 'silent');
    const same: [string, FactSource][] = [
      ['own stack: host unreachable from its own address', host('unreachable', { reporter: SAID.ownHostUnreachable })],
      ['last router: host unreachable after its ARP failed', host('unreachable', { reporter: SAID.routerHostUnreachable })],
      ['IPv6: address unreachable', host('unreachable', { reporter: SAID.ownAddressUnreachable6 })],
      ['own stack: EHOSTUNREACH on a TCP connect', host('unreachable', { reporter: SAID.localNoNeighbour })],
      [
        'with the ports that ended the same way (EHOSTUNREACH, or no answer)',
        host('unreachable', {
          reporter: SAID.localNoNeighbour,
          ports: [port(22, 'unreachable', SAID.localNoNeighbour), port(5432, 'filtered')],
        }),
      ],
      ['silent, its ports filtered', host('silent', { ports: [port(22, 'filtered'), port(5432, 'filtered')] })],
      ['nothing answered ARP/ND, probes timed out', host('silent', { link: 'no_answer' })],
      ['nothing answered ARP/ND, whatever the probes said', host('unreachable', { link: 'no_answer', reporter: SAID.localNoRoute })],
      ['nothing answered ARP/ND, even a prohibited', host('prohibited', { link: 'no_answer', reporter: SAID.prohibited })],
    ];
    for (const [what, source] of same) assert.equal(hostFact(source), silent, what);
  });

  it('keeps every real fact apart: answers, a route gone, a firewall, each port state', () => {
    const facts: [string, FactSource][] = [
      ['silent', host('silent')],
      ['alive', host('alive')],
      ['TCP only', host('alive_tcp_only', { ports: [port(5432, 'open')] })],
      ['network unreachable from a router (a route went away)', host('unreachable', { reporter: SAID.routerNetUnreachable })],
      ['prohibited by a firewall', host('prohibited', { reporter: SAID.prohibited })],
      ['alive, 5432 open', host('alive', { ports: [port(5432, 'open')] })],
      ['alive, 5432 closed', host('alive', { ports: [port(5432, 'closed')] })],
      ['alive, 5432 filtered', host('alive', { ports: [port(5432, 'filtered')] })],
      ['alive, 5432 prohibited', host('alive', { ports: [port(5432, 'prohibited', SAID.prohibited)] })],
      ['alive, 5432 network unreachable', host('alive', { ports: [port(5432, 'unreachable', SAID.routerNetUnreachable)] })],
    ];
    const seen = new Map<string, string>();
    for (const [what, source] of facts) {
      const fact = hostFact(source);
      assert.equal(seen.get(fact), undefined, `${what} reads as ${seen.get(fact) ?? ''}: ${fact}`);
      seen.set(fact, what);
    }
    // Unreachable for a reason other than a failed neighbour lookup is unreachable, whichever family and sender.
    for (const reporter of [SAID.routerNetUnreachable, SAID.noRouteV6, SAID.localNoRoute]) {
      assert.equal(hostFact(host('unreachable', { reporter })), 'unreachable', reporter.reason);
    }
    for (const reporter of [SAID.prohibited, SAID.prohibited6, SAID.portUnreachable]) {
      assert.equal(hostFact(host('prohibited', { reporter })), 'prohibited', reporter.reason);
    }
    // An answering host is alive whatever the neighbour table said of it.
    assert.equal(hostFact(host('alive', { link: 'no_answer' })), 'alive');
  });

  it('writes each probed port in port order, a port unreachable only for lack of a neighbour as filtered', () => {
    assert.equal(hostFact(host('alive', { ports: [port(5432, 'open'), port(22, 'closed')] })), 'alive 22/closed 5432/open');
    assert.equal(hostFact(host('alive', { ports: [port(22, 'unreachable', SAID.localNoNeighbour)] })), 'alive 22/filtered');
    assert.equal(hostFact(host('alive', { ports: [port(22, 'unreachable', SAID.routerNetUnreachable)] })), 'alive 22/unreachable');
    // A port whose probe the sweep stopped before it ended has no verdict: it is left out.
    assert.equal(hostFact(host('alive', { ports: [port(22, 'filtered', undefined, true), port(80, 'open')] })), 'alive 80/open');
  });

  it('reads a fact back, and the signatures and history states of before the same way', () => {
    const fact = readFact('alive_tcp_only 22/closed 5432/open');
    assert.equal(fact.state, 'alive_tcp_only');
    assert.deepEqual([...fact.ports], [[22, 'closed'], [5432, 'open']]);
    assert.deepEqual(readFact('prohibited'), { state: 'prohibited', ports: new Map(), echo: true });
    assert.deepEqual(readFact('nonsense 22/open x/y 80/bogus'), { state: 'silent', ports: new Map([[22, 'open']]), echo: true });
  });

  it('tells the neighbour-lookup answers by their codes, not by their words', () => {
    assert.equal(saysNoNeighbour(undefined), false);
    assert.equal(saysNoNeighbour(diagnoseIcmpError(4, 3, 1, '10.0.0.1')), true);
    assert.equal(saysNoNeighbour(diagnoseIcmpError(6, 1, 3, 'fe80::1')), true);
    assert.equal(saysNoNeighbour(diagnoseIcmpError(4, 3, 0, '10.0.0.1')), false);
    assert.equal(saysNoNeighbour(diagnoseIcmpError(4, 3, 3, '10.0.0.1')), false, 'port unreachable is a firewall');
    assert.equal(saysNoNeighbour(diagnoseIcmpError(6, 1, 0, 'fe80::1')), false);
    assert.equal(saysNoNeighbour(diagnoseIcmpError(4, 11, 0, '10.0.0.1')), false, 'TTL exceeded');
    assert.equal(saysNoNeighbour(diagnoseLocalError('ENETUNREACH')), false);
    assert.equal(saysNoNeighbour(diagnoseLocalError('ENOBUFS')), false);
  });
});

describe('diffSweeps on facts', () => {
  it('counts no change between the two readings of an empty address, on-link or behind a router', () => {
    const before: FactHost[] = compactHosts([
      result('198.18.0.77', 'silent'),
      result('198.18.0.78', 'silent', { ports: [port(5432, 'filtered')] }),
      result('198.18.1.77', 'silent'),
      result('198.18.1.78', 'unreachable', { reporter: SAID.routerHostUnreachable }),
    ]);
    const after: FactHost[] = compactHosts([
      result('198.18.0.77', 'unreachable', { reporter: SAID.ownHostUnreachable }),
      result('198.18.0.78', 'unreachable', { reporter: SAID.localNoNeighbour, ports: [port(5432, 'unreachable', SAID.localNoNeighbour)] }),
      result('198.18.1.77', 'unreachable', { reporter: SAID.routerHostUnreachable }),
      result('198.18.1.78', 'silent'),
    ]);
    assert.deepEqual(diffSweeps(before, after), { appeared: [], wentSilent: [], changed: [], unchanged: 4 });
  });

  it('counts every real change: answers lost or found, a route gone, a firewall lifted, a port', () => {
    const before = compactHosts([
      result('198.18.0.10', 'alive'),
      result('198.18.0.11', 'alive', { ports: [port(5432, 'open')] }),
      result('198.18.0.12', 'silent'),
      result('198.18.0.13', 'prohibited', { reporter: SAID.prohibited }),
      result('198.18.0.14', 'alive_tcp_only', { ports: [port(5432, 'open')] }),
      result('198.18.0.15', 'alive', { ports: [port(22, 'closed'), port(5432, 'open')] }),
    ]);
    const after = compactHosts([
      result('198.18.0.10', 'silent'),
      result('198.18.0.11', 'alive', { ports: [port(5432, 'closed')] }),
      result('198.18.0.12', 'unreachable', { reporter: SAID.routerNetUnreachable }),
      result('198.18.0.13', 'alive'),
      result('198.18.0.14', 'alive', { ports: [port(5432, 'filtered')] }),
      result('198.18.0.15', 'alive_tcp_only', { ports: [port(22, 'open'), port(5432, 'open')] }),
    ]);
    assert.deepEqual(diffSweeps(before, after), {
      appeared: [['198.18.0.13', 'alive']],
      wentSilent: [['198.18.0.10', 'silent']],
      changed: [
        { ip: '198.18.0.11', from: 'alive', to: 'alive', ports: [{ port: 5432, from: 'open', to: 'closed' }] },
        { ip: '198.18.0.12', from: 'silent', to: 'unreachable' },
        { ip: '198.18.0.14', from: 'alive_tcp_only', to: 'alive', ports: [{ port: 5432, from: 'open', to: 'filtered' }] },
        { ip: '198.18.0.15', from: 'alive', to: 'alive_tcp_only', ports: [{ port: 22, from: 'closed', to: 'open' }] },
      ],
      unchanged: 0,
    });
  });

  it('compares only the ports both sweeps probed, and history records of before by state alone', () => {
    const before: FactHost[] = [
      ['10.0.0.1', 'alive 22/open'],
      // A record written before facts: the state alone.
      ['10.0.0.2', 'alive'],
      ['10.0.0.3', 'alive_tcp_only'],
    ];
    const after: FactHost[] = [
      ['10.0.0.1', 'alive 5432/closed'],
      ['10.0.0.2', 'alive 5432/closed'],
      ['10.0.0.3', 'alive_tcp_only 5432/open'],
    ];
    assert.deepEqual(diffSweeps(before, after), { appeared: [], wentSilent: [], changed: [], unchanged: 3 });
  });

  it('leaves out a host the sweep stopped probing before it answered, and keeps one that had answered', () => {
    const stopped = compactHosts([
      result('10.0.0.1', 'silent', { unfinished: true, ports: [port(22, 'filtered', undefined, true)] }),
      result('10.0.0.2', 'alive', { unfinished: true, ports: [port(22, 'filtered', undefined, true)] }),
    ]);
    assert.deepEqual(stopped, [['10.0.0.2', 'alive']]);
    const diff = diffSweeps([['10.0.0.1', 'alive'], ['10.0.0.2', 'alive 22/open']], stopped);
    assert.deepEqual(diff, { appeared: [], wentSilent: [], changed: [], unchanged: 1 });
  });
});
