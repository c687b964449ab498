import { storedSides } from './domain/types.ts';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Db } from './store/db.ts';
import type { Tx } from './store/db.ts';
import type { Side, Sides } from './domain/types.ts';
import { sidesOf } from './domain/types.ts';

/**
 * Credential links: the single-use, expiring capability an end user (or an admin, for
 * admin-assisted entry) holds to reach the credential form. Only the SHA-256 of the
 * token is stored; the raw token lives in the message that carries the link and
 * nowhere else (never in a log, never in the history).
 */

/** Recipient prefix of links made by `/migrate form` (admin-assisted entry). */
export const ADMIN_RECIPIENT_PREFIX = 'admin:';

/** A stored link row. */
export type CredentialLinkRow = NonNullable<Awaited<ReturnType<Db['credentialLink']['findUnique']>>>;

/** SHA-256 of a link token, hex: the only form in which a token is stored. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A fresh link token: 32 random bytes, base64url (43 characters). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** A new link's token, its id and when it expires (`ttlHours` from `now`, by default the present). */
function freshLink(input: { ttlHours: number; now?: Date }) {
  const now = input.now ?? new Date();
  return { now, token: newToken(), expiresAt: new Date(now.getTime() + input.ttlHours * 3600_000), id: randomUUID() };
}

/** True when a string has the shape of a token (checked before any database look-up). */
export function isTokenShaped(token: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(token);
}

/**
 * Creates a single-use credential link for an item and returns the raw token (to be put
 * in the message, never stored or logged). Older open links of the item die: a newer
 * request replaces them (unless `keepOthers`, for the second recipient of one request and
 * for admin-assisted links).
 */
export async function createLink(
  db: Db,
  input: { itemId: string; sides: Sides; recipient: string; ttlHours: number; now?: Date; keepOthers?: boolean },
): Promise<{ token: string; expiresAt: Date; id: string }> {
  const { now, token, expiresAt, id } = freshLink(input);
  await db.$transaction(async (tx) => {
    if (!input.keepOthers)
      await tx.credentialLink.updateMany({
        where: { itemId: input.itemId, usedAt: null, revokedAt: null },
        data: { revokedAt: now },
      });
    await tx.credentialLink.create({
      data: {
        id,
        itemId: input.itemId,
        tokenHash: hashToken(token),
        sides: input.sides,
        recipient: input.recipient,
        expiresAt,
      },
    });
  });
  return { token, expiresAt, id };
}

/** Whether a link row is still usable at `now` (not used, not revoked, not expired). */
export function isOpen(link: Pick<CredentialLinkRow, 'usedAt' | 'revokedAt' | 'expiresAt'>, now = new Date()): boolean {
  return !link.usedAt && !link.revokedAt && link.expiresAt > now;
}

/** The open link a token names, or undefined (unknown, used, revoked or expired all look the same). */
export async function findOpenLink(db: Db, token: string, now = new Date()): Promise<CredentialLinkRow | undefined> {
  if (!isTokenShaped(token)) return undefined;
  const link = await db.credentialLink.findUnique({ where: { tokenHash: hashToken(token) } });
  if (!link || !isOpen(link, now)) return undefined;
  return link;
}

/** The sides a link asks for. */
export function linkSides(link: Pick<CredentialLinkRow, 'sides'>): Side[] {
  return sidesOf(storedSides(link.sides));
}

/** Whether a link was made for admin-assisted entry (`/migrate form`). */
export function isAdminLink(link: Pick<CredentialLinkRow, 'recipient'>): boolean {
  return link.recipient.startsWith(ADMIN_RECIPIENT_PREFIX);
}

/**
 * Counts one refused attempt on a link (atomically) and returns the new count; undefined
 * when the link was used or revoked in between.
 */
