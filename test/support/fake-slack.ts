/**
 * A fake Slack on 127.0.0.1 (CONTRIBUTING.md, "What the tests stand on"): the Web API methods the bot calls, the
 * response_url endpoint, the file upload endpoint, and a Socket Mode WebSocket behind apps.connections.open. It
 * records every call, checks every message against Block Kit's limits, and can be told to fail the next calls of
 * a method (429 with Retry-After, 5xx, or a Slack error such as not_in_channel). It keeps what the bot posts, by
 * channel, and reads it back through conversations.history and conversations.replies (with metadata when asked),
 * unless told that the token lacks the history scopes.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import * as wait from './wait.js';

export interface SlackCall {
  method: string;
  args: Record<string, unknown>;
  /** chat.postMessage: the ts it answered with. */
  ts?: string;
}

export type Failure = { status: 429; retryAfter: number } | { status: 500 | 502 | 503 } | { error: string };

/** A message as the fake keeps it, for conversations.history and conversations.replies. */
export interface StoredMessage {
  ts: string;
  text?: unknown;
  thread_ts?: string;
  metadata?: unknown;
  files?: { id: string; name: string }[];
  bot_id: string;
}

export const BOT_TOKEN = 'xoxb-test-0000-secret-bot-token';
export const APP_TOKEN = 'xapp-test-0000-secret-app-token';

const LIMITS = { blocks: 50, section: 3000, context: 2000, contextElements: 10, actions: 25, button: 75, value: 2000, header: 150 };

interface Block {
  type: string;
  text?: { text?: string };
  elements?: { type: string; text?: string | { text?: string }; value?: string }[];
  fields?: { text?: string }[];
}

