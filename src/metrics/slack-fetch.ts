import type { FetchFunction } from '@slack/web-api';
import type { Logger } from 'pino';
import type { BotMetrics } from './bot-metrics.js';

/** A Web API method name as a label: `chat.postMessage`; anything else (an upload URL) is `file_upload`. */
function methodOf(url: string, apiUrl: string): string {
  if (!url.startsWith(apiUrl)) return 'file_upload';
  const method = url.slice(apiUrl.length).split(/[?#]/, 1)[0] ?? '';
  return /^[A-Za-z][A-Za-z0-9.]{0,80}$/.test(method) ? method : 'other';
}

/**
 * The URL of a request as a log shows it: a Web API method's URL without query or fragment; of an upload URL only
 * its origin, since its path is the upload's capability. Tokens travel in headers and bodies, never shown.
 */
function shownUrl(url: string, method: string, apiUrl: string): string {
  if (method !== 'file_upload' && method !== 'other') return `${apiUrl}${method}`;
  try {
    return `${new URL(url).origin}/…`;
  } catch {
    return 'unreadable URL';
  }
}

/** Why a request failed on the way, in one line: fetch's "fetch failed" with its cause, e.g. `connect ECONNREFUSED …`. */
function networkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error).slice(0, 200);
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
  const name = error.name === 'Error' || error.name === 'TypeError' ? '' : `${error.name}: `;
  return `${name}${error.message}${cause}`.replace(/\s+/g, ' ').slice(0, 300);
}

/** Slack's error codes are a fixed vocabulary of lower-case words; anything else is not used as a label. */
function errorLabel(code: unknown): string {
  return typeof code === 'string' && /^[a-z_]{1,60}$/.test(code) ? code : 'other';
}

export interface CountingFetchOptions {
  /**
   * Where each request that failed on the way goes, one line (`slack_api_failed`: the method, the URL, the HTTP
   * status or the network error; never a header or a body, which hold the token); default: nowhere. The client tries
   * again on its own: each failed attempt is a line.
   */
  log?: Logger;
  /** The transport underneath, default the global fetch. */
  inner?: FetchFunction;
}

/**
 * The Web API client's transport, counted: every HTTP request by method, the ones that failed by error, and those
 * the client will try again. Given to Bolt as `clientOptions.fetch`; requests and bodies pass through untouched.
 */
export function countingFetch(metrics: BotMetrics, apiUrl: string, options: CountingFetchOptions = {}): FetchFunction {
  const { log, inner = globalThis.fetch } = options;
  return async (input, init) => {
    const url = String(input);
    const method = methodOf(url, apiUrl);
    metrics.slackCalls.inc({ method });
    let response: Awaited<ReturnType<FetchFunction>>;
    try {
      response = await inner(input, init);
    } catch (error) {
      metrics.slackErrors.inc({ method, error: 'network' });
      metrics.slackRetries.inc({ method });
      log?.warn({ event: 'slack_api_failed', method, url: shownUrl(url, method, apiUrl), error: networkError(error) });
      throw error;
    }
    if (response.status === 429) {
      metrics.slackErrors.inc({ method, error: 'ratelimited' });
      metrics.slackRetries.inc({ method });
      const retryAfter = response.headers.get('retry-after');
      log?.warn({ event: 'slack_api_failed', method, url: shownUrl(url, method, apiUrl), status: 429, ...(retryAfter === null ? {} : { retryAfter }) });
    } else if (response.status !== 200) {
      metrics.slackErrors.inc({ method, error: response.status >= 500 ? 'http_5xx' : 'http_4xx' });
      metrics.slackRetries.inc({ method });
      log?.warn({ event: 'slack_api_failed', method, url: shownUrl(url, method, apiUrl), status: response.status });
    } else if (method !== 'file_upload' && 'clone' in response && typeof response.clone === 'function') {
      // Read from a copy: the client reads the original.
      const copy = (response.clone as () => Response)();
      const body = (await copy.json().catch(() => undefined)) as { ok?: unknown; error?: unknown } | undefined;
      if (body?.ok === false) metrics.slackErrors.inc({ method, error: errorLabel(body.error) });
    }
    return response;
  };
}
