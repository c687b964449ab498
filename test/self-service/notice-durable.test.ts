/**
 * The completion notice survives the process that completed the pass: real `serve` and
 * `worker` processes on one database (SQLite file or PostgreSQL), a real Dovecot, the real
 * SMTP sink. A process killed -9 between the completion and the notice, or stopped with
 * SIGTERM while the notice waits for the mail server, leaves it queued; the next `serve`
 * sends it, and two `serve` started at once send it once between them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeMessage, seedImap, startDovecot, dovecotAvailable, type DovecotInstance } from '../harness/dovecot.ts';
import { startSmtpSink, type SmtpSink } from '../harness/smtp.ts';
import { testDbRows, testDbUrl } from '../harness/test-db.ts';
import { COMPLETION_NOTICE_SUBJECT } from '../../cards/completion-notice.ts';

describe.skipIf(!dovecotAvailable())('a completion notice when the process stops before sending it', () => {
  let dv: DovecotInstance;
  let smtp: SmtpSink;
  const dirs: string[] = [];
  const procs: ChildProcess[] = [];

  beforeAll(async () => {
    const users = ['kim', 'lee'].flatMap((u) => [`${u}-src`, `${u}-dst`]).map((name) => ({ name, password: 'pw' }));
    [dv, smtp] = await Promise.all([startDovecot({ users }), startSmtpSink()]);
    for (const u of ['kim', 'lee'])
      await seedImap(dv, `${u}-src`, 'pw', {
        INBOX: [{ raw: makeMessage({ subject: 'one' }) }, { raw: makeMessage({ subject: 'two' }) }],
      });
  }, 120_000);
  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await smtp?.close();
    await dv?.dispose();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A fresh database directory with one project and one item whose pass is ready to run. */
  async function setUp(user: string): Promise<{ dir: string; run: (args: string[], env?: object) => ChildProcess }> {
    const dir = mkdtempSync(join(tmpdir(), 'mailferry-notice-'));
    dirs.push(dir);
    const run = (args: string[], extra: object = {}) => {
      const p = spawn(process.execPath, [resolve('bin/mailferry.mjs'), ...args], {
        env: {
          ...process.env,
          DATABASE_URL: testDbUrl(dir),
          MAILFERRY_DATA_DIR: dir,
          PORT: '0',
          SMTP_URL: smtp.url,
          MAIL_FROM: 'migrations@acme.example',
          LOG_LEVEL: 'info',
          ...extra,
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      procs.push(p);
      p.stdout!.resume();
      p.stderr!.resume();
      return p;
    };
    writeFileSync(join(dir, 'pw'), 'pw\n');
    const pw = join(dir, 'pw');
    // The console only sets up: it dies (the fault point) once the start is committed, before
    // it could run the pass, which is left Queued for the process under test.
    const setup = run(['console'], { MAILFERRY_FAULT_POINT: 'after-status-commit' });
    setup.stdin!.end(
      [
        `project create acme --source ${dv.url} --destination ${dv.url}`,
        `add ${user}@old.example ${user}@new.example --source-login ${user}-src --destination-login ${user}-dst`,
        `start ${user}@old.example --source-password-file ${pw} --destination-password-file ${pw}`,
      ].join('\n') + '\n',
    );
    await exited(setup);
    expect(status(dir)).toBe('Queued');
    return { dir, run };
  }

  const exited = (p: ChildProcess) =>
    new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())));
  const status = (dir: string) => testDbRows<{ status: string }>(dir, 'SELECT "status" FROM "Item"')[0]?.status;
  const noticesTo = (address: string) =>
    smtp.messages.filter((m) => m.to.includes(address) && m.parsed.subject === COMPLETION_NOTICE_SUBJECT);
  const sentLines = (dir: string) =>
    testDbRows<{ n: number | string }>(
      dir,
      `SELECT COUNT(*) AS "n" FROM "ItemEvent" WHERE "kind" = 'completion-notice.sent'`,
    ).map((r) => Number(r.n))[0] ?? 0;
  const failedLines = (dir: string) =>
    testDbRows<{ n: number | string }>(
      dir,
      `SELECT COUNT(*) AS "n" FROM "ItemEvent" WHERE "kind" = 'completion-notice.failed'`,
    ).map((r) => Number(r.n))[0] ?? 0;
  async function until(what: string, test: () => boolean, ms = 240_000): Promise<void> {
    const end = Date.now() + ms;
    while (!test()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  async function stop(p: ChildProcess): Promise<void> {
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
    await exited(p);
  }

  it('killed -9 between the completion and the send: the next serve sends it, two serves send it once', async () => {
    const { dir, run } = await setUp('kim');
    // The fault point kills the process (as kill -9 does) once the completion is committed, before the notice is sent.
    const first = run(['serve'], { MAILFERRY_FAULT_POINT: 'before-completion-notice' });
    await exited(first);
    expect(first.signalCode).toBe('SIGKILL');
    expect(status(dir)).toBe('Completed');
    expect(noticesTo('kim@old.example')).toHaveLength(0);
    expect(sentLines(dir)).toBe(0);

    // Two servers on the database at once: one of them sends it.
    const a = run(['serve']);
    const b = run(['serve']);
    try {
      await until('the notice to arrive', () => noticesTo('kim@old.example').length > 0 && sentLines(dir) > 0);
    } finally {
      await Promise.all([stop(a), stop(b)]);
    }
    expect(noticesTo('kim@old.example')).toHaveLength(1);
    expect(sentLines(dir)).toBe(1);
  }, 600_000);

  it('stopped with SIGTERM while the notice waits for the mail server: the next serve sends it, once', async () => {
    const { dir, run } = await setUp('lee');
    // The mail server is busy (421) for the notice's first tries: it waits in the outreach's retry.
    smtp.refuseConnections(1000);
    const before = smtp.connections.refused;
    const worker = run(['worker']);
    try {
      await until('the pass to complete and the notice to be tried', () => {
        return status(dir) === 'Completed' && smtp.connections.refused > before;
      });
    } finally {
      await stop(worker);
      smtp.refuseConnections(0);
    }
    expect(noticesTo('lee@old.example')).toHaveLength(0);
    // Not given up on: no "not delivered" line in the item's history.
    expect(failedLines(dir)).toBe(0);

    const server = run(['serve']);
    try {
      await until('the notice to arrive', () => noticesTo('lee@old.example').length > 0 && sentLines(dir) > 0);
    } finally {
      await stop(server);
    }
    expect(noticesTo('lee@old.example')).toHaveLength(1);
    expect(sentLines(dir)).toBe(1);
    expect(failedLines(dir)).toBe(0);
  }, 600_000);
});
