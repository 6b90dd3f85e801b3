import { hostname, userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { loadEngineConfig } from '../config.js';
import { InvalidOptionError } from '../core/errors.js';
import { parseSweepText } from '../core/grammar.js';
import { connectRedis } from '../queue/connect.js';
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { Dispatcher } from '../queue/dispatcher.js';
import { REPORT_QUEUE } from '../queue/names.js';
import { HistoryStore, targetKey } from '../queue/history.js';
import { AgentRegistry } from '../queue/registry.js';
import { ProgressBar } from './progress.js';
import { renderText } from '../views/text.js';
import { renderAgents } from './agents-text.js';
import { REPORT_FLAGS, checkReportFlags, writeReport } from './report-output.js';
import type { CommandIo } from './sweep-command.js';
import { formatCount } from '../core/format.js';

export const SUBMIT_USAGE = `usage: zensweep submit <targets…> [options] [vpc:NAME | vpc:all] [save:NAME] [compare:NAME]
                       [--json | --csv] [--no-progress]
       zensweep submit trace <host> [trace options] [vpc:NAME] [--json]
       zensweep submit diag <host> [tcp:PORTS] [vpc:NAME] [--json]

Sends the sweep through Redis to the agents of the network it targets, waits, and prints the same report as
zensweep sweep, plus who ran it and what changed since the last sweep of the same targets.
REDIS_URL (default redis://127.0.0.1:6379) names the Redis the agents use.

example: zensweep submit 10.0.1.0/24 tcp:5432 vpc:prod
`;

/** How long submit waits for an agent to put the report together before it does so itself, in ms. */
const FALLBACK_REPORT_AFTER_MS = 2000;

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** The Redis of these commands: REDIS_URL, checked by connectRedis, or the local default. */
export function connect(io: CommandIo): Promise<Redis> {
  return connectRedis(io.env.REDIS_URL ?? DEFAULT_REDIS_URL);
}

export function requester(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (a container with an arbitrary uid): keep 'unknown'.
  }
  return `${user}@${hostname()}`;
}

/** `zensweep submit`: bad input and refusals exit 2 with nothing enqueued; a finished sweep exits 0. */
export async function submitCommand(argv: string[], io: CommandIo): Promise<number> {
  if (argv[0] === 'trace' || argv[0] === 'diag') {
    return (await import('./submit-host-command.js')).submitHostCommand(argv[0], argv.slice(1), io);
  }
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: REPORT_FLAGS,
  });
  if (values.help) {
    io.stdout.write(SUBMIT_USAGE);
    return 0;
  }
  checkReportFlags(values);
  const config = loadEngineConfig(io.env);
  // Bad input is refused before Redis is even asked.
  const request = parseSweepText(positionals.join(' '), { maxAddresses: config.maxAddresses });
  const redis = await connect(io);
  const dispatcher = new Dispatcher({ connection: redis, maxAddresses: config.maxAddresses });
  const bar = io.stderr.isTTY && !values['no-progress'] ? new ProgressBar(io.stderr) : undefined;
  let cancelled = false;
  let reportWorker: Worker | undefined;
  let workerConnection: Redis | undefined;
  let stopFallback = (): void => undefined;
  try {
    const submitted = await dispatcher.submit(request, requester());
    // On stderr even with --json: the id is what `zensweep cancel` takes.
    const chunks = submitted.plan.chunks.length;
    io.stderr.write(
      `zensweep: sweep ${submitted.sweepId}: ${formatCount(submitted.plan.addresses)} addresses in ` +
        `${chunks} chunk${chunks === 1 ? '' : 's'} on ${submitted.plan.groups.join(', ')}\n`,
    );
    // The agents put reports together. If none has after a while (they all left after their chunks: a redeploy),
    // this process does it while it waits; loaded only then, as it costs a noticeable part of a small sweep.
    const fallback = setTimeout(() => {
      void (async () => {
        const { bullmq } = await import('../queue/load.js');
        const { reportProcessor } = await import('../queue/report-worker.js');
        workerConnection = redis.duplicate().on('error', () => undefined);
        const history = new HistoryStore(redis);
        reportWorker = new bullmq.Worker(REPORT_QUEUE, reportProcessor({ connection: redis, history }), {
          connection: workerConnection,
          // Also finds, soon, a report job whose worker died holding it.
          stalledInterval: 5000,
        });
        // Connection trouble is retried by ioredis; what matters to the user is the report, or its absence.
        reportWorker.on('error', () => undefined);
      })();
    }, FALLBACK_REPORT_AFTER_MS);
    stopFallback = () => clearTimeout(fallback);
    const onSignal = (): void => {
      cancelled = true;
      void dispatcher.cancel(submitted.sweepId);
    };
    process.once('SIGINT', onSignal);
    try {
      const report = await dispatcher.waitForReport(submitted, { onProgress: bar ? (p) => bar.update(p) : undefined });
      bar?.clear();
      writeReport(io.stdout, report, values, renderText);
      if (cancelled) return 130;
      return report.complete ? 0 : 1;
    } finally {
      process.off('SIGINT', onSignal);
    }
  } finally {
    bar?.clear();
    stopFallback();
    await reportWorker?.close();
    workerConnection?.disconnect();
    await dispatcher.close();
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

/** `zensweep agents [--json]`: the registry of live agents. */
export async function agentsCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: { json: { type: 'boolean' } } });
  const redis = await connect(io);
  try {
    const agents = await new AgentRegistry(redis).list();
    io.stdout.write(values.json ? `${JSON.stringify(agents)}\n` : renderAgents(agents));
    return 0;
  } finally {
    redis.disconnect();
  }
}

/** `zensweep cancel <sweep id>` */
export async function cancelCommand(argv: string[], io: CommandIo): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: {} });
  const [sweepId] = positionals;
  if (!sweepId || positionals.length > 1 || !/^[\w.-]{1,64}$/.test(sweepId)) {
    throw new InvalidOptionError('cancel takes one sweep id, as submit prints it, e.g. zensweep cancel mi2k3x-1a2b3c4d');
  }
  const redis = await connect(io);
  const dispatcher = new Dispatcher({ connection: redis });
  try {
    await dispatcher.cancel(sweepId);
    io.stdout.write(`cancel sent for sweep ${sweepId}\n`);
    return 0;
  } finally {
    await dispatcher.close();
    redis.disconnect();
  }
}

/** `zensweep history [targets…] [--json]`: recent sweeps, all of them or those of the same targets. */
export async function historyCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { json: { type: 'boolean' } },
  });
  const key = positionals.length > 0 ? targetKey(parseSweepText(positionals.join(' ')).targets.map((t) => t.text)) : undefined;
  const redis = await connect(io);
  try {
    const records = await new HistoryStore(redis).recent(20, key);
    if (values.json) {
      io.stdout.write(`${JSON.stringify(records)}\n`);
    } else if (records.length === 0) {
      io.stdout.write(key ? `No sweep of ${key} is on record.\n` : 'No sweep is on record.\n');
    } else {
      for (const r of records) {
        const s = r.summary;
        io.stdout.write(
          `${r.at}  ${r.id}  ${r.targets.join(' ')}  ${r.groups.join(',')}  ${s.alive} alive · ${s.alive_tcp_only} TCP only · ` +
            `${s.prohibited} prohibited · ${s.unreachable} unreachable · ${s.silent} silent  by ${r.requestedBy}` +
            `${r.complete ? '' : '  (incomplete)'}\n`,
        );
      }
    }
    return 0;
  } finally {
    redis.disconnect();
  }
}
