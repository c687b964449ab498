import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type RootApp } from '../../bot/app.ts';
import { loadConfig, type Config } from '../../bot/config.ts';
import { Logger } from '../../bot/log.ts';
import { renderText } from '../../cards/render-text.ts';
import type { Message } from '../../cards/model.ts';
import type { NotifierOptions, ThreadPost } from '../../bot/notifier.ts';
import type { DispatchResult } from '../../bot/dispatch.ts';
import { testDbUrl } from './test-db.ts';

/** A test app on a fresh SQLite file, with every log line captured. */
export interface TestApp {
  app: RootApp;
  dir: string;
  logs: string[];
  /** Every thread post made through the `test` surface, in order. */
  posts: (ThreadPost & { text: string })[];
  /** Runs a command as `user` on the `test` surface in `channel`; returns the replies as text. */
  run(
    text: string,
    opts?: { user?: string; channel?: string; admin?: boolean },
  ): Promise<{ replies: Message[]; text: string; result: DispatchResult; thread: string | null }>;
  close(): Promise<void>;
}

/** Builds a TestApp. `env` adds to the configuration (e.g. SMTP_URL, MAILFERRY_ADMINS). */
export async function makeTestApp(
  env: Record<string, string> = {},
  configure?: (c: Config) => void,
  notifier?: NotifierOptions,
  outreach?: NonNullable<Parameters<typeof createApp>[1]>['outreach'],
): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'mailferry-test-'));
  const logs: string[] = [];
  const config = loadConfig(
    { DATABASE_URL: testDbUrl(dir), MAILFERRY_DATA_DIR: dir, PORT: '0', MAILFERRY_ADMINS: 'test:admin', ...env },
    '/nonexistent',
  );
  configure?.(config);
  const app = await createApp(config, { log: new Logger((l) => logs.push(l), 'debug'), notifier, outreach });
  const posts: TestApp['posts'] = [];
  app.notifier.register('test', async (p) => {
    posts.push({ ...p, text: renderText(p.message) });
  });
  let threads = 0;
  return {
    app,
    dir,
    logs,
    posts,
    async run(text, opts = {}) {
      const replies: Message[] = [];
      let thread: string | null = null;
      const result = await app.dispatcher.dispatch({
        text,
        surface: 'test',
        userId: opts.user ?? 'admin',
        userName: opts.user ?? 'admin',
        channelId: opts.channel ?? 'C1',
        channelRef: `test:${opts.channel ?? 'C1'}`,
        threadRef: null,
        reply: async (m) => void replies.push(m),
        openThread: async (m) => {
          replies.push(m);
          thread = `test:${opts.channel ?? 'C1'}/T${++threads}`;
          return thread;
        },
      });
      await app.bus.idle();
      await app.notifier.idle();
      return { replies, text: replies.map(renderText).join('\n'), result, thread };
    },
    async close() {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Waits until a thread post matching `re` has been delivered. Posts travel through the
 * notifier's outbox after the change that caused them, so a test that acts through HTTP
 * (the form, Slack, Teams) cannot assume they are there when the response arrives.
 */
export async function waitForPost(t: { posts: { text: string }[] }, re: RegExp, timeoutMs = 15_000): Promise<void> {
  const { vi } = await import('vitest');
  await vi.waitFor(
    () => {
      const all = t.posts.map((p) => p.text).join('\n');
      if (!re.test(all)) throw new Error(`no thread post matches ${re}; posts so far:\n${all}`);
    },
    { timeout: timeoutMs, interval: 50 },
  );
}
