import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeTestApp, type TestApp } from '../../harness/app.ts';
import { serveHttp } from '../../../bot/app.ts';
import { teamsPlugin } from '../../../adapters/teams/plugin.ts';
import { ConnectorRecorder, TokenIssuer, channelMessage } from './teams-harness.ts';

const APP_ID = '00000000-0000-4000-8000-00000000b0a7';
/** A marker in every hostile body: it must reach neither the answer nor any log line. */
const MARKER = 'BODY-MARKER password=hunter2';

/**
 * Raw console.error/warn lines and stderr writes, which would bypass our redacting logger.
 * Installed before the server starts: the server routes the console through its logger.
 */
function watchRawOutput(): { lines: string[]; restore: () => void } {
  const lines: string[] = [];
  const spies = [
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void lines.push(a.map(String).join(' '))),
    vi.spyOn(console, 'warn').mockImplementation((...a: unknown[]) => void lines.push(a.map(String).join(' '))),
    vi.spyOn(process.stderr, 'write').mockImplementation(((c: unknown) => (lines.push(String(c)), true)) as never),
  ];
  return {
    lines,
    restore: () => {
      for (const s of spies) s.mockRestore();
    },
  };
}

async function post(
  base: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; type: string | null; text: string }> {
  const r = await fetch(`${base}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
}

/** A short JSON error: no HTML, no stack, no path, none of the body. */
function expectShortJson(r: { type: string | null; text: string }, error: string): void {
  expect(r.type).toMatch(/^application\/json/);
  expect(JSON.parse(r.text)).toEqual({ error });
  expect(r.text).not.toMatch(/<html|node_modules|\/work\/|\bat \w|hunter2/i);
}

const big = (bytes: number) => JSON.stringify({ type: 'message', text: `${MARKER} ${'x'.repeat(bytes)}` });

for (const mode of ['authenticated', 'dev'] as const) {
  describe(`Teams endpoint edges (${mode === 'dev' ? 'MAILFERRY_DEV=1, no app id' : 'MicrosoftAppId set'})`, () => {
    let t: TestApp;
    let rec: ConnectorRecorder;
    let issuer: TokenIssuer;
    let base: string;
    let raw: ReturnType<typeof watchRawOutput>;
    beforeAll(async () => {
      raw = watchRawOutput();
      rec = await new ConnectorRecorder().start();
      issuer = await new TokenIssuer().start();
      t = await makeTestApp(
        mode === 'dev' ? { MAILFERRY_DEV: '1' } : { MicrosoftAppId: APP_ID, MicrosoftAppPassword: 'test-secret' },
      );
      teamsPlugin(t.app, 'serve', { openIdMetadataUrl: issuer.metadataUrl });
      // A route that fails unexpectedly, to see the whole server's final answer.
      t.app.http.get('/test/throws', () => {
        throw new Error(`failed at ${process.cwd()}/secret/path`);
      });
      base = `http://127.0.0.1:${(await serveHttp(t.app)).port}`;
    });
    afterAll(async () => {
      await t?.close();
      await rec?.close();
      await issuer?.close();
      raw.restore();
    });
    afterEach(() => {
      // Nothing reached stderr past the redactor, and no log line quotes a body.
      expect(raw.lines).toEqual([]);
      expect(t.logs.join('\n')).not.toContain('hunter2');
    });

    const refusedUnread = mode === 'authenticated' ? { status: 401, error: 'unauthorized' } : null;

    it('answers `{}` with a short JSON error', async () => {
      const r = await post(base, '{}');
      if (refusedUnread) expect(r.status).toBe(refusedUnread.status);
      else expect(r.status).toBe(400);
      expectShortJson(r, refusedUnread?.error ?? 'bad request');
    });

    it('answers truncated JSON (`{"type":`) with a short JSON error', async () => {
      const r = await post(base, `{"type":"${MARKER}`);
      expect(r.status).toBe(refusedUnread?.status ?? 400);
      expectShortJson(r, refusedUnread?.error ?? 'bad request');
    });

    it('answers 3 MB with a short JSON error and never parses it', async () => {
      const r = await post(base, big(3_000_000));
      expect(r.status).toBe(refusedUnread?.status ?? 413);
      expectShortJson(r, refusedUnread?.error ?? 'request too large');
    });

    it(
      'refuses a large body with a token-shaped header by ' + 'size, before parsing (and before the token check)',
      async () => {
        const forged =
          `Bearer ${Buffer.from('{"alg":"RS256"}').toString('base64url')}` +
          `.${Buffer.from('{}').toString('base64url')}.c2ln`;
        const r = await post(base, big(2_000_000), { authorization: forged });
        expect(r.status).toBe(413);
        expectShortJson(r, 'request too large');
      },
    );

    it('answers a JSON array, a string and a non-JSON content type with 400 (or 401 unread)', async () => {
      for (const [body, ct] of [
        ['[1,2]', 'application/json'],
        ['"x"', 'application/json'],
        [`text ${MARKER}`, 'text/plain'],
      ] as const) {
        const r = await post(base, body, { 'content-type': ct });
        expect(r.status).toBe(refusedUnread?.status ?? 400);
        expectShortJson(r, refusedUnread?.error ?? 'bad request');
      }
    });

    if (mode === 'authenticated') {
      it('refuses a malformed Authorization header unread, and a well-formed bad token after the check', async () => {
        const r1 = await post(base, JSON.stringify(channelMessage(rec.url, 'help', { id: '9001' })), {
          authorization: 'Basic abc',
        });
        expect(r1.status).toBe(401);
        expectShortJson(r1, 'unauthorized');
        const other = await new TokenIssuer().start();
        const r2 = await post(base, JSON.stringify(channelMessage(rec.url, 'help', { id: '9002' })), {
          authorization: `Bearer ${other.token({ aud: APP_ID, serviceurl: rec.url })}`,
        });
        await other.close();
        expect(r2.status).toBe(401);
        expectShortJson(r2, 'unauthorized');
        expect(rec.activities()).toEqual([]);
        expect(t.logs.join('\n')).toContain('Teams request refused: not authenticated');
      });
    } else {
      it("answers an invoke no handler takes with a 4xx, not botbuilder's 501", async () => {
        const r = await post(
          base,
          JSON.stringify({
            ...channelMessage(rec.url, 'help', { id: '9004' }),
            type: 'invoke',
            name: 'nobody/handles-this',
          }),
        );
        expect(r.status).toBe(400);
        expectShortJson(r, 'bad request');
      });

      it('still runs a well-formed activity', async () => {
        const r = await post(base, JSON.stringify(channelMessage(rec.url, 'help', { id: '9003' })));
        expect(r.status).toBe(200);
        expect(rec.activities((c) => c.activityId === '9003')).toHaveLength(1);
      });
    }

    it(
      'answers an unexpected failure anywhere on the server ' +
        'with JSON and a reference, the details in the log only',
      async () => {
        const r = await fetch(`${base}/test/throws`);
        const text = await r.text();
        expect(r.status).toBe(500);
        expect(r.headers.get('content-type')).toMatch(/^application\/json/);
        const body = JSON.parse(text);
        expect(body).toEqual({ error: 'internal error', ref: expect.stringMatching(/^[0-9a-f]{8}$/) });
        expect(text).not.toContain('secret/path');
        expect(t.logs.find((l) => l.includes(`ref=${body.ref}`))).toContain('secret/path');
      },
    );
  });
}
