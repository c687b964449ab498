import type { Actor, FailureReason, ItemStatus, Side } from './domain/types.ts';
import type { CopyCounters, PassVerification } from './copy/types.ts';
import type { PassWindowView } from './domain/pass-kind.ts';

/** The public face of an item in events: enough for the notifier to post without a query. */
export interface ItemRef {
  id: string;
  projectId: string;
  projectName: string;
  sourceAddress: string;
  destinationAddress: string;
  /** Opaque thread reference where the item was asked for. */
  threadRef: string | null;
}

/** Figures of a pass, as the engine reports them: the copy counters, the duration, skipped messages by reason. */
export interface PassFigures extends CopyCounters {
  durationMs: number;
  skippedReasons?: Record<string, number>;
  /** Messages already copied whose flags a delta pass set to the source's. */
  flagsUpdated?: number;
  /**
   * The verification at the end of the pass (absent when it checked no folder); at most 10 short folders are listed.
   */
  verification?: PassVerification;
  /** The pass's kind and date window (absent: a full pass of every date, or one recorded before kinds existed). */
  pass?: PassWindowView;
  /** Source messages the pass left for a later one (outside its date window). */
  leftOut?: number;
}

/** A status change of an item (every one goes through the engine's state machine). */
export interface ItemStatusEvent {
  type: 'item.status';
  item: ItemRef;
  actor: Actor;
  from: ItemStatus;
  to: ItemStatus;
  reason?: FailureReason;
  detail?: string;
  figures?: PassFigures;
  /** A pass paused because the project's copy window closed: when it opens again, and the project's zone. */
  paused?: { until: Date; timeZone: string };
  /** A bulk change: its thread post was written with the change as one summary per batch. */
  posted?: boolean;
  /**
   * Set by the engine on every change it committed: the status hooks ran inside the change's
   * transaction, so its post is already in the outbox. An event without it was not made by a
   * transition, and whoever listens posts it from the bus.
   */
  recorded?: boolean;
}

/** Every domain event, as a discriminated union on `type`. */
export type EngineEvent =
  | { type: 'item.added'; item: ItemRef; actor: Actor }
  | ItemStatusEvent
  | {
      type: 'item.credentials-needed';
      item: ItemRef;
      actor: Actor;
      sides: Side[];
      resend: boolean;
      /**
       * Set when a bulk command (start --all, start --waiting) asked many at once: the requests of one batch are
       * reported together.
       */
      batch?: string;
    }
  /** A bulk command emitted every `item.credentials-needed` of its batch (none follow). */
  | { type: 'batch.end'; batch: string; actor: Actor }
  | { type: 'item.credentials-received'; item: ItemRef; actor: Actor; sides: Side[] }
  | { type: 'item.credentials-refused'; item: ItemRef; side: Side; attempt: number; final: boolean; detail?: string }
  | { type: 'item.credentials-cleared'; item: ItemRef; actor: Actor; sides: Side[] }
  | {
      type: 'item.progress';
      item: ItemRef;
      figures: PassFigures;
      folder?: string;
      /** Where the pass is: listing folders, or copying with some folders not counted yet. */
      stage?: { phase: 'listing' | 'copying'; foldersTotal: number; foldersUncounted: number };
    }
  | { type: 'item.deleted'; item: ItemRef; actor: Actor }
  | { type: 'item.stop-requested'; item: ItemRef; actor: Actor }
  | { type: 'project.created'; projectId: string; name: string; channelRef: string | null; actor: Actor };

/** One status change of a batch, as the bot writes its thread post. */
export interface StatusChange {
  item: ItemRef;
  actor: Actor;
  from: ItemStatus;
  to: ItemStatus;
}

/** Event types, for subscribers that want one kind. */
export type EngineEventType = EngineEvent['type'];

type Listener = (e: EngineEvent) => void | Promise<void>;

/**
 * A small typed event bus. Listeners run after the state change is committed; a failing
 * listener is reported to `onError` and never undoes the change or stops other listeners.
 */
export class EventBus {
  private listeners: Listener[] = [];
  private pending = new Set<Promise<void>>();
  constructor(private onError: (e: unknown, ev: EngineEvent) => void = () => {}) {}

  /** Subscribes; returns the unsubscribe function. */
  on(listener: Listener): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** Delivers an event to every listener (asynchronously, in subscription order per listener). */
  emit(ev: EngineEvent): void {
    // Each listener runs at once up to its first await, as an async wrapper would run it; only
    // a listener that returned a promise is tracked (a bulk command emits thousands of events).
    for (const l of this.listeners) {
      let r: void | Promise<void>;
      try {
        r = l(ev);
      } catch (e) {
        this.onError(e, ev);
        continue;
      }
      if (!r) continue;
      const p = r.then(undefined, (e: unknown) => this.onError(e, ev));
      this.pending.add(p);
      void p.finally(() => this.pending.delete(p));
    }
  }

  /** Resolves when every listener call started so far has finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }
}
