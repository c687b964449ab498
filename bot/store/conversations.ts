import type { BotDb } from './bot-db.ts';

/**
 * Stored chat conversation references (a surface's own JSON, opaque here), so a thread
 * reference like `teams:<id>` can be posted into again after a restart. Adapters never
 * touch the database: the composition root hands them this store as a `ConversationStore`.
 */
export interface ConversationStore {
  /** Saves (or replaces) the reference kept under `id`. */
  put(id: string, surface: string, reference: string): Promise<void>;
  /** The reference saved under `id`, or undefined. */
  load(id: string): Promise<string | undefined>;
}

/** A ConversationStore on the ChatConversation table. */
export function conversationStore(db: BotDb): ConversationStore {
  return {
    async put(id, surface, reference) {
      await db.chatConversation.upsert({ where: { id }, create: { id, surface, reference }, update: { reference } });
    },
    async load(id) {
      const row = await db.chatConversation.findUnique({ where: { id } });
      return row?.reference;
    },
  };
}
