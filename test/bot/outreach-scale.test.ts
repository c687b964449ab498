import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../harness/app.ts';
import { startSmtpSink, type SmtpSink } from '../harness/smtp.ts';
import { installEmail } from '../../adapters/email/install.ts';
import { installScheduler } from '../../bot/scheduler/install.ts';
import { UNSENT_GRACE_MS } from '../../bot/scheduler/reminders.ts';
import { renderBlockKit } from '../../cards/render-block-kit.ts';
import { cardFor } from '../../adapters/teams/render-activity.ts';
import { inChunks } from '../../engine/store/chunk.ts';
import { testDbUrl } from '../harness/test-db.ts';
import { defined } from '../harness/defined.ts';

// Credential requests of thousands of mailboxes at once, by email through a real SMTP server:
// what an admin checks is that every user got one mail, that the mail server was not flooded
// with connections, that each item's history says what happened, and that the thread got a
// summary instead of one post per mailbox.

const TOKEN_IN_TEXT = /\/c\/([A-Za-z0-9_-]{43})/;
const csv = (n: number, prefix = 'user') =>
  Array.from({ length: n }, (_, i) => `${prefix}${i}@old.example,${prefix}${i}@new.example`).join('\n');

/** Tokens of every link the sink received. */
function tokensIn(sink: SmtpSink, from = 0): string[] {
  return sink.messages
    .slice(from)
    .map((m) => defined(TOKEN_IN_TEXT.exec(m.parsed.text ?? '')?.[1], 'link in the mail'));
}

/** No log line carries a link or a token. */
function expectNoTokenInLogs(logs: string[], tokens: string[]) {
  const all = logs.join('\n');
  expect(all).not.toMatch(/\/c\/[A-Za-z0-9_-]{16,}/);
  for (const t of tokens) if (all.includes(t)) throw new Error('a link token reached the log');
}

/** History kinds of every item, counted. */
async function historyCounts(t: TestApp, kinds: string[]): Promise<Record<string, number>> {
  const rows = await t.app.db.itemEvent.groupBy({ by: ['kind'], where: { kind: { in: kinds } }, _count: true });
  return Object.fromEntries(rows.map((r) => [r.kind, r._count]));
}

/** Posts of one thread, as text. */
const threadPosts = (t: TestApp, thread: string | null, from = 0) =>
  t.posts
    .slice(from)
    .filter((p) => p.threadRef === thread)
    .map((p) => p.text);

/** The message stays within Slack's and Teams' size limits. */
function expectWithinLimits(t: TestApp, text: RegExp) {
  const m = t.posts.find((p) => text.test(p.text))!.message;
  const kit = renderBlockKit(m);
  expect(kit.blocks.length).toBeLessThanOrEqual(50);
  expect(JSON.stringify(kit.blocks).length).toBeLessThan(12_000);
  expect(Buffer.byteLength(JSON.stringify(cardFor(m)))).toBeLessThan(28_000);
}

