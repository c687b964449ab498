import type { FolderRules } from './types.ts';
import type { MailFolder } from './list-folders.ts';
import { prefixSegments, withoutPrefix, withPrefix, type PersonalNamespace } from './namespace.ts';

/** Special uses mapped to the destination's own folder of the same use (RFC 6154 §2). */
export const MAPPED_SPECIAL_USES = ['\\Sent', '\\Drafts', '\\Trash', '\\Junk', '\\Archive'];

/** Where one source folder goes. */
export interface FolderMapping {
  source: MailFolder;
  /**
   * Source path with `/` as separator and without the personal namespace prefix (RFC 2342):
   * `INBOX.Projects.Alpha` under prefix `INBOX.` is "Projects/Alpha". What rules and
   * checkpoints use.
   */
  sourceName: string;
  /** Destination hierarchy levels as the server names them (namespace prefix included). */
  destSegments: string[];
  /** Destination path with `/` as separator, without the namespace prefix (for stats and display). */
  destName: string;
  /** The destination folder, when it already exists. */
  dest?: MailFolder;
}

/** `*` matches any run of characters (including `/`); the rest is literal, case-sensitive except INBOX. */
export function globMatches(pattern: string, name: string): boolean {
  const norm = (s: string) => s.replace(/^inbox(?=\/|$)/i, 'INBOX');
  const re = new RegExp(
    '^' +
      norm(pattern)
        .split('*')
        .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*') +
      '$',
  );
  const n = norm(name);
  // A pattern naming a folder also covers its subtree.
  return re.test(n) || n.split('/').some((_, i, parts) => i > 0 && re.test(parts.slice(0, i).join('/')));
}

/** Whether the rules let a source folder through. */
export function isIncluded(name: string, rules: FolderRules | undefined): boolean {
  if (rules?.include?.length && !rules.include.some((p) => globMatches(p, name))) return false;
  if (rules?.exclude?.some((p) => globMatches(p, name))) return false;
  return true;
}

/** Applies the longest matching rename rule (exact path or path prefix). */
export function renamed(name: string, rules: FolderRules | undefined): string | null {
  const entries = Object.entries(rules?.rename ?? {}).sort((a, b) => b[0].length - a[0].length);
  for (const [from, to] of entries) {
    if (name === from) return to;
    if (name.startsWith(from + '/')) return to + name.slice(from.length);
  }
  return null;
}

/** The personal namespaces of both sides (RFC 2342); absent means an empty prefix. */
export interface FolderNamespaces {
  source?: PersonalNamespace;
  destination?: PersonalNamespace;
}

/**
 * Maps source folders to destination folders: INBOX to INBOX; rename rules first; then
 * special-use folders to the destination's folder of the same use (announced by
 * SPECIAL-USE, else guessed by name); everything else keeps its hierarchy, translated to
 * the destination separator. A level that contains the destination separator gets it
 * replaced by `_` (it would otherwise split into two levels).
 *
 * Names are logical: the source's personal namespace prefix (`INBOX.`) is stripped before
 * rules and mapping (`INBOX.Sent` is "Sent"), and the destination's prefix is added to
 * the destination levels ("Projects/Alpha" → `INBOX.Projects.Alpha`).
 */
export function mapFolders(
  source: MailFolder[],
  dest: MailFolder[],
  rules?: FolderRules,
  namespaces: FolderNamespaces = {},
): FolderMapping[] {
  const destSep = dest.find((f) => f.delimiter)?.delimiter ?? namespaces.destination?.delimiter ?? '/';
  const srcPrefix = prefixSegments(namespaces.source);
  const destPrefix = prefixSegments(namespaces.destination);
  const destByKey = new Map(dest.map((f) => [f.segments.join('\u0000').replace(/^inbox(?=\u0000|$)/i, 'INBOX'), f]));
  const usedSpecial = new Set<string>();
  const out: FolderMapping[] = [];
  // Folders announced by the server first, so a real \Sent wins over a name guess.
  const bySpecialUse = (use: string) =>
    dest
      .filter((f) => f.selectable && f.specialUse === use)
      .sort((a, b) => Number(b.specialUseFromServer) - Number(a.specialUseFromServer))[0];
  const ordered = [...source].sort(
    (a, b) => Number(b.specialUseFromServer) - Number(a.specialUseFromServer) || a.path.localeCompare(b.path),
  );
  for (const f of ordered) {
    const logical = withoutPrefix(f.segments, srcPrefix);
    const sourceName = logical.join('/');
    if (!isIncluded(sourceName, rules)) continue;
    const rn = renamed(sourceName, rules);
    const target =
      f.specialUse && MAPPED_SPECIAL_USES.includes(f.specialUse) && !usedSpecial.has(f.specialUse)
        ? bySpecialUse(f.specialUse)
        : undefined;
    let destSegments: string[];
    if (
      !/^inbox$/i.test(sourceName) &&
      rn === null &&
      target &&
      // A name guess only counts at the top level (or under INBOX): "Projects/Archive" is no archive.
      (f.specialUseFromServer || logical.length === 1 || (logical.length === 2 && /^inbox$/i.test(logical[0] ?? '')))
    ) {
      destSegments = [...target.segments];
      usedSpecial.add(f.specialUse!);
    } else {
      const name = /^inbox$/i.test(sourceName) ? ['INBOX'] : rn !== null ? rn.split('/').filter(Boolean) : logical;
      // A level must not split at the destination separator; the name goes inside the destination's namespace.
      destSegments = withPrefix(
        name.map((s) => (destSep && s.includes(destSep) ? s.split(destSep).join('_') : s)),
        destPrefix,
      );
    }
    if (/^inbox$/i.test(destSegments[0] ?? '')) destSegments[0] = 'INBOX';
    const key = destSegments.join('\u0000');
    out.push({
      source: f,
      sourceName,
      destSegments,
      destName: withoutPrefix(destSegments, destPrefix).join('/'),
      dest: destByKey.get(key),
    });
  }
  return out.sort((a, b) => a.sourceName.localeCompare(b.sourceName));
}
