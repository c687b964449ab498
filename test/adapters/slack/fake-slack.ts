import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';

/** One Web API call as the fake received it. */
export interface SlackCall {
  method: string;
  args: Record<string, any>;
  auth?: string;
  at: number;
  /** When the fake answered. */
  end?: number;
  /** What the fake answered. */
  result?: Record<string, any>;
}

/** The most calls of the given methods that were open at the same time. */
export function maxOpenCalls(calls: SlackCall[], methods: string[]): number {
  const edges = calls
    .filter((c) => methods.includes(c.method) && c.end !== undefined)
    .flatMap((c) => [
      { t: c.at, d: 1 },
      { t: c.end!, d: -1 },
    ])
    // At the same millisecond an answer comes before a new call: it was not open at once.
    .sort((a, b) => a.t - b.t || a.d - b.d);
  let open = 0;
  let max = 0;
  for (const e of edges) max = Math.max(max, (open += e.d));
  return max;
}

/** A POST to a response_url. */
export interface ResponsePost {
  path: string;
  body: Record<string, any>;
  at: number;
}

/** A programmed failure for the next call(s) of a method. */
export type Failure = { status: 429; retryAfter: number } | { status: 500 } | { error: string };

/**
 * A local stand-in for Slack: the Web API under `/api/` (answers like Slack, records every
 * call), `response_url`s under `/response/`, and private files under `/files/`.
 */
export class FakeSlack {
  calls: SlackCall[] = [];
  responses: ResponsePost[] = [];
  fileGets: { path: string; auth?: string }[] = [];
  /** Workspace members by email. */
  users = new Map<string, { id: string; name: string }>();
  files = new Map<string, { body: string; contentType?: string }>();
  /** Milliseconds to wait before answering a method (a slow Slack). */
  delays = new Map<string, number>();
  private failures = new Map<string, Failure[]>();
  private alwaysFail = new Map<string, Failure>();
  private server!: Server;
  private seq = 0;
  base = '';

  /** The Web API base for SLACK_API_URL. */
  get url(): string {
    return `${this.base}/api/`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections?.();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Fails the next call of `method` once per entry. */
  failNext(method: string, ...f: Failure[]): void {
    this.failures.set(method, [...(this.failures.get(method) ?? []), ...f]);
  }

  /** Fails every call of `method` until cleared (`null`). */
  failAlways(method: string, f: Failure | null): void {
    if (f) this.alwaysFail.set(method, f);
    else this.alwaysFail.delete(method);
  }

  /** Calls of one method. */
  of(method: string): SlackCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Waits until `pred` holds (polling), or fails after `ms`. */
  async waitFor<T>(pred: () => T | undefined | false, ms = 5000, what = 'condition'): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = pred();
      if (v) return v;
      if (Date.now() > end)
        throw new Error(`timed out waiting for ${what}; calls: ${this.calls.map((c) => c.method).join(', ')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private async handle(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.base);
    let call: SlackCall | undefined;
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      if (call) call.end = Date.now();
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(body));
    };
    if (url.pathname.startsWith('/files/')) {
      this.fileGets.push({ path: url.pathname, auth: req.headers.authorization });
      const f = this.files.get(url.pathname);
      if (!f || req.headers.authorization !== 'Bearer xoxb-test-token') {
        res.writeHead(f ? 302 : 404, { 'content-type': 'text/html' });
        res.end('<html>login</html>');
        return;
      }
      res.writeHead(200, { 'content-type': f.contentType ?? 'text/csv' });
      res.end(f.body);
      return;
    }
    if (url.pathname.startsWith('/gone/')) {
      // An expired or used-up response_url.
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('expired_url');
      return;
    }
    if (url.pathname.startsWith('/response/')) {
      this.responses.push({ path: url.pathname, body: JSON.parse(raw || '{}'), at: Date.now() });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
      return;
    }
    const method = url.pathname.replace(/^\/api\//, '');
    const args = parseArgs(raw, req.headers['content-type'] ?? '');
    call = { method, args, auth: req.headers.authorization, at: Date.now() };
    this.calls.push(call);
    const delay = this.delays.get(method);
    if (delay) await new Promise((r) => setTimeout(r, delay));
    const queued = this.failures.get(method);
    const failure = queued?.length ? queued.shift() : this.alwaysFail.get(method);
    if (failure) {
      if ('error' in failure) return json(200, { ok: false, error: failure.error });
      if (failure.status === 429)
        return json(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(failure.retryAfter) });
      return json(500, { ok: false, error: 'internal_error' });
    }
    call.result = this.answer(method, args);
    json(200, call.result);
  }

  private answer(method: string, a: Record<string, any>): Record<string, unknown> {
    switch (method) {
      case 'auth.test':
        return {
          ok: true,
          url: 'https://acme.slack.com/',
          team: 'Acme',
          user: 'mailferry',
          team_id: 'T1',
          user_id: 'UBOT',
          bot_id: 'BBOT',
        };
      case 'chat.postMessage': {
        const ts = `${1_700_000_000 + ++this.seq}.${String(this.seq).padStart(6, '0')}`;
        return {
          ok: true,
          channel: a.channel,
          ts,
          message: { type: 'message', text: a.text, ts, ...(a.thread_ts ? { thread_ts: a.thread_ts } : {}) },
        };
      }
      case 'chat.update':
        return { ok: true, channel: a.channel, ts: a.ts, text: a.text };
      case 'chat.postEphemeral':
        return { ok: true, message_ts: `${1_700_000_000 + ++this.seq}.000000` };
      case 'views.open':
        return { ok: true, view: { id: `V${++this.seq}`, ...(a.view ?? {}) } };
      case 'users.lookupByEmail': {
        const u = this.users.get(String(a.email).toLowerCase());
        return u
          ? {
              ok: true,
              user: {
                id: u.id,
                name: u.name,
                deleted: false,
                is_bot: false,
                profile: { display_name: u.name, email: a.email },
              },
            }
          : { ok: false, error: 'users_not_found' };
      }
      case 'conversations.open':
        return { ok: true, channel: { id: `D${String(a.users).replace(/^U/, '')}` } };
      case 'files.info':
        return { ok: true, file: { id: a.file, url_private_download: `${this.base}/files/T1/${a.file}/upload.csv` } };
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }
}

/** Parses a Web API request body: form-encoded (JSON-valued fields decoded) or JSON. */
function parseArgs(raw: string, contentType: string): Record<string, any> {
  if (contentType.includes('application/json')) return JSON.parse(raw || '{}');
  const out: Record<string, any> = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    out[k] = /^[[{]/.test(v) ? safeJson(v) : v;
  }
  return out;
}

function safeJson(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

/** Signs a body as Slack does: `v0=` + hex HMAC-SHA256 of `v0:{ts}:{body}`. */
export function signSlack(secret: string, body: string, ts: number): string {
  return 'v0=' + createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex');
}
