/**
 * One big folder split over lanes: lanes with no folder of their own join a folder in
 * progress and send part of its batches into the same destination folder, on their own
 * connections. Every message must land exactly once, with its flags, keywords and date,
 * whatever stops the pass: a crash at any checkpoint write, kill -9, a connection dropped
 * after the server stored an APPEND and before its answer arrived. Real Dovecot, reached
 * through the harness's IMAP proxy, which also shows which connections appended.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCheckpointStore, runPass, type PassOptions } from '../../engine/copy/index.ts';
import {
  makeMessage,
  readMailbox,
  seedMaildir,
  startDovecot,
  type DovecotInstance,
  type SeedMessage,
} from '../harness/dovecot.ts';
import { startImapProxy, type ImapProxy } from '../harness/imap-proxy.ts';
import { describeWithServers, startServer, type TestServer } from '../harness/imap-servers.ts';
import { folderKeys, hashCounts, userPair, type UserPair } from '../harness/copy-assert.ts';
import { runPassChild } from '../harness/spawn-pass-child.ts';
import { testDbUrl } from '../harness/test-db.ts';
import { defined } from '../harness/defined.ts';
import { crashingStore } from '../harness/crashing-store.ts';

let dv: DovecotInstance;
let proxy: ImapProxy;
let dir: string;

beforeAll(async () => {
  dv = await startDovecot({ separator: '/' });
  proxy = await startImapProxy({ port: dv.port });
  dir = mkdtempSync(join(tmpdir(), 'mf-split-'));
});
afterAll(async () => {
  await proxy?.close();
  await dv?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const at = (i: number) => new Date(Date.UTC(2021, 2, 1, 0, 0, i));

/**
 * One folder of `n` messages, sizes and flags varied, with true duplicates (same bytes, same
 * date) and twins without Message-ID placed far apart, so they fall into batches that
 * different lanes send.
 */
function bigFolder(n: number): SeedMessage[] {
  const box: SeedMessage[] = Array.from({ length: n }, (_, i) => ({
    raw: makeMessage({ size: 1500 + (i % 11) * 700 }),
    flags: [
      ...(i % 2 ? ['\\Seen'] : []),
      ...(i % 5 === 0 ? ['\\Flagged'] : []),
      ...(i % 7 === 0 ? ['$Label' + (i % 3)] : []),
    ],
    internalDate: at(i),
  }));
  const dup = { raw: makeMessage({ size: 9000 }), flags: ['\\Seen'], internalDate: at(5000) };
  const noId = { raw: makeMessage({ size: 4000, messageId: null }), internalDate: at(5001) };
  box.splice(3, 0, dup, noId);
  box.splice(Math.floor(n / 2), 0, dup, { ...noId });
  box.push(dup, { ...noId });
  return box;
}

/** Small batches and a low lane threshold: a few hundred messages make four lanes, one folder. */
const SPLIT: PassOptions = { batchMessages: 10, messagesPerLane: 40, connections: 4, progressIntervalMs: 20 };

/** Destination connections that sent an APPEND since event `from`. */
function appendConnections(from: number): Set<number> {
  return new Set(
    proxy.events
      .slice(from)
      .filter((e) => e.command === 'APPEND')
      .map((e) => e.conn),
  );
}

/**
 * Makes sure the folder is split: the answer to the first APPEND is held back until an
 * APPEND comes on another connection (a lane that joined), then let through.
 */
