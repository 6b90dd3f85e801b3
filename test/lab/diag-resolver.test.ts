/**
 * `zensweep diag` of a name where the name server cannot be reached (the built CLI, as root, in a network namespace
 * of its own with loopback alone, its /etc/resolv.conf given by `ip netns exec` from /etc/netns/NAME/): the resolver's
 * ENOTFOUND or EAI_AGAIN there says nothing of the name, and the report says that the server has no route, not that
 * the name does not exist. A server on loopback has a route, and is not called unreachable. Nothing leaves the
 * namespace: it has no route anywhere.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cliCommand, run } from '../support/cli.js';
import { assertRoot } from '../support/root.js';
import { loopbackNamespace, type LoopbackNamespace } from '../support/loopback-netns.js';

describe('zensweep diag when the name server has no route (a namespace of its own, loopback only)', () => {
  const ns = `zs-dns-${process.pid}`;
  let namespace: LoopbackNamespace | undefined;
  const diag = async (target: string, server: string) => {
    await namespace?.resolvConf(`nameserver ${server}\n`);
    return run(['ip', 'netns', 'exec', ns, ...cliCommand(), 'diag', target], { timeoutMs: 60_000 });
  };

  before(async () => {
    assertRoot();
    namespace = await loopbackNamespace(ns);
  });
  after(async () => {
    await namespace?.destroy();
  });

  it('says the name server is unreachable, with no route to it, instead of "no such name"', async () => {
    const result = await diag('db.example.invalid', '198.18.0.53');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /\nSummary\n {2}db\.example\.invalid could not be resolved: name server 198\.18\.0\.53 unreachable \(no route to it\); nothing was probed\n/);
    assert.match(result.stdout, /\n {2}name servers: 198\.18\.0\.53 \(no route to it\)\n/);
    assert.match(result.stdout, /\n {2}DNS db\.example\.invalid \(asked 198\.18\.0\.53\): name server 198\.18\.0\.53 unreachable: no route to it, so no answer about the name \([A-Z_]+\)\n/);
    assert.doesNotMatch(result.stdout, /no such name/);
  });

  it('does not call a name server on loopback unreachable', async () => {
    const result = await diag('db.example.invalid', '127.0.0.53');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /\n {2}name servers: 127\.0\.0\.53\n/);
    assert.match(result.stdout, /\n {2}db\.example\.invalid does not resolve here: nothing was probed\n/);
    assert.doesNotMatch(result.stdout, /no route to it/);
  });
});
