/**
 * Assertion helpers for copy-engine tests: compare what a source and a destination hold,
 * read back independently with {@link readMailbox}.
 */
import type { ConnectorEndpoint } from '../../engine/connectors/types.ts';
import type { ReadMailbox, ReadMessage } from './dovecot.ts';

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
  const f = box.folders.find((x) => (x.delimiter && x.delimiter !== '/' ? x.path.split(x.delimiter).join('/') : x.path) === name);
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
