import { commandArgs } from './args.js';
import { loadEngineConfig } from '../config.js';
import { InvalidOptionError } from '../core/errors.js';
import { parseSweepText } from '../core/grammar.js';
import type { ReportAssembly } from '../queue/report-worker.js';
import type { Redis } from 'ioredis';
import { HistoryStore } from '../queue/history.js';
import { ProgressBar } from './progress.js';
import { renderText } from '../views/text.js';
import { vantageCost } from '../views/words.js';
import { renderAgentsText } from '../views/agents.js';
import { renderHistoryText } from '../views/history.js';
import { REPORT_FLAGS, REPORT_FLAGS_USAGE, checkReportFlags, exitOfComplete, targetWords, writeReport } from './report-output.js';
import type { CommandIo } from './sweep-command.js';
import { addressCount } from '../core/format.js';
import { cliDoor, connect } from './door.js';

export const SUBMIT_USAGE = `usage: zensweep submit <targets…> [options] [vpc:NAME | vpc:all] [from:all | vpc:A,B from:each]
                       [save:NAME] [compare:NAME] [--json | --csv | --alive | --unreachable] [-f FILE] [--no-progress]
       zensweep submit trace <host> [trace options] [vpc:NAME] [--json]
       zensweep submit diag <host> [tcp:PORTS] [vpc:NAME] [--json]

Sends the sweep through Redis to the agents of the network it targets, waits, and prints the same report as
zensweep sweep, plus who ran it and what changed since the last sweep of the same targets. from:all sweeps the same targets
from every live agent of the group (vpc:A,B from:each: from each group), at that many times the probes, and
puts what they see differently first.
REDIS_URL (default redis://127.0.0.1:6379) names the Redis the agents use.
${REPORT_FLAGS_USAGE}

example: zensweep submit 10.0.1.0/24 tcp:5432 vpc:prod
`;

export const AGENTS_USAGE = `usage: zensweep agents [--json]

Lists the live agents through Redis: each one's group, the networks it may probe, its version, and its health from
its last heartbeat (how long ago, probes in flight, send rate against its limit, its last error, NOT TAKING WORK when
its connection for work has stopped answering). An agent that stops sending heartbeats leaves the list within 30 s.
REDIS_URL (or REDIS_SENTINELS, REDIS_CLUSTER_NODES) names the Redis the agents use.

example: zensweep agents --json
`;

export const HISTORY_USAGE = `usage: zensweep history [targets…] [--json]

Recent sweeps, newest first: all of them, or those of the same targets (as the sweep was written, e.g. 10.0.1.0/24),
each with when, its id, its targets and groups, what its hosts answered, who asked, and whether it was cut short.

example: zensweep history 10.0.1.0/24
`;

export const CANCEL_USAGE = `usage: zensweep cancel <sweep id>

Stops a running sweep that you started (its id is the one submit prints on stderr): chunks not started are skipped,
running ones stop, and its report says how far it got.

example: zensweep cancel mi2k3x-1a2b3c4d
`;

/** How long submit waits for an agent to put the report together before it does so itself, in ms. */
const FALLBACK_REPORT_AFTER_MS = 2000;

/** `zensweep submit`: bad input and refusals exit 2 with nothing enqueued; a finished sweep exits 0. */
export async function submitCommand(argv: string[], io: CommandIo): Promise<number> {
  if (argv[0] === 'trace' || argv[0] === 'diag') {
    return (await import('./submit-host-command.js')).submitHostCommand(argv[0], argv.slice(1), io);
  }
  // (submit-host-command.ts takes what both share from door.ts, so this is no import circle.)
  const { values, positionals } = commandArgs('submit', argv, REPORT_FLAGS, { words: true });
  if (values.help) {
    io.stdout.write(SUBMIT_USAGE);
    return 0;
  }
  checkReportFlags(values);
  const config = loadEngineConfig(io.env);
  // Bad input is refused before Redis is even asked.
  const words = await targetWords(positionals, values.file);
  const request = parseSweepText(words, { maxAddresses: config.maxAddresses });
  const redis = await connect(io);
  const opened = cliDoor(io, redis, config.maxAddresses);
  const { dispatcher } = opened;
  const asked = opened.request(words);
  const bar = io.stderr.isTTY && !values['no-progress'] ? new ProgressBar(io.stderr) : undefined;
  let cancelled = false;
  let assembly: ReportAssembly | undefined;
  let workerConnection: Redis | undefined;
  let stopFallback = (): void => undefined;
  let release = async (): Promise<void> => undefined;
  try {
    const started = await opened.door.run(asked, { kind: 'sweep', request });
    // Whatever way this run ends, the sweep no longer counts against the requester's limit (or it expires on its own).
    release = () => opened.slots.release({ requester: asked.user, id: started.id });
    const flow = opened.flowOf(started.id);
    const submitted = {
      sweepId: started.id,
      plan: { groups: started.groups, chunks: [], addresses: started.addresses, ...(started.vantages ? { vantages: started.vantages } : {}) },
      agents: [],
      ...(flow ? { flow } : {}),
    };
    // On stderr even with --json: the id is what `zensweep cancel` takes.
    const vantages = started.vantages ? `, ${vantageCost(started.vantages.map((v) => v.name), started.addresses, started.probes, request.options.from)}` : '';
    io.stderr.write(
      `zensweep: sweep ${started.id}: ${addressCount(started.addresses)} in ` +
        `${started.chunks} chunk${started.chunks === 1 ? '' : 's'} on ${started.groups.join(', ')}${vantages}\n`,
    );
    // The agents put reports together. If none has after a while (they all left after their chunks: a redeploy),
    // this process does it while it waits; loaded only then, as it costs a noticeable part of a small sweep.
    const fallback = setTimeout(() => {
      void (async () => {
        const { ReportAssembly } = await import('../queue/report-worker.js');
        workerConnection = redis.duplicate().on('error', () => undefined);
        const history = new HistoryStore(redis);
        assembly = new ReportAssembly({
          connection: redis,
          workerConnection,
          groups: started.groups,
          history,
          // Also finds, soon, a part or report job whose worker died holding it.
          workerOptions: { stalledInterval: 5000 },
          // Connection trouble is retried by ioredis; what matters to the user is the report, or its absence.
          onError: () => undefined,
        });
      })();
    }, FALLBACK_REPORT_AFTER_MS);
    stopFallback = () => clearTimeout(fallback);
    const onSignal = (): void => {
      cancelled = true;
      void dispatcher.cancel(submitted.sweepId);
    };
    process.once('SIGINT', onSignal);
    try {
      const report = await dispatcher.waitForReport(submitted, {
        onProgress: bar ? (p) => bar.update(p) : undefined,
        onResubmit: (groups) => {
          bar?.clear();
          io.stderr.write(`zensweep: sweep ${started.id} was lost by Redis (a failover?) on ${groups.join(', ')}: submitted again\n`);
        },
      });
      bar?.clear();
      writeReport(io.stdout, report, values, renderText);
      if (cancelled) return 130;
      return report.complete ? exitOfComplete(report, values) : 1;
    } finally {
      process.off('SIGINT', onSignal);
    }
  } finally {
    bar?.clear();
    stopFallback();
    await release().catch(() => undefined);
    await assembly?.close();
    workerConnection?.disconnect();
    await opened.close();
    redis.disconnect();
    await exitOnceWritten(io.stdout);
  }
}

