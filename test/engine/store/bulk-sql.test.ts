import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb, type Db } from '../../../engine/store/db.ts';
import { appendHistoryMany, type HistoryEntry } from '../../../engine/store/history.ts';
import { inList } from '../../../engine/store/dialect.ts';
import { Engine } from '../../../engine/engine.ts';
import { EventBus } from '../../../engine/events.ts';
import { Vault } from '../../../engine/vault/vault.ts';
import { randomBytes } from 'node:crypto';
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

  it('a bulk add stores each item as it was given: addresses, logins, choices, thread and time', async () => {
    const engine = new Engine(db, new EventBus(), new Vault(randomBytes(32)));
    const actor = { surface: 'test', id: 'admin' };
    const project = await engine.createProject(actor, {
      name: 'acme',
      sourceUrl: 'imaps://old.example',
      destinationUrl: 'imaps://new.example',
      channelRef: null,
    });
    const rows = Array.from({ length: 1200 }, (_, i) => ({
      source: `u${i}@old.example`,
      destination: i % 3 ? `u${i}@new.example` : undefined,
      sourceLogin: i % 4 ? undefined : `${awkward[i % awkward.length]}`,
      destinationLogin: i % 5 ? undefined : `dst "${i}" \\ login`,
    }));
    const { added, refused } = await engine.addItems(actor, project, rows, { threadRef: 'test:C1/T1', ask: 'both' });
    expect(refused).toEqual([]);
    const stored = await db.item.findMany({ orderBy: { sourceAddress: 'asc' } });
    const byAddress = (a: { sourceAddress: string }, b: { sourceAddress: string }) =>
      a.sourceAddress < b.sourceAddress ? -1 : 1;
    expect(stored).toEqual([...added].sort(byAddress));
    expect(new Set(stored.map((i) => i.createdAt.getTime())).size).toBe(1);
    expect(stored.find((i) => i.sourceAddress === 'u0@old.example')?.sourceLogin).toBe(awkward[0]);
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
