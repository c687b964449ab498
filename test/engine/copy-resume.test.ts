import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCheckpointStore, runPass } from '../../engine/copy/index.ts';
import {
  makeMessage,
  openClient,
  readMailbox,
  seedImap,
  startDovecot,
  type DovecotInstance,
  type SeedMessage,
} from '../harness/dovecot.ts';
import { endpoint, folderKeys, folderNames, hashCounts } from '../harness/copy-assert.ts';
import { defined } from '../harness/defined.ts';
import { crashingStore } from '../harness/crashing-store.ts';

let dv: DovecotInstance;
let n = 0;
/** A fresh source/destination user pair on the shared private instance. */
function pair() {
  n++;
  const s = { name: `src${n}`, pw: `s-${n}` };
  const d = { name: `dst${n}`, pw: `d-${n}` };
  dv.addUser(s.name, s.pw);
  dv.addUser(d.name, d.pw);
  return { s, d, source: endpoint(dv, s.name, s.pw), destination: endpoint(dv, d.name, d.pw) };
}

const at = (i: number) => new Date(Date.UTC(2022, 0, 1, 0, 0, i));
const msg = (i: number, o: Parameters<typeof makeMessage>[0] = {}): SeedMessage => ({
  raw: makeMessage({ size: 1500 + i * 37, ...o }),
  flags: i % 3 ? ['\\Seen'] : ['$Label' + (i % 4)],
  internalDate: at(i),
});

beforeAll(async () => {
  dv = await startDovecot({ separator: '/' });
});
afterAll(async () => {
  await dv?.dispose();
});

describe('never a duplicate, never a loss', () => {
  it(
    'recognises mail already at the destination, copies source ' +
      'duplicates and messages without Message-ID once each',
    async () => {
      const p = pair();
      const a = msg(1),
        b = msg(2),
        c = msg(3);
      const dup = msg(4);
      const noId = msg(5, { messageId: null });
      const noIdTwin = { ...noId }; // a true duplicate without Message-ID
      const foreign = msg(6);
      await seedImap(dv, p.s.name, p.s.pw, { INBOX: [a, b, dup, dup, noId, noIdTwin, c] });
      // The destination already holds a, one copy of dup, one of noId (flags differ: still the same mail), and a
      // foreign
      // message.
      await seedImap(dv, p.d.name, p.d.pw, { INBOX: [{ ...a, flags: [] }, dup, noId, foreign] });
      const store = createMemoryCheckpointStore();
      const r = await runPass({ itemId: 'pre', source: p.source, destination: p.destination, checkpoints: store });
      expect(r.outcome, r.detail).toBe('completed');
      expect(r.stats.messagesCopied).toBe(4); // b, c, the second dup, the second noId
      expect(r.stats.messagesPresent).toBe(3);
      const dst = await readMailbox(dv, p.d.name, p.d.pw);
      const counts = hashCounts(dst);
      const src = await readMailbox(dv, p.s.name, p.s.pw);
      for (const [h, k] of hashCounts(src)) expect(counts.get(h), 'each source message exactly once').toBe(k);
      expect(defined(dst.messages.INBOX).length).toBe(8);
      // A second pass copies nothing.
      const r2 = await runPass({ itemId: 'pre', source: p.source, destination: p.destination, checkpoints: store });
      expect(r2.stats.messagesCopied).toBe(0);
    },
  );

  // The uncrashed pass writes 11 checkpoints: INBOX's 7 batches 8 (the first intent with the
  // folder's start, one per batch confirming it and announcing the next, the last with the
  // completion), Other's 2 batches 3. #1 and #11 are the first and last.
  for (const k of [1, 3, 4, 7, 8, 11]) {
    it(`a crash at checkpoint write #${k} (mid-batch window included) resumes exactly once`, async () => {
      const p = pair();
      const dup = msg(100);
      const noId = msg(101, { messageId: null });
      const inbox = Array.from({ length: 24 }, (_, i) => msg(i));
      inbox.splice(5, 0, dup, dup, noId, { ...noId });
      const other = Array.from({ length: 9 }, (_, i) => msg(200 + i));
      // Pre-existing mail in one folder: that folder goes through the whole-folder match.
      await seedImap(dv, p.s.name, p.s.pw, { INBOX: inbox, Other: other });
      await seedImap(dv, p.d.name, p.d.pw, { Other: other.slice(0, 3) });
      const store = createMemoryCheckpointStore();
      const options = { batchMessages: 4, connections: 1 };
      const crashed = await runPass({
        itemId: 'crash',
        source: p.source,
        destination: p.destination,
        checkpoints: crashingStore(store, k),
        options,
      });
      expect(crashed.outcome).toBe('failed');
      const r = await runPass({
        itemId: 'crash',
        source: p.source,
        destination: p.destination,
        checkpoints: store,
        options,
      });
      expect(r.outcome, r.detail).toBe('completed');
      const src = await readMailbox(dv, p.s.name, p.s.pw);
      const dst = await readMailbox(dv, p.d.name, p.d.pw);
      expect(folderKeys(dst, 'INBOX').length).toBe(inbox.length);
      expect(hashCounts(dst, 'INBOX')).toEqual(hashCounts(src, 'INBOX'));
      expect(hashCounts(dst, 'Other')).toEqual(hashCounts(src, 'Other'));
    });
  }

  it('a changed source UIDVALIDITY means re-match, not re-copy', async () => {
    const p = pair();
    const box = Array.from({ length: 6 }, (_, i) => msg(300 + i));
    box.push(defined(box[2])); // a duplicate too
    await seedImap(dv, p.s.name, p.s.pw, { Box: box });
    const store = createMemoryCheckpointStore();
    const r1 = await runPass({ itemId: 'uv', source: p.source, destination: p.destination, checkpoints: store });
    expect(r1.stats.messagesCopied).toBe(7);
    const before = (await store.load('uv')).get('Box')!.uidValidity;
    // Recreate the source folder: same mail, new UIDVALIDITY.
    const c = await openClient(dv, p.s.name, p.s.pw);
    await c.mailboxDelete('Box');
    await c.logout();
    await seedImap(dv, p.s.name, p.s.pw, { Box: [...box, msg(399)] });
    const r2 = await runPass({ itemId: 'uv', source: p.source, destination: p.destination, checkpoints: store });
    expect(r2.outcome, r2.detail).toBe('completed');
    expect((await store.load('uv')).get('Box')!.uidValidity).not.toBe(before);
    expect(r2.stats.messagesCopied).toBe(1);
    const dst = await readMailbox(dv, p.d.name, p.d.pw);
    expect(hashCounts(dst, 'Box')).toEqual(hashCounts(await readMailbox(dv, p.s.name, p.s.pw), 'Box'));
  });

  it('a destination folder deleted between passes is filled again (never a loss)', async () => {
    const p = pair();
    await seedImap(dv, p.s.name, p.s.pw, { Keep: [msg(400), msg(401)] });
    const store = createMemoryCheckpointStore();
    await runPass({ itemId: 'gone', source: p.source, destination: p.destination, checkpoints: store });
    const c = await openClient(dv, p.d.name, p.d.pw);
    await c.mailboxDelete('Keep');
    await c.logout();
    const r = await runPass({ itemId: 'gone', source: p.source, destination: p.destination, checkpoints: store });
    expect(r.stats.messagesCopied).toBe(2);
    expect(defined((await readMailbox(dv, p.d.name, p.d.pw)).messages.Keep).length).toBe(2);
  });
});

