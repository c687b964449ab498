import type { App } from '../bot/app.ts';
import type { Message } from '../cards/model.ts';

let threads = 0;

/**
 * Runs a chat command line as the benchmarks' admin (surface `bench`); returns the replies and the thread it opened.
 */
export async function adminCommand(
  app: App,
  text: string,
): Promise<{ replies: Message[]; thread: string | null; ok: boolean; code?: string }> {
  const replies: Message[] = [];
  let thread: string | null = null;
  const r = await app.dispatcher.dispatch({
    text,
    surface: 'bench',
    userId: 'admin',
    userName: 'admin',
    channelId: 'C1',
    channelRef: 'bench:C1',
    threadRef: null,
    reply: async (m) => void replies.push(m),
    openThread: async (m) => {
      replies.push(m);
      thread = `bench:C1/T${++threads}`;
      return thread;
    },
  });
  return { replies, thread, ok: r.ok, code: r.code };
}
