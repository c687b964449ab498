/**
 * What the copy benchmarks share: the seeded corpus (sizes, flags, keywords, duplicates,
 * messages without Message-ID), the folder-by-folder comparison of a copy with its source,
 * and small helpers (a bounded pool, medians, the load average).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import {
  makeMessage,
  seedMaildir,
  type DovecotInstance,
  type ReadMailbox,
  type SeedMessage,
} from '../test/harness/dovecot.ts';
import { messageKey } from '../test/harness/copy-assert.ts';

/**
 * The node flags MailFerry runs with in production, read from `npm start` in package.json
 * (`node FLAGS bin/mailferry.mjs serve`), so the benchmarks' children measure the same heap set-up.
 */
export const PRODUCTION_NODE_FLAGS = (
  /\bnode\s+(.*?)\s*bin\/mailferry\.mjs/.exec(
    JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).scripts.start,
  )?.[1] ?? ''
)
  .split(/\s+/)
  .filter(Boolean);

/** Deterministic-enough pseudo random numbers (the corpus shape, not its bytes, matters). */
export function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export const KEYWORDS = ['$Label1', '$Label2', '$Forwarded', 'Work', 'Personal', 'Important'];

export function folderNames(n: number): string[][] {
  const base = [
    ['INBOX'],
    ['Sent'],
    ['Drafts'],
    ['Trash'],
    ['Junk'],
    ['Archive'],
    ['Projects'],
    ['Projects', 'Alpha'],
    ['Projects', 'Beta'],
    ['Clients'],
    ['Clients', 'ACME'],
    ['Clients', 'Globex'],
    ['Receipts'],
    ['Travel'],
    ['Newsletters'],
    ['Family'],
    ['Reports', '2023'],
    ['Reports', '2024'],
    ['Support'],
    ['Old'],
  ];
  const out = base.slice(0, n);
  for (let i = out.length; i < n; i++) out.push(['Extra', `F${i}`]);
  return out;
}

/** Writes the corpus into the source Maildir, folder by folder in chunks (bounded memory). */
export function seedCorpus(
  dv: DovecotInstance,
  user: string,
  a: { messages: number; folders: number },
  seed = 42,
): { messages: number; bytes: number } {
  const rand = rng(seed);
  const folders = folderNames(a.folders);
  // INBOX and Sent hold more mail than the rest, as in real mailboxes.
  const weights = folders.map((_, i) => (i === 0 ? 6 : i === 1 ? 3 : 1));
  const wsum = weights.reduce((s, w) => s + w, 0);
  const counts = weights.map((w) => Math.floor((a.messages * w) / wsum));
  // What the rounding left over goes to INBOX.
  const rest = a.messages - counts.reduce((s, c) => s + c, 0);
  counts.splice(0, 1, (counts[0] ?? 0) + rest);
  let bytes = 0;
  let made = 0;
  const pick = (xs: readonly string[]): string => {
    const x = xs[Math.floor(rand() * xs.length)];
    if (x === undefined) throw new Error('nothing to pick from');
    return x;
  };
  const size = () => {
    const r = rand();
    if (r < 0.6) return 2_000 + Math.floor(rand() * 6_000);
    if (r < 0.88) return 10_000 + Math.floor(rand() * 50_000);
    if (r < 0.987) return 100_000 + Math.floor(rand() * 200_000);
    return 1_000_000 + Math.floor(rand() * 4_000_000);
  };
  folders.forEach((path, fi) => {
    let chunk: SeedMessage[] = [];
    const flush = () => {
      seedMaildir(dv, user, [{ path, messages: chunk, keywords: KEYWORDS }]);
      chunk = [];
    };
    for (let i = 0; i < (counts[fi] ?? 0); i++) {
      const flags: string[] = [];
      if (rand() < 0.7) flags.push('\\Seen');
      if (rand() < 0.1) flags.push('\\Answered');
      if (rand() < 0.05) flags.push('\\Flagged');
      if (rand() < 0.2) flags.push(pick(KEYWORDS));
      if (rand() < 0.05) flags.push(pick(KEYWORDS));
      const internalDate = new Date(Date.UTC(2015, 0, 1) + Math.floor(rand() * 9 * 365 * 86400) * 1000);
      const raw = makeMessage({
        size: size(),
        messageId: rand() < 0.01 ? null : undefined,
        date: internalDate,
        subject: `bench ${fi}/${i} ${randomBytes(3).toString('hex')}`,
      });
      const m: SeedMessage = { raw, flags: [...new Set(flags)], internalDate };
      chunk.push(m);
      bytes += raw.length;
      made++;
      // A few exact duplicates (same bytes, same date) inside a folder.
      if (i % 997 === 500) {
        chunk.push({ ...m });
        bytes += raw.length;
        made++;
      }
      if (chunk.length >= 200) flush();
    }
    if (chunk.length) flush();
  });
  return { messages: made, bytes };
}

