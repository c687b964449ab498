/** Statuses of an item (a mailbox); these names appear in commands, cards and the database. */
export const STATUSES = [
  'NotStarted',
  'WaitingForUser',
  'Queued',
  'Running',
  'Completed',
  'Failed',
  'Stopped',
] as const;
export type ItemStatus = (typeof STATUSES)[number];

/** Why an item failed: an enum, never free text; the detail the server gave goes beside it. */
export const FAILURE_REASONS = {
  SourceCredentials: 'The source server refused the credentials.',
  DestinationCredentials: 'The destination server refused the credentials.',
  SourceUnreachable: 'The source server could not be reached.',
  DestinationUnreachable: 'The destination server could not be reached.',
  DestinationQuota: 'The destination mailbox is full.',
  UnsupportedSource: 'This kind of source mailbox is not supported.',
  TooManyErrors: 'Too many messages could not be copied.',
  DatabaseFull: 'The database is full: MailFerry could not record the pass (no space left on the disk holding it).',
  DatabaseUnwritable: 'MailFerry could not write to its database (a disk error or a read-only file).',
  Internal: 'MailFerry hit an internal error.',
} as const;
export type FailureReason = keyof typeof FAILURE_REASONS;

/** True when `s` names a failure reason. */
export function isFailureReason(s: string): s is FailureReason {
  return Object.hasOwn(FAILURE_REASONS, s);
}

/**
 * A value read back from the database is not one MailFerry writes (a row edited by hand, or
 * written by a newer version): refused loudly rather than cast and carried on.
 */
export class StoredValueError extends Error {
  constructor(what: string, value: string) {
    super(`the database holds ${what} "${value.slice(0, 40)}", which this version does not know`);
    this.name = 'StoredValueError';
  }
}

/** An item's status as stored. */
export function storedStatus(s: string): ItemStatus {
  const found = STATUSES.find((x) => x === s);
  if (!found) throw new StoredValueError('an item status', s);
  return found;
}

/** A side as stored. */
export function storedSide(s: string): Side {
  if (s === 'source' || s === 'destination') return s;
  throw new StoredValueError('a side', s);
}

/** A choice of sides as stored. */
export function storedSides(s: string): Sides {
  if (s === 'source' || s === 'destination' || s === 'both') return s;
  throw new StoredValueError('a choice of sides', s);
}

/** One side of a migration. */
export type Side = 'source' | 'destination';
/** A choice of sides as the command language spells it. */
export type Sides = 'source' | 'destination' | 'both';
/** How an end user is told: by email, chat DM, or both. */
export type NotifyVia = 'email' | 'chat' | 'both';
/**
 * How a connector authenticates: project admin credentials, per-item credentials the admin supplies, or the end user's
 * own.
 */
export type AuthMode = 'admin' | 'per-user' | 'self-service';

/** Expands `both` into the list of sides. */
export function sidesOf(s: Sides): Side[] {
  return s === 'both' ? ['source', 'destination'] : [s];
}

/** The inverse of `sidesOf`; undefined for an empty list. */
export function sidesFrom(list: Iterable<Side>): Sides | undefined {
  const set = new Set(list);
  if (set.has('source') && set.has('destination')) return 'both';
  if (set.has('source')) return 'source';
  if (set.has('destination')) return 'destination';
  return undefined;
}

/** Who did something: a chat user on a surface, the console, or the system itself. */
export interface Actor {
  /** `console`, `slack`, `teams`, `form` (the end user on the credential form), `system`. */
  surface: string;
  /** Platform user id (opaque). */
  id: string;
  /** Display name, when the platform gave one. */
  name?: string;
}

/** The system as an actor (runner, scheduler). */
export const SYSTEM_ACTOR: Actor = { surface: 'system', id: 'mailferry', name: 'MailFerry' };

/** `surface:id` of an actor, as the history stores it. */
export function actorKey(a: Actor): string {
  return `${a.surface}:${a.id}`;
}
