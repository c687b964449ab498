import { createInterface } from 'node:readline';
import { userInfo } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type { Dispatcher } from '../../bot/dispatch.ts';
import type { ThreadPoster } from '../../bot/notifier.ts';
import type { Message } from '../../cards/model.ts';
import { renderText } from '../../cards/render-text.ts';

/** The console's channel: one local channel, always admin. */
export const CONSOLE_CHANNEL = 'console:local';

/** What the console needs from the core. */
export interface ConsoleDeps {
  dispatcher: Dispatcher;
  /** Registers how thread posts reach this surface. */
  registerPoster(surface: 'console', poster: ThreadPoster): void;
  /** Resolves when every event so far has been handled (posts printed in order). */
  settle(): Promise<void>;
  /** Threads are numbered after this one (earlier console runs on the same database used the numbers up to it). */
  lastThread?: number;
}

/**
 * The local chat surface: reads command lines from `input` (a prompt when interactive,
 * silent when piped), prints replies, and prints every thread post tagged with its thread
 * and item. `bulk` without `--file` reads the CSV lines that follow, up to an empty line
 * or a lone `.`.
 */
export async function runConsole(
  deps: ConsoleDeps,
  input: Readable,
  output: Writable,
  opts: { interactive: boolean; user?: string },
): Promise<void> {
  const user = opts.user ?? safeUser();
  let threads = deps.lastThread ?? 0;
  const print = (s: string): void => void output.write(s.endsWith('\n') ? s : s + '\n');
  deps.registerPoster('console', async (p) => {
    const tag = [p.threadRef.replace(/^console:/, ''), p.address].filter(Boolean).join(' · ');
    print(indent(`[${tag}] `, renderText(p.message)));
  });
  const rl = createInterface({ input, terminal: opts.interactive, output: opts.interactive ? output : undefined });
  const prompt = () => opts.interactive && rl.setPrompt('migrate> ') === undefined && rl.prompt();
  prompt();
  let pending: string[] | null = null;
  const run = async (text: string) => {
    await deps.dispatcher.dispatch({
      text,
      surface: 'console',
      userId: user,
      userName: user,
      channelRef: CONSOLE_CHANNEL,
      threadRef: null,
      reply: async (m: Message) => void print(renderText(m)),
      openThread: async (summary: Message) => {
        const ref = `console:T${++threads}`;
        print(indent(`[T${threads}] `, renderText(summary)));
        return ref;
      },
    });
    await deps.settle();
  };
  for await (const raw of rl) {
    const line = raw.trim();
    if (pending) {
      if (line === '' || line === '.') {
        const text = pending.join('\n');
        pending = null;
        await run(text);
        prompt();
      } else pending.push(raw);
      continue;
    }
    if (!line || line.startsWith('#')) {
      prompt();
      continue;
    }
    if (/^(quit|exit)$/i.test(line)) break;
    if (/^\/?(migrate\s+)?bulk\b/i.test(line) && !/--file\b/.test(line) && !/--help\b/.test(line)) {
      pending = [line];
      if (opts.interactive)
        print(
          'Paste CSV lines (source,destination[,source_login,destination_login]); end with an empty line or a lone "."',
        );
      continue;
    }
    await run(line);
    prompt();
  }
  if (pending) await run(pending.join('\n'));
  rl.close();
}

/** The highest `n` among thread references `console:Tn` (0 when none): the next console run numbers after it. */
export function lastConsoleThread(refs: Iterable<string | null>): number {
  let max = 0;
  for (const ref of refs) {
    const m = /^console:T(\d+)$/.exec(ref ?? '');
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max;
}

function indent(prefix: string, text: string): string {
  const pad = ' '.repeat(prefix.length);
  return text
    .split('\n')
    .map((l, i) => (i === 0 ? prefix : pad) + l)
    .join('\n');
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'console';
  }
}