/** Compares two mailboxes folder by folder (folder names in '/' form, as listed). */
/** How a copy differs from its source. */
export interface Comparison {
  bytesDiff: number;
  flagDiff: number;
  missing: number;
  extra: number;
  foldersMissing: string[];
}

export function compareMailboxes(src: ReadMailbox, dst: ReadMailbox): Comparison {
  let bytesDiff = 0;
  let flagDiff = 0;
  let missing = 0;
  let extra = 0;
  const foldersMissing: string[] = [];
  for (const [path, msgs] of Object.entries(src.messages)) {
    const other = dst.messages[path];
    if (!other) {
      foldersMissing.push(path);
      missing += msgs.length;
      continue;
    }
    const want = new Map<string, number>();
    for (const m of msgs) want.set(messageKey(m), (want.get(messageKey(m)) ?? 0) + 1);
    const byHash = new Map<string, number>();
    for (const m of msgs) byHash.set(m.sha256, (byHash.get(m.sha256) ?? 0) + 1);
    for (const m of other) {
      const k = messageKey(m);
      if ((want.get(k) ?? 0) > 0) {
        want.set(k, want.get(k)! - 1);
        byHash.set(m.sha256, byHash.get(m.sha256)! - 1);
      } else if ((byHash.get(m.sha256) ?? 0) > 0) {
        flagDiff++;
        byHash.set(m.sha256, byHash.get(m.sha256)! - 1);
      } else bytesDiff++;
    }
    const left = [...want.values()].reduce((s, n) => s + n, 0);
    missing += Math.max(0, left - flagDiff - bytesDiff);
    extra += Math.max(0, other.length - msgs.length);
  }
  return { bytesDiff, flagDiff, missing, extra, foldersMissing };
}

export function describeFidelity(c: Comparison): string {
  if (!c.bytesDiff && !c.flagDiff && !c.missing && !c.extra && !c.foldersMissing.length) return 'exact';
  const parts: string[] = [];
  if (c.bytesDiff) parts.push(`${c.bytesDiff} with different bytes`);
  if (c.flagDiff) parts.push(`${c.flagDiff} with different flags/keywords/date`);
  if (c.missing) parts.push(`${c.missing} missing`);
  if (c.extra) parts.push(`${c.extra} extra`);
  if (c.foldersMissing.length) parts.push(`folders missing: ${c.foldersMissing.join(', ')}`);
  return parts.join('; ');
}

/** Runs `fn` for 0..n-1 with at most `k` at once; results in index order. */
export async function pool<T>(n: number, k: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(k, n) }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

export function median(xs: number[]): number {
  const v = [...xs].sort((x, y) => x - y);
  const at = (i: number) => v[i] ?? NaN;
  return v.length % 2 ? at((v.length - 1) / 2) : (at(v.length / 2 - 1) + at(v.length / 2)) / 2;
}

/** `xs` turned left by `k` places: each run starts with another tool. */
export function rotate<T>(xs: readonly T[], k: number): T[] {
  const n = xs.length ? k % xs.length : 0;
  return [...xs.slice(n), ...xs.slice(0, n)];
}

export function loadavg(): string {
  return os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
}

/**
 * CPU seconds (user + system) a process has used itself and through its children it has
 * waited for (`/proc/PID/stat` utime, stime, cutime, cstime; Linux, 100 ticks a second).
 * For Dovecot's master this is the CPU of every imap and login process that has ended.
 */
export function processTreeCpuSeconds(pid: number | 'self'): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command name start at field 3 (state): utime is field 14.
  const at = (n: number) => Number(fields[n - 3] ?? 0);
  return (at(14) + at(15) + at(16) + at(17)) / 100;
}
