import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'node:http';
import { testDbUrl } from '../../harness/test-db.ts';

const BIN = resolve('bin/mailferry.mjs');

/** Runs the real CLI with stdin piped; returns stdout, stderr and the exit code. */
function cli(
  args: string[],
  input: string,
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<{ out: string; err: string; code: number | null }> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', rej);
    p.on('close', (code) => {
      clearTimeout(timer);
      res({ out, err, code });
    });
    p.stdin.end(input);
  });
}

let dir: string;
let env: Record<string, string>;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mailferry-console-'));
  env = { DATABASE_URL: testDbUrl(dir), MAILFERRY_DATA_DIR: dir, LOG_LEVEL: 'warn' };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A server a test started is stopped and its folder removed whatever the test asserted.
let server: { p: ChildProcess; dir: string } | undefined;
afterEach(async () => {
  if (!server) return;
  const { p, dir: d } = server;
  server = undefined;
  if (p.exitCode === null && p.signalCode === null) {
    const closed = new Promise((r) => p.once('close', r));
    p.kill('SIGKILL');
    await closed;
  }
  rmSync(d, { recursive: true, force: true });
});

describe('mailferry CLI', () => {
  it('--help and <cmd> --help describe the commands', async () => {
    const main = await cli(['--help'], '', env);
    expect(main.code).toBe(0);
    expect(main.out).toMatch(/^\s+serve\s+Start the server/m);
    expect(main.out).toMatch(/^\s+console\s+The same chat commands/m);
    expect(main.out).toContain('worker');
    const c = await cli(['console', '--help'], '', env);
    expect(c.out).toMatch(/Usage: mailferry console/);
    const bad = await cli(['frobnicate'], '', env);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/Unknown command "frobnicate"/);
  });

  it('--version, and "did you mean" for mistyped commands and options', async () => {
    const v = await cli(['--version'], '', env);
    expect(v.code).toBe(0);
    expect(v.out.trim()).toMatch(/^mailferry \d+\.\d+\.\d+/);
    const serv = await cli(['serv'], '', env);
    expect(serv.code).toBe(2);
    expect(serv.err).toContain('Unknown command "serv". Did you mean "mailferry serve"?');
    const hepl = await cli(['--hepl'], '', env);
    expect(hepl.code).toBe(2);
    expect(hepl.err).toContain('Unknown option --hepl. Did you mean --help?');
    const wiat = await cli(['console', '--wiat'], '', env);
    expect(wiat.err).toContain('Unknown option --wiat for "console". Did you mean --wait?');
  });

  it('console: piped commands print replies and tagged thread posts, silently (no prompt)', async () => {
    const script = [
      'project create acme --source imaps://old.example:993 --destination imaps://new.example:993 --licenses 5',
      '/migrate add alice@old.example',
      'add bob@gmail.com',
      'bulk',
      'carol@old.example,carol@new.example',
      'oops',
      '',
      'start alice@old.example',
      'delete alice@old.example',
      'stop alice@old.example',
      'status',
    ].join('\n');
    const r = await cli(['console'], script, env);
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('migrate>');
    expect(r.out).toMatch(/Project \*acme\* created/);
    expect(r.out).toMatch(/\[T1\] ➕ 1 mailbox added to acme\./);
    expect(r.out).toMatch(/bob@gmail\.com is a Google consumer account/);
    expect(r.out).toMatch(/\[T2\] ➕ 1 mailbox added to acme; 1 line refused\./);
    expect(r.out).toMatch(/line 2: "oops" is not a valid source address/);
    // The waiting post is tagged with its thread and item.
    expect(r.out).toMatch(
      /\[T3 · alice@old\.example\] ⏳ \*alice@old\.example\* is waiting for source and destination credentials\./,
    );
    expect(r.out).toMatch(/could not reach alice@old\.example by email: email is not configured/);
    expect(r.out).toContain('alice@old.example is waiting for its user; stop it before deleting it.');
    expect(r.out).toMatch(/\[T3 · alice@old\.example\] ⏹️ alice@old\.example stopped by/);
    expect(r.out).toMatch(/Mailboxes:\s+2: Not started 1 · Stopped 1/);
    expect(r.out).toMatch(/Licenses:\s+0 used, 5 left of 5/);
  });

  it('serve: applies migrations, says where it listens and which ' +
    'surfaces are configured, answers /healthz, stops on SIGTERM', async () => {
    const d2 = mkdtempSync(join(tmpdir(), 'mailferry-serve-'));
    const p = spawn(process.execPath, [BIN], {
      env: {
        ...process.env,
        DATABASE_URL: `file:${join(d2, 'sub', 'db.sqlite')}`,
        MAILFERRY_DATA_DIR: d2,
        PORT: '0',
        SMTP_URL: '',
        PUBLIC_URL: '',
        MAILFERRY_ORG_NAME: '',
        MAILFERRY_SUPPORT_CONTACT: '',
        SLACK_SIGNING_SECRET: '',
        SLACK_BOT_TOKEN: '',
        MicrosoftAppId: '',
        MAILFERRY_DEV: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server = { p, dir: d2 };
    let log = '';
    p.stderr.on('data', (d) => (log += d));
    const port = await new Promise<number>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`no listen line in ${log}`)), 120_000);
      p.stderr.on('data', () => {
        const m = /listening on port (\d+)/.exec(log);
        if (m && /Email: not configured/.test(log)) {
          clearTimeout(timer);
          res(Number(m[1]));
        }
      });
    });
    expect(log).toMatch(/database migrated .*0001_init/);
    expect(log).toMatch(/Slack: not configured how="set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN"/);
    expect(log).toMatch(/Teams: not configured/);
    // The defaults a user would take for phishing: one warning line each, saying what to set.
    // PORT=0 picked a free port: the default links name it (not port 0).
    expect(log).toContain(`WARN  SETUP: PUBLIC_URL is not set: credential links point to http://localhost:${port},`);
    expect(log).toContain(`public=http://localhost:${port} `);
    expect(log).toMatch(/WARN {2}SETUP: MAILFERRY_ORG_NAME is not set/);
    expect(log).toMatch(/WARN {2}SETUP: MAILFERRY_SUPPORT_CONTACT is not set/);
    const body = await new Promise<string>((res, rej) => {
      request({ host: '127.0.0.1', port, path: '/healthz' }, (r) => {
        let b = '';
        r.on('data', (c) => (b += c));
        r.on('end', () => res(b));
      })
        .on('error', rej)
        .end();
    });
    expect(JSON.parse(body)).toMatchObject({ ok: true, db: 'up' });
    const code = await new Promise<number | null>((res) => {
      p.on('close', res);
      p.kill('SIGTERM');
    });
    expect(code).toBe(0);
    expect(log).toMatch(/SIGTERM: shutting down/);
  }, 180_000);

  it('a key file is created with mode 0600 when ENCRYPTION_KEY is absent', async () => {
    const { statSync } = await import('node:fs');
    await cli(['console'], 'help\n', env);
    expect(statSync(join(dir, 'encryption.key')).mode & 0o777).toBe(0o600);
  });

  it('a bad ENCRYPTION_KEY stops start-up with a message that says how to make one', async () => {
    const r = await cli(['console'], 'help\n', { ...env, ENCRYPTION_KEY: 'short' });
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/ENCRYPTION_KEY must be 32 bytes in base64.*openssl rand -base64 32/);
  });

  it('bulk --file reads a CSV on the server from the console', async () => {
    const csv = join(dir, 'users.csv');
    writeFileSync(csv, 'source,destination\nd@old.example,d@new.example\ne@old.example\n');
    const r = await cli(['console'], `bulk --file ${csv}\nstatus\n`, env);
    expect(r.out).toMatch(/2 mailboxes added to acme\./);
  });
});
