import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb, type Db } from '../../../engine/store/db.ts';
import { appendHistoryMany, type HistoryEntry } from '../../../engine/store/history.ts';
import { inList } from '../../../engine/store/dialect.ts';
import { testDbUrl } from '../../harness/test-db.ts';

// The raw statements of bulk commands bind a list as one JSON value: what goes in must come back as it was.
let dir: string;
let db: Db;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mailferry-bulk-sql-'));
  ({ db } = await openDb(testDbUrl(dir)));
});
afterEach(async () => {
  await db.$disconnect();
  rmSync(dir, { recursive: true, force: true });
});

const awkward = ["o'brien@old.example", 'say "hi"@old.example', 'back\\slash@old.example', 'zoë-日本@old.example'];

describe('bulk SQL with JSON-bound lists', () => {
  it('appendHistoryMany writes 1,200 entries in the order given, text, nulls and detail as they were', async () => {
    const entries: HistoryEntry[] = Array.from({ length: 1200 }, (_, i) => ({
      projectId: `p${i % 3}`,
      itemId: i % 7 === 0 ? null : `item-${i}`,
      address: i % 11 === 0 ? null : `${i}-${awkward[i % awkward.length]}`,
      actor: { surface: 'test', id: `u${i}`, name: i % 2 ? 'Zoë "Admin"' : undefined },
      kind: 'submit',
      fromStatus: i % 5 === 0 ? null : 'NotStarted',
      toStatus: 'Queued',
      detail: { license: 'reserved', note: `line ${i}: it's "quoted" \\ ${'[]{}'}`, missing: i % 2 ? ['source'] : [] },
    }));
    const before = Date.now();
    await db.$transaction((tx) => appendHistoryMany(tx, entries));
    const rows = await db.itemEvent.findMany({ orderBy: { id: 'asc' } });
    expect(rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) as unknown }))).toEqual(
      entries.map((e, i) => ({
        id: rows[i]?.id,
        at: rows[0]?.at,
        projectId: e.projectId,
        itemId: e.itemId,
        address: e.address,
        actor: `${e.actor.surface}:${e.actor.id}${e.actor.name ? ` (${e.actor.name})` : ''}`,
        kind: e.kind,
        fromStatus: e.fromStatus,
        toStatus: e.toStatus,
        detail: e.detail,
      })),
    );
    const at = rows[0]?.at.getTime() ?? 0;
    expect(at).toBeGreaterThanOrEqual(before - 1000);
    expect(at).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('inList matches exactly the ids given, quotes and all', async () => {
    const ids = [...awkward, 'plain', '\'); DROP TABLE "ItemEvent"; --'];
    await db.itemEvent.createMany({
      data: [...ids, 'other'].map((id) => ({ projectId: 'p', actor: 'test:t', kind: id })),
    });
    const rows = await db.$queryRaw<{ kind: string }[]>`SELECT "kind" FROM "ItemEvent"
      WHERE ${inList(db, 'kind', ids)} ORDER BY "id"`;
    expect(rows.map((r) => r.kind)).toEqual(ids);
    expect(await db.itemEvent.count()).toBe(ids.length + 1);
  });
});
