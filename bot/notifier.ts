import type { EventBus, EngineEvent, PassFigures } from '../engine/events.ts';
import type { Engine } from '../engine/engine.ts';
import type { Message } from '../cards/model.ts';
import { credentialsReceivedPost, credentialsRefusedPost, progressPost, statusPost, type FiguresView } from '../cards/item-posts.ts';
import { reasonText } from './commands/shared.ts';
import { SYSTEM_ACTOR } from '../engine/domain/types.ts';
import type { Logger } from './log.ts';

/** Where a post goes and what it is about. */
export interface ThreadPost {
  threadRef: string;
  /** The item address the post is about (console tags posts with it). */
  address?: string;
  itemId?: string;
  message: Message;
  /** Posts with the same key replace each other where the surface can edit (progress). */
  replaceKey?: string;
}

/** A surface's way of posting into a thread (adapters register one per surface). */
export type ThreadPoster = (post: ThreadPost) => Promise<void>;

function figuresView(f: PassFigures): FiguresView {
  return { ...f };
}

/**
 * Turns engine events into thread posts. Thread references are opaque; only their
 * `surface:` prefix is read, to pick the adapter that can post there. A post that cannot
 * be delivered is logged and noted in the item's history.
 */
export class Notifier {
  private posters = new Map<string, ThreadPoster>();
  constructor(
    private engine: Engine,
    private log: Logger,
  ) {}

  /** Registers the poster of a surface (`console`, `slack`, `teams`). */
  register(surface: string, poster: ThreadPoster): void {
    this.posters.set(surface, poster);
  }

  /** Subscribes to the bus. */
  attach(bus: EventBus): () => void {
    return bus.on((e) => this.onEvent(e));
  }

  /** Posts a message into a thread through its surface's poster. */
  async post(p: ThreadPost): Promise<boolean> {
    const surface = p.threadRef.split(':', 1)[0];
    const poster = this.posters.get(surface);
    if (!poster) {
      this.log.warn('no poster for thread surface', { surface, kind: p.message.kind });
      return false;
    }
    try {
      await poster(p);
      return true;
    } catch (e) {
      this.log.error('thread post failed', { surface, kind: p.message.kind, error: e instanceof Error ? e.message : String(e) });
      if (p.itemId) {
        const item = await this.engine.itemById(p.itemId);
        if (item) await this.engine.note(item, SYSTEM_ACTOR, 'post.failed', { message: `could not post "${p.message.kind}" to the thread`, text: p.message.text });
      }
      return false;
    }
  }

  /** The post an event makes, if any. */
  messageFor(e: EngineEvent): Message | undefined {
    switch (e.type) {
      case 'item.status':
        // Waiting is announced by the outreach post (who was asked, how); Running by progress.
        if (e.to === 'WaitingForUser' || e.to === 'Running') return undefined;
        return statusPost({
          address: e.item.sourceAddress,
          from: e.from,
          to: e.to,
          actor: e.actor.name ?? e.actor.id,
          reasonText: reasonText(e.reason),
          detail: e.detail,
          figures: e.figures ? figuresView(e.figures) : undefined,
        });
      case 'item.progress':
        return progressPost(e.item.sourceAddress, figuresView(e.figures), e.folder);
      case 'item.credentials-received':
        return e.actor.surface === 'form' ? credentialsReceivedPost(e.item.sourceAddress, e.sides, e.actor.id) : undefined;
      case 'item.credentials-refused':
        return credentialsRefusedPost(e.item.sourceAddress, e.side, e.attempt, e.final, e.detail);
      default:
        return undefined;
    }
  }

  private async onEvent(e: EngineEvent): Promise<void> {
    if (!('item' in e) || !e.item.threadRef) return;
    const message = this.messageFor(e);
    if (!message) return;
    await this.post({
      threadRef: e.item.threadRef,
      address: e.item.sourceAddress,
      itemId: e.item.id,
      message,
      replaceKey: e.type === 'item.progress' ? `progress:${e.item.id}` : undefined,
    });
  }
}
