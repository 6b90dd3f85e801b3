import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { BurstPlan, BurstResult } from '../support/echo-burst.js';
import { EVERY_GROUP, createPingNamespace } from '../support/ping-netns.js';
import type { PingNamespace } from '../support/ping-netns.js';
import { assertRoot } from '../support/root.js';

const BURST = fileURLToPath(new URL('../support/echo-burst.ts', import.meta.url));
/** Orders in one burst: a few hundred batches of the sender thread. */
const ORDERS = 3000;

/**
 * Where the echoes of a burst go, in the test's namespace (lo only, no route out): loopback addresses that answer
 * (IPv6: a /64 routed as local, so every address of it answers), addresses its nft rules reject with an ICMP error,
 * and addresses with no route, whose send fails (ENETUNREACH).
 */
const ANSWERS = {
  4: (n: number) => `127.0.${16 + (n >> 8)}.${n & 0xff}`,
  6: (n: number) => `2001:db8:5a::${n.toString(16)}`,
};
const REJECTED = {
  4: (n: number) => `127.0.99.${n}`,
  6: (n: number) => `2001:db8:5a:0:ffff::${n.toString(16)}`,
};
const UNROUTABLE = {
  4: (n: number) => `198.18.5.${n}`,
  6: (n: number) => `2001:db8:99::${n.toString(16)}`,
};
/**
 * What a rejected echo comes to: admin prohibited, said by the address itself (IPv6: by ::1, the kernel's choice of
 * source for an error about an address that is local by route, not assigned).
 */
const PROHIBITED = { 4: (address: string) => `icmp 3/13 from ${address}`, 6: () => 'icmp 1/1 from ::1' };

const RULES = `
table inet zensweep_sender_test {
  chain input {
    type filter hook input priority 0; policy accept;
    ip daddr 127.0.99.0/24 icmp type echo-request reject with icmp type admin-prohibited
    ip6 daddr 2001:db8:5a:0:ffff::/80 icmpv6 type echo-request reject with icmpv6 type admin-prohibited
  }
}
`;

/** The echoes the namespace's kernel sent and the replies it received, for one family (/proc/net/snmp, snmp6). */
interface EchoCounters {
  requestsOut: number;
  repliesIn: number;
  checksumErrors: number;
}

/** A burst: the plan's addresses, and what each should come to. */
function mixedBurst(family: 4 | 6): { addresses: string[]; expected: string[] } {
  const addresses: string[] = [];
  const expected: string[] = [];
  let answered = 0;
  let rejected = 0;
  let unroutable = 0;
  for (let i = 0; i < ORDERS; i++) {
    // Every few dozen orders an unroutable one, and a rejected one: some fall in the middle of a batch, some at its
    // ends, and some batches hold both.
    if (i % 97 === 45) {
      addresses.push(UNROUTABLE[family](++unroutable));
      expected.push('send error ENETUNREACH');
    } else if (i % 131 === 60) {
      const address = REJECTED[family](++rejected);
      addresses.push(address);
      expected.push(PROHIBITED[family](address));
    } else {
      addresses.push(ANSWERS[family](++answered));
      expected.push('reply');
    }
  }
  return { addresses, expected };
}

