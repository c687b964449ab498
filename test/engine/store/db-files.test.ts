import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openDb, sqliteFiles, type Db } from '../../../engine/store/db.ts';

// The database holds logins, addresses and the history in clear: only its owner may read it.
let dir: string;
let db: Db | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mailferry-files-'));
});
afterEach(async () => {
  await db?.$disconnect();
  db = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const mode = (f: string) => statSync(f).mode & 0o777;

describe('database files are 0600', () => {
  it('a new database, its WAL and shared-memory files are created 0600 in a 0700 directory', async () => {
    const file = join(dir, 'data', 'mailferry.db');
    ({ db } = await openDb(`file:${file}`));
    await db.itemEvent.create({ data: { projectId: 'p', actor: 'test:t', kind: 'k' } });
    const present = sqliteFiles(file).filter(existsSync);
    expect(present).toEqual([file, `${file}-wal`, `${file}-shm`]); // WAL mode, open
    for (const f of present) expect({ f, mode: mode(f).toString(8) }).toEqual({ f, mode: '600' });
    expect(mode(join(dir, 'data')).toString(8)).toBe('700');
  });

  it('an existing install with world-readable files is fixed at start', async () => {
    const file = join(dir, 'mailferry.db');
    // As an older MailFerry left them: 0644, with a WAL and an index held by another connection.
    const old = new Database(file);
    old.pragma('journal_mode = WAL');
    old.exec('CREATE TABLE t (x)');
    old.exec('INSERT INTO t VALUES (1)');
    const present = sqliteFiles(file).filter(existsSync);
    expect(present).toHaveLength(3);
    for (const f of present) chmodSync(f, 0o644);
    try {
      ({ db } = await openDb(`file:${file}`));
      for (const f of present) expect({ f, mode: mode(f).toString(8) }).toEqual({ f, mode: '600' });
    } finally {
      old.close();
    }
  });
});
