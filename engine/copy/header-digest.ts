import { createHash } from 'node:crypto';

/**
 * Digests of a message's header section whose bytes include 8-bit ones (≥ 0x80): `sha` of
 * the bytes as sent, `munged` of the same bytes with every 8-bit byte replaced by `X`
 * (what Cyrus' `munge8bit` default stores). Read back from the destination, a header whose
 * digest is `sha` is unchanged, `munged` means the server replaced the 8-bit bytes.
 */
export interface HeaderDigest {
  sha: string;
  munged: string;
}

/** Headers longer than this are not digested (no real header is; the check is skipped for it). */
const MAX_HEADER = 1024 * 1024;
const X = 0x58;

/**
 * Reads a message's first bytes as they stream past, up to the end of its header section
 * (the first empty line, RFC 5322 §2.1; the section includes it, as `BODY[HEADER]` does,
 * RFC 3501 §6.4.5), and keeps them only while they are needed. Feeding stops costing
 * anything once the header has ended. {@link digest} is defined only for a header with an
 * 8-bit byte: messages without one cannot be altered by a server that rewrites such bytes,
 * so nothing is fetched back for them.
 */
export class HeaderScan {
  private parts: Buffer[] = [];
  private length = 0;
  /** The last byte ended a line (LF); true at the start, where an empty line means an empty header. */
  private atLineStart = true;
  /** A CR right at the start of a line (a CR LF there is the empty line). */
  private crAtStart = false;
  private eightBit = false;
  private done = false;
  private overflow = false;

  /** Feeds the next bytes of the message (a chunk may hold the whole message). */
  feed(chunk: Buffer): void {
    if (this.done) return;
    let end = -1;
    for (const [i, b] of chunk.entries()) {
      if (b >= 0x80) this.eightBit = true;
      if (b === 0x0a) {
        // An empty line (CR LF, or a bare LF) ends the header section.
        if (this.atLineStart || this.crAtStart) {
          end = i + 1;
          break;
        }
        this.atLineStart = true;
      } else if (b === 0x0d) {
        if (this.atLineStart) this.crAtStart = true;
        this.atLineStart = false;
      } else {
        this.atLineStart = false;
        this.crAtStart = false;
      }
    }
    const part = end >= 0 ? chunk.subarray(0, end) : chunk;
    this.length += part.length;
    if (this.length > MAX_HEADER) {
      this.overflow = true;
      this.done = true;
      this.parts = [];
      return;
    }
    this.parts.push(part);
    if (end >= 0) this.finish();
  }

  /** The digests, when the header had an 8-bit byte (and fit within the bound); otherwise undefined. */
  digest(): HeaderDigest | undefined {
    if (!this.done) this.finish();
    return this.result;
  }

  private result: HeaderDigest | undefined;

  /** Digests the header once it ended (or the message did) and lets go of its bytes. */
  private finish(): void {
    this.done = true;
    if (this.eightBit && !this.overflow && this.parts.length) {
      const sha = createHash('sha256');
      const munged = createHash('sha256');
      for (const p of this.parts) {
        sha.update(p);
        munged.update(mungeEightBit(p));
      }
      this.result = { sha: sha.digest('hex'), munged: munged.digest('hex') };
    }
    this.parts = [];
  }
}

/** The bytes with every 8-bit byte replaced by `X` (a copy only when there is one). */
export function mungeEightBit(b: Buffer): Buffer {
  let out: Buffer | null = null;
  for (const [i, byte] of b.entries()) {
    if (byte >= 0x80) {
      out ??= Buffer.from(b);
      out[i] = X;
    }
  }
  return out ?? b;
}

/** The {@link HeaderDigest} of a whole message held in memory, or undefined (no 8-bit header byte). */
export function headerDigestOf(body: Buffer): HeaderDigest | undefined {
  const s = new HeaderScan();
  s.feed(body);
  return s.digest();
}

/** SHA-256 of a header section read back from a server. */
export function sha256Hex(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}
