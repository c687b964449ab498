import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type RootApp } from '../../bot/app.ts';
import { loadConfig } from '../../bot/config.ts';
import { Logger } from '../../bot/log.ts';
import { renderText } from '../../cards/render-text.ts';
import type { Message } from '../../cards/model.ts';
import type { ThreadPost } from '../../bot/notifier.ts';
import type { CredentialRequest } from '../../bot/outreach/outreach.ts';
import type { Side } from '../../engine/domain/types.ts';
import { testDbUrl } from '../harness/test-db.ts';

/** A post as a test sees it: where, what, rendered, and when (the fake clock). */
export type SeenPost = ThreadPost & { text: string; at: Date; process: string };

/** One "process": an App on a shared database file, with a `test` poster and an email sender that records requests. */
export interface Proc {
  name: string;
  app: RootApp;
  posts: SeenPost[];
  requests: (CredentialRequest & { at: Date })[];
  logs: string[];
  run(text: string, opts?: { channel?: string }): Promise<{ replies: Message[]; text: string }>;
  close(): Promise<void>;
}

/** A fresh directory for a database several processes share. */
export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'mailferry-sched-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Opens an App on `dir`'s database, like a server process would. */
export async function openProc(
  dir: string,
  name = 'p1',
  opts: { poster?: boolean; failPosts?: () => boolean } = {},
): Promise<Proc> {
  const logs: string[] = [];
  const config = loadConfig(
    { DATABASE_URL: testDbUrl(dir), MAILFERRY_DATA_DIR: dir, PORT: '0', MAILFERRY_ADMINS: 'test:admin' },
    '/nonexistent',
  );
  const app = await createApp(config, { log: new Logger((l) => logs.push(l), 'debug') });
  const posts: SeenPost[] = [];
  const requests: Proc['requests'] = [];
  if (opts.poster !== false)
    app.notifier.register('test', async (p) => {
      if (opts.failPosts?.()) throw new Error('chat service unavailable');
      posts.push({ ...p, text: renderText(p.message), at: new Date(), process: name });
    });
  app.outreach.addSender({
    kind: 'email',
    async send(req) {
      requests.push({ ...req, at: new Date() });
      return { ok: true, via: 'email' };
    },
  });
  let threads = 0;
  return {
    name,
    app,
    posts,
    requests,
    logs,
    async run(text, o = {}) {
      const replies: Message[] = [];
      const channel = o.channel ?? 'C1';
      await app.dispatcher.dispatch({
        text,
        surface: 'test',
        userId: 'admin',
        userName: 'admin',
        channelId: channel,
        channelRef: `test:${channel}`,
        threadRef: null,
        reply: async (m) => void replies.push(m),
        openThread: async (m) => {
          replies.push(m);
          return `test:${channel}/${name}-T${++threads}`;
        },
      });
      await app.bus.idle();
      return { replies, text: replies.map(renderText).join('\n') };
    },
    close: () => app.close(),
  };
}

/** Stores both credentials of an item so `start` queues it. */
export async function giveCredentials(
  app: RootApp,
  address: string,
  sides: Side[] = ['source', 'destination'],
): Promise<void> {
  const project = await app.db.project.findFirstOrThrow({ where: { items: { some: { sourceAddress: address } } } });
  let item = await app.engine.getItem(project, address);
  for (const side of sides)
    item = await app.engine.setCredential({ surface: 'form', id: address }, item, side, address, { password: 'pw' });
  await app.bus.idle();
}

/** Runs an item through one pass with the given outcome. */
export async function finishPass(
  app: RootApp,
  address: string,
  outcome: 'completed' | 'failed',
  figures: { messages: number; bytes: number },
  failure?: { reason: 'DestinationQuota' | 'SourceUnreachable'; detail?: string },
): Promise<void> {
  const claimed = await app.engine.claimNext();
  if (!claimed || claimed.sourceAddress !== address)
    throw new Error(`expected ${address} to be next, got ${claimed?.sourceAddress}`);
  await app.engine.finishPass(
    claimed.id,
    outcome,
    {
      messagesFound: figures.messages,
      bytesFound: figures.bytes,
      messagesCopied: figures.messages,
      bytesCopied: figures.bytes,
      messagesPresent: 0,
      messagesSkipped: 0,
      durationMs: 60_000,
    },
    failure,
  );
  await app.bus.idle();
}

