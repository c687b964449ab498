import { createHash } from 'node:crypto';

/** Header fields fetched for fingerprints (BODY.PEEK[HEADER.FIELDS (...)], RFC 3501 §6.4.5). */
export const FINGERPRINT_HEADERS = ['message-id', 'date', 'from', 'to', 'subject'];

/** The Message-ID of a header block, whitespace-normalised, or null (RFC 5322 §3.6.4). */
export function messageIdOf(headers: Buffer | undefined): string | null {
  if (!headers) return null;
  const m = /^message-id:[ \t]*((?:.*)(?:\r?\n[ \t].*)*)/im.exec(headerText(headers));
  const id = m?.[1]?.replace(/\s+/g, '').trim();
  return id ? id : null;
}

/**
 * Identity of a message for matching source against destination when no UID map can tell:
 * Message-ID + exact size + INTERNALDATE (seconds: RFC 3501 date-time has no finer unit).
 * Without a Message-ID: SHA-256 of the Date, From, To and Subject header lines (as bytes,
 * the copy is byte-exact) + size + INTERNALDATE. Equal fingerprints are counted as a
 * multiset, so true duplicates are matched one for one.
 */
export function fingerprintOf(
  m: { size: number; internalDate: Date | string | number; headers?: Buffer },
  exactSizes = true,
): string {
  const secs = Math.floor(new Date(m.internalDate).getTime() / 1000);
  // Where a side's RFC822.SIZE is an estimate, the size cannot tell copies apart: left out.
  const size = exactSizes ? String(m.size) : '~';
  const id = messageIdOf(m.headers);
  if (id) return `m:${id}|${size}|${secs}`;
  const h = createHash('sha256');
  const text = headerText(m.headers ?? Buffer.alloc(0));
  // Keep only the fields other than Message-ID, in a stable order, each unfolded.
  const fields = text
    .replace(/\r?\n[ \t]+/g, ' ')
    .split(/\r?\n/)
    .filter((l) => /^(date|from|to|subject):/i.test(l))
    .map((l) => l.replace(/^([^:]+):\s*/, (_, k: string) => `${k.toLowerCase()}:`).trim())
    .sort();
  h.update(fields.join('\n'));
  return `h:${h.digest('hex').slice(0, 32)}|${size}|${secs}`;
}

/**
 * Whether a server reports exact message sizes. Exchange, and so Microsoft 365 (`m365://`),
 * answers RFC822.SIZE with an estimate of its own store's size, not the octets of the
 * message (RFC 3501 §7.4.2 asks for the exact number): sizes from such a side neither
 * identify a message nor show a change the server made.
 */
export function reportsExactSizes(url: string): boolean {
  return !/^m365:/i.test(url);
}

/**
 * Header bytes as text, every 8-bit byte read as `X`: a server that replaces raw 8-bit
 * header bytes by `X` (Cyrus' `munge8bit`, same size) keeps the fingerprint of its copy.
 */
function headerText(headers: Buffer): string {
  return headers.toString('latin1').replace(/[\x80-\xff]/g, 'X');
}

/** A multiset of fingerprints: `take` consumes one occurrence. */
export class FingerprintBag {
  private counts = new Map<string, number>();
  /** Adds one occurrence. */
  add(fp: string): void {
    this.counts.set(fp, (this.counts.get(fp) ?? 0) + 1);
  }
  /** Consumes one occurrence; false when none is left. */
  take(fp: string): boolean {
    const n = this.counts.get(fp) ?? 0;
    if (n <= 0) return false;
    if (n === 1) this.counts.delete(fp);
    else this.counts.set(fp, n - 1);
    return true;
  }
  /** Number of distinct fingerprints left. */
  get size(): number {
    return this.counts.size;
  }
}