export async function countAttempt(db: Db | Tx, linkId: string): Promise<number | undefined> {
  const { count } = await db.credentialLink.updateMany({
    where: { id: linkId, usedAt: null, revokedAt: null },
    data: { attempts: { increment: 1 } },
  });
  if (count !== 1) return undefined;
  const row = await db.credentialLink.findUnique({ where: { id: linkId }, select: { attempts: true } });
  return row?.attempts;
}

/**
 * Uses a link up: marks it used if (and only if) it is still open. Returns false when the
 * link was no longer open — a second submit, a stop or an expiry won the race.
 */
export async function consumeLink(db: Db | Tx, linkId: string, now = new Date()): Promise<boolean> {
  const { count } = await db.credentialLink.updateMany({
    where: { id: linkId, usedAt: null, revokedAt: null, expiresAt: { gt: now } },
    data: { usedAt: now },
  });
  return count === 1;
}

/** Kills every other open link of an item (its credentials are all known now: the item was submitted). */
export async function revokeOtherLinks(db: Db | Tx, itemId: string, exceptId: string, now = new Date()): Promise<void> {
  await db.credentialLink.updateMany({
    where: { itemId, id: { not: exceptId }, usedAt: null, revokedAt: null },
    data: { revokedAt: now },
  });
}

/** Kills one link (its attempts are exhausted). */
export async function revokeLink(db: Db | Tx, linkId: string, now = new Date()): Promise<void> {
  await db.credentialLink.updateMany({
    where: { id: linkId, usedAt: null, revokedAt: null },
    data: { revokedAt: now },
  });
}

/** Open links of an item (tests, status). */
export async function openLinksOf(db: Db | Tx, itemId: string, now = new Date()): Promise<CredentialLinkRow[]> {
  return db.credentialLink.findMany({
    where: { itemId, usedAt: null, revokedAt: null, expiresAt: { gt: now } },
    orderBy: { createdAt: 'asc' },
  });
}

// ------------------------------------------------------------ project links

/**
 * Admin-credentials links (`project connect`): the same capability for one side of a
 * project instead of an item — 32 random bytes, only the SHA-256 kept, expiring, used once.
 */
export type ProjectLinkRow = NonNullable<Awaited<ReturnType<Db['projectLink']['findUnique']>>>;

/** Creates a link to the admin-credentials form of one side of a project; an older open link of that side dies. */
export async function createProjectLink(
  db: Db,
  input: { projectId: string; side: Side; recipient: string; ttlHours: number; now?: Date },
): Promise<{ token: string; expiresAt: Date; id: string }> {
  const { now, token, expiresAt, id } = freshLink(input);
  await db.$transaction(async (tx) => {
    await tx.projectLink.updateMany({
      where: { projectId: input.projectId, side: input.side, usedAt: null, revokedAt: null },
      data: { revokedAt: now },
    });
    await tx.projectLink.create({
      data: {
        id,
        projectId: input.projectId,
        tokenHash: hashToken(token),
        side: input.side,
        recipient: input.recipient,
        expiresAt,
      },
    });
  });
  return { token, expiresAt, id };
}

/** The open project link a token names, or undefined (unknown, used, revoked or expired look the same). */
export async function findOpenProjectLink(
  db: Db,
  token: string,
  now = new Date(),
): Promise<ProjectLinkRow | undefined> {
  if (!isTokenShaped(token)) return undefined;
  const link = await db.projectLink.findUnique({ where: { tokenHash: hashToken(token) } });
  if (!link || !isOpen(link, now)) return undefined;
  return link;
}

/** Uses a project link up if it is still open; false when something else won the race. */
export async function consumeProjectLink(db: Db | Tx, linkId: string, now = new Date()): Promise<boolean> {
  const { count } = await db.projectLink.updateMany({
    where: { id: linkId, usedAt: null, revokedAt: null, expiresAt: { gt: now } },
    data: { usedAt: now },
  });
  return count === 1;
}

