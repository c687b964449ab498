import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openDb, type Db } from '../../engine/store/db.ts';
import { rateCounters } from '../../bot/store/rate-counters.ts';
import { testDbRows, testDbUrl, testDialect } from '../harness/test-db.ts';
import { makeFormApp, type FormTestApp } from './setup.ts';
import { defined } from '../harness/defined.ts';

// The credential form's rate limits are counted in the database, so they hold across every
// process serving the form on it (several `mailferry serve` behind a load balancer).
// Runs on SQLite, and on PostgreSQL with MAILFERRY_TEST_DB=postgresql.

const dirs: string[] = [];
const children: ChildProcess[] = [];
const dbs: Db[] = [];
const apps: FormTestApp[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(
    children.map(
      (c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r))),
    ),
  );
  for (const a of apps) await a.close();
  for (const d of dbs) await d.$disconnect();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'mailferry-rate-'));
  dirs.push(d);
  return d;
}

/** GETs the form of a link nobody issued (404): it counts against the client's limit. */
async function guess(base: string): Promise<number> {
  const r = await fetch(`${base}/c/${randomBytes(32).toString('base64url')}`);
  await r.arrayBuffer();
  return r.status;
}

describe(`rate counters in the database (${testDialect()})`, () => {
  it('count every hit of two clients at once, start a new window when one ends, and remove ended windows', async () => {
    const dir = tempDir();
    let now = 1_000_000;
    const a = (await openDb(testDbUrl(dir))).db;
    const b = (await openDb(testDbUrl(dir))).db;
    dbs.push(a, b);
    const ca = rateCounters(a, () => now);
    const cb = rateCounters(b, () => now);
    // 40 hits on one key from two connections at once: each sees its own count, none is lost.
    const hits = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? ca : cb).hit([
          { key: 'k', windowMs: 60_000 },
          { key: `other-${i % 3}`, windowMs: 5_000 },
        ]),
      ),
    );
    expect(hits.map((h) => defined(h[0]).count).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    expect(new Set(hits.map((h) => defined(h[0]).resetAt))).toEqual(new Set([now + 60_000]));
    expect(defined((await ca.hit([{ key: 'other-0', windowMs: 5_000 }]))[0]).count).toBe(15);
    // The short windows end first; the long one keeps counting.
    now += 5_000;
    const [k, o] = await cb.hit([
      { key: 'k', windowMs: 60_000 },
      { key: 'other-0', windowMs: 5_000 },
    ]);
    expect(k).toEqual({ key: 'k', count: 41, resetAt: 1_060_000 });
    expect(o).toEqual({ key: 'other-0', count: 1, resetAt: now + 5_000 });
    // A minute on, the next hit removes the rows whose window has ended.
    now += 61_000;
    await ca.hit([{ key: 'fresh', windowMs: 1_000 }]);
    expect(
      testDbRows<{ key: string }>(dir, 'SELECT "key" FROM "RateCounter" ORDER BY "key"').map((r) => r.key),
    ).toEqual(['fresh']);
  });

  it("two app instances on one database share the form's per-client limit", async () => {
    const limits = { perClient: { max: 3, windowMs: 60_000 } };
    const one = await makeFormApp({}, { limits });
    apps.push(one);
    const two = await makeFormApp(
      { DATABASE_URL: one.app.config.databaseUrl, MAILFERRY_DATA_DIR: one.dir },
      { limits },
    );
    apps.push(two);
    expect([await guess(one.base), await guess(two.base), await guess(one.base)]).toEqual([404, 404, 404]);
    expect(await guess(two.base)).toBe(429);
    expect(await guess(one.base)).toBe(429);
    expect(one.logs.concat(two.logs).filter((l) => l.includes('rate limited')).length).toBe(2);
  });
});

/** Starts `mailferry serve` on the database of `dir`; resolves with its base URL once it listens. */
async function serve(dir: string, home: string): Promise<string> {
  const env = {
    ...process.env,
    DATABASE_URL: testDbUrl(dir),
    MAILFERRY_DATA_DIR: home,
    PORT: '0',
    SMTP_URL: '',
    SLACK_SIGNING_SECRET: '',
    SLACK_BOT_TOKEN: '',
    MicrosoftAppId: '',
    MAILFERRY_DEV: '',
    LOG_LEVEL: 'info',
  };
  const p = spawn(process.execPath, [resolve('bin/mailferry.mjs'), 'serve'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(p);
  let log = '';
  return new Promise<string>((res, rej) => {
    const check = (d: Buffer) => {
      log += d;
      const m = /listening on port (\d+)/.exec(log);
      if (m) res(`http://127.0.0.1:${m[1]}`);
    };
    p.stdout!.on('data', check);
    p.stderr!.on('data', check);
    p.once('exit', () => rej(new Error(`mailferry serve exited before listening:\n${log}`)));
  });
}

describe(`two mailferry serve processes on one database (${testDialect()})`, () => {
  it('the default limit (60 requests per client in 10 minutes) counts the requests both received', async () => {
    const dir = tempDir();
    // One database and one key file, as two hosts behind a load balancer would share.
    const a = await serve(dir, dir);
    const b = await serve(dir, dir);
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push(await guess(a), await guess(b));
    expect(statuses.every((s) => s === 404)).toBe(true);
    expect(await guess(b)).toBe(429);
    expect(await guess(a)).toBe(429);
  }, 300_000);
});
