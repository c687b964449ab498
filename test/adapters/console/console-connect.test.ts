import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  dovecotAvailable,
  freePort,
  makeMessage,
  readMailbox,
  seedImap,
  startDovecot,
  type DovecotInstance,
} from '../../harness/dovecot.ts';
import { csrfOf, getForm, postForm, FAST_FAILURES } from '../../self-service/setup.ts';
import { testDbBytes, testDbUrl } from '../../harness/test-db.ts';
import { defined } from '../../harness/defined.ts';

// Admin credentials end to end, as an admin runs MailFerry: `mailferry serve` answers the
// form over real HTTP, `mailferry console` types the commands on the same database. The
// admin connects both sides with master logins (a wrong password first), adds a mailbox,
// starts it: it is queued at once, no user is asked, and the copy completes.
const SRC_ADMIN_PW = 'src-Master-pw-1';
const DST_ADMIN_PW = 'dst-Master-pw-2';
const WRONG = 'wrong-master-pw-3';
const USER_PWS = ['alice-src-only-4', 'alice-dst-only-5'];
const ready = dovecotAvailable();

let src: DovecotInstance;
let dst: DovecotInstance;
let dir: string;
let port: number;
let server: ChildProcess | undefined;
let serverOut = '';
const env = () => ({
  ...process.env,
  DATABASE_URL: testDbUrl(dir),
  MAILFERRY_DATA_DIR: dir,
  ENCRYPTION_KEY: KEY,
  PORT: String(port),
  PUBLIC_URL: `http://127.0.0.1:${port}`,
  LOG_LEVEL: 'debug',
});
const KEY = randomBytes(32).toString('base64');

beforeAll(async () => {
  if (!ready) return;
  [src, dst] = await Promise.all([
    startDovecot({
      users: [{ name: 'alice@old.example', password: defined(USER_PWS[0]) }],
      masterUsers: [{ name: 'srcadmin', password: SRC_ADMIN_PW }],
      extraConfig: FAST_FAILURES,
    }),
    startDovecot({
      users: [{ name: 'alice@new.example', password: defined(USER_PWS[1]) }],
      masterUsers: [{ name: 'dstadmin', password: DST_ADMIN_PW }],
      extraConfig: FAST_FAILURES,
    }),
  ]);
  await seedImap(src, 'alice@old.example', defined(USER_PWS[0]), {
    INBOX: [
      { raw: makeMessage({ subject: 'hello' }), flags: ['\\Seen'] },
      { raw: makeMessage({ subject: 'second', size: 20_000 }) },
    ],
    Projects: [{ raw: makeMessage({ subject: 'plan' }) }],
  });
  dir = mkdtempSync(join(tmpdir(), 'mailferry-console-connect-'));
  port = await freePort();
}, 60_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server!.once('exit', r));
    server.kill('SIGTERM');
    const t = setTimeout(() => server!.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(t);
  }
  await src?.dispose();
  await dst?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Starts `mailferry serve` and resolves once it listens. */
