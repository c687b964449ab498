import express, { type Express } from 'express';
import type { Server } from 'node:http';

/**
 * The one HTTP server: `/healthz` here; Slack (`POST /slack/events`), Teams
 * (`POST /api/messages`) and the credential form (`/c/:token`) mount their routers on it.
 * No global body parser: Slack's signature is computed over the raw body.
 */
export function createHttpApp(health: () => Promise<Record<string, unknown>>): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.get('/healthz', async (_req, res) => {
    try {
      res.json({ ok: true, ...(await health()) });
    } catch (e) {
      res.status(503).json({ ok: false, error: e instanceof Error ? e.message : String(e) });
    }
  });
  return app;
}

/** Starts listening; resolves with the server and the port it got (PORT=0 picks a free one). */
export function listen(app: Express, port: number, host?: string): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host ?? '::', (err?: Error) => {
      if (err) return reject(err);
      const addr = server.address();
      resolve({ server, port: typeof addr === 'object' && addr ? addr.port : port });
    });
    server.on('error', reject);
  });
}
