import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Db } from './store/db.ts';
import type { Sides } from './domain/types.ts';

/** SHA-256 of a link token, hex: the only form in which a token is stored. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A fresh link token: 32 random bytes, base64url (43 characters). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Creates a single-use credential link for an item and returns the raw token (to be put
 * in the message, never stored or logged). Older open links of the item die: a newer
 * request replaces them.
 */
export async function createLink(db: Db, input: { itemId: string; sides: Sides; recipient: string; ttlHours: number; now?: Date; keepOthers?: boolean }): Promise<{ token: string; expiresAt: Date; id: string }> {
  const now = input.now ?? new Date();
  const token = newToken();
  const expiresAt = new Date(now.getTime() + input.ttlHours * 3600_000);
  const id = randomUUID();
  await db.$transaction(async (tx) => {
    if (!input.keepOthers) await tx.credentialLink.updateMany({ where: { itemId: input.itemId, usedAt: null, revokedAt: null }, data: { revokedAt: now } });
    await tx.credentialLink.create({ data: { id, itemId: input.itemId, tokenHash: hashToken(token), sides: input.sides, recipient: input.recipient, expiresAt } });
  });
  return { token, expiresAt, id };
}

/** The open link a token names, or undefined (unknown, used, revoked or expired all look the same). */
export async function findOpenLink(db: Db, token: string, now = new Date()) {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
  const link = await db.credentialLink.findUnique({ where: { tokenHash: hashToken(token) } });
  if (!link || link.usedAt || link.revokedAt || link.expiresAt <= now) return undefined;
  return link;
}
