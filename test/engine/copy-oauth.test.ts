/**
 * OAuth 2.0 access tokens (SASL OAUTHBEARER, RFC 7628, and XOAUTH2) against the real
 * Dovecot: its oauth2 passdb asks a local introspection endpoint whether a token is
 * active and whose it is.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { verifyCredentials } from '../../engine/connectors/index.ts';
import type { ConnectorEndpoint } from '../../engine/connectors/types.ts';
import {
  makeMessage,
  readMailbox,
  seedImap,
  startDovecot,
  type DovecotInstance,
  type SeedMessage,
} from '../harness/dovecot.ts';
import { hashCounts } from '../harness/copy-assert.ts';
import type { ChildConfig } from '../harness/run-pass-child.ts';
import { testDbUrl } from '../harness/test-db.ts';

const CHILD = fileURLToPath(new URL('../harness/run-pass-child.ts', import.meta.url));
/** Tokens as a real provider hands them out: long, random, opaque. */
const newToken = () => randomBytes(32).toString('base64url');

/**
 * A tiny introspection endpoint (RFC 7662 style, as Dovecot's `introspection_mode = post`
 * calls it): `token=…` in a form body; active tokens answer their user, others `active: false`.
 */
async function startIntrospection(
  tokens: Map<string, string>,
): Promise<{ url: string; asked: string[]; close(): Promise<void> }> {
  const asked: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const token = new URLSearchParams(body).get('token') ?? '';
      asked.push(token);
      const user = tokens.get(token);
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify(user ? { active: true, username: user, scope: 'IMAP.AccessAsUser.All' } : { active: false }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}/introspect`,
    asked,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const msgs = (count: number, size: number, from = 0): SeedMessage[] =>
  Array.from({ length: count }, (_, i) => ({
    raw: makeMessage({ size }),
    flags: i % 2 ? ['\\Seen'] : [],
    internalDate: new Date(Date.UTC(2023, 1, 1, 0, 0, from + i)),
  }));

const tokens = new Map<string, string>();
let intro: Awaited<ReturnType<typeof startIntrospection>>;
let dir: string;
const instances: DovecotInstance[] = [];
async function dovecot(mechanisms?: ('oauthbearer' | 'xoauth2')[]): Promise<DovecotInstance> {
  const dv = await startDovecot({ oauth2: { introspectionUrl: intro.url, mechanisms } });
  instances.push(dv);
  return dv;
}
const tokenEndpoint = (dv: DovecotInstance, login: string, accessToken: string): ConnectorEndpoint => ({
  url: dv.url,
  login,
  secret: { accessToken },
});

beforeAll(async () => {
  intro = await startIntrospection(tokens);
  dir = mkdtempSync(join(tmpdir(), 'mf-oauth-'));
});
afterAll(async () => {
  await Promise.all(instances.map((d) => d.dispose()));
  await intro?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs one pass in a child process (test/harness/run-pass-child.ts) and returns its whole stdout and stderr. */
function runChild(
  cfg: ChildConfig,
): Promise<{ out: string; err: string; result?: { outcome: string; copied: number; detail?: string } }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      env: { ...process.env, LOG_LEVEL: 'debug', MF_CHILD_CONFIG: JSON.stringify(cfg) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', () => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      resolve({ out, err, result: line ? JSON.parse(line.slice(7)) : undefined });
    });
  });
}

describe('OAuth access tokens (Dovecot oauth2 passdb)', () => {
  it('verifyCredentials accepts a good token over OAUTHBEARER and over XOAUTH2', async () => {
    for (const mechanisms of [undefined, ['xoauth2' as const]]) {
      const dv = await dovecot(mechanisms);
      dv.addUser('ouser', 'unused-password');
      const token = newToken();
      tokens.set(token, 'ouser');
      expect(await verifyCredentials(dv.url, 'ouser', { accessToken: token }, 'source')).toEqual({ ok: true });
      expect(intro.asked).toContain(token);
      // The server took the token, not some password login. Dovecot's log process writes the
      // line on its own time, after the login was answered: wait for it.
      await vi.waitFor(
        () =>
          expect(readFileSync(dv.logFile, 'utf8')).toMatch(
            mechanisms ? /Login: user=<ouser>, method=XOAUTH2/ : /Login: user=<ouser>, method=OAUTHBEARER/,
          ),
        { timeout: 10_000, interval: 100 },
      );
    }
  });

  it('a bad token is reported as credentials refused, not unreachable, and the token is in no output', async () => {
    // A fresh instance per refusal: Dovecot delays further logins from an IP after a failure.
    for (const mechanisms of [undefined, ['xoauth2' as const]]) {
      const dv = await dovecot(mechanisms);
      dv.addUser('ouser', 'unused-password');
      const bad = newToken();
      const r = await verifyCredentials(dv.url, 'ouser', { accessToken: bad }, 'destination');
      expect(r).toMatchObject({ ok: false, kind: 'refused' });
      expect(intro.asked).toContain(bad);
      expect(JSON.stringify(r)).not.toContain(bad);
      expect(readFileSync(dv.logFile, 'utf8')).not.toContain(bad);
    }
  });

  it(
    'a pass with a token-authenticated source copies ' + 'everything, and the token reaches no log of the run',
    async () => {
      const dv = await dovecot();
      dv.addUser('osrc', 'src-password-not-used');
      dv.addUser('odst', 'dst-pw');
      await seedImap(dv, 'osrc', 'src-password-not-used', {
        INBOX: msgs(30, 6000),
        'Archive/2023': msgs(12, 20_000, 100),
      });
      const token = newToken();
      tokens.set(token, 'osrc');
      const asked = intro.asked.length;
      const logFrom = readFileSync(dv.logFile, 'utf8').length;
      const run = await runChild({
        dbUrl: testDbUrl(dir, 'oauth'),
        itemId: 'oauth-pass',
        source: tokenEndpoint(dv, 'osrc', token),
        destination: { url: dv.url, login: 'odst', secret: { password: 'dst-pw' } },
        options: { connections: 2, messagesPerLane: 1 },
      });
      expect(run.result, run.err.slice(-2000)).toMatchObject({ outcome: 'completed', copied: 42 });
      // Every source connection logged in with the token (introspected), none with a password.
      expect(intro.asked.slice(asked).filter((t) => t === token).length).toBeGreaterThan(0);
      // The server's log of the run (seeding and reading back log in with the password).
      const log = readFileSync(dv.logFile, 'utf8').slice(logFrom);
      expect(log).toMatch(/Login: user=<osrc>, method=OAUTHBEARER/);
      expect(log).not.toMatch(/Login: user=<osrc>, method=PLAIN/);
      const src = await readMailbox(dv, 'osrc', 'src-password-not-used');
      const dst = await readMailbox(dv, 'odst', 'dst-pw');
      expect(hashCounts(dst)).toEqual(hashCounts(src));
      // Neither the token nor its base64 form (inside the SASL payload, at any of the three
      // byte alignments) in anything the run printed, nor in the server's log.
      const b64 = [0, 1, 2].map((k) =>
        Buffer.from('x'.repeat(k) + token)
          .toString('base64')
          .slice(4, -4),
      );
      for (const text of [run.out, run.err, log]) {
        expect(text).not.toContain(token);
        for (const b of b64) expect(text).not.toContain(b);
      }
    },
  );
});