/** Settles the bus and the notifier of every process. */
export async function settle(...procs: Proc[]): Promise<void> {
  for (let i = 0; i < 3; i++)
    for (const p of procs) {
      await p.app.bus.idle();
      await p.app.notifier.idle();
    }
}

/**
 * Races real processes: starts one child per name running `script` with (dir, name, go-file),
 * waits until every one has printed "ready", releases them all at once by creating the
 * go-file, and returns the JSON each printed on its last line.
 */
export async function raceChildren<T>(script: URL, dir: string, names: string[]): Promise<T[]> {
  const go = join(dir, 'go');
  const runTs = fileURLToPath(new URL('../../bin/run-ts.mjs', import.meta.url));
  const children = names.map((name) => {
    const child = spawn(process.execPath, [runTs, fileURLToPath(script), dir, name, go], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const ready = new Promise<void>((res) => child.stdout.on('data', () => out.includes('ready') && res()));
    const done = new Promise<string>((res, rej) =>
      child.on('exit', (code) => (code === 0 ? res(out) : rej(new Error(`child ${name} exited ${code}`)))),
    );
    return { ready, done };
  });
  await Promise.all(children.map((c) => c.ready));
  writeFileSync(go, '');
  const outs = await Promise.all(children.map((c) => c.done));
  return outs.map((o) => JSON.parse(o.trim().split('\n').pop()!) as T);
}

/** The real setTimeout, taken before any test fakes the timers. */
const realSetTimeout = globalThis.setTimeout;

/**
 * Moves the fake clock forward by `ms` one timer at a time, and lets the work each timer
 * starts finish (`settleAll`: the schedulers' and processes' idle) before it moves on. The
 * database's I/O is real and takes real time: moved in one jump, the clock would run ahead
 * of a tick's queries (a post stamped later than its tick, a transaction's timeout firing
 * while it waits for the database). Work that itself waits for a later timer (a post
 * waiting for its thread's rate limit) cannot settle before the clock moves: after
 * `patienceMs` of real time the walk goes on to the next timer. A timer set for the end
 * stops the walk there.
 */
export async function advanceClock(ms: number, settleAll: () => Promise<void>, patienceMs = 1000): Promise<void> {
  const { vi } = await import('vitest');
  const settled = () => Promise.race([settleAll(), new Promise<void>((r) => realSetTimeout(r, patienceMs))]);
  let reached = false;
  await settled(); // work already under way finishes at the time it started
  setTimeout(() => (reached = true), ms);
  for (let fired = 0; !reached; fired++) {
    if (fired > 200_000) throw new Error('advanceClock: too many timers; a timer loop?');
    await vi.advanceTimersToNextTimerAsync();
    await settled();
  }
}

/**
 * Per test: a fresh database directory and the processes opened on it (`proc(name)`), all
 * closed and removed after the test. Registers its own beforeEach/afterEach.
 */
export async function procsPerTest(): Promise<{
  proc: (name: string, opts?: Parameters<typeof openProc>[2]) => Promise<Proc>;
  forget: (p: Proc) => void;
}> {
  const { beforeEach, afterEach } = await import('vitest');
  let tmp: ReturnType<typeof tempDir>;
  const open: Proc[] = [];
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(async () => {
    for (const p of open.splice(0)) await p.close();
    tmp.remove();
  });
  return {
    async proc(name, opts = {}) {
      const p = await openProc(tmp.dir, name, opts);
      open.push(p);
      return p;
    },
    forget: (p) => void open.splice(open.indexOf(p), 1),
  };
}
