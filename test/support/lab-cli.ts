/**
 * Keep a network lab up for manual work:
 *   tsx test/support/lab-cli.ts up [name]       build lab `zslab` (or `name`) and leave it running
 *   tsx test/support/lab-cli.ts down [name]     destroy it
 *   tsx test/support/lab-cli.ts down --all      destroy every `zs*-sw|lan|rt|bh` namespace (leftovers of tests)
 */
import { createLab, destroyLab, LabError, listLabNames, type LabAddresses } from './lab.js';

const DEFAULT_NAME = 'zslab';

function topology(name: string, a: LabAddresses): string {
  const sw = `${name}-sw`;
  return `Lab "${name}" is up. Namespaces: ${name}-sw (sweeper), ${name}-lan (bridge + LAN hosts), ${name}-rt (router), ${name}-bh (behind the router).

Sweeper ${a.sweeper.v4} ${a.sweeper.v6} — no default route; routes: ${a.behind.v4Cidr}, ${a.unreachable.v4Cidr} and ${a.arpFails.v4Cidr} via ${a.router.lan.v4}, 2001:db8:0:2::/64 via ${a.router.lan.v6}

LAN ${a.lan.v4Cidr}, ${a.lan.v6Cidr} (on-link)
  alive              ${[...a.lan.alive.v4, ...a.lan.alive.v6].join(' ')}
  rds (no ICMP)      ${a.lan.rds.v4} ${a.lan.rds.v6}   tcp ${a.lan.rds.openPort} open, other ports refused (e.g. ${a.lan.rds.closedPort})
  admin-prohibited   ${a.lan.prohibited.v4} ${a.lan.prohibited.v6}   (sent by the host itself)
  port-unreachable   ${a.lan.portUnreachable.v4}
  silent (drop all)  ${a.lan.silent.v4} ${a.lan.silent.v6}
  empty              any other, e.g. ${a.lan.empty.v4} ${a.lan.empty.v6}   (ARP/ND fails after ~3 s)
Router ${a.router.lan.v4} ${a.router.lan.v6} | ${a.router.behind.v4} ${a.router.behind.v6}
Behind ${a.behind.v4Cidr}, ${a.behind.v6Cidr} (routed)
  alive              ${a.behind.alive.v4} ${a.behind.alive.v6}
  router prohibits   ${a.behind.prohibitedByRouter.v4} ${a.behind.prohibitedByRouter.v6}   (from ${a.router.lan.v4} / ${a.router.lan.v6})
  router drops       ${a.behind.droppedByRouter.v4}
  empty              any other, e.g. ${a.behind.empty.v4} ${a.behind.empty.v6}   (router answers unreachable after ~3 s)
Unreachable ${a.unreachable.v4Cidr}: host unreachable from ${a.router.lan.v4} at once
ARP fails   ${a.arpFails.v4Cidr}: host unreachable from ${a.router.lan.v4} after ~${a.arpFails.failsAfterMs} ms (router ${a.arpFails.router}, nobody behind)
No route    ${a.noRoute.v4Cidr}, ${a.noRoute.v6}: fails locally (ENETUNREACH)
Names       ${a.names.rds.name} ${a.names.web.name} ${a.names.behind.name}; anything else fails at once

Run something in the sweeper namespace (never probe lab addresses from the host namespace):
  ip netns exec ${sw} fping -c1 -t500 ${a.lan.prohibited.v4}
  ip netns exec ${sw} node dist/cli.cjs sweep ${a.lan.v4Cidr} tcp:rds   (after npm run build)
  ip netns exec ${sw} bash
Tear down: npm run lab:down${name === DEFAULT_NAME ? '' : ` -- ${name}`}`;
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, target] = argv;
  if (command === 'up') {
    const started = performance.now();
    const lab = await createLab({ name: target ?? DEFAULT_NAME, detach: true });
    process.stdout.write(`${topology(lab.name, lab.addresses)}\n(built in ${Math.round(performance.now() - started)} ms)\n`);
    return 0;
  }
  if (command === 'down') {
    const names = target === '--all' ? await listLabNames() : [target ?? DEFAULT_NAME];
    for (const name of names) await destroyLab(name);
    process.stdout.write(names.length > 0 ? `Destroyed: ${names.join(', ')}\n` : 'No lab to destroy.\n');
    return 0;
  }
  process.stderr.write('usage: tsx test/support/lab-cli.ts up [name] | down [name] | down --all\n');
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof LabError ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