describe('the sender thread\'s batches (sendmmsg): raw sockets as root, ping sockets as nobody, in a namespace of the test\'s own', () => {
  let ns: PingNamespace;

  before(async () => {
    assertRoot();
    ns = await createPingNamespace('zsm');
    await ns.pingGroups(EVERY_GROUP);
    const steps = [
      { argv: ['nft', '-f', '-'], input: RULES },
      { argv: ['ip', '-6', 'route', 'add', 'local', '2001:db8:5a::/64', 'dev', 'lo'] },
      // Every rejected echo gets its error: no rate limit on them in this namespace.
      { argv: ['sysctl', '-q', '-w', 'net.ipv4.icmp_ratelimit=0', 'net.ipv6.icmp.ratelimit=0', 'net.ipv4.icmp_msgs_per_sec=100000', 'net.ipv4.icmp_msgs_burst=100000'] },
    ];
    for (const { argv, input } of steps) {
      const result = await ns.exec(argv, input === undefined ? {} : { input });
      assert.equal(result.code, 0, `${argv.join(' ')}: ${result.stderr}`);
    }
  });
  after(async () => {
    await ns?.destroy();
  });

  async function counters(family: 4 | 6): Promise<EchoCounters> {
    const read = await ns.exec(['cat', family === 4 ? '/proc/net/snmp' : '/proc/net/snmp6']);
    assert.equal(read.code, 0, read.stderr);
    const values = new Map<string, number>();
    if (family === 4) {
      const [names, numbers] = read.stdout.split('\n').filter((line) => line.startsWith('Icmp: '));
      const columns = names?.split(/\s+/).slice(1) ?? [];
      numbers?.split(/\s+/).slice(1).forEach((value, i) => values.set(`Icmp${columns[i] ?? ''}`, Number(value)));
    } else {
      for (const line of read.stdout.split('\n')) {
        const [name, value] = line.trim().split(/\s+/);
        if (name) values.set(name, Number(value));
      }
    }
    const count = (name: string): number => {
      const value = values.get(name);
      assert.ok(value !== undefined, `${name} missing from the kernel's counters`);
      return value;
    };
    return family === 4
      ? { requestsOut: count('IcmpOutEchos'), repliesIn: count('IcmpInEchoReps'), checksumErrors: count('IcmpInCsumErrors') }
      : { requestsOut: count('Icmp6OutEchos'), repliesIn: count('Icmp6InEchoReplies'), checksumErrors: count('Icmp6InCsumErrors') };
  }

  /** Runs a burst in the namespace: raw as root, ping as nobody. Its result, and what the kernel counted meanwhile. */
  async function burst(plan: BurstPlan): Promise<{ result: BurstResult; kernel: EchoCounters }> {
    const before = await counters(plan.family);
    const argv = [process.execPath, '--import', 'tsx', BURST];
    const options = { input: JSON.stringify(plan), timeoutMs: 120_000 };
    const ran = plan.mode === 'raw' ? await ns.exec(argv, options) : await ns.execUnprivileged(argv, options);
    assert.equal(ran.code, 0, `the burst failed: ${ran.stderr}`);
    const result = JSON.parse(ran.stdout) as BurstResult;
    assert.equal(result.uid, plan.mode === 'raw' ? 0 : 65534);
    const after = await counters(plan.family);
    return {
      result,
      kernel: {
        requestsOut: after.requestsOut - before.requestsOut,
        repliesIn: after.repliesIn - before.repliesIn,
        checksumErrors: after.checksumErrors - before.checksumErrors,
      },
    };
  }

  /** Orders whose outcome is not what was expected, as `index address: seen, expected …`. */
  function misses(plan: BurstPlan, result: BurstResult, expected: readonly string[]): string[] {
    const addresses = [...plan.addresses, plan.sentinel];
    return result.outcomes.flatMap((seen, i) =>
      seen === expected[i] ? [] : [`${i} ${addresses[i] ?? '?'}: ${seen || 'nothing'}, expected ${expected[i] ?? '?'}`],
    );
  }

  const count = (outcomes: readonly string[], what: string): number => outcomes.filter((o) => o === what).length;

  for (const family of [4, 6] as const) {
    for (const mode of ['raw', 'ping'] as const) {
      it(`IPv${family} ${mode}: ${ORDERS} echoes at once, some unroutable, some rejected: each comes to what it should, once, with its own send time`, async () => {
        const { addresses, expected } = mixedBurst(family);
        const plan: BurstPlan = { family, mode, addresses, sentinel: family === 4 ? '127.0.0.1' : '::1' };
        const { result, kernel } = await burst(plan);
        assert.ok(result.finished, 'the burst did not finish');
        assert.deepEqual(misses(plan, result, [...expected, 'reply']), []);
        assert.deepEqual(result.strangers, []);
        assert.deepEqual(result.badStamps, [], 'replies whose send time is not between their order and their reply');
        // The kernel's own count: every request that should go went exactly once (an unroutable one never leaves),
        // and every answer came back; none was dropped for a bad checksum (IPv4's covers the send time).
        const replies = count(result.outcomes, 'reply');
        const rejected = result.outcomes.filter((o) => o.startsWith('icmp ')).length;
        assert.deepEqual(kernel, { requestsOut: replies + rejected, repliesIn: replies, checksumErrors: 0 });
        assert.ok(rejected > 0 && replies > ORDERS * 0.9, `${replies} replies, ${rejected} rejected`);
      });
    }
  }

  // Each fault once in each family and each mode: the kernel hardly ever fails a send of loopback this way.
  const faults = [
    { fault: 'send_again', family: 4, mode: 'raw' },
    { fault: 'send_again', family: 6, mode: 'ping' },
    { fault: 'send_shortage', family: 6, mode: 'raw' },
    { fault: 'send_shortage', family: 4, mode: 'ping' },
  ] as const;

  for (const { fault, family, mode } of faults.filter((f) => f.fault === 'send_again')) {
    it(`IPv${family} ${mode}: a full socket buffer after the second packet of a batch: it waits, then sends the rest, each once`, async () => {
      const addresses = Array.from({ length: ORDERS }, (_, i) => ANSWERS[family](i + 1));
      const plan: BurstPlan = { family, mode, addresses, sentinel: family === 4 ? '127.0.0.1' : '::1', fault };
      const { result, kernel } = await burst(plan);
      assert.equal(result.faultLeft, 'none', 'the thread never met the fault');
      assert.ok(result.finished, 'the burst did not finish');
      assert.deepEqual(misses(plan, result, Array.from({ length: ORDERS + 1 }, () => 'reply')), []);
      assert.deepEqual([result.strangers, result.badStamps], [[], []]);
      assert.deepEqual(kernel, { requestsOut: ORDERS + 1, repliesIn: ORDERS + 1, checksumErrors: 0 });
    });
  }

  for (const { fault, family, mode } of faults.filter((f) => f.fault === 'send_shortage')) {
    it(`IPv${family} ${mode}: the kernel short of buffers at the third packet of a batch: that one and those not tried yet come back, the rest are sent, each once`, async () => {
      const addresses = Array.from({ length: ORDERS }, (_, i) => ANSWERS[family](i + 1));
      const plan: BurstPlan = { family, mode, addresses, sentinel: family === 4 ? '127.0.0.1' : '::1', fault };
      const { result, kernel } = await burst(plan);
      assert.equal(result.faultLeft, 'none', 'the thread never met the fault');
      assert.ok(result.finished, 'the burst did not finish');
      // The one that met the shortage, then those the thread still held (the rest of its batch, the whole ring):
      // orders that follow it without a gap. Those before it were sent, and those ordered after the ring was
      // emptied are sent as usual.
      const tried = result.outcomes.indexOf('short tried');
      assert.ok(tried >= 2, `the shortage came back at ${tried}`);
      let untried = tried + 1;
      while (result.outcomes[untried] === 'short untried') untried++;
      const expected = result.outcomes.map((_, i) => (i === tried ? 'short tried' : i > tried && i < untried ? 'short untried' : 'reply'));
      assert.deepEqual(misses(plan, result, expected), []);
      assert.deepEqual([result.strangers, result.badStamps], [[], []]);
      const replies = count(result.outcomes, 'reply');
      assert.deepEqual(kernel, { requestsOut: replies, repliesIn: replies, checksumErrors: 0 });
    });
  }
});
