import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';

// A worker killed with -9 in the middle of a pass leaves its item Running with a lease
// that has up to 90 s left. A worker started again on the same host sees that the lease
// holder is gone and resumes the pass at once. Real processes, a real SQLite file; the
// "source server" accepts connections and never greets, so a pass stays Running.

let dir: string;
let silent: Server;
let silentPort: number;
const sockets: Socket[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mailferry-restart-'));
  silent = createServer((s) => sockets.push(s)); // never says a word
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  silentPort = (silent.address() as { port: number }).port;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => silent.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const env = () => ({ ...process.env, DATABASE_URL: `file:${join(dir, 'db.sqlite')}`, MAILFERRY_DATA_DIR: dir, LOG_LEVEL: 'info' });

function run(args: string[], input?: string): ChildProcess {
  const p = spawn(process.execPath, [resolve('bin/mailferry.mjs'), ...args], { env: env(), stdio: ['pipe', 'pipe', 'pipe'] });
  p.stdout!.resume();
  p.stderr!.resume();
  if (input !== undefined) p.stdin!.end(input);
  return p;
}
const exited = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null ? r() : p.on('exit', () => r())));

/** Polls the item and its history straight from the database file. */
async function waitFor(what: string, test: (status: string, kinds: string[]) => boolean, ms: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const db = new Database(join(dir, 'db.sqlite'), { readonly: true, fileMustExist: true });
    try {
      const item = db.prepare('SELECT id, status FROM Item').get() as { id: string; status: string } | undefined;
      const kinds = item ? (db.prepare('SELECT kind FROM ItemEvent WHERE itemId = ? ORDER BY rowid').all(item.id) as { kind: string }[]).map((r) => r.kind) : [];
      if (item && test(item.status, kinds)) return Date.now() - t0;
    } catch {
      /* the database is being created */
    } finally {
      db.close();
    }
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A DateTime column as Prisma stores it in SQLite (milliseconds, or an ISO text), in ms. */
function instant(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number' || typeof v === 'bigint') return Number(v);
  const s = String(v);
  return /^\d+$/.test(s) ? Number(s) : Date.parse(s);
}
function query<T>(sql: string): T {
  const db = new Database(join(dir, 'db.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).get() as T;
  } finally {
    db.close();
  }
}
const readItem = () => ({ leaseUntil: instant(query<{ leaseUntil: unknown }>('SELECT leaseUntil FROM Item').leaseUntil) });
const readRecoveredAt = () => instant(query<{ at: unknown }>("SELECT at FROM ItemEvent WHERE kind = 'recovered' ORDER BY id LIMIT 1").at);

describe('a worker killed -9 mid-pass', () => {
  it('is succeeded by a new worker on the same host that resumes the pass at once, not after the lease runs out', async () => {
    writeFileSync(join(dir, 'pw'), 'x\n');
    const url = `imap://127.0.0.1:${silentPort}`;
    const setup = run(['console'], [
      `project create acme --source ${url} --destination ${url}`,
      'add alice@old.example alice@new.example --source-login alice --destination-login alice',
      `start alice@old.example --source-password-file ${join(dir, 'pw')} --destination-password-file ${join(dir, 'pw')}`,
    ].join('\n') + '\n');
    await exited(setup);

    const first = run(['worker']);
    await waitFor('the first worker to run the pass', (status) => status === 'Running', 240_000);
    first.kill('SIGKILL');
    await exited(first);
    // Left behind Running, with the lease the dead worker last wrote.
    await waitFor('the dead worker\'s item to stay Running', (status, kinds) => status === 'Running' && !kinds.includes('recovered'), 1_000);
    const deadLeaseUntil = readItem().leaseUntil;
    expect(deadLeaseUntil).not.toBeNull();

    const second = run(['worker']);
    try {
      await waitFor('the second worker to take the pass over', (status, kinds) => kinds.includes('recovered') && status === 'Running', 240_000);
      // Taken over while the dead worker's lease still held, i.e. without waiting it out: the
      // two instants are the database's own, whatever the machine's load.
      expect(readRecoveredAt()).toBeLessThan(deadLeaseUntil!);
    } finally {
      second.kill('SIGKILL');
      await exited(second);
    }
    // Worker processes start Node and tsx: slow on a loaded machine. Waits poll the database; this is only the ceiling.
  }, 600_000);
});
