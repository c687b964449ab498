import type { ImapFlow } from 'imapflow';
import { keptFlags, uidSet } from './copy-batch.ts';
import { onSide, fetchMeta } from './plan-folder.ts';

/** A message as the flag sync sees it: UID, fingerprint (fingerprint.ts) and flags. */
export interface FlagMessage {
  uid: number;
  fp: string;
  flags: string[];
}

/** One `UID STORE uids FLAGS (flags)`. */
export interface FlagUpdate {
  flags: string[];
  uids: number[];
}

/** What a flag sync did. */
export interface FlagSyncOutcome {
  /** Destination messages whose flags were set. */
  updated: number;
  /** Destination messages whose STORE the server refused (retried next pass). */
  refused: number;
}

/** UIDs per STORE command: keeps the command line far below servers' limits (Dovecot: 64 KiB). */
const STORE_CHUNK = 500;

const flagKey = (flags: string[]) =>
  [...new Set(flags.filter((f) => f.toLowerCase() !== '\\recent').map((f) => f.toLowerCase()))].sort().join(' ');

/**
 * Decides which destination messages need `STORE FLAGS` so that their flags equal their
 * source counterparts' (source wins; only flags the destination keeps, see keptFlags()).
 * Counterparts are found by fingerprint, counted as a multiset: within one fingerprint,
 * a destination message whose flags already equal a source message's is paired with it
 * first (no STORE), the rest are paired in UID order. Destination messages left without a
 * source counterpart (destination-only mail) are never touched.
 *
 * `sources` must hold, for every fingerprint it contains, all source messages of the folder
 * with that fingerprint that are at the destination: pairing duplicates needs all of them.
 */
export function planFlagUpdates(sources: FlagMessage[], dests: FlagMessage[], permanent: Set<string>): FlagUpdate[] {
  const srcByFp = new Map<string, FlagMessage[]>();
  for (const m of [...sources].sort((a, b) => a.uid - b.uid)) {
    if (!srcByFp.has(m.fp)) srcByFp.set(m.fp, []);
    srcByFp.get(m.fp)!.push(m);
  }
  const destByFp = new Map<string, FlagMessage[]>();
  for (const d of [...dests].sort((a, b) => a.uid - b.uid)) {
    if (!srcByFp.has(d.fp)) continue; // no source counterpart in question: not ours to touch
    if (!destByFp.has(d.fp)) destByFp.set(d.fp, []);
    destByFp.get(d.fp)!.push(d);
  }
  const updates = new Map<string, FlagUpdate>();
  for (const [fp, srcs] of srcByFp) {
    const free = [...(destByFp.get(fp) ?? [])];
    const wanted = srcs.map((s) => keptFlags(s.flags, permanent));
    const open: string[][] = [];
    // Pass 1: exact flag matches need nothing.
    for (const want of wanted) {
      const k = flagKey(want);
      const i = free.findIndex((d) => flagKey(d.flags) === k);
      if (i >= 0) free.splice(i, 1);
      else open.push(want);
    }
    // Pass 2: the remaining source messages take the remaining copies in UID order.
    for (const want of open) {
      const d = free.shift();
      if (!d) break; // more source messages than copies (refused, or deleted at the destination)
      const k = flagKey(want);
      if (!updates.has(k)) updates.set(k, { flags: want, uids: [] });
      updates.get(k)!.uids.push(d.uid);
    }
  }
  return [...updates.values()];
}

/**
 * Carries flag changes of messages already at the destination (source UIDs ≤ `throughUid`).
 *
 * - With `changedSince` (the source's HIGHESTMODSEQ when the folder last completed, CONDSTORE
 *   enabled on the source session): `UID FETCH 1:throughUid (… FLAGS BODY.PEEK[HEADER.FIELDS …])
 *   (CHANGEDSINCE n)` returns only the messages whose flags changed since; when nothing did,
 *   nothing else is sent. A changed message whose fingerprint is not unique (duplicates) has its
 *   fingerprint's other source messages fetched too, so the multiset pairing sees all of them.
 * - Without it: every source message ≤ `throughUid` is compared.
 *
 * The destination folder (selected) is read once (fingerprints and flags), and one `UID STORE
 * … FLAGS.SILENT` is sent per distinct flag set (chunked). Idempotent: an interrupted sync is
 * simply done again. Both folders must be selected: the source (read-only) on `src`, the
 * destination folder on `dest`.
 */
export async function syncFlags(
  src: ImapFlow,
  dest: ImapFlow,
  o: {
    throughUid: number;
    changedSince: bigint | null;
    skipped: Set<number>;
    permanentFlags: Set<string>;
    destExists: number;
    exactSizes?: boolean;
  },
): Promise<FlagSyncOutcome> {
  const exact = o.exactSizes ?? true;
  const outcome: FlagSyncOutcome = { updated: 0, refused: 0 };
  if (o.throughUid < 1 || o.destExists < 1) return outcome;
  const range = `1:${o.throughUid}`;
  const keep = (m: { uid: number }) => m.uid <= o.throughUid && !o.skipped.has(m.uid);
  const asFlagMessage = (m: { uid: number; fp?: string; flags: string[] }): FlagMessage => ({
    uid: m.uid,
    fp: m.fp!,
    flags: m.flags,
  });

  let sources = (await onSide('source', fetchMeta(src, range, true, 1, o.changedSince ?? undefined, exact)))
    .filter(keep)
    .map(asFlagMessage);
  if (!sources.length) return outcome;
  const dests = (await onSide('destination', fetchMeta(dest, '1:*', true, 1, undefined, exact))).map(asFlagMessage);

  if (o.changedSince !== null) {
    // Duplicates: which copy belongs to which source message is only known with all of them.
    const destCount = new Map<string, number>();
    for (const d of dests) destCount.set(d.fp, (destCount.get(d.fp) ?? 0) + 1);
    const changedCount = new Map<string, number>();
    for (const s of sources) changedCount.set(s.fp, (changedCount.get(s.fp) ?? 0) + 1);
    const ambiguous = new Set(
      [...changedCount].filter(([fp, n]) => n > 1 || (destCount.get(fp) ?? 0) > 1).map(([fp]) => fp),
    );
    if (ambiguous.size) {
      const have = new Set(sources.map((s) => s.uid));
      const all = (await onSide('source', fetchMeta(src, range, true, 1, undefined, exact))).filter(keep);
      sources = [...sources, ...all.filter((m) => !have.has(m.uid) && ambiguous.has(m.fp!)).map(asFlagMessage)];
    }
  }

  for (const u of planFlagUpdates(sources, dests, o.permanentFlags)) {
    for (let i = 0; i < u.uids.length; i += STORE_CHUNK) {
      const uids = u.uids.slice(i, i + STORE_CHUNK);
      // imapflow reports a failed STORE as `false` (it logs and swallows the error).
      const ok = await onSide('destination', dest.messageFlagsSet(uidSet(uids), u.flags, { uid: true, silent: true }));
      if (ok) outcome.updated += uids.length;
      else if (!dest.usable)
        throw Object.assign(new Error('destination connection lost during UID STORE'), {
          code: 'NoConnection',
          side: 'destination',
        });
      else outcome.refused += uids.length;
    }
  }
  return outcome;
}