/** Block Kit's limits as Slack enforces them; returns what is broken, empty when the message is valid. */
export function blockKitViolations(message: { text?: unknown; blocks?: unknown }): string[] {
  const problems: string[] = [];
  const blocks = (typeof message.blocks === 'string' ? JSON.parse(message.blocks) : message.blocks) as Block[] | undefined;
  if (!blocks || blocks.length === 0) {
    if (typeof message.text !== 'string' || message.text.length === 0) problems.push('no text and no blocks');
  }
  if (typeof message.text === 'string' && message.text.length > 40_000) problems.push(`text of ${message.text.length}`);
  if (!blocks) return problems;
  if (blocks.length > LIMITS.blocks) problems.push(`${blocks.length} blocks`);
  blocks.forEach((block, i) => {
    const text = block.text?.text ?? '';
    if (block.type === 'section') {
      if (text.length === 0 && !block.fields) problems.push(`block ${i}: empty section`);
      if (text.length > LIMITS.section) problems.push(`block ${i}: section text of ${text.length}`);
    }
    if (block.type === 'header' && text.length > LIMITS.header) problems.push(`block ${i}: header of ${text.length}`);
    if (block.type === 'context') {
      if ((block.elements?.length ?? 0) > LIMITS.contextElements) problems.push(`block ${i}: ${block.elements?.length} context elements`);
      for (const element of block.elements ?? []) {
        const t = typeof element.text === 'string' ? element.text : '';
        if (t.length > LIMITS.context) problems.push(`block ${i}: context text of ${t.length}`);
      }
    }
    if (block.type === 'actions') {
      if ((block.elements?.length ?? 0) > LIMITS.actions) problems.push(`block ${i}: ${block.elements?.length} actions`);
      for (const element of block.elements ?? []) {
        const label = typeof element.text === 'object' ? (element.text.text ?? '') : '';
        if (label.length > LIMITS.button) problems.push(`block ${i}: button text of ${label.length}`);
        if ((element.value?.length ?? 0) > LIMITS.value) problems.push(`block ${i}: button value of ${element.value?.length}`);
      }
    }
  });
  return problems;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** An upload comes raw or as one multipart part: the file's own bytes, without the envelope. */
function fileContent(req: IncomingMessage, body: Buffer): string {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(req.headers['content-type'] ?? '');
  const text = body.toString('utf8');
  if (!boundary) return text;
  const marker = `--${boundary[1] ?? boundary[2]}`;
  const part = text.split(marker).find((p) => p.includes('\r\n\r\n')) ?? '';
  return part.slice(part.indexOf('\r\n\r\n') + 4).replace(/\r\n$/, '');
}

/** The bytes of an upload, as sent (a picture is not text). */
function fileBytes(req: IncomingMessage, body: Buffer): Buffer {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(req.headers['content-type'] ?? '');
  if (!boundary) return body;
  const text = body.toString('latin1');
  const marker = `--${boundary[1] ?? boundary[2]}`;
  const part = text.split(marker).find((p) => p.includes('\r\n\r\n')) ?? '';
  return Buffer.from(part.slice(part.indexOf('\r\n\r\n') + 4).replace(/\r\n$/, ''), 'latin1');
}

/** Web API arguments arrive form-encoded, with objects JSON-encoded in their fields, or as JSON. */
function parseArgs(req: IncomingMessage, body: Buffer): Record<string, unknown> {
  const text = body.toString('utf8');
  if ((req.headers['content-type'] ?? '').includes('application/json')) return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  const args: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(text)) {
    args[key] = /^[[{]/.test(value) ? (JSON.parse(value) as unknown) : value;
  }
  return args;
}

export class FakeSlack {
  readonly calls: SlackCall[] = [];
  /** Messages POSTed to response URLs, by the id in the URL. */
  readonly responses = new Map<string, Record<string, unknown>[]>();
  /** Uploaded file contents, by file id. */
  readonly uploads = new Map<string, string>();
  /** The same uploads, as bytes (by file id). */
  readonly uploadedBytes = new Map<string, Buffer>();
  /** Every Block Kit limit broken by any message, with the method. */
  readonly violations: string[] = [];
  /** Tokens seen in Authorization headers that were not the expected ones. */
  readonly badTokens: string[] = [];
  /** Members of user groups, for usergroups.users.list. */
  readonly usergroups = new Map<string, string[]>();
  /** What the bot posted (messages and file shares), by channel, oldest first. */
  readonly messages = new Map<string, StoredMessage[]>();
  /** When false, reading history answers missing_scope, as for a token without channels:history and the like. */
  historyScopes = true;
  private readonly fileNames = new Map<string, string>();
  private readonly failures = new Map<string, { failure: Failure; match?: (args: Record<string, unknown>) => boolean }[]>();
  private readonly sockets = new Set<WebSocket>();
  private readonly pendingAcks = new Map<string, (payload: unknown) => void>();
  /** The last ts given, in µs: a ts is the time of posting, as Slack's are, and never given twice. */
  private lastTsUs = 0;
  private server!: Server;
  private wss!: WebSocketServer;
  url = '';

  /**
   * @param where.port listen on this port (e.g. to come back where a closed fake Slack was); default a free one.
   * @param where.host the address it listens on, default 127.0.0.1; a container network's gateway (the host's side of
   *   the bridge) lets a bot in a container reach it, and nothing beyond that network.
   */
  static async start(where: { port?: number; host?: string } = {}): Promise<FakeSlack> {
    const fake = new FakeSlack();
    await fake.listen(where.port ?? 0, where.host ?? '127.0.0.1');
    return fake;
  }

  get apiUrl(): string {
    return `${this.url}api/`;
  }

  /** A fresh response_url for one command. */
  responseUrl(): string {
    return `${this.url}response/${randomUUID()}`;
  }

  responsesTo(url: string): Record<string, unknown>[] {
    return this.responses.get(url.split('/').at(-1) ?? '') ?? [];
  }

  /**
   * The next `times` calls of `method` fail this way; with `match`, only calls whose arguments it accepts (e.g. one
   * channel's), the others going through.
   */
  failNext(method: string, failure: Failure, times = 1, match?: (args: Record<string, unknown>) => boolean): void {
    const list = this.failures.get(method) ?? [];
    for (let i = 0; i < times; i += 1) list.push(match ? { failure, match } : { failure });
    this.failures.set(method, list);
  }

  /** Forgets the failures told with failNext and not yet used, for `method`. */
  clearFailures(method: string): void {
    this.failures.delete(method);
  }

  /** Failures told with failNext and not yet used, for `method`. */
  pendingFailures(method: string): number {
    return this.failures.get(method)?.length ?? 0;
  }

  callsOf(method: string): SlackCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Waits (support/wait.ts) for what `find` returns from the calls seen; on timeout the error lists the calls. */
  async waitFor<T>(what: string, find: () => T | undefined, timeoutMs = 60_000): Promise<T> {
    const show = (): string => `calls: ${this.calls.map((c) => c.method).join(', ')}`;
    return wait.waitFor(`${what} (fake Slack)`, find, { timeoutMs, everyMs: 25, show });
  }

  /** Socket Mode: sends an envelope to the connected app and resolves with the payload of its ack. */
  async sendEnvelope(type: string, payload: Record<string, unknown>): Promise<unknown> {
    await this.waitFor('a Socket Mode connection', () => (this.sockets.size > 0 ? true : undefined), 20_000);
    const envelopeId = randomUUID();
    const acked = new Promise<unknown>((resolve) => this.pendingAcks.set(envelopeId, resolve));
    for (const socket of this.sockets) {
      socket.send(JSON.stringify({ envelope_id: envelopeId, type, payload, accepts_response_payload: true, retry_attempt: 0 }));
      break;
    }
    return acked;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async listen(port: number, host: string): Promise<void> {
    this.server = createServer((req, res) => {
      void this.handle(req, res).catch((error: Error) => {
        res.writeHead(500).end(error.message);
      });
    });
    this.wss = new WebSocketServer({ noServer: true });
    this.server.on('upgrade', (req, socket, head) => {
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.sockets.add(ws);
        ws.on('close', () => this.sockets.delete(ws));
        ws.on('message', (data: Buffer) => {
          const message = JSON.parse(data.toString('utf8')) as { envelope_id?: string; payload?: unknown };
          if (message.envelope_id) this.pendingAcks.get(message.envelope_id)?.(message.payload);
        });
        ws.send(JSON.stringify({ type: 'hello', num_connections: 1, connection_info: { app_id: 'A0TEST' }, debug_info: { host: 'fake' } }));
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, resolve);
    });
    this.url = `http://${host}:${(this.server.address() as AddressInfo).port}/`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const path = new URL(req.url ?? '/', this.url).pathname;
    const json = (status: number, value: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(value));
    };
    if (path.startsWith('/response/')) {
      const message = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      this.violations.push(...blockKitViolations(message).map((v) => `response_url: ${v}`));
      const id = path.slice('/response/'.length);
      this.responses.set(id, [...(this.responses.get(id) ?? []), message]);
      res.writeHead(200).end('ok');
      return;
    }
    if (path.startsWith('/upload/')) {
      this.uploads.set(path.slice('/upload/'.length), fileContent(req, body));
      this.uploadedBytes.set(path.slice('/upload/'.length), fileBytes(req, body));
      res.writeHead(200).end('OK');
      return;
    }
    if (!path.startsWith('/api/')) {
      res.writeHead(404).end();
      return;
    }
    const method = path.slice('/api/'.length);
    const args = parseArgs(req, body);
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const expected = method === 'apps.connections.open' ? APP_TOKEN : BOT_TOKEN;
    if (token !== expected) {
      this.badTokens.push(method);
      json(200, { ok: false, error: 'invalid_auth' });
      return;
    }
    const pending = this.failures.get(method) ?? [];
    const at = pending.findIndex((entry) => entry.match?.(args) ?? true);
    const failure = at >= 0 ? pending.splice(at, 1)[0]?.failure : undefined;
    if (failure) {
      this.calls.push({ method: `${method}!failed`, args });
      if ('error' in failure) json(200, { ok: false, error: failure.error });
      else if (failure.status === 429) json(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(failure.retryAfter) });
      else json(failure.status, { ok: false, error: 'internal_error' });
      return;
    }
    this.calls.push({ method, args });
    if (['chat.postMessage', 'chat.update', 'chat.postEphemeral'].includes(method)) {
      this.violations.push(...blockKitViolations(args).map((v) => `${method}: ${v}`));
    }
    switch (method) {
      case 'auth.test':
        return json(200, { ok: true, user_id: 'UBOT', bot_id: 'BBOT', team_id: 'T1', user: 'zensweep', team: 'test' });
      case 'apps.connections.open':
        return json(200, { ok: true, url: `${this.url.replace('http', 'ws')}socket` });
      case 'chat.postMessage': {
        const ts = this.nextTs();
        const call = this.calls.at(-1);
        if (call) call.ts = ts;
        this.keep(String(args.channel), {
          ts,
          text: args.text,
          bot_id: 'BBOT',
          ...(typeof args.thread_ts === 'string' ? { thread_ts: args.thread_ts } : {}),
          ...(args.metadata ? { metadata: args.metadata } : {}),
        });
        return json(200, { ok: true, channel: args.channel, ts, message: { text: args.text } });
      }
      case 'chat.update': {
        const kept = this.messages.get(String(args.channel))?.find((m) => m.ts === args.ts);
        if (kept) kept.text = args.text;
        return json(200, { ok: true, channel: args.channel, ts: args.ts });
      }
      case 'conversations.history':
      case 'conversations.replies':
        if (!this.historyScopes) return json(200, { ok: false, error: 'missing_scope', needed: 'channels:history', provided: 'chat:write,commands' });
        return this.history(method, args, json);
      case 'chat.postEphemeral':
        return json(200, { ok: true, message_ts: this.nextTs() });
      case 'views.publish': {
        // The Home tab: 100 blocks at most, each within a message's own limits.
        const view = (typeof args.view === 'string' ? JSON.parse(args.view) : args.view) as { type?: string; blocks?: unknown[] } | undefined;
        const blocks = view?.blocks ?? [];
        if (view?.type !== 'home') this.violations.push(`${method}: a published view must be of type home`);
        if (blocks.length > 100) this.violations.push(`${method}: ${blocks.length} blocks`);
        for (let at = 0; at < blocks.length; at += 50) {
          this.violations.push(...blockKitViolations({ blocks: blocks.slice(at, at + 50) }).map((v) => `${method}: ${v}`));
        }
        return json(200, { ok: true, view: { id: `V${randomUUID().slice(0, 8).toUpperCase()}` } });
      }
      case 'chat.getPermalink':
        return json(200, { ok: true, channel: args.channel, permalink: `https://test.slack.com/archives/${String(args.channel)}/p${String(args.message_ts).replace('.', '')}` });
      case 'views.open': {
        // A modal: kept (callsOf('views.open')) for the test to submit, as a person would.
        this.violations.push(...viewViolations(args.view).map((v) => `${method}: ${v}`));
        return json(200, { ok: true, view: { id: `V${randomUUID().slice(0, 8).toUpperCase()}` } });
      }
      case 'files.getUploadURLExternal': {
        const id = `F${randomUUID().slice(0, 8).toUpperCase()}`;
        this.fileNames.set(id, String(args.filename));
        return json(200, { ok: true, upload_url: `${this.url}upload/${id}`, file_id: id });
      }
      case 'usergroups.users.list': {
        const users = this.usergroups.get(String(args.usergroup));
        return users ? json(200, { ok: true, users }) : json(200, { ok: false, error: 'no_such_subteam' });
      }
      case 'files.completeUploadExternal': {
        const files = (args.files as { id: string }[]).map((f) => ({ id: f.id, name: this.fileNames.get(f.id) ?? '' }));
        if (typeof args.channel_id === 'string') {
          // Slack shares the files in one message (in the thread when given one).
          this.keep(args.channel_id, {
            ts: this.nextTs(),
            text: args.initial_comment ?? '',
            bot_id: 'BBOT',
            files,
            ...(typeof args.thread_ts === 'string' ? { thread_ts: args.thread_ts } : {}),
          });
        }
        return json(200, { ok: true, files: files.map((f) => ({ id: f.id })) });
      }
      default:
        return json(200, { ok: false, error: 'unknown_method' });
    }
  }

  /** The messages of a channel's thread (parent first), or the channel's top level (newest first), as Slack pages them. */
  private history(method: string, args: Record<string, unknown>, json: (status: number, value: unknown) => void): void {
    const kept = this.messages.get(String(args.channel)) ?? [];
    let list: StoredMessage[];
    if (method === 'conversations.replies') {
      const parent = kept.find((m) => m.ts === args.ts && m.thread_ts === undefined);
      if (!parent) return json(200, { ok: false, error: 'thread_not_found' });
      list = [parent, ...kept.filter((m) => m.thread_ts === args.ts)];
    } else {
      const oldest = Number(args.oldest ?? 0);
      list = kept.filter((m) => m.thread_ts === undefined && Number(m.ts) >= oldest).reverse();
    }
    const metadata = args.include_all_metadata === true || args.include_all_metadata === 'true';
    const from = Number(Buffer.from(String(args.cursor ?? ''), 'base64').toString('utf8') || 0);
    const limit = Math.min(Number(args.limit ?? 100), 1000);
    const page = list.slice(from, from + limit).map(({ metadata: m, ...rest }) => (metadata && m ? { ...rest, metadata: m } : rest));
    const next = from + limit < list.length ? Buffer.from(String(from + limit)).toString('base64') : '';
    json(200, { ok: true, messages: page, has_more: next !== '', response_metadata: { next_cursor: next } });
  }

  private nextTs(): string {
    this.lastTsUs = Math.max(Date.now() * 1000, this.lastTsUs + 1);
    return `${Math.floor(this.lastTsUs / 1e6)}.${String(this.lastTsUs % 1e6).padStart(6, '0')}`;
  }

  private keep(channel: string, message: StoredMessage): void {
    this.messages.set(channel, [...(this.messages.get(channel) ?? []), message]);
  }
}

/** What Slack refuses in a modal (views.open): the few rules its builder checks first. */
function viewViolations(view: unknown): string[] {
  const v = (typeof view === 'string' ? JSON.parse(view) : view) as { type?: string; title?: { text?: string }; blocks?: unknown[]; callback_id?: string; private_metadata?: string } | undefined;
  const problems: string[] = [];
  if (v?.type !== 'modal') problems.push('a view must be a modal');
  if ((v?.title?.text ?? '').length > 24) problems.push(`title over 24 characters: ${v?.title?.text ?? ''}`);
  if (!Array.isArray(v?.blocks) || v.blocks.length === 0 || v.blocks.length > 100) problems.push('a modal has 1 to 100 blocks');
  if ((v?.private_metadata ?? '').length > 3000) problems.push('private_metadata over 3000 characters');
  if ((v?.callback_id ?? '').length > 255) problems.push('callback_id over 255 characters');
  return problems;
}
