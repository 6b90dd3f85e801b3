import type { FetchFunction } from '@slack/web-api';
import type { BotMetrics } from './bot-metrics.js';

/** A Web API method name as a label: `chat.postMessage`; anything else (an upload URL) is `file_upload`. */
function methodOf(url: string, apiUrl: string): string {
  if (!url.startsWith(apiUrl)) return 'file_upload';
  const method = url.slice(apiUrl.length).split(/[?#]/, 1)[0] ?? '';
  return /^[A-Za-z][A-Za-z0-9.]{0,80}$/.test(method) ? method : 'other';
}

/** Slack's error codes are a fixed vocabulary of lower-case words; anything else is not used as a label. */
function errorLabel(code: unknown): string {
  return typeof code === 'string' && /^[a-z_]{1,60}$/.test(code) ? code : 'other';
}

/**
 * The Web API client's transport, counted: every HTTP request by method, the ones that failed by error, and those
 * the client will try again. Given to Bolt as `clientOptions.fetch`; requests and bodies pass through untouched.
 */
export function countingFetch(metrics: BotMetrics, apiUrl: string, inner: FetchFunction = globalThis.fetch): FetchFunction {
  return async (input, init) => {
    const method = methodOf(String(input), apiUrl);
    metrics.slackCalls.inc({ method });
    let response: Awaited<ReturnType<FetchFunction>>;
    try {
      response = await inner(input, init);
    } catch (error) {
      metrics.slackErrors.inc({ method, error: 'network' });
      metrics.slackRetries.inc({ method });
      throw error;
    }
    if (response.status === 429) {
      metrics.slackErrors.inc({ method, error: 'ratelimited' });
      metrics.slackRetries.inc({ method });
    } else if (response.status !== 200) {
      metrics.slackErrors.inc({ method, error: response.status >= 500 ? 'http_5xx' : 'http_4xx' });
      metrics.slackRetries.inc({ method });
    } else if (method !== 'file_upload' && 'clone' in response && typeof response.clone === 'function') {
      // Read from a copy: the client reads the original.
      const copy = (response.clone as () => Response)();
      const body = (await copy.json().catch(() => undefined)) as { ok?: unknown; error?: unknown } | undefined;
      if (body?.ok === false) metrics.slackErrors.inc({ method, error: errorLabel(body.error) });
    }
    return response;
  };
}
