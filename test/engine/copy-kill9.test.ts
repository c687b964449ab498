import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  makeMessage,
  readMailbox,
  seedMaildir,
  startDovecot,
  type DovecotInstance,
  type SeedMessage,
} from '../harness/dovecot.ts';
import { endpoint, hashCounts } from '../harness/copy-assert.ts';
import { runPassChild, type ChildConfig } from '../harness/spawn-pass-child.ts';
import { testDbUrl } from '../harness/test-db.ts';
import { defined } from '../harness/defined.ts';

let dv: DovecotInstance;
let dir: string;

beforeAll(async () => {
  dv = await startDovecot({
    users: [
      { name: 'ksrc', password: 'ks' },
      { name: 'kdst', password: 'kd' },
    ],
  });
  dir = mkdtempSync(join(tmpdir(), 'mf-kill9-'));
});
afterAll(async () => {
  await dv?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('kill -9 mid-pass', () => {
  it('a pass killed twice mid-APPEND and run again leaves each source message exactly once', async () => {
    const at = (i: number) => new Date(Date.UTC(2020, 5, 1, 0, 0, i));
    const dup = makeMessage({ size: 30_000 });
    const noId = makeMessage({ size: 12_000, messageId: null });
    const inbox: SeedMessage[] = Array.from({ length: 150 }, (_, i) => ({
      raw: makeMessage({ size: 8_000 + (i % 7) * 9_000 }),
      flags: i % 2 ? ['\\Seen', 'Kw' + (i % 3)] : [],
      internalDate: at(i),
    }));
    inbox.splice(
      40,
      0,
      { raw: dup, internalDate: at(999) },
      { raw: dup, internalDate: at(999) },
      { raw: noId, internalDate: at(998) },
      { raw: noId, internalDate: at(998) },
    );
    const other: SeedMessage[] = Array.from({ length: 60 }, (_, i) => ({
      raw: makeMessage({ size: 20_000 }),
      internalDate: at(2000 + i),
    }));
    // Straight into the Maildir: hundreds of IMAP APPENDs would dominate the test's time.
    seedMaildir(dv, 'ksrc', [
      { path: ['INBOX'], messages: inbox },
      { path: ['Other'], messages: other },
    ]);
    const cfg: ChildConfig = {
      dbUrl: testDbUrl(dir, 'state'),
      itemId: 'kill9',
      source: endpoint(dv, 'ksrc', 'ks'),
      destination: endpoint(dv, 'kdst', 'kd'),
      options: { batchMessages: 5, connections: 2, messagesPerLane: 1 },
    };
    const first = await runPassChild(cfg, 25);
    expect(first.killed).toBe(true);
    const second = await runPassChild(cfg, 30);
    expect(second.killed).toBe(true);
    const last = await runPassChild(cfg);
    expect(last.result?.outcome, last.result?.detail).toBe('completed');
    const src = await readMailbox(dv, 'ksrc', 'ks');
    const dst = await readMailbox(dv, 'kdst', 'kd');
    expect(defined(dst.messages.INBOX).length).toBe(inbox.length);
    expect(defined(dst.messages.Other).length).toBe(other.length);
    expect(hashCounts(dst)).toEqual(hashCounts(src));
    // And nothing left to do.
    const again = await runPassChild(cfg);
    expect(again.result).toMatchObject({ outcome: 'completed', copied: 0 });
    // Four child processes, each starting Node and tsx: slow on a loaded machine. Every wait
    // is on the child's own output or exit; this is only the ceiling.
  }, 600_000);
});
