import { formatBytes, formatCount, plural } from './format.ts';

/** The verification at the end of a pass, as cards show it. */
export interface VerificationView {
  foldersChecked: number;
  /** Folders where the destination held fewer messages than it must (at most 10 listed). */
  foldersShort: { folder: string; missingAtStart: number; recopied: number; missing: number }[];
  missingAtStart: number;
  recopied: number;
  missing: number;
  altered: number;
  alteredReasons: Record<string, number>;
  unchecked: number;
}

/** A message the destination stored differently, as cards list it. */
export interface AlteredView {
  sourceFolder: string;
  uid: number;
  destUid: number;
  sourceSize: number;
  destSize: number;
  reason: string;
}

/** Short folders named in a line. */
const SHORT_LISTED = 3;

function shortText(f: VerificationView['foldersShort'][number]): string {
  const parts: string[] = [];
  if (f.missingAtStart)
    parts.push(
      `${plural(f.missingAtStart, 'message')} missing at the destination, ${formatCount(f.recopied)} copied again`,
    );
  if (f.missing)
    parts.push(`${formatCount(f.missing)} fewer at the destination than at the source, re-matched on the next pass`);
  return `${f.folder}: ${parts.join('; ')}`;
}

/**
 * The verification of a pass in one line: folders checked, counts matching or not (which
 * folder, how many, what was done), messages altered by the destination with the reason,
 * messages that could not be compared. Never empty when a folder was checked.
 */
export function verificationLine(v: VerificationView): string {
  const parts = [`${plural(v.foldersChecked, 'folder')} checked`];
  if (!v.foldersShort.length) parts[0] += ', counts match';
  else {
    // A few folders by name (a line, not a report); the others as a count.
    const listed = v.foldersShort.slice(0, SHORT_LISTED).map(shortText);
    const named = v.foldersShort.slice(0, SHORT_LISTED).reduce((n, f) => n + f.missingAtStart + f.missing, 0);
    const more = v.missingAtStart + v.missing - named;
    parts.push(
      `counts short: ${listed.join('; ')}` +
        `${more > 0 ? `; ${plural(more, 'message')} more missing in other folders` : ''}`,
    );
  }
  if (v.altered) {
    const reasons = Object.entries(v.alteredReasons);
    const [only] = reasons;
    const why = only && reasons.length === 1 ? only[0] : reasons.map(([r, n]) => `${r}: ${formatCount(n)}`).join(', ');
    parts.push(`${plural(v.altered, 'message')} altered by the destination (${why})`);
  } else parts.push('no message altered by the destination');
  if (v.unchecked)
    parts.push(
      `${plural(v.unchecked, 'message')} not compared (the destination named no ` +
        `UIDs for them, or reports only estimated sizes, as Microsoft 365 does)`,
    );
  return parts.join('; ');
}

/**
 * The verification in a few words, for a history line: `6 folders checked, counts match, 1 altered by the destination`.
 */
export function verificationSummary(v: VerificationView): string {
  const counts = v.foldersShort.length
    ? `${plural(v.foldersShort.length, 'folder')} short (${plural(v.missingAtStart + v.missing, 'message')} missing)`
    : 'counts match';
  return (
    `${plural(v.foldersChecked, 'folder')} checked, ${counts}` +
    `${v.altered ? `, ${formatCount(v.altered)} altered by the destination` : ''}` +
    `${v.unchecked ? `, ${formatCount(v.unchecked)} not compared` : ''}`
  );
}

/** One altered message in a list: `INBOX UID 3 (2 KB) → UID 7: 8-bit header bytes replaced by the server`. */
export function alteredLine(a: AlteredView): string {
  const size =
    a.destSize === a.sourceSize
      ? formatBytes(a.sourceSize)
      : `${formatBytes(a.sourceSize)} → ${formatBytes(a.destSize)}`;
  return `${a.sourceFolder} UID ${a.uid} (${size}) → UID ${a.destUid}: ${a.reason}`;
}
