/**
 * A network namespace of its own for one test, with loopback alone (no route anywhere: nothing can leave it), and its
 * /etc/netns folder, whose resolv.conf `ip netns exec` puts in place of the machine's.
 */
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { run } from './cli.js';

export interface LoopbackNamespace {
  name: string;
  /** Writes the namespace's /etc/resolv.conf (as `ip netns exec` shows it inside). */
  resolvConf(text: string): Promise<void>;
  destroy(): Promise<void>;
}

export async function loopbackNamespace(name: string): Promise<LoopbackNamespace> {
  for (const step of [
    ['ip', 'netns', 'add', name],
    ['ip', 'netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up'],
  ]) {
    const done = await run(step);
    assert.equal(done.code, 0, `${step.join(' ')}: ${done.stderr}`);
  }
  const etc = `/etc/netns/${name}`;
  await mkdir(etc, { recursive: true });
  return {
    name,
    resolvConf: (text) => writeFile(`${etc}/resolv.conf`, text),
    destroy: async () => {
      await run(['ip', 'netns', 'delete', name]);
      await rm(etc, { recursive: true, force: true });
    },
  };
}
