import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeTestApp, type TestApp } from '../../harness/app.ts';
import { serveHttp } from '../../../bot/app.ts';
import { installSlack, type InstalledSlack, type InstallSlackOptions } from '../../../adapters/slack/install.ts';
import { FakeSlack, signSlack } from './fake-slack.ts';

export const SECRET = 'test-signing-secret-0123456789abcdef';
export const TOKEN = 'xoxb-test-token';

/** A recorded Slack payload from test/fixtures/slack. */
export function fixture(name: string): any {
  const j = JSON.parse(readFileSync(fileURLToPath(new URL(`../../fixtures/slack/${name}`, import.meta.url)), 'utf8'));
  delete j._comment;
  return j;
}

/** A running MailFerry with Slack wired to a fake Slack, reachable over real HTTP. */
export interface SlackTest {
  t: TestApp;
  fake: FakeSlack;
  slack: InstalledSlack;
  base: string;
  /** POSTs a signed raw body to /slack/events. */
  send(
    body: string,
    contentType: string,
    opts?: { ts?: number; signature?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; text: string; ms: number }>;
  /** A slash command as Slack sends it (form-encoded). */
  command(
    text: string,
    opts?: { user?: string; channel?: string; userName?: string },
  ): Promise<{ status: number; text: string; ms: number; responsePath: string }>;
  /** An interactivity payload (form-encoded `payload=`). */
  interact(payload: unknown): Promise<{ status: number; text: string; ms: number }>;
  /** Waits until every command and post started so far is done. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

let responseSeq = 0;

/** The progress gate of the test app: at most one progress edit per anchor in this interval. */
export const TEST_PROGRESS_INTERVAL_MS = 300;

/** Starts the fake Slack and the app with Slack installed (PORT=0). */
export async function startSlackTest(
  env: Record<string, string> = {},
  opts: InstallSlackOptions = {},
  prepare?: (fake: FakeSlack) => void,
): Promise<SlackTest> {
  const fake = await new FakeSlack().start();
  // Programmed before MailFerry starts (its start-up auth.test is the first call).
  prepare?.(fake);
  const t = await makeTestApp(
    {
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_BOT_TOKEN: TOKEN,
      SLACK_API_URL: fake.url,
      PUBLIC_URL: 'https://mailferry.example',
      MAILFERRY_ADMINS: 'slack:UADMIN,slack-channel:CADMINS',
      ...env,
    },
    undefined,
    // The notifier's outbox tuned for tests: no burst coalescing, quick retries, few attempts.
    { burst: 1000, refillMs: 1, retryMs: 50, maxRetryMs: 200, maxAttempts: 3 },
  );
  const slack = installSlack(t.app, {
    threads: { progressIntervalMs: TEST_PROGRESS_INTERVAL_MS, summaryIntervalMs: 50 },
    retryConfig: { retries: 2, minTimeout: 10, maxTimeout: 50, factor: 1 },
    ...opts,
  });
  if (!slack) throw new Error('Slack not installed');
  const { port } = await serveHttp(t.app);
  const base = `http://127.0.0.1:${port}`;
  const send: SlackTest['send'] = async (body, contentType, o = {}) => {
    const ts = o.ts ?? Math.floor(Date.now() / 1000);
    const started = Date.now();
    const res = await fetch(`${base}/slack/events`, {
      method: 'POST',
      headers: {
        'content-type': contentType,
        'x-slack-request-timestamp': String(ts),
        'x-slack-signature': o.signature ?? signSlack(SECRET, body, ts),
        'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
        ...o.headers,
      },
      body,
    });
    const text = await res.text();
    return { status: res.status, text, ms: Date.now() - started };
  };
  return {
    t,
    fake,
    slack,
    base,
    send,
    async command(text, o = {}) {
      const responsePath = `/response/cmd${++responseSeq}`;
      const fields = {
        ...fixture('slash-command.json'),
        text,
        user_id: o.user ?? 'UADMIN',
        user_name: o.userName ?? 'ada',
        channel_id: o.channel ?? 'C1',
        response_url: `${fake.base}${responsePath}`,
        trigger_id: `trigger-${responseSeq}`,
      };
      const r = await send(new URLSearchParams(fields).toString(), 'application/x-www-form-urlencoded');
      return { ...r, responsePath };
    },
    interact(payload) {
      // Slack gives every user action its own trigger id (a repeated one is a retry).
      if (payload && typeof payload === 'object' && 'trigger_id' in payload)
        payload = { ...payload, trigger_id: `trigger-i${++responseSeq}` };
      return send(
        new URLSearchParams({ payload: JSON.stringify(payload) }).toString(),
        'application/x-www-form-urlencoded',
      );
    },
    async settle() {
      for (let i = 0; i < 3; i++) {
        await slack.surface?.idle();
        await t.app.bus.idle();
        await t.app.notifier.idle();
      }
    },
    async close() {
      await t.close();
      await fake.stop();
    },
  };
}

/** Replies posted to a response_url path. */
export function repliesAt(fake: FakeSlack, path: string): Record<string, any>[] {
  return fake.responses.filter((r) => r.path === path).map((r) => r.body);
}

/** All mrkdwn/plain text in a Block Kit block list, joined (for assertions). */
export function blockText(blocks: any[]): string {
  const out: string[] = [];
  const walk = (v: any) => {
    if (!v || typeof v !== 'object') return;
    if (Array.isArray(v)) return v.forEach(walk);
    if ((v.type === 'mrkdwn' || v.type === 'plain_text') && typeof v.text === 'string') out.push(v.text);
    for (const k of Object.keys(v)) if (k !== 'text' || typeof v.text !== 'string') walk(v[k]);
  };
  walk(blocks);
  return out.join('\n');
}
