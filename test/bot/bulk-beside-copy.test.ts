/**
 * Bulk commands while a copy runs in the same process, and a bulk add cut short.
 *
 * `bulk` and `start --all` write in batches, one transaction each, and give the event loop
 * back between them; beside a running pass every line is added once, every mailbox started
 * with its history line and license, every thread post delivered. A bulk add is written
 * batch by batch: killed -9 after its first batch, the same file sent again adds the rest,
 * and no mailbox is there twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTestApp, type TestApp } from '../harness/app.ts';
import { consoleRun } from '../harness/console-run.ts';
import { testDbRows, testDbUrl } from '../harness/test-db.ts';
import { createMemoryCheckpointStore, runPass } from '../../engine/copy/index.ts';
import { defined } from '../harness/defined.ts';

const csv = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => `${prefix}${i}@old.example,${prefix}${i}@new.example`).join('\n');

/** The number of updates the thread's posts carry: one for a single post, N for a combined "N updates" post. */
function startedIn(posts: { text: string }[]): number {
  const lines =
    posts
      .map((p) => p.text)
      .join('\n')
      .match(/▶️ [\d,]+ mailboxes started: [\d,]+ queued$/gm) ?? [];
  return lines.reduce((n, line) => n + Number(defined(/▶️ ([\d,]+)/.exec(line)?.[1]).replace(/,/g, '')), 0);
}

describe('bulk commands beside a running copy', () => {
  // A source server that accepts connections and never greets: the pass stays running until aborted.
  let silent: Server;
  let port = 0;
  const sockets: Socket[] = [];
  let t: TestApp;

  beforeAll(async () => {
    silent = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    port = (silent.address() as { port: number }).port;
    t = await makeTestApp();
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  });

  it('adds and starts 1,200 mailboxes while a pass runs: each once, each started, every post delivered', async () => {
    const stop = new AbortController();
    const url = `imap://127.0.0.1:${port}`;
    const pass = runPass({
      itemId: 'running-copy',
      source: { url, login: 'kim', secret: { password: 'pw' } },
      destination: { url, login: 'kim', secret: { password: 'pw' } },
      checkpoints: createMemoryCheckpointStore(),
      signal: stop.signal,
    });
    try {
      await t.run('project create big --source imaps://old.example:993 --destination imaps://new.example:993');
      await t.app.db.project.updateMany({
        data: { sourceAuth: 'admin', destinationAuth: 'admin', licensesTotal: 2000 },
      });
      const added = await t.run(`bulk\n${csv(1200, 'u')}`);
      expect(added.text).toMatch(/1,200 mailboxes added to big\./);
      expect(await t.app.db.item.count({ where: { threadRef: added.thread } })).toBe(1200);
      expect(await t.app.db.itemEvent.count({ where: { kind: 'item.added' } })).toBe(1200);

      const before = t.posts.length;
      const r = await t.run('start --all');
      expect(r.text).toMatch(/Started 1,200 mailboxes\./);
      expect(await t.app.db.item.count({ where: { status: 'Queued', license: 'reserved', threadRef: r.thread } })).toBe(
        1200,
      );
      expect(await t.app.db.itemEvent.count({ where: { kind: 'submit', toStatus: 'Queued' } })).toBe(1200);
      expect((await t.app.engine.getProject('big')).licensesUsed).toBe(1200);
      expect(startedIn(t.posts.slice(before).filter((p) => p.threadRef === r.thread))).toBe(1200);
      expect(await t.app.db.outboxPost.count({ where: { state: null } })).toBe(0);
    } finally {
      stop.abort();
      // The pass ran all along (its server never answered) and ends stopped, not failed.
      expect((await pass).outcome).toBe('stopped');
    }
  }, 300_000);
});

describe('a bulk add killed -9 after its first batch', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mailferry-bulk-kill-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps what it committed; the same file again adds the rest, none twice', async () => {
    const env = { DATABASE_URL: testDbUrl(dir), MAILFERRY_DATA_DIR: dir, LOG_LEVEL: 'warn' };
    const file = join(dir, 'users.csv');
    writeFileSync(file, `${csv(1200, 'v')}\n`);
    const items = () =>
      testDbRows<{ n: number | string; distinct: number | string }>(
        dir,
        'SELECT COUNT(*) AS "n", COUNT(DISTINCT "sourceAddress") AS "distinct" FROM "Item"',
      ).map((r) => ({ n: Number(r.n), distinct: Number(r.distinct) }))[0];

    await consoleRun(
      `project create acme --source imaps://old.example:993 --destination imaps://new.example:993\nbulk --file ${file}`,
      { ...env, MAILFERRY_FAULT_POINT: 'after-bulk-batch' },
      { wait: false },
    );
    const first = defined(items());
    expect(first.n).toBeGreaterThan(0);
    expect(first.n).toBeLessThan(1200);

    const again = await consoleRun(`bulk --file ${file}`, env, { wait: false });
    expect(again.out).toMatch(
      new RegExp(`${(1200 - first.n).toLocaleString('en')} mailboxes added to acme; ${first.n} lines refused`),
    );
    expect(again.out).toMatch(/v0@old\.example is already in project acme\./);
    expect(items()).toEqual({ n: 1200, distinct: 1200 });
    expect(
      Number(
        defined(
          testDbRows<{ n: number | string }>(
            dir,
            `SELECT COUNT(*) AS "n" FROM "ItemEvent" WHERE "kind" = 'item.added'`,
          )[0],
        ).n,
      ),
    ).toBe(1200);
  }, 300_000);
});
