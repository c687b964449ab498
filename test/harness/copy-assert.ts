/**
 * Assertion helpers for copy-engine tests: compare what a source and a destination hold,
 * read back independently with {@link readMailbox}.
 */
import { expect } from 'vitest';
import type { ConnectorEndpoint } from '../../engine/connectors/types.ts';
import { readMailbox, type DovecotInstance, type ReadMailbox, type ReadMessage } from './dovecot.ts';

/** A message as a comparable line: exact bytes, flags, keywords and internal date. */
export function messageKey(m: ReadMessage): string {
  return `${m.sha256}|${m.flags.join(',')}|${m.keywords.join(',')}|${m.internalDate}`;
}

/** The messages of a folder as a sorted list of keys (a multiset). */
export function folderKeys(box: ReadMailbox, path: string): string[] {
  return (box.messages[path] ?? []).map(messageKey).sort();
}

/** Folder paths of a read mailbox in `/` form (selectable ones). */
export function folderNames(box: ReadMailbox): string[] {
  return box.folders
    .filter((f) => !f.noselect)
    .map((f) => (f.delimiter && f.delimiter !== '/' ? f.path.split(f.delimiter).join('/') : f.path))
    .sort();
}

/** Path of a `/`-form folder name in a read mailbox. */
export function pathIn(box: ReadMailbox, name: string): string {
  const f = box.folders.find(
    (x) => (x.delimiter && x.delimiter !== '/' ? x.path.split(x.delimiter).join('/') : x.path) === name,
  );
  if (!f) throw new Error(`no folder ${name} in ${folderNames(box).join(', ')}`);
  return f.path;
}

/** Every message hash of a mailbox with its count (to assert exactly-once). */
export function hashCounts(box: ReadMailbox, path?: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [p, msgs] of Object.entries(box.messages)) {
    if (path && p !== path) continue;
    for (const m of msgs) out.set(m.sha256, (out.get(m.sha256) ?? 0) + 1);
  }
  return out;
}

/** An endpoint on a private Dovecot. */
export function endpoint(dv: { url: string }, login: string, password: string): ConnectorEndpoint {
  return { url: dv.url, login, secret: { password } };
}

/** A source and a destination user of one test. */
export interface UserPair {
  s: { name: string; pw: string };
  d: { name: string; pw: string };
  source: ConnectorEndpoint;
  destination: ConnectorEndpoint;
}

let pairs = 0;

/**
 * A new source and destination user on `dv`, the endpoints reaching it through `via` (`dv` itself, or a proxy in front
 * of it).
 */
export function userPair(dv: DovecotInstance, via: { url: string } = dv, prefix = 'u'): UserPair {
  pairs++;
  const s = { name: `${prefix}s${pairs}`, pw: `${prefix}s-${pairs}` };
  const d = { name: `${prefix}d${pairs}`, pw: `${prefix}d-${pairs}` };
  dv.addUser(s.name, s.pw);
  dv.addUser(d.name, d.pw);
  return { s, d, source: endpoint(via, s.name, s.pw), destination: endpoint(via, d.name, d.pw) };
}

/** Asserts that the destination holds every source message, each exactly once (read back independently). */
export async function expectExactCopy(dv: DovecotInstance, p: UserPair): Promise<void> {
  const src = await readMailbox(dv, p.s.name, p.s.pw);
  const dst = await readMailbox(dv, p.d.name, p.d.pw);
  expect(hashCounts(dst)).toEqual(hashCounts(src));
  for (const count of hashCounts(dst).values()) expect(count).toBe(1);
}