/** Counts one refused attempt on a project link; undefined when it was used or revoked in between. */
export async function countProjectAttempt(db: Db | Tx, linkId: string): Promise<number | undefined> {
  const { count } = await db.projectLink.updateMany({
    where: { id: linkId, usedAt: null, revokedAt: null },
    data: { attempts: { increment: 1 } },
  });
  if (count !== 1) return undefined;
  return (await db.projectLink.findUnique({ where: { id: linkId }, select: { attempts: true } }))?.attempts;
}

/** Kills a project link (attempts exhausted). */
export async function revokeProjectLink(db: Db | Tx, linkId: string, now = new Date()): Promise<void> {
  await db.projectLink.updateMany({ where: { id: linkId, usedAt: null, revokedAt: null }, data: { revokedAt: now } });
}

/** A sign-in in flight (Sign in with Microsoft from the form): its sealed PKCE verifier and link token. */
export type SignInStateRow = NonNullable<Awaited<ReturnType<Db['oAuthState']['findUnique']>>>;

/**
 * Keeps the state of a sign-in in flight until Microsoft sends the user back (sealed; `state` itself is stored hashed).
 */
export async function saveSignInState(
  db: Db,
  input: {
    id: string;
    state: string;
    linkId: string;
    side: Side;
    sealed: { nonce: Uint8Array; ciphertext: Uint8Array; tag: Uint8Array; keyId: string };
    expiresAt: Date;
  },
): Promise<void> {
  const { sealed } = input;
  await db.oAuthState.create({
    data: {
      id: input.id,
      stateHash: hashToken(input.state),
      linkId: input.linkId,
      side: input.side,
      nonce: Uint8Array.from(sealed.nonce),
      ciphertext: Uint8Array.from(sealed.ciphertext),
      tag: Uint8Array.from(sealed.tag),
      keyId: sealed.keyId,
      expiresAt: input.expiresAt,
    },
  });
}

/**
 * Uses up the sign-in state `state` names: its row once, undefined when unknown, used, expired or taken by a concurrent
 * callback.
 */
export async function takeSignInState(db: Db, state: string, now: Date): Promise<SignInStateRow | undefined> {
  const row = await db.oAuthState.findUnique({ where: { stateHash: hashToken(state) } });
  if (!row || row.usedAt || row.expiresAt <= now) return undefined;
  const { count } = await db.oAuthState.updateMany({ where: { id: row.id, usedAt: null }, data: { usedAt: now } });
  return count === 1 ? row : undefined;
}

/**
 * The link operations bound to one database, as the engine offers them (`Engine.links`):
 * the bot's forms and outreach use links through the engine, never the database itself.
 */
export function linkStore(db: Db) {
  return {
    create: (input: Parameters<typeof createLink>[1]) => createLink(db, input),
    findOpen: (token: string, now?: Date) => findOpenLink(db, token, now),
    countAttempt: (linkId: string) => countAttempt(db, linkId),
    consume: (linkId: string, now?: Date) => consumeLink(db, linkId, now),
    revokeOthers: (itemId: string, exceptId: string, now?: Date) => revokeOtherLinks(db, itemId, exceptId, now),
    revoke: (linkId: string, now?: Date) => revokeLink(db, linkId, now),
    createForProject: (input: Parameters<typeof createProjectLink>[1]) => createProjectLink(db, input),
    findOpenForProject: (token: string, now?: Date) => findOpenProjectLink(db, token, now),
    consumeForProject: (linkId: string, now?: Date) => consumeProjectLink(db, linkId, now),
    countProjectAttempt: (linkId: string) => countProjectAttempt(db, linkId),
    revokeForProject: (linkId: string, now?: Date) => revokeProjectLink(db, linkId, now),
    saveSignInState: (input: Parameters<typeof saveSignInState>[1]) => saveSignInState(db, input),
    takeSignInState: (state: string, now: Date) => takeSignInState(db, state, now),
  };
}

/** See {@link linkStore}. */
export type LinkStore = ReturnType<typeof linkStore>;