/** How long after its output is written `submit` lets the process linger before it exits, in ms. */
const EXIT_AFTER_OUTPUT_MS = 50;

/**
 * Everything is done once the output is handed to the system: exit then. ioredis's reply parser keeps a timer
 * running for about a second after a large reply (a /17 report is one) while it shrinks its buffer pool, and that
 * timer alone would hold the process open; the exit code set by the caller stands.
 */
async function exitOnceWritten(stdout: NodeJS.WritableStream): Promise<void> {
  await new Promise<void>((resolve) => stdout.write('', () => resolve()));
  setTimeout(() => process.exit(), EXIT_AFTER_OUTPUT_MS).unref();
}

/** `zensweep agents [--json]`: the live agents. */
export async function agentsCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = commandArgs('agents', argv, { json: { type: 'boolean' } }, { words: false });
  if (values.help) {
    io.stdout.write(AGENTS_USAGE);
    return 0;
  }
  const redis = await connect(io);
  const opened = cliDoor(io, redis);
  try {
    const agents = await opened.door.run(opened.request('agents'), { kind: 'agents' });
    io.stdout.write(values.json ? `${JSON.stringify(agents)}\n` : renderAgentsText(agents));
    return 0;
  } finally {
    await opened.close();
    redis.disconnect();
  }
}

/** `zensweep cancel <sweep id>`: refused for an id that is not on record or that someone else started. */
export async function cancelCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = commandArgs('cancel', argv, {}, { words: true });
  if (values.help) {
    io.stdout.write(CANCEL_USAGE);
    return 0;
  }
  const [id] = positionals;
  if (!id || positionals.length > 1 || !/^[\w.-]{1,64}$/.test(id)) {
    throw new InvalidOptionError('cancel takes one sweep id, as submit prints it, e.g. zensweep cancel mi2k3x-1a2b3c4d');
  }
  const redis = await connect(io);
  const opened = cliDoor(io, redis);
  try {
    const outcome = await opened.door.run(opened.request(`cancel ${id}`), { kind: 'cancel', id });
    if (outcome === 'cancelling') io.stdout.write(`cancelling sweep ${id}: its report will say how far it got\n`);
    else if (outcome === 'finished') io.stdout.write(`sweep ${id} has already finished: nothing to cancel\n`);
    else io.stdout.write(`${id} is not a sweep: a trace or diag ends by itself\n`);
    return 0;
  } finally {
    await opened.close();
    redis.disconnect();
  }
}

/** `zensweep history [targets…] [--json]`: recent sweeps, all of them or those of the same targets. */
export async function historyCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = commandArgs('history', argv, { json: { type: 'boolean' } }, { words: true });
  if (values.help) {
    io.stdout.write(HISTORY_USAGE);
    return 0;
  }
  const targets = positionals.length > 0 ? parseSweepText(positionals.join(' ')).targets.map((t) => t.text).join(' ') : undefined;
  const redis = await connect(io);
  const opened = cliDoor(io, redis);
  try {
    const { records, target } = await opened.door.run(opened.request(`history ${targets ?? ''}`.trim()), {
      kind: 'history',
      ...(targets ? { target: targets } : {}),
    });
    io.stdout.write(values.json ? `${JSON.stringify(records)}\n` : renderHistoryText(records, target));
    return 0;
  } finally {
    await opened.close();
    redis.disconnect();
  }
}
