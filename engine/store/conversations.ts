import { randomBytes } from 'node:crypto';
import type { Db } from './db.ts';

/**
 * Stored chat conversation references (a surface's own JSON, opaque here), so a thread
 * reference like `teams:<id>` can be posted into again after a restart. Adapters never
 * touch the database: the composition root hands them this store as a `ConversationStore`.
 */
export interface ConversationStore {
  /** Saves a reference; returns its id (the same reference saved twice gets a new id). */
  save(surface: string, reference: string): Promise<string>;
  /** The reference saved under `id`, or undefined. */
  load(id: string): Promise<string | undefined>;
  /** Replaces the reference saved under `id` (a newer serviceUrl, for instance). */
  update(id: string, reference: string): Promise<void>;
}

/** A ConversationStore on the ChatConversation table. */
export function conversationStore(db: Db): ConversationStore {
  return {
    async save(surface, reference) {
      // 12 random bytes: unguessable, short enough for a thread reference column.
      const id = randomBytes(12).toString('base64url');
      await db.chatConversation.create({ data: { id, surface, reference } });
      return id;
    },
    async load(id) {
      const row = await db.chatConversation.findUnique({ where: { id } });
      return row?.reference;
    },
    async update(id, reference) {
      await db.chatConversation.update({ where: { id }, data: { reference } });
    },
  };
}