function holdFirstAppendUntilAnotherLane(at = proxy): { split: Promise<void>; release(): void } {
  const from = at.events.length;
  const gate = at.holdAnswers(/ OK \[APPENDUID /, 0);
  let released = false;
  const split = (async () => {
    await gate.held;
    const held = defined(at.events.slice(from).find((e) => e.command === 'APPEND')).conn;
    while (!released && !at.events.slice(from).some((e) => e.command === 'APPEND' && e.conn !== held))
      await new Promise((r) => setTimeout(r, 10));
    gate.release();
  })();
  return {
    split,
    release: () => {
      released = true;
      gate.release();
    },
  };
}

/** The destination folder holds each source message exactly once, with its flags, keywords and date. */
async function expectExactlyOnce(p: UserPair, folder = 'INBOX'): Promise<void> {
  const src = await readMailbox(dv, p.s.name, p.s.pw);
  const dst = await readMailbox(dv, p.d.name, p.d.pw);
  expect(folderKeys(dst, folder)).toEqual(folderKeys(src, folder));
  expect(hashCounts(dst, folder)).toEqual(hashCounts(src, folder));
}

describe('one big folder split over lanes', () => {
  it('lanes without a folder join it; every message lands once, with flags, keywords and dates', async () => {
    const p = userPair(dv, proxy, 'sp');
    const box = bigFolder(300);
    seedMaildir(dv, p.s.name, [{ path: ['INBOX'], messages: box }]);
    const store = createMemoryCheckpointStore();
    const from = proxy.events.length;
    const { split } = holdFirstAppendUntilAnotherLane();
    const r = await runPass({
      itemId: 'split',
      source: p.source,
      destination: p.destination,
      checkpoints: store,
      options: SPLIT,
    });
    await split;
    expect(r.outcome, r.detail).toBe('completed');
    expect(r.stats.messagesCopied).toBe(box.length);
    expect(appendConnections(from).size).toBeGreaterThan(1);
    await expectExactlyOnce(p);
    // The folder is complete: its checkpoint covers every UID and holds no intent.
    const cp = defined((await store.load('split')).get('INBOX'));
    expect(cp).toMatchObject({ lastUid: box.length, pendingToUid: null, srcMessages: box.length });
    expect(r.stats.verification).toMatchObject({ missing: 0, altered: 0, unchecked: 0 });

    // Nothing left: the next pass skips the folder on STATUS.
    const again = await runPass({
      itemId: 'split',
      source: p.source,
      destination: p.destination,
      checkpoints: store,
      options: SPLIT,
    });
    expect(again.stats.messagesCopied).toBe(0);
    expect(defined(again.stats.folders.find((f) => f.sourceFolder === 'INBOX')).unchanged).toBe(true);
  });

  it('with splitting off, one connection appends', async () => {
    const p = userPair(dv, proxy, 'sn');
    seedMaildir(dv, p.s.name, [{ path: ['INBOX'], messages: bigFolder(120) }]);
    const from = proxy.events.length;
    const r = await runPass({
      itemId: 'nosplit',
      source: p.source,
      destination: p.destination,
      checkpoints: createMemoryCheckpointStore(),
      options: { ...SPLIT, splitFolders: false },
    });
    expect(r.outcome, r.detail).toBe('completed');
    expect(appendConnections(from).size).toBe(1);
    await expectExactlyOnce(p);
  });

  it('on the buffered path too (no streaming: batches fetched ahead, then appended)', async () => {
    const p = userPair(dv, proxy, 'sb');
    const box = bigFolder(200);
    seedMaildir(dv, p.s.name, [{ path: ['INBOX'], messages: box }]);
    const from = proxy.events.length;
    const { split } = holdFirstAppendUntilAnotherLane();
    const r = await runPass({
      itemId: 'buffered',
      source: p.source,
      destination: p.destination,
      checkpoints: createMemoryCheckpointStore(),
      options: { ...SPLIT, stream: false },
    });
    await split;
    expect(r.outcome, r.detail).toBe('completed');
    expect(r.stats.messagesCopied).toBe(box.length);
    expect(appendConnections(from).size).toBeGreaterThan(1);
    await expectExactlyOnce(p);
  });

  // A split pass of 306 messages in 31 batches writes about 33 checkpoints: the first intent,
  // the intent of the split, then one per batch, the completion.
  for (const k of [1, 2, 3, 6, 15, 30]) {
    it(`a crash at checkpoint write #${k} of a split folder resumes exactly once`, async () => {
      const p = userPair(dv, proxy, `sc${k}`);
      const box = bigFolder(300);
      seedMaildir(dv, p.s.name, [{ path: ['INBOX'], messages: box }]);
      const store = createMemoryCheckpointStore();
      // A crash before another lane appended must not leave the first APPEND's answer held.
      const hold = holdFirstAppendUntilAnotherLane();
      const crashed = await runPass({
        itemId: 'crash',
        source: p.source,
        destination: p.destination,
        checkpoints: crashingStore(store, k, hold.release),
        options: SPLIT,
      });
      expect(crashed.outcome).toBe('failed');
      // The crash may come before any lane appended: then nothing was held.
      hold.release();
      const r = await runPass({
        itemId: 'crash',
        source: p.source,
        destination: p.destination,
        checkpoints: store,
        options: SPLIT,
      });
      expect(r.outcome, r.detail).toBe('completed');
      await expectExactlyOnce(p);
      expect(defined(r.stats.folders[0]).messagesPresent + r.stats.messagesCopied).toBe(box.length);
    });
  }

  it('kill -9 at several points of a split folder, then a full pass: exactly once', async () => {
    const p = userPair(dv, proxy, 'sk');
    const box = bigFolder(400);
    seedMaildir(dv, p.s.name, [{ path: ['INBOX'], messages: box }]);
    const cfg = {
      dbUrl: testDbUrl(dir, 'kill'),
      itemId: 'split-kill9',
      source: p.source,
      destination: p.destination,
      options: SPLIT,
    };
    const from = proxy.events.length;
    for (const killAt of [30, 100, 100]) {
      const run = await runPassChild(cfg, killAt);
      expect(run.killed).toBe(true);
    }
    // The killed passes had lanes appending at once.
    expect(appendConnections(from).size).toBeGreaterThan(1);
    const last = await runPassChild(cfg);
    expect(last.result?.outcome, last.result?.detail).toBe('completed');
    await expectExactlyOnce(p);
    expect(defined((await readMailbox(dv, p.d.name, p.d.pw)).messages.INBOX).length).toBe(box.length);
    const again = await runPassChild(cfg);
    expect(again.result).toMatchObject({ outcome: 'completed', copied: 0 });
  }, 600_000);

  it("kill -9 while the first lane's batch is cut short and other lanes confirmed later ones: none lost", async () => {
    const p = userPair(dv, proxy, 'sh');
    const box = bigFolder(300);
    seedMaildir(dv, p.s.name, [{ path: ['INBOX'], messages: box }]);
    const cfg = {
      dbUrl: testDbUrl(dir, 'held'),
      itemId: 'split-held',
      source: p.source,
      destination: p.destination,
      options: SPLIT,
    };
    // The folder's own lane stops in the middle of its first message (the source's answer
    // held), so its APPEND is never complete, while the lanes that joined copy the batches after it.
    const gate = proxy.holdAnswers(/BODY\[\] \{\d+\}\r\n/, 100);
    const killed = await runPassChild(cfg, 40);
    gate.release();
    expect(killed.killed).toBe(true);
    const last = await runPassChild(cfg);
    expect(last.result?.outcome, last.result?.detail).toBe('completed');
    await expectExactlyOnce(p);
  }, 600_000);

  it('a connection dropped after the server stored an APPEND, before its answer: retried, exactly once', async () => {
    const p = userPair(dv, proxy, 'sd');
    const box = bigFolder(300);
    seedMaildir(dv, p.s.name, [{ path: ['INBOX'], messages: box }]);
    const from = proxy.events.length;
    const { split } = holdFirstAppendUntilAnotherLane();
    // The sixth APPEND of the pass, once lanes have joined: stored at the destination, never answered.
    const drop = proxy.dropAtReply({ command: 'APPEND', nth: 6 });
    const r = await runPass({
      itemId: 'drop',
      source: p.source,
      destination: p.destination,
      checkpoints: createMemoryCheckpointStore(),
      options: { ...SPLIT, retryBaseMs: 50 },
    });
    await split;
    const dropped = await drop.dropped;
    proxy.clearRules();
    expect(r.outcome, r.detail).toBe('completed');
    expect(appendConnections(from).size).toBeGreaterThan(1);
    expect(proxy.events.slice(from).some((e) => e.conn === dropped && e.command === 'APPEND')).toBe(true);
    await expectExactlyOnce(p);
    // The unanswered batch was found at the destination by the re-plan, not sent again.
    expect(r.stats.messagesCopied).toBeLessThan(box.length);
    expect(defined(r.stats.folders[0]).messagesPresent + r.stats.messagesCopied).toBe(box.length);
  });
});

describe('a destination without UIDPLUS', () => {
  // Dovecot's own capability list without UIDPLUS: the verification pairs copies with their
  // sources by order there, so a folder is never split.
  const caps =
    'IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS ' +
    'THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE LIST-EXTENDED ' +
    'I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE ' +
    'SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY';
  let plain: DovecotInstance;
  let via: ImapProxy;
  beforeAll(async () => {
    plain = await startDovecot({ separator: '/', extraConfig: `imap_capability = ${caps}` });
    via = await startImapProxy({ port: plain.port });
  });
  afterAll(async () => {
    await via?.close();
    await plain?.dispose();
  });

  it('one big folder goes over one lane, exactly once', async () => {
    const p = userPair(plain, via, 'su');
    const box = bigFolder(200);
    seedMaildir(plain, p.s.name, [{ path: ['INBOX'], messages: box }]);
    const r = await runPass({
      itemId: 'nouidplus',
      source: p.source,
      destination: p.destination,
      checkpoints: createMemoryCheckpointStore(),
      options: SPLIT,
    });
    expect(r.outcome, r.detail).toBe('completed');
    expect(r.stats.messagesCopied).toBe(box.length);
    const appends = new Set(via.events.filter((e) => e.command === 'APPEND').map((e) => e.conn));
    expect(appends.size).toBe(1);
    const src = await readMailbox(plain, p.s.name, p.s.pw);
    const dst = await readMailbox(plain, p.d.name, p.d.pw);
    expect(folderKeys(dst, 'INBOX')).toEqual(folderKeys(src, 'INBOX'));
    expect(r.stats.verification).toMatchObject({ missing: 0, altered: 0, unchecked: 0 });
  });
});

describeWithServers('one big folder split over lanes into Cyrus', ['cyrus'], () => {
  let cy: TestServer;
  let via: ImapProxy;
  beforeAll(async () => {
    cy = await startServer('cyrus');
    via = await startImapProxy({ port: cy.port });
  });
  afterAll(async () => {
    await via?.close();
    await cy?.dispose();
  });

  it('exactly once, with flags, keywords and dates', async () => {
    const src = userPair(dv, dv, 'sy');
    const box = bigFolder(200);
    seedMaildir(dv, src.s.name, [{ path: ['INBOX'], messages: box }]);
    await cy.addUser('splitdst', 'sd-pw');
    const { split } = holdFirstAppendUntilAnotherLane(via);
    const r = await runPass({
      itemId: 'cyrus',
      source: src.source,
      destination: { url: via.url, login: 'splitdst', secret: { password: 'sd-pw' } },
      checkpoints: createMemoryCheckpointStore(),
      options: SPLIT,
    });
    await split;
    expect(r.outcome, r.detail).toBe('completed');
    expect(r.stats.messagesCopied).toBe(box.length);
    expect(new Set(via.events.filter((e) => e.command === 'APPEND').map((e) => e.conn)).size).toBeGreaterThan(1);
    const s = await readMailbox(dv, src.s.name, src.s.pw);
    const d = await readMailbox(cy, 'splitdst', 'sd-pw');
    expect(folderKeys(d, 'INBOX')).toEqual(folderKeys(s, 'INBOX'));
    expect(r.stats.verification).toMatchObject({ missing: 0, altered: 0, unchecked: 0 });
  });
});
