import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { diagnoseLocalError } from '../../src/core/diagnosis.js';
import type { Reporter } from '../../src/core/states.js';
import type { TcpOutcome } from '../../src/engine/probers.js';
import { NodeTcpProber } from '../../src/engine/tcp.js';
import { FakeSockets, nextStep, spin } from '../support/fake-socket.js';
import type { FakeSocket } from '../support/fake-socket.js';
import { loopbackPorts, type LoopbackPorts } from '../support/loopback-ports.js';
import { quietFor, until } from '../support/wait.js';

/** node:net sends the SYN on the next tick: no ICMP error can quote it before. */
const sent = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** One turn of the loop for timers already due (and whatever else is ready). */
const turn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1));

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

const ADDRESS = '198.18.9.9';
const PORT = 5432;
const ROUTER: Reporter = { verdict: 'unreachable', address: '198.18.0.254', icmpType: 3, icmpCode: 1, reason: 'host unreachable' };

type AttemptEvent = 'icmp' | 'refused' | 'unreachable' | 'connect' | 'timer';

const EXPECTED: Record<AttemptEvent, (outcome: TcpOutcome | undefined) => void> = {
  icmp: (o) => assert.deepEqual(o, { kind: 'error', reporter: ROUTER }),
  refused: (o) => assert.equal(o?.kind, 'closed'),
  unreachable: (o) => assert.deepEqual(o, { kind: 'error', reporter: diagnoseLocalError('EHOSTUNREACH') }),
  connect: (o) => assert.equal(o?.kind, 'open'),
  timer: (o) => assert.deepEqual(o, { kind: 'timeout' }),
};

