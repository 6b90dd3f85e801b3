import { escapeText } from '../../views/blocks.js';
import { clip } from '../../views/block-limits.js';

/** A correct example to show under every error. */
export const EXAMPLE = '/sweep 10.0.1.0/24 tcp:5432';

export const HELP_TEXT = [
  '*/sweep* checks which hosts answer, from inside the network, and why the others do not.',
  '`/sweep 10.0.1.0/24` — ICMP sweep, run by the agents that cover it (`dns:on`: with the PTR names they see)',
  '`/sweep 10.0.1.0/24 10.0.2.10 10.0.3.5-20` — several targets: CIDR, address, last-octet range',
  '`/sweep 10.0.2.0/24 tcp:3306,5432` — add TCP probes; presets `tcp:rds` `tcp:web` `tcp:ssh` `tcp:rdp`',
  '`/sweep db.internal tcp:rds vpc:prod` — a host name, resolved inside that group',
  '`/sweep 10.0.1.0/24 count:5 timeout:800` — 5 echoes per host: loss %, rtt min/avg/max/mdev',
  '`/sweep 10.0.1.0/24 save:before-cutover` then `compare:before-cutover` — what changed since',
  '`/sweep 10.0.1.0/24 from:all` — the same hosts from every agent of the group, where they disagree first (`vpc:onprem,prod from:each`: from each group)',
  '`/sweep trace 10.0.2.15 tcp:443` — where the path stops, hop by hop (`udp`, `icmp`; default ICMP then TCP 443)',
  '`/sweep diag 10.0.2.15 tcp:443,5432` — the report a network team asks for: route, ARP, DNS, ping, ports, trace, MTU',
  '`/sweep watch 10.0.1.0/24 tcp:5432 every:5m confirm:2` — keep watching: a message only when a change holds (`confirm:agents`: and every agent sees it)',
  '`/sweep watches` · `/sweep unwatch ID` · `/sweep mute ID 1h` · `/sweep quiet ID "sat 02:00-04:00 UTC"` (maintenance: alerts wait, one summary at the end; also `quiet:` on `watch`)',
  '`/sweep baselines` · `/sweep forget NAME` — this channel’s baselines',
  '`/sweep agents` · `/sweep history 10.0.1.0/24` · `/sweep help`',
  'Options are `key:value` or `key=value`.',
].join('\n');

/** The ephemeral answer to bad input: what was wrong, and a correct example. */
export function errorText(message: string): string {
  return clip(`:warning: ${escapeText(message)}\nFor example: \`${EXAMPLE}\` (see \`/sweep help\`)`, 3000);
}

/** For a channel the bot cannot post in. */
export const INVITE_HINT =
  'I could not post in this channel, so only you see this. To share reports with the channel, invite me: `/invite @ZenSweep`.';
