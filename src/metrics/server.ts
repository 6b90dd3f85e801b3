import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import { withinTime } from './registry.js';

/** One thing a service needs to do its work; `check` rejects with a one-line reason (no secret) when it cannot. */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

export interface MetricsServerOptions {
  /** Port to listen on (METRICS_PORT); 0 picks a free one. */
  port: number;
  /** Address to listen on, default all (`::`, and 0.0.0.0 with it): Prometheus scrapes from elsewhere. */
  host?: string;
  registry: Registry;
  /** What /readyz checks, in order; every check runs at each request. */
  checks: readonly ReadinessCheck[];
  log: Logger;
  /** Time one check may take before it counts as failed, in ms, default 2000. */
  checkTimeoutMs?: number;
}

/** The Redis check of /readyz: the connection is up and answers PING. */
export function redisReadiness(redis: Redis, name = 'redis'): ReadinessCheck {
  return {
    name,
    async check() {
      // A command sent while disconnected would wait in ioredis's queue: say so at once instead.
      if (redis.status !== 'ready') throw new Error(`not connected (${redis.status})`);
      const answer = await redis.ping();
      if (answer !== 'PONG') throw new Error(`PING answered ${answer}`);
    },
  };
}

/**
 * The operators' port of a service: `/metrics` (Prometheus text format), `/healthz` (the process is up and
 * serving: 200 whatever its dependencies do) and `/readyz` (200 when every check passes, else 503 naming what
 * failed). Closed at shutdown with every connection it holds.
 */
export class MetricsServer {
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(options: MetricsServerOptions): Promise<MetricsServer> {
    const timeoutMs = options.checkTimeoutMs ?? 2000;
    const server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      const send = (status: number, type: string, body: string): void => {
        res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : body);
      };
      switch (path) {
        case '/healthz':
          send(200, 'text/plain; charset=utf-8', 'ok\n');
          return;
        case '/readyz':
          void readiness(options.checks, timeoutMs).then((result) => {
            if (!result.ready) options.log.warn({ event: 'not_ready', checks: result.checks });
            send(result.ready ? 200 : 503, 'application/json', `${JSON.stringify(result)}\n`);
          });
          return;
        case '/metrics':
          options.registry.metrics().then(
            (text) => send(200, options.registry.contentType, text),
            (error: Error) => {
              options.log.warn({ event: 'metrics_failed', message: error.message });
              send(500, 'text/plain; charset=utf-8', 'metrics could not be collected\n');
            },
          );
          return;
        default:
          send(404, 'text/plain; charset=utf-8', 'not found: try /metrics, /healthz or /readyz\n');
      }
    });
    // Prometheus keeps its connection open between scrapes; a stopping service must not wait for it.
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    options.log.info({ event: 'metrics_listening', port, host: options.host ?? 'all' });
    return new MetricsServer(server, port);
  }

  /** Stops listening and drops open connections; resolves once the server is closed. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}

async function readiness(
  checks: readonly ReadinessCheck[],
  timeoutMs: number,
): Promise<{ ready: boolean; checks: Record<string, string> }> {
  const results: Record<string, string> = {};
  let ready = true;
  await Promise.all(
    checks.map(async ({ name, check }) => {
      const outcome = await withinTime(
        check().then(
          () => 'ok',
          (error: unknown) => (error instanceof Error ? error.message : String(error)).split('\n')[0]?.slice(0, 200) ?? 'failed',
        ),
        timeoutMs,
      );
      results[name] = outcome ?? `no answer within ${timeoutMs} ms`;
      if (results[name] !== 'ok') ready = false;
    }),
  );
  return { ready, checks: results };
}
