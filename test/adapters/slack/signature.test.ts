import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { verifySlackRequest, verifySlackSignature } from '../../../adapters/slack/verify-signature.ts';
import { signSlack } from './fake-slack.ts';
import { SECRET, fixture, startSlackTest, type SlackTest } from './slack-harness.ts';

// Slack's published example ("Verifying requests from Slack",
// api.slack.com/authentication/verifying-requests-from-slack).
const EXAMPLE = {
  secret: '8f742231b10e8888abcd99yyyzzz85a5',
  timestamp: '1531420618',
  body:
    'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9' +
    'T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&t' +
    'ext=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96r' +
    'GlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c',
  signature: 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
};

describe('verifySlackSignature', () => {
  const now = Number(EXAMPLE.timestamp);
  it("accepts Slack's published example", () => {
    expect(verifySlackSignature(EXAMPLE.secret, EXAMPLE.timestamp, EXAMPLE.signature, EXAMPLE.body, now + 30)).toEqual({
      ok: true,
    });
  });
  it('refuses a tampered body, a wrong secret, a missing header', () => {
    expect(
      verifySlackSignature(
        EXAMPLE.secret,
        EXAMPLE.timestamp,
        EXAMPLE.signature,
        EXAMPLE.body.replace('text=', 'text=delete'),
        now,
      ),
    ).toEqual({ ok: false, code: 'BAD_SIGNATURE' });
    expect(verifySlackSignature('another-secret', EXAMPLE.timestamp, EXAMPLE.signature, EXAMPLE.body, now)).toEqual({
      ok: false,
      code: 'BAD_SIGNATURE',
    });
    expect(verifySlackSignature(EXAMPLE.secret, undefined, EXAMPLE.signature, EXAMPLE.body, now)).toEqual({
      ok: false,
      code: 'MISSING_HEADERS',
    });
    expect(verifySlackSignature(EXAMPLE.secret, EXAMPLE.timestamp, 'v0=abc', EXAMPLE.body, now)).toEqual({
      ok: false,
      code: 'BAD_SIGNATURE',
    });
    expect(verifySlackSignature(EXAMPLE.secret, '1e9', EXAMPLE.signature, EXAMPLE.body, now)).toEqual({
      ok: false,
      code: 'BAD_TIMESTAMP',
    });
  });
  it('keeps a 5-minute window in both directions', () => {
    expect(verifySlackSignature(EXAMPLE.secret, EXAMPLE.timestamp, EXAMPLE.signature, EXAMPLE.body, now + 300).ok).toBe(
      true,
    );
    expect(verifySlackSignature(EXAMPLE.secret, EXAMPLE.timestamp, EXAMPLE.signature, EXAMPLE.body, now + 301)).toEqual(
      { ok: false, code: 'STALE' },
    );
    expect(verifySlackSignature(EXAMPLE.secret, EXAMPLE.timestamp, EXAMPLE.signature, EXAMPLE.body, now - 300).ok).toBe(
      true,
    );
    // Bolt's own check would accept this one (it only looks back).
    expect(verifySlackSignature(EXAMPLE.secret, EXAMPLE.timestamp, EXAMPLE.signature, EXAMPLE.body, now - 301)).toEqual(
      { ok: false, code: 'FUTURE' },
    );
  });
});

describe("the published example over HTTP (middleware alone, clock at Slack's timestamp)", () => {
  it('passes the exact bytes and refuses them altered', async () => {
    const app = express();
    const refused: string[] = [];
    app.post(
      '/slack/events',
      verifySlackRequest(
        EXAMPLE.secret,
        (c) => refused.push(c),
        () => Number(EXAMPLE.timestamp) + 1,
      ),
      (req, res) => {
        res.json({ raw: (req as any).rawBody.toString() });
      },
    );
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
    const post = (body: string) =>
      fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-slack-request-timestamp': EXAMPLE.timestamp,
          'x-slack-signature': EXAMPLE.signature,
        },
        body,
      });
    const ok = await post(EXAMPLE.body);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { raw: string }).raw).toBe(EXAMPLE.body);
    const bad = await post(EXAMPLE.body.replace('user_id=U2CERLKJA', 'user_id=UADMIN'));
    expect(bad.status).toBe(401);
    expect(refused).toEqual(['BAD_SIGNATURE']);
    await new Promise((r) => server.close(r));
  });
});

describe('POST /slack/events signature check (running server)', () => {
  let s: SlackTest;
  beforeAll(async () => {
    s = await startSlackTest();
  });
  afterAll(async () => s?.close());

  const body = JSON.stringify(fixture('url-verification.json'));
  const now = () => Math.floor(Date.now() / 1000);

  it('answers a signed url_verification with the challenge', async () => {
    const r = await s.send(body, 'application/json');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toEqual({ challenge: fixture('url-verification.json').challenge });
  });

  it('refuses a tampered body', async () => {
    const ts = now();
    const r = await s.send(body.replace('url_verification', 'url_verification '), 'application/json', {
      ts,
      signature: signSlack(SECRET, body, ts),
    });
    expect(r.status).toBe(401);
    expect(r.text).toBe('');
  });

  it('refuses a stale timestamp (6 minutes old), correctly signed', async () => {
    const r = await s.send(body, 'application/json', { ts: now() - 360 });
    expect(r.status).toBe(401);
  });

  it('refuses a future timestamp (6 minutes ahead), correctly signed', async () => {
    const r = await s.send(body, 'application/json', { ts: now() + 360 });
    expect(r.status).toBe(401);
  });

  it('accepts 4 minutes of clock skew either way', async () => {
    expect((await s.send(body, 'application/json', { ts: now() + 240 })).status).toBe(200);
    expect((await s.send(body, 'application/json', { ts: now() - 240 })).status).toBe(200);
  });

  it('refuses a request without signature headers and logs why, never the secret', async () => {
    const res = await fetch(`${s.base}/slack/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(401);
    const lines = s.t.logs.filter((l) => l.includes('slack: request refused'));
    expect(lines.some((l) => l.includes('MISSING_HEADERS'))).toBe(true);
    expect(lines.some((l) => l.includes('STALE'))).toBe(true);
    expect(lines.some((l) => l.includes('FUTURE'))).toBe(true);
    expect(s.t.logs.join('\n')).not.toContain(SECRET);
  });

  it('refuses a signed slash command from the wrong secret and runs nothing', async () => {
    const form = new URLSearchParams({
      ...fixture('slash-command.json'),
      text: 'project list',
      response_url: `${s.fake.base}/response/forged`,
    }).toString();
    const ts = now();
    const r = await s.send(form, 'application/x-www-form-urlencoded', {
      ts,
      signature: signSlack('not-the-secret', form, ts),
    });
    expect(r.status).toBe(401);
    await s.settle();
    expect(s.fake.responses.filter((x) => x.path === '/response/forged')).toEqual([]);
  });
});
