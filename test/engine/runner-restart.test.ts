import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { instantOf, testDbRows, testDbUrl } from '../harness/test-db.ts';
import { defined } from '../harness/defined.ts';

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

const env = () => ({ ...process.env, DATABASE_URL: testDbUrl(dir), MAILFERRY_DATA_DIR: dir, LOG_LEVEL: 'info' });

function run(args: string[], input?: string): ChildProcess {
  const p = spawn(process.execPath, [resolve('bin/mailferry.mjs'), ...args], {
    env: env(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
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
    try {
      const [item] = testDbRows<{ id: string; status: string }>(dir, 'SELECT "id", "status" FROM "Item"');
      const kinds = item
        ? testDbRows<{ kind: string }>(
            dir,
            `SELECT "kind" FROM "ItemEvent" WHERE "itemId" = '${item.id}' ORDER BY "id"`,
          ).map((r) => r.kind)
        : [];
      if (item && test(item.status, kinds)) return Date.now() - t0;
    } catch {
      /* the database is being created */
    }
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function query<T>(sql: string): T {
  return defined(testDbRows<T>(dir, sql)[0], `row of ${sql}`);
}
const readItem = () => ({
  leaseUntil: instantOf(query<{ leaseUntil: unknown }>('SELECT "leaseUntil" FROM "Item"').leaseUntil),
});
const readRecoveredAt = () =>
  instantOf(query<{ at: unknown }>(`SELECT "at" FROM "ItemEvent" WHERE "kind" = 'recovered' ORDER BY "id" LIMIT 1`).at);

describe('a worker killed -9 mid-pass', () => {
  it('is succeeded by a new worker on the same host that ' +
    'resumes the pass at once, not after the lease runs out', async () => {
    writeFileSync(join(dir, 'pw'), 'x\n');
    const url = `imap://127.0.0.1:${silentPort}`;
    const setup = run(
      ['console'],
      [
        `project create acme --source ${url} --destination ${url}`,
        'add alice@old.example alice@new.example --source-login alice --destination-login alice',
        `start alice@old.example --source-password-file ${join(dir, 'pw')} ` +
          `--destination-password-file ${join(dir, 'pw')}`,
      ].join('\n') + '\n',
    );
    await exited(setup);

    const first = run(['worker']);
    await waitFor('the first worker to run the pass', (status) => status === 'Running', 240_000);
    first.kill('SIGKILL');
    await exited(first);
    // Left behind Running, with the lease the dead worker last wrote.
    await waitFor(
      "the dead worker's item to stay Running",
      (status, kinds) => status === 'Running' && !kinds.includes('recovered'),
      1_000,
    );
    const deadLeaseUntil = readItem().leaseUntil;
    expect(deadLeaseUntil).not.toBeNull();

    const second = run(['worker']);
    try {
      await waitFor(
        'the second worker to take the pass over',
        (status, kinds) => kinds.includes('recovered') && status === 'Running',
        240_000,
      );
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