describe('credential requests at scale, through a real SMTP server', () => {
  const N = 2_000;
  const BOUND = 3;
  let sink: SmtpSink;
  let t: TestApp;
  beforeAll(async () => {
    sink = await startSmtpSink();
    t = await makeTestApp({
      SMTP_URL: sink.url,
      MAIL_FROM: 'MailFerry <ferry@corp.example>',
      PUBLIC_URL: 'https://ferry.example',
      MAILFERRY_OUTREACH_CONCURRENCY: String(BOUND),
    });
    installEmail(t.app);
    await t.run(
      'project create big --source imaps://old.example:993 --destination imaps://new.example:993 --self-service source',
    );
    await t.run(`bulk\n${csv(N)}`);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await sink?.close();
  });

  it(`start --all of ${N.toLocaleString('en')} mailboxes: every user gets one mail over ` +
    `at most ${BOUND} connections, every history says sent, the thread gets one summary`, async () => {
    const r = await t.run('start --all');
    expect(r.text).toMatch(/Started 2,000 mailboxes\./);
    // What the mail server saw: N messages, one per user, never more than BOUND connections at once.
    expect(sink.messages).toHaveLength(N);
    expect(new Set(sink.messages.map((m) => m.to[0])).size).toBe(N);
    expect(sink.connections.max).toBeLessThanOrEqual(BOUND);
    expect(sink.connections.max).toBeGreaterThanOrEqual(1);
    // Pooled: connections are reused, not one per message.
    expect(sink.connections.total).toBeLessThan(N / 10);
    // Every item's history says the request was sent, once.
    expect(await historyCounts(t, ['request.sent', 'request.failed'])).toEqual({ 'request.sent': N });
    const perItem = await t.app.db.itemEvent.groupBy({ by: ['itemId'], where: { kind: 'request.sent' }, _count: true });
    expect(perItem).toHaveLength(N);
    expect(await t.app.db.item.count({ where: { status: 'WaitingForUser' } })).toBe(N);
    // The thread: the start's status summaries (one per batch of 500 status changes) and one request summary, not N
    // posts.
    const posts = threadPosts(t, r.thread);
    const started = posts.filter((p) => p.startsWith('▶️'));
    expect(
      started.reduce(
        (n, p) =>
          n + Number(defined(/^▶️ ([\d,]+) mailboxes started: [\d,]+ waiting for user/.exec(p)![1]).replace(/,/g, '')),
        0,
      ),
    ).toBe(N);
    const asked = posts.filter((p) => !p.startsWith('▶️'));
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatch(/^📨 Asked 2,000 users for their credentials: 2,000 by email\./);
    expect(asked[0]).toMatch(/…and 1,985 more/);
    expect(posts.length).toBeLessThanOrEqual(5);
    expectWithinLimits(t, /^📨 Asked 2,000 users/);
    expectNoTokenInLogs(t.logs, tokensIn(sink));
  }, 600_000);

  it('start --waiting asks the same 2,000 again through the same ' +
    'batched path: new links, the old ones dead, one summary', async () => {
    const before = sink.messages.length;
    const oldOpen = await t.app.db.credentialLink.count({ where: { revokedAt: null, usedAt: null } });
    expect(oldOpen).toBe(N);
    const r = await t.run('start --waiting');
    expect(r.result).toMatchObject({ ok: true });
    expect(r.text).toMatch(/Asked again for 2,000 mailboxes/);
    expect(sink.messages.length - before).toBe(N);
    expect(new Set(sink.messages.slice(before).map((m) => m.to[0])).size).toBe(N);
    expect(sink.connections.max).toBeLessThanOrEqual(BOUND);
    // One resend line per item (written 500 per transaction; more than 999 ids would not fit one statement).
    expect(await historyCounts(t, ['resend', 'request.sent'])).toEqual({ resend: N, 'request.sent': 2 * N });
    // Each item has exactly one open link: the new one.
    expect(await t.app.db.credentialLink.count({ where: { revokedAt: null, usedAt: null } })).toBe(N);
    expect(await t.app.db.credentialLink.count()).toBe(2 * N);
    const posts = threadPosts(t, r.thread);
    expect(posts).toHaveLength(1);
    expect(posts[0]).toMatch(/^📨 Asked 2,000 users again for their credentials: 2,000 by email\./);
    expectNoTokenInLogs(t.logs, tokensIn(sink, before));
  }, 600_000);
});

