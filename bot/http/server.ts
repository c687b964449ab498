import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../log.ts';

/** Short answers per status: a caller learns the class of its mistake, never our internals. */
const SHORT: Record<number, string> = {
  400: 'bad request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not found',
  405: 'method not allowed',
  413: 'request too large',
  415: 'unsupported media type',
};

/**
 * The one final error handler of the HTTP server, registered after every route: whatever a
 * route or a body parser throws becomes a short JSON answer (`{"error": "bad request"}`, or
 * `{"error": "internal error", "ref": "…"}` for a 500), never Express's HTML page with a
 * stack trace and file paths. The details go to our logger only (which redacts), never the
 * request body (body-parser attaches it to its errors) and never raw stderr.
 */
export function installErrorHandler(app: Express, log: Logger): void {
  // Four arguments: Express recognises an error handler by its arity.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = (err ?? {}) as {
      status?: unknown;
      statusCode?: unknown;
      type?: unknown;
      message?: unknown;
      name?: unknown;
    };
    const raw = Number(e.status ?? e.statusCode);
    const status = Number.isInteger(raw) && raw >= 400 && raw < 600 ? raw : 500;
    const fields: Record<string, unknown> = { method: req.method, path: req.path, status };
    if (typeof e.type === 'string')
      fields.type = e.type; // body-parser's own code: its message may quote the body
    else fields.error = typeof e.message === 'string' ? e.message : String(err);
    if (status >= 500) {
      const ref = randomBytes(4).toString('hex');
      log.error('http: request failed', { ...fields, ref, stack: err instanceof Error ? err.stack : undefined });
      if (!res.headersSent) res.status(500).json({ error: 'internal error', ref });
    } else {
      log.warn('http: request refused', fields);
      if (!res.headersSent) res.status(status).json({ error: SHORT[status] ?? 'request refused' });
    }
    if (res.headersSent && !res.writableEnded) res.end();
  });
}

/**
 * The one HTTP server: `/healthz` here; Slack (`POST /slack/events`), Teams
 * (`POST /api/messages`) and the credential form (`/c/:token`) mount their routers on it.
 * No global body parser: Slack's signature is computed over the raw body.
 */
export function createHttpApp(
  health: () => Promise<{ ok: boolean } & Record<string, unknown>>,
  opts: { trustProxy?: readonly string[] } = {},
): Express {
  const app = express();
  app.disable('x-powered-by');
  // X-Forwarded-For / -Proto are believed only from the configured proxies: from anyone
  // else a client could pick its own address (and its own rate-limit bucket) per request.
  const trusted = opts.trustProxy ?? [];
  try {
    app.set('trust proxy', trusted.length ? [...trusted] : false);
  } catch (e) {
    throw new Error(`MAILFERRY_TRUST_PROXY: ${e instanceof Error ? e.message : String(e)}`);
  }
  app.get('/healthz', async (_req, res) => {
    try {
      // Non-200 with a short reason when a part cannot do its job (the database cannot be written).
      const h = await health();
      res.status(h.ok ? 200 : 503).json(h);
    } catch (e) {
      res.status(503).json({ ok: false, error: e instanceof Error ? e.message : String(e) });
    }
  });
  return app;
}

/** A server listening before the app is ready: it answers 503 until `attach` hands it the app. */
export interface EarlyServer {
  server: Server;
  /** The port it got. */
  port: number;
  /** From now on, requests go to the app. */
  attach(app: Express): void;
}

/**
 * Binds the port before the app is built, so the settings derived from it (the default
 * PUBLIC_URL when PORT=0 picks a free port) are known to every part that is installed.
 */
export function bindEarly(port: number, host?: string): Promise<EarlyServer> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' }).end('{"error":"starting"}');
  };
  const server = keepConnectionsOpen(createServer((req, res) => handler(req, res)));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host ?? '::', () => {
      server.off('error', reject);
      const addr = server.address();
      resolve({ server, port: typeof addr === 'object' && addr ? addr.port : port, attach: (app) => (handler = app) });
    });
  });
}

/**
 * Idle keep-alive connections stay open longer than clients and proxies keep theirs (Node's
 * default, 5 s, is shorter than most load balancers' 60 s): a server that closes an idle
 * connection first can close it just as the client sends the next request on it, and that
 * request fails with ECONNRESET. Slack, Bot Framework and reverse proxies all reuse connections.
 */
function keepConnectionsOpen(server: Server): Server {
  server.keepAliveTimeout = 65_000;
  // Must exceed keepAliveTimeout, or a request's headers could time out first on a reused connection.
  server.headersTimeout = 66_000;
  return server;
}

/**
 * Starts listening; resolves with the server and the port it got (PORT=0 picks a free one).
 * Given a server bound early, hands it the app instead.
 */
export function listen(
  app: Express,
  port: number,
  host?: string,
  early?: EarlyServer,
): Promise<{ server: Server; port: number }> {
  if (early) {
    early.attach(app);
    return Promise.resolve({ server: early.server, port: early.port });
  }
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host ?? '::', (err?: Error) => {
      if (err) return reject(err);
      keepConnectionsOpen(server);
      const addr = server.address();
      resolve({ server, port: typeof addr === 'object' && addr ? addr.port : port });
    });
    server.on('error', reject);
  });
}
