import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { defined } from '../../harness/defined.ts';

/** One request the bot made to the (stand-in) Bot Connector service. */
export interface ConnectorCall {
  method: string;
  path: string;
  /** Decoded conversation id of /v3/conversations/{id}/… */
  conversationId?: string;
  /** The activity replied to (POST …/activities/{id}) or edited (PUT …/activities/{id}). */
  activityId?: string;
  body: any;
  authorization?: string;
  status: number;
  /** The activity id the stand-in answered with. */
  responseId?: string;
}

/** A Teams member as the connector's pagedmembers returns it. */
export interface Member {
  id: string;
  name: string;
  email: string;
  userPrincipalName: string;
  aadObjectId: string;
}

/**
 * A local stand-in for the Bot Connector service (the activity's serviceUrl points here):
 * records every call and answers like Teams does.
 */
export class ConnectorRecorder {
  calls: ConnectorCall[] = [];
  members: Member[] = [];
  private failures: { status: number; retryAfter?: string }[] = [];
  private pathFailures: { method: string; path: string; status: number }[] = [];
  private server!: Server;
  private seq = 0;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
    return this;
  }

  /** The next call of `method` to exactly `path` fails with `status`. */
  failOn(method: string, path: string, status: number): void {
    this.pathFailures.push({ method, path, status });
  }

  /** The next `n` calls fail with `status` (429, 503…). */
  failNext(n: number, status: number, retryAfter?: string): void {
    for (let i = 0; i < n; i++) this.failures.push({ status, retryAfter });
  }

  /** Activities posted or updated (successful calls with an activity body). */
  activities(filter: (c: ConnectorCall) => boolean = () => true): ConnectorCall[] {
    return this.calls.filter((c) => c.status < 300 && /\/activities/.test(c.path) && filter(c));
  }

  /** The Adaptive Card JSON of a recorded activity. */
  static card(c: ConnectorCall): any {
    return c.body?.attachments?.find((a: any) => a.contentType === 'application/vnd.microsoft.card.adaptive')?.content;
  }

  /** Every text of a card, joined (for assertions). */
  static cardText(card: any): string {
    const out: string[] = [];
    const walk = (x: any): void => {
      if (Array.isArray(x)) x.forEach(walk);
      else if (x && typeof x === 'object') {
        for (const k of ['text', 'title', 'value', 'label']) if (typeof x[k] === 'string') out.push(x[k]);
        Object.values(x).forEach(walk);
      }
    };
    walk(card);
    return out.join('\n');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const path = decodeURIComponent(defined((req.url ?? '').split('?')[0]));
    const m = /^\/v3\/conversations\/([^/]+)(?:\/activities(?:\/([^/]+))?|\/(pagedmembers|members))?$/.exec(
      defined((req.url ?? '').split('?')[0]),
    );
    const call: ConnectorCall = {
      method: req.method ?? '',
      path,
      conversationId: m ? decodeURIComponent(defined(m[1])) : undefined,
      activityId: m?.[2] ? decodeURIComponent(m[2]) : undefined,
      body: raw ? JSON.parse(raw) : undefined,
      authorization: req.headers.authorization,
      status: 200,
    };
    this.calls.push(call);
    const pf = this.pathFailures.findIndex((f) => f.method === req.method && f.path === path);
    const fail = pf >= 0 ? this.pathFailures.splice(pf, 1)[0] : this.failures.shift();
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      call.status = status;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (fail)
      return json(
        fail.status,
        {
          error: {
            code: fail.status === 403 ? 'Forbidden' : 'Throttled',
            message: fail.status === 403 ? 'The bot is not installed for this user' : 'Too many requests',
          },
        },
        'retryAfter' in fail && fail.retryAfter ? { 'retry-after': fail.retryAfter } : {},
      );
    if (req.method === 'POST' && path === '/v3/conversations')
      return json(201, { id: `a:dm-${++this.seq}`, activityId: `dm-act-${this.seq}` });
    if (req.method === 'GET' && m?.[3])
      return json(200, m[3] === 'pagedmembers' ? { members: this.members } : this.members);
    if ((req.method === 'POST' || req.method === 'PUT') && /\/activities/.test(path)) {
      call.responseId = call.activityId && req.method === 'PUT' ? call.activityId : `act-${++this.seq}`;
      return json(200, { id: call.responseId });
    }
    json(404, { error: { code: 'NotFound', message: path } });
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** A fixture activity (test/fixtures/teams), with its serviceUrl pointed at the recorder. */
export function fixture(name: string, serviceUrl: string, patch: Record<string, any> = {}): any {
  const a = JSON.parse(readFileSync(new URL(`../../fixtures/teams/${name}.json`, import.meta.url), 'utf8'));
  return { ...a, serviceUrl, ...patch };
}

/** A channel message that @mentions the bot, as Teams sends it; `root` makes it a reply in that thread. */
export function channelMessage(serviceUrl: string, text: string, opts: { id: string; root?: string; from?: any }): any {
  const a = fixture('channel-message-mention', serviceUrl);
  const root = opts.root ?? opts.id;
  return {
    ...a,
    id: opts.id,
    text: `<at>MailFerry</at> ${text}`,
    conversation: { ...a.conversation, id: `19:migrations0channel0id@thread.tacv2;messageid=${root}` },
    ...(opts.from ? { from: opts.from } : {}),
  };
}

/** POSTs an activity to the bot like the Teams channel does. */
export async function postActivity(
  base: string,
  activity: unknown,
  token?: string,
): Promise<{ status: number; body: any }> {
  const r = await fetch(`${base}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(activity),
  });
  const text = await r.text();
  let body: any = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    /* plain text */
  }
  return { status: r.status, body };
}

/**
 * A local OpenID metadata + JWKS endpoint with a test RSA key, and a signer of Bot
 * Framework channel tokens (RS256; issuer, audience, serviceurl claim, endorsements).
 */
export class TokenIssuer {
  readonly kid = 'mailferry-test-key';
  readonly key: { privateKey: KeyObject; publicKey: KeyObject };
  private server!: Server;
  metadataUrl = '';

  constructor() {
    this.key = generateKeyPairSync('rsa', { modulusLength: 2048 });
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/openidconfiguration')
        return res.end(
          JSON.stringify({
            issuer: 'https://api.botframework.com',
            authorization_endpoint: `${base}/auth`,
            jwks_uri: `${base}/keys`,
            id_token_signing_alg_values_supported: ['RS256'],
            token_endpoint_auth_methods_supported: ['private_key_jwt'],
          }),
        );
      if (req.url === '/keys') {
        const jwk = this.key.publicKey.export({ format: 'jwk' }) as { n: string; e: string };
        return res.end(
          JSON.stringify({
            keys: [{ kty: 'RSA', use: 'sig', kid: this.kid, n: jwk.n, e: jwk.e, endorsements: ['msteams'] }],
          }),
        );
      }
      res.statusCode = 404;
      res.end('{}');
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.metadataUrl =
      `http://127.0.0.1:${(this.server.address() as AddressInfo).port}` + `/.well-known/openidconfiguration`;
    return this;
  }

  /** A signed token; override claims or the signing key to forge bad ones. */
  token(claims: Record<string, unknown>, opts: { key?: KeyObject; kid?: string } = {}): string {
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', kid: opts.kid ?? this.kid, x5t: opts.kid ?? this.kid };
    const payload = { iss: 'https://api.botframework.com', nbf: now - 60, iat: now - 60, exp: now + 3600, ...claims };
    const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const data = `${enc(header)}.${enc(payload)}`;
    return `${data}.${sign('sha256', Buffer.from(data), opts.key ?? this.key.privateKey).toString('base64url')}`;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}