describe('NodeTcpProber', () => {
  it('ends an attempt exactly once, by the first of ICMP error, error, connect and timer, in every order, on a busy loop', async () => {
    const orders = permutations<AttemptEvent>(['icmp', 'refused', 'unreachable', 'connect', 'timer']);
    assert.equal(orders.length, 120);
    for (const order of orders) {
      const sockets = new FakeSockets();
      const prober = new NodeTcpProber(sockets.open);
      const outcomes: { outcome: TcpOutcome; at: number }[] = [];
      prober.connect(ADDRESS, PORT, 2, (outcome) => outcomes.push({ outcome, at: nextStep() }));
      const socket = sockets.last;
      await sent();
      // The attempt's timer falls due while the loop is busy: every event below races with it.
      spin(5);
      for (const event of order) {
        if (event === 'timer') await turn();
        else if (event === 'icmp') prober.failFromIcmp(socket.flow, ROUTER);
        else if (event === 'refused') socket.refuse();
        else if (event === 'unreachable') socket.unreachable();
        else socket.emit('connect');
      }
      await turn();
      const what = order.join(' → ');
      assert.equal(outcomes.length, 1, `${what}: ${outcomes.length} outcomes`);
      EXPECTED[order[0] as AttemptEvent](outcomes[0]?.outcome);
      assert.ok(socket.destroyedAt > 0, `${what}: socket not destroyed`);
      assert.ok(socket.destroyedAt < (outcomes[0]?.at ?? 0), `${what}: outcome delivered before the socket was destroyed`);
      assert.equal(socket.reset, order[0] === 'connect', `${what}: only a connected socket is reset`);
      assert.equal(prober.inFlight, 0, `${what}: attempt still held`);
    }
  });

  it('lets an ICMP error quoting an earlier attempt end nothing, not the retry that done started re-entrantly', async () => {
    const sockets = new FakeSockets();
    const prober = new NodeTcpProber(sockets.open);
    const outcomes: TcpOutcome[][] = [[], []];
    // As the scheduler does: the first attempt's timeout starts the retry from inside its own outcome.
    prober.connect(ADDRESS, PORT, 1, (outcome) => {
      outcomes[0]?.push(outcome);
      prober.connect(ADDRESS, PORT, 60_000, (retried) => outcomes[1]?.push(retried));
    });
    const first = sockets.last;
    spin(3);
    await turn();
    assert.deepEqual(outcomes[0], [{ kind: 'timeout' }]);
    const second = sockets.last;
    assert.notEqual(second, first);
    await sent();
    assert.equal(prober.inFlight, 1);

    // The router's answer to the first SYN arrives after the retry started.
    assert.equal(prober.failFromIcmp(first.flow, ROUTER), false);
    first.unreachable();
    assert.equal(prober.inFlight, 1, 'the retry is still in flight');
    assert.deepEqual(outcomes[1], []);

    assert.equal(prober.failFromIcmp(second.flow, ROUTER), true);
    second.unreachable();
    assert.deepEqual(outcomes[1], [{ kind: 'error', reporter: ROUTER }]);
    assert.ok(second.destroyedAt > 0);
    assert.equal(prober.inFlight, 0);
    prober.close();
  });

  it('ends with an ICMP error only the attempt whose own flow it quotes: source address and port, destination and port', async () => {
    const sockets = new FakeSockets('198.18.0.1');
    const prober = new NodeTcpProber(sockets.open);
    const outcomes: TcpOutcome[] = [];
    prober.connect(ADDRESS, PORT, 60_000, (outcome) => outcomes.push(outcome));
    const socket = sockets.last;
    assert.equal(prober.failFromIcmp(socket.flow, ROUTER), false, 'before its SYN is sent, no error can quote it');
    await sent();
    const flow = socket.flow;
    // The same destination and port, from another process of the host (another source port) or another of its
    // addresses (the same source port): another connection, whatever it was told.
    assert.equal(prober.failFromIcmp({ ...flow, sourcePort: flow.sourcePort + 1 }, ROUTER), false);
    assert.equal(prober.failFromIcmp({ ...flow, source: '198.18.0.2' }, ROUTER), false);
    assert.equal(prober.failFromIcmp({ ...flow, destinationPort: PORT + 1 }, ROUTER), false);
    assert.equal(prober.failFromIcmp({ ...flow, destination: '198.18.9.10' }, ROUTER), false);
    assert.deepEqual(outcomes, []);
    assert.equal(prober.failFromIcmp(flow, ROUTER), true);
    assert.deepEqual(outcomes, [{ kind: 'error', reporter: ROUTER }]);
    assert.equal(prober.failFromIcmp(flow, ROUTER), false, 'a second error for an attempt that ended ends nothing');
  });

  it('remembers nothing: an error that ended no attempt, or ended an earlier one, does not answer a later attempt', async () => {
    const sockets = new FakeSockets();
    const prober = new NodeTcpProber(sockets.open);
    const outcomes: TcpOutcome[] = [];
    prober.connect(ADDRESS, PORT, 60_000, (outcome) => outcomes.push(outcome));
    await sent();
    const first = sockets.last;
    assert.equal(prober.failFromIcmp(first.flow, ROUTER), true);
    // A second copy of the same error (a retransmitted SYN's), and one about another process's connection.
    assert.equal(prober.failFromIcmp(first.flow, ROUTER), false);
    assert.equal(prober.failFromIcmp({ ...first.flow, sourcePort: 9 }, ROUTER), false);
    // The firewall now answers with RST: the next attempt to the same address and port is closed, nothing else.
    prober.connect(ADDRESS, PORT, 60_000, (outcome) => outcomes.push(outcome));
    await sent();
    sockets.last.refuse();
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      ['error', 'closed'],
    );
  });

  it('reads the ICMP errors already queued when a connect fails, so a REJECT with port unreachable is not taken for an RST', async () => {
    const rejected: Reporter = { verdict: 'prohibited', address: '198.18.0.31', icmpType: 3, icmpCode: 3, reason: 'port unreachable' };
    const queued: { flow: FakeSocket['flow']; reporter: Reporter }[] = [];
    const sockets = new FakeSockets();
    let reads = 0;
    const prober: NodeTcpProber = new NodeTcpProber(sockets.open, () => {
      reads += 1;
      for (const error of queued.splice(0)) prober.failFromIcmp(error.flow, error.reporter);
    });
    const outcomes: TcpOutcome[] = [];
    for (let i = 0; i < 3; i++) prober.connect(ADDRESS, PORT + i, 60_000, (outcome) => outcomes.push(outcome));
    await sent();
    const [refusedByIcmp, refused, unreachable] = sockets.opened;
    assert.ok(refusedByIcmp && refused && unreachable);
    // The kernel queued the ICMP error's copy before it failed the socket; the loop reports the socket first.
    queued.push({ flow: refusedByIcmp.flow, reporter: rejected });
    refusedByIcmp.refuse();
    refused.refuse();
    unreachable.unreachable();
    assert.deepEqual(outcomes, [
      { kind: 'error', reporter: rejected },
      { kind: 'closed', ms: (outcomes[1] as { ms: number }).ms },
      { kind: 'error', reporter: diagnoseLocalError('EHOSTUNREACH') },
    ]);
    assert.equal(reads, 3);
  });

  it('ends a retry with a late ICMP error about the SYN of the attempt it retries (given as `after`)', async () => {
    const sockets = new FakeSockets();
    const prober = new NodeTcpProber(sockets.open);
    const outcomes: TcpOutcome[][] = [[], [], []];
    const first = prober.connect(ADDRESS, PORT, 1, (outcome) => outcomes[0]?.push(outcome));
    await sent();
    const firstSocket = sockets.last;
    spin(3);
    await turn();
    assert.deepEqual(outcomes[0], [{ kind: 'timeout' }]);
    assert.equal(prober.failFromIcmp(firstSocket.flow, ROUTER), false, 'between the attempts, the flow is nobody\'s');
    const retry = prober.connect(ADDRESS, PORT, 60_000, (outcome) => outcomes[1]?.push(outcome), first);
    // Another probe of the same address and port, in flight at the same time, is not this probe.
    prober.connect(ADDRESS, PORT, 60_000, (outcome) => outcomes[2]?.push(outcome));
    await sent();
    assert.equal(retry.flows.length, 2, 'the first attempt\'s flow and its own');
    assert.equal(prober.failFromIcmp(firstSocket.flow, ROUTER), true);
    assert.deepEqual(outcomes[1], [{ kind: 'error', reporter: ROUTER }]);
    assert.deepEqual(outcomes[2], []);
    assert.equal(prober.inFlight, 1);
    prober.close();
  });

  it('keeps attempts to the same address and port apart when several are in flight', async () => {
    const sockets = new FakeSockets();
    const prober = new NodeTcpProber(sockets.open);
    const outcomes = new Map<number, TcpOutcome[]>();
    for (let i = 0; i < 3; i++) {
      prober.connect(ADDRESS, PORT, 60_000, (outcome) => outcomes.set(i, [...(outcomes.get(i) ?? []), outcome]));
    }
    const [a, b, c] = sockets.opened;
    assert.ok(a && b && c);
    await sent();
    // The oldest ends first and must not take the others' entries with it.
    a.refuse();
    assert.equal(prober.failFromIcmp(c.flow, ROUTER), true);
    assert.equal(prober.failFromIcmp(a.flow, ROUTER), false);
    assert.equal(prober.inFlight, 1);
    b.emit('connect');
    assert.deepEqual(
      [0, 1, 2].map((i) => outcomes.get(i)?.map((o) => o.kind)),
      [['closed'], ['open'], ['error']],
    );
    assert.ok(sockets.opened.every((s) => s.destroyedAt > 0));
    assert.equal(prober.inFlight, 0);
  });

  it('destroys the socket and forgets the attempt even when the receiver of the outcome throws', async () => {
    const sockets = new FakeSockets();
    const prober = new NodeTcpProber(sockets.open);
    let calls = 0;
    prober.connect(ADDRESS, PORT, 5, () => {
      calls += 1;
      throw new Error('receiver failed');
    });
    const socket = sockets.last;
    // The flow is known after the connect's own tick. Waited on as a tick, not a turn of the loop: a loaded machine
    // could otherwise let the 5 ms timer fire first, and the receiver throw from it.
    await new Promise<void>((resolve) => process.nextTick(resolve));
    assert.throws(() => prober.failFromIcmp(socket.flow, ROUTER), /receiver failed/);
    assert.ok(socket.destroyedAt > 0);
    assert.equal(prober.inFlight, 0);
    // Nothing that follows reaches the receiver again: not the socket's error, not the timer (past its time).
    socket.unreachable();
    spin(8);
    await turn();
    assert.equal(calls, 1);
  });

  it('delivers an outcome later when the socket cannot even be opened', async () => {
    const prober = new NodeTcpProber(() => {
      throw Object.assign(new Error('socket: too many open files'), { code: 'EMFILE' });
    });
    const outcomes: TcpOutcome[] = [];
    prober.connect(ADDRESS, PORT, 60_000, (outcome) => outcomes.push(outcome));
    assert.deepEqual(outcomes, [], 'never from inside the call to connect');
    await turn();
    assert.deepEqual(outcomes, [{ kind: 'resource', errno: 'EMFILE' }]);
  });

  it('destroys every socket when closed and delivers nothing after', async () => {
    const sockets = new FakeSockets();
    const prober = new NodeTcpProber(sockets.open);
    let calls = 0;
    for (let port = 1; port <= 5; port++) prober.connect(ADDRESS, port, 2, () => (calls += 1));
    prober.close();
    assert.ok(sockets.opened.every((s) => s.destroyedAt > 0));
    sockets.opened[0]?.unreachable();
    spin(5);
    await turn();
    assert.equal(calls, 0);
    assert.equal(prober.inFlight, 0);
  });

  describe('with real sockets to loopback', () => {
    let ports: LoopbackPorts;
    let openPort = 0;
    let closedPort = 0;

    before(async () => {
      ports = await loopbackPorts();
      ({ openPort, closedPort } = ports);
    });
    after(() => ports?.close());

    it('ends each connect once whichever of the ICMP error, the kernel answer and the timer is handled first', async () => {
      for (const port of [openPort, closedPort]) {
        const answer = port === openPort ? 'open' : 'closed';
        for (const order of ['icmp-first', 'loop-first', 'answer-first'] as const) {
          const opened: net.Socket[] = [];
          const prober = new NodeTcpProber((options) => {
            const socket = net.connect(options);
            opened.push(socket);
            return socket;
          });
          const outcomes: TcpOutcome[] = [];
          const what = `${answer} port, ${order}`;
          prober.connect('127.0.0.1', port, order === 'answer-first' ? 60_000 : 5, (o) => outcomes.push(o));
          const socket = opened[0];
          assert.ok(socket);
          if (order === 'answer-first') {
            await until(`${what}: the kernel's answer handled`, () => outcomes.length > 0);
          } else {
            // The SYN leaves on the next tick; then, before the loop gets a turn, it stays busy until the kernel has
            // answered and the timer is due: the answer, the timer and the ICMP error are pending at once.
            await new Promise<void>((resolve) => process.nextTick(resolve));
            spin(30);
            if (order === 'loop-first') await turn();
          }
          const ended = prober.failFromIcmp(
            { source: socket.localAddress ?? '', sourcePort: socket.localPort ?? 0, destination: '127.0.0.1', destinationPort: port },
            ROUTER,
          );
          // Time for a second outcome (the answer, the timer or the error after the first): there must be none.
          await quietFor(50);
          assert.equal(outcomes.length, 1, `${what}: ${JSON.stringify(outcomes)}`);
          const kind = outcomes[0]?.kind;
          if (order === 'icmp-first') {
            // A refused connect may be over in the kernel before its SYN's source port is read (loopback answers
            // within the connect call): the ICMP error then finds no attempt, and the refusal is the outcome.
            if (port === openPort) assert.equal(ended, true, what);
            assert.equal(kind, ended ? 'error' : answer, what);
          } else {
            assert.equal(ended, false, `${what}: the ICMP error came after the attempt ended`);
            // loop-first: the timer was due before the loop's turn and may come first, as on a loaded machine.
            if (order === 'loop-first') assert.ok(kind === 'timeout' || kind === answer, `${what}: ${kind}`);
            else assert.equal(kind, answer, what);
          }
          assert.ok(socket.destroyed, `${what}: socket not destroyed`);
          assert.equal(prober.inFlight, 0, what);
        }
      }
    });
  });
});
