import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthorityHttpClient } from '../../../engine/connectors/m365/network-client.ts';
import { writeSelfSignedCert } from '../../harness/tls-cert.ts';

describe('the authority HTTP client', () => {
  let dir: string;
  let server: Server;
  let url: string;
  let ca: string;
  /** Requests each connection has carried. */
  const served = new WeakMap<Socket, number>();
  let connections = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mf-authority-'));
    writeSelfSignedCert(dir, '127.0.0.1', 'IP:127.0.0.1');
    ca = readFileSync(join(dir, 'cert.pem'), 'utf8');
    // The server closes a kept-alive connection as the next request arrives on it: what a
    // server's idle timeout does when it runs out just as the client reuses the connection.
    server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: ca }, (req, res) => {
      const n = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, n);
      if (n > 1) {
        req.socket.destroy();
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ok: true }));
    });
    server.on('secureConnection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('no port');
    url = `https://127.0.0.1:${address.port}/token`;
  });

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends a request again on a new connection when the kept-alive one was closed as it was reused', async () => {
    const http = new AuthorityHttpClient(ca);
    const first = await http.sendPostRequestAsync<{ ok: boolean }>(url, { body: 'grant_type=client_credentials' });
    expect(first).toMatchObject({ status: 200, body: { ok: true } });
    // The old client failed here with ECONNRESET ("the Microsoft authority could not be reached").
    const second = await http.sendPostRequestAsync<{ ok: boolean }>(url, { body: 'grant_type=client_credentials' });
    expect(second).toMatchObject({ status: 200, body: { ok: true } });
    expect(http.lastFailure).toBeUndefined();
    // The second went out on the kept-alive connection, then again on a new one.
    expect(connections).toBe(2);
  });
});
