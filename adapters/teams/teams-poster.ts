import { createHash } from 'node:crypto';
import type { CloudAdapter } from 'botbuilder';
import type { ThreadPost, ThreadPoster } from '../../bot/notifier.ts';
import type { Logger } from '../../bot/log.ts';
import { loadConversation, SURFACE, type ReferenceStore } from './references.ts';
import { renderActivity } from './render-activity.ts';
import { KeyedQueue } from '../../bot/keyed-queue.ts';
import { proactive, statusOf, withRetry, type RetryOptions } from './retry.ts';

/** What the poster needs. */
export interface TeamsPosterDeps {
  adapter: CloudAdapter;
  appId: string;
  store: ReferenceStore;
  log: Logger;
  retry: RetryOptions;
}

/** Where the activity id of a replaceable post (progress) is kept. */
function postKey(replaceKey: string): string {
  return `p.${createHash('sha256').update(replaceKey).digest('base64url').slice(0, 22)}`;
}

/**
 * Posts into a Teams thread proactively, from the stored conversation reference
 * (`continueConversationAsync`, so it works after a restart). A post with a `replaceKey`
 * (progress) edits the earlier activity of the same key (`updateActivity`) instead of
 * adding a message; if that activity is gone, a new one is posted. Posts to one thread go
 * out one at a time; 429/503 answers are retried in place (Retry-After honoured), and a
 * post still refused is thrown back to the notifier, whose outbox retries it later.
 */
export function makeTeamsPoster(deps: TeamsPosterDeps): ThreadPoster {
  const queue = new KeyedQueue();
  const onRetry = (status: number, waitMs: number, attempt: number) =>
    deps.log.warn('Teams connector throttled a thread post; retrying', { status, waitMs, attempt });
  const deliver = async (post: ThreadPost): Promise<void> => {
    const conv = await loadConversation(deps.store, post.threadRef);
    if (!conv)
      throw new Error(`no stored Teams conversation for ${post.threadRef}: the bot must receive a message there first`);
    const activity = renderActivity(post.message);
    const key = post.replaceKey ? postKey(post.replaceKey) : undefined;
    const previous = key ? await deps.store.load(key) : undefined;
    await proactive(
      (logic) => deps.adapter.continueConversationAsync(deps.appId, conv.ref, logic),
      async (context) => {
        if (previous) {
          try {
            await withRetry(() => context.updateActivity({ ...activity, id: previous }), deps.retry, onRetry);
            return;
          } catch (e) {
            // The card was deleted or cannot be edited any more: post a fresh one below.
            if (statusOf(e) !== 404 && statusOf(e) !== 403) throw e;
          }
        }
        const sent = await withRetry(() => context.sendActivity(activity), deps.retry, onRetry);
        if (key && sent?.id) await deps.store.put(key, `${SURFACE}-post`, sent.id);
      },
    );
  };
  return (post) => queue.run(post.threadRef, () => deliver(post));
}