describe('an SMTP server that is busy, refuses, or is down', () => {
  let sink: SmtpSink;
  let t: TestApp | undefined;
  beforeAll(async () => {
    sink = await startSmtpSink();
  });
  afterAll(async () => {
    await sink.close();
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function app(url: string, outreach: { attempts?: number; retryMs?: number; pauseMs?: number } = {}) {
    t = await makeTestApp(
      { SMTP_URL: url, MAIL_FROM: 'ferry@corp.example', MAILFERRY_OUTREACH_CONCURRENCY: '2' },
      undefined,
      undefined,
      { retryMs: 20, ...outreach },
    );
    installEmail(t.app);
    await t.run(
      'project create acme --source imaps://old.example:993 ' +
        '--destination imaps://new.example:993 --self-service source',
    );
    return t;
  }

  it('421 "too many connections" for the first attempts: retried ' +
    'with back-off, then delivered; the history says after how many', async () => {
    const t = await app(sink.url);
    await t.run('add alice@old.example');
    const before = sink.messages.length;
    sink.refuseConnections(2, 421);
    const r = await t.run('start alice@old.example');
    expect(sink.connections.refused).toBeGreaterThanOrEqual(2);
    expect(sink.messages.slice(before).map((m) => m.to[0])).toEqual(['alice@old.example']);
    const item = await t.app.engine.getItem(await t.app.engine.getProject('acme'), 'alice@old.example');
    const sent = (await t.app.engine.history(item.id)).filter((h) => h.kind.startsWith('request.'));
    expect(sent.map((h) => h.kind)).toEqual(['request.sent']);
    expect(defined(sent[0]).detail.attempts).toBe(3);
    // A single start keeps its own post.
    expect(threadPosts(t, r.thread).join('\n')).toMatch(/asked alice@old\.example by email/);
  }, 60_000);

  it('a refused recipient (550) is permanent: tried once, not delivered, the thread says why', async () => {
    const t = await app(sink.url);
    await t.run('add bob@old.example');
    sink.refuseRecipients(true);
    try {
      const r = await t.run('start bob@old.example');
      expect(sink.rcptAttempts.get('bob@old.example')).toBe(1);
      expect(threadPosts(t, r.thread).join('\n')).toMatch(/could not reach bob@old\.example by email: .*550/);
    } finally {
      sink.refuseRecipients(false);
    }
    const item = await t.app.engine.getItem(await t.app.engine.getProject('acme'), 'bob@old.example');
    const h = (await t.app.engine.history(item.id)).filter((x) => x.kind.startsWith('request.'));
    expect(h.map((x) => x.kind)).toEqual(['request.failed']);
    expect(defined(h[0]).detail.attempts).toBeUndefined();
    expect(item.status).toBe('WaitingForUser');
  }, 60_000);

  it("a refused SMTP login is permanent and the setup's: not retried, the " +
    'channel pauses, every item says why, the password is in no log line', async () => {
    const strict = await startSmtpSink({ refuseLogin: true });
    try {
      const url = strict.url.replace('smtp://', 'smtp://ferry:S3cret-pass@');
      const t = await app(url, { attempts: 4, retryMs: 20, pauseMs: 600_000 });
      await t.run(`bulk\n${csv(40, 'auth')}`);
      const r = await t.run('start --all');
      expect(strict.messages).toHaveLength(0);
      // One login per request in flight when it was refused (2), none after: no retries, the rest not tried.
      expect(strict.logins).toBeGreaterThanOrEqual(1);
      expect(strict.logins).toBeLessThanOrEqual(2);
      const failed = (await t.app.db.itemEvent.findMany({ where: { kind: 'request.failed' } })).map(
        (f) => JSON.parse(f.detail) as { why: string; attempts?: number },
      );
      expect(failed).toHaveLength(40);
      for (const f of failed) expect(f.why).toMatch(/refused the SMTP login; check the user and password in SMTP_URL/);
      expect(failed.filter((f) => (f.attempts ?? 1) > 1)).toHaveLength(0);
      const posts = threadPosts(t, r.thread).filter((p) => !p.startsWith('▶️'));
      expect(posts).toEqual([expect.stringMatching(/^📨 Asked 40 users for their credentials: 40 not delivered\./)]);
      expect(t.logs.join('\n')).not.toContain('S3cret-pass');
    } finally {
      await strict.close();
    }
  }, 60_000);

  it('a mail server that is down: start --all of 300 ends, every ' +
    'item says not delivered, the thread says so in one summary', async () => {
    // A port where an SMTP server ran and stopped: connections are refused.
    const gone = await startSmtpSink();
    await gone.close();
    const t = await app(gone.url, { attempts: 3, retryMs: 20, pauseMs: 600_000 });
    await t.run(`bulk\n${csv(300, 'down')}`);
    const r = await t.run('start --all');
    expect(r.result).toMatchObject({ ok: true });
    expect(await historyCounts(t, ['request.sent', 'request.failed'])).toEqual({ 'request.failed': 300 });
    const failed = await t.app.db.itemEvent.findMany({ where: { kind: 'request.failed' } });
    const details = failed.map((f) => JSON.parse(f.detail) as { why: string; attempts?: number });
    for (const d of details) expect(d.why).toMatch(/could not connect to the mail server/);
    // Only the requests in flight when the server went missing were retried; the rest were not tried while paused.
    expect(details.filter((d) => d.attempts === 3).length).toBeLessThanOrEqual(2);
    expect(details.filter((d) => d.attempts === 0).length).toBeGreaterThanOrEqual(298);
    expect(await t.app.db.item.count({ where: { status: 'WaitingForUser' } })).toBe(300);
    const posts = threadPosts(t, r.thread).filter((p) => !p.startsWith('▶️'));
    expect(posts).toHaveLength(1);
    expect(posts[0]).toMatch(/^📨 Asked 300 users for their credentials: 300 not delivered\./);
    expect(posts[0]).toMatch(/could not reach down\d+@old\.example by email: could not connect to the mail server/);
    expect(posts[0]).toMatch(/`\/migrate start --waiting` asks every waiting user again/);
    expectWithinLimits(t, /^📨 Asked 300 users/);
  }, 120_000);
});

describe('a stop with requests still queued', () => {
  it('the rest stay waiting with no request in their history, the thread ' +
    'says how many; after the next start the scheduler sends exactly those', async () => {
    const N = 1_000;
    const sink = await startSmtpSink();
    const dir = mkdtempSync(join(tmpdir(), 'mailferry-restart-'));
    const env = {
      DATABASE_URL: testDbUrl(dir),
      MAILFERRY_DATA_DIR: dir,
      SMTP_URL: sink.url,
      MAIL_FROM: 'ferry@corp.example',
      MAILFERRY_OUTREACH_CONCURRENCY: '1',
    };
    let a: TestApp | undefined;
    let b: TestApp | undefined;
    try {
      a = await makeTestApp(env);
      installEmail(a.app);
      installScheduler(a.app, 'console');
      await a.run(
        'project create big --source imaps://old.example:993 ' +
          '--destination imaps://new.example:993 --self-service source',
      );
      await a.run(`bulk\n${csv(N)}`);
      const running = a.run('start --all');
      await sink.waitForCount(20, undefined, 120_000);
      // MailFerry stops (as on SIGTERM): requests still queued are not sent.
      a.app.outreach.close();
      const r = await running;
      const sent = await a.app.db.itemEvent.count({ where: { kind: 'request.sent' } });
      expect(sent).toBeGreaterThanOrEqual(20);
      expect(sent).toBeLessThan(N);
      expect(await a.app.db.itemEvent.count({ where: { kind: 'request.failed' } })).toBe(0);
      expect(sink.messages).toHaveLength(sent);
      // Which ones got no request: waiting items without a request line since they started waiting.
      const asked = new Set(
        (await a.app.db.itemEvent.findMany({ where: { kind: 'request.sent' }, select: { itemId: true } })).map(
          (e) => e.itemId,
        ),
      );
      const waiting = await a.app.db.item.findMany({ where: { status: 'WaitingForUser' }, select: { id: true } });
      expect(waiting).toHaveLength(N);
      expect(waiting.filter((i) => !asked.has(i.id))).toHaveLength(N - sent);
      // The digest lists them as not asked yet.
      await a.run('digest');
      const digest = a.posts.filter((p) => p.message.kind === 'digest').at(-1)!.text;
      expect(digest).toMatch(/user\d+@old\.example — waiting [^,]+, no request sent yet/);
      const summary = threadPosts(a, r.thread).find((p) => p.startsWith('📨'))!;
      expect(summary).toContain(
        `Asked ${(N).toLocaleString('en')} users for their credentials: ${sent.toLocaleString('en')} ` +
          `by email, ${(N - sent).toLocaleString('en')} not sent yet.`,
      );
      expect(summary).toMatch(/MailFerry stopped before [\d,]+ requests were sent; they go out after it starts again/);
      expectNoTokenInLogs(a.logs, tokensIn(sink));
      await a.close();
      a = undefined;

      // The next start: the scheduler's round, once the grace for a live process's queue is over.
      b = await makeTestApp({ ...env, MAILFERRY_OUTREACH_CONCURRENCY: '4' });
      installEmail(b.app);
      const later = new Date(Date.now() + UNSENT_GRACE_MS + 60_000);
      const scheduler = installScheduler(b.app, 'console', { now: () => later });
      await scheduler.tick();
      await b.app.bus.idle();
      await b.app.notifier.idle();
      // Every user has exactly one mail, nobody two.
      expect(sink.messages).toHaveLength(N);
      expect(new Set(sink.messages.map((m) => m.to[0])).size).toBe(N);
      const perItem = await inChunks(
        waiting.map((i) => i.id),
        (part) =>
          b!.app.db.itemEvent.groupBy({
            by: ['itemId'],
            where: { itemId: { in: part }, kind: 'request.sent' },
            _count: true,
          }),
      );
      expect(perItem).toHaveLength(N);
      expect(perItem.every((p) => p._count === 1)).toBe(true);
      const resumed = threadPosts(b, r.thread).find((p) => p.startsWith('📨'))!;
      expect(resumed).toContain(
        `📨 Asked ${(N - sent).toLocaleString('en')} users whose credential request MailFerry ` +
          `had not sent before it stopped: ${(N - sent).toLocaleString('en')} by email.`,
      );
      // A second round sends nothing: their reminders follow the cadence from now.
      await scheduler.tick();
      await b.app.bus.idle();
      expect(sink.messages).toHaveLength(N);
      expectNoTokenInLogs(b.logs, tokensIn(sink));
    } finally {
      await a?.close();
      await b?.close();
      await sink.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