function startServer(): Promise<void> {
  return new Promise((res, rej) => {
    server = spawn(process.execPath, [resolve('bin/mailferry.mjs'), 'serve'], {
      env: env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const t = setTimeout(() => rej(new Error(`serve did not start:\n${serverOut}`)), 60_000);
    const on = (d: Buffer) => {
      serverOut += d;
      if (/MailFerry listening on port/.test(serverOut)) {
        clearTimeout(t);
        res();
      }
    };
    server.stdout!.on('data', on);
    server.stderr!.on('data', on);
    server.on('exit', (code) => rej(new Error(`serve exited ${code}:\n${serverOut}`)));
  });
}

/** Runs the console on the same database with a script on stdin. */
function consoleRun(script: string, wait = false): Promise<{ out: string; err: string }> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [resolve('bin/mailferry.mjs'), 'console', ...(wait ? ['--wait'] : [])], {
      env: env(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let o = '';
    let e = '';
    p.stdout.on('data', (d) => (o += d));
    p.stderr.on('data', (d) => (e += d));
    const t = setTimeout(() => p.kill('SIGKILL'), 120_000);
    p.on('error', rej);
    p.on('close', () => {
      clearTimeout(t);
      res({ out: o, err: e });
    });
    p.stdin.end(script + '\n');
  });
}

describe.skipIf(!ready)('console end to end: project connect', () => {
  it('command → private link → admin form over HTTP → verified ' +
    '→ start queues without asking users → copy completes', async () => {
    await startServer();
    const first = await consoleRun(
      [
        `project create acme --source ${src.url} --destination ${dst.url} --self-service both`,
        'project connect acme --source',
        'project connect acme --destination',
      ].join('\n'),
    );
    const links = [...first.out.matchAll(/http:\/\/127\.0\.0\.1:\d+\/c\/[A-Za-z0-9_-]{43}/g)].map((m) => m[0]);
    expect(links, first.out).toHaveLength(2);
    expect(first.out).toContain('Private link to connect the source of acme with an admin login');
    const [srcLink, dstLink] = links;

    // Source: a wrong master password is refused by the server, then the right one (mailbox*admin) is kept.
    const page = await getForm(defined(srcLink));
    expect(page.status).toBe(200);
    const csrf = csrfOf(page.html);
    const refused = await postForm(defined(srcLink), {
      csrf,
      admin_user: 'srcadmin',
      admin_password: WRONG,
      style: 'separator',
      separator: '*',
      test_mailbox: 'alice@old.example',
    });
    expect(refused.status).toBe(422);
    expect(refused.html).toContain('did not accept this admin login');
    const ok = await postForm(defined(srcLink), {
      csrf,
      admin_user: 'srcadmin',
      admin_password: SRC_ADMIN_PW,
      style: 'separator',
      separator: '*',
      test_mailbox: 'alice@old.example',
    });
    expect(ok.status, ok.html).toBe(200);
    expect(ok.html).toContain('The source of acme is connected');
    // Destination, as SASL authorization identity.
    const dpage = await getForm(defined(dstLink));
    const dok = await postForm(defined(dstLink), {
      csrf: csrfOf(dpage.html),
      admin_user: 'dstadmin',
      admin_password: DST_ADMIN_PW,
      style: 'authzid',
      test_mailbox: 'alice@new.example',
    });
    expect(dok.status, dok.html).toBe(200);

    const run = await consoleRun(
      ['status', 'add alice@old.example alice@new.example', 'start alice@old.example'].join('\n'),
      true,
    );
    expect(run.out).toContain('source: admin credentials (admin login) · destination: admin credentials (admin login)');
    expect(run.out).toMatch(/alice@old\.example is queued for migration/);
    expect(run.out).not.toMatch(/waiting for/i);

    const st = await consoleRun('status alice@old.example');
    expect(st.out).toMatch(/Completed/);
    expect(st.out).not.toMatch(/Waiting for user/);
    expect(st.out).toMatch(/INBOX: 2 found, 2 copied/);

    const a = await readMailbox(src, 'alice@old.example', defined(USER_PWS[0]));
    const b = await readMailbox(dst, 'alice@new.example', defined(USER_PWS[1]));
    expect(
      defined(b.messages.INBOX)
        .map((m) => m.sha256)
        .sort(),
    ).toEqual(
      defined(a.messages.INBOX)
        .map((m) => m.sha256)
        .sort(),
    );
    expect(b.messages.Projects).toHaveLength(1);

    // No password and no link token in any log line of either process, nor in the database file.
    const logs = serverOut + first.err + run.err + st.err;
    expect(logs).toMatch(/admin credentials verified and stored/);
    for (const s of [SRC_ADMIN_PW, DST_ADMIN_PW, WRONG, ...USER_PWS]) expect(logs).not.toContain(s);
    for (const l of links) expect(logs).not.toContain(l.split('/c/')[1]);
    const bytes = testDbBytes(dir);
    for (const s of [SRC_ADMIN_PW, DST_ADMIN_PW, WRONG]) expect(bytes).not.toContain(s);
    for (const l of links) expect(bytes).not.toContain(l.split('/c/')[1]);

    // The server stops cleanly on SIGTERM (no IMAP session of a refused check holds it open).
    const exited = new Promise<number | null>((r) => server!.once('exit', (code) => r(code)));
    server!.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 240_000);
});