describe('merged folders', () => {
  it(
    'two source folders mapped onto one destination folder ' + 'are copied one after the other, all messages kept',
    async () => {
      const s = await startDovecot({ separator: '/', users: [{ name: 'a', password: 'pa' }] });
      const d = await startDovecot({
        separator: '/',
        users: [{ name: 'b', password: 'pb' }],
        specialUse: { 'Sent Items': '\\Sent' },
      });
      try {
        // Source "Sent" (special use by name) maps onto the destination's \Sent "Sent Items",
        // where the source's own "Sent Items" goes too.
        await seedImap(s, 'a', 'pa', {
          Sent: Array.from({ length: 12 }, (_, i) => msg(700 + i)),
          'Sent Items': Array.from({ length: 9 }, (_, i) => msg(800 + i)),
        });
        const r = await runPass({
          itemId: 'merge',
          source: endpoint(s, 'a', 'pa'),
          destination: endpoint(d, 'b', 'pb'),
          checkpoints: createMemoryCheckpointStore(),
          options: { batchMessages: 4 },
        });
        expect(r.outcome, r.detail).toBe('completed');
        expect(r.stats.folders.filter((f) => f.destFolder === 'Sent Items')).toHaveLength(2);
        expect((await readMailbox(d, 'b', 'pb')).messages['Sent Items']).toHaveLength(21);
      } finally {
        await s.dispose();
        await d.dispose();
      }
    },
  );
});

describe('folder rules', () => {
  it('include, exclude and rename', async () => {
    const p = pair();
    await seedImap(dv, p.s.name, p.s.pw, {
      INBOX: [msg(500)],
      Keep: [msg(501)],
      'Keep/Sub': [msg(502)],
      Skip: [msg(503)],
      'Skip/Deep': [msg(504)],
      Old: [msg(505)],
      'Old/2019': [msg(506)],
    });
    const r = await runPass({
      itemId: 'rules',
      source: p.source,
      destination: p.destination,
      checkpoints: createMemoryCheckpointStore(),
      rules: { exclude: ['Skip'], rename: { Old: 'Archive/Old' } },
    });
    expect(r.outcome, r.detail).toBe('completed');
    const dst = await readMailbox(dv, p.d.name, p.d.pw);
    const names = folderNames(dst);
    expect(names).toEqual(expect.arrayContaining(['INBOX', 'Keep', 'Keep/Sub', 'Archive/Old', 'Archive/Old/2019']));
    expect(names.filter((x) => x.startsWith('Skip') || x === 'Old')).toEqual([]);

    const q = pair();
    await seedImap(dv, q.s.name, q.s.pw, {
      INBOX: [msg(600)],
      Keep: [msg(601)],
      'Keep/Sub': [msg(602)],
      Other: [msg(603)],
    });
    const r2 = await runPass({
      itemId: 'inc',
      source: q.source,
      destination: q.destination,
      checkpoints: createMemoryCheckpointStore(),
      rules: { include: ['Keep'] },
    });
    expect(r2.stats.messagesCopied).toBe(2);
    const dst2 = await readMailbox(dv, q.d.name, q.d.pw);
    expect(
      Object.entries(dst2.messages)
        .filter(([, m]) => m.length)
        .map(([k]) => k)
        .sort(),
    ).toEqual(['Keep', 'Keep/Sub']);
  });
});
