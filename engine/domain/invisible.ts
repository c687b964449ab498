import { UserError } from '../errors.ts';

/**
 * Characters that change how text is shown without being seen themselves: bidirectional
 * controls (U+202A–202E embeddings and overrides, U+2066–2069 isolates, U+200E/200F marks,
 * U+061C the Arabic letter mark; Unicode TR #9), zero-width characters, the soft hyphen,
 * every other format character (category Cf), control characters (Cc) and the line and
 * paragraph separators. In an address, a project name or a login they let two strings look
 * alike, or one look reversed ("Trojan Source"), so they are refused, never stripped.
 */
const INVISIBLE = /[\p{Cf}\p{Cc}\p{Zl}\p{Zp}\u115F\u1160\u3164\uFFA0\u180E\u2800]/u;

/** Names of the ones people meet, for the message; others are shown by code point only. */
const NAMES: Record<number, string> = {
  0x00ad: 'soft hyphen',
  0x061c: 'Arabic letter mark',
  0x200b: 'zero-width space',
  0x200c: 'zero-width non-joiner',
  0x200d: 'zero-width joiner',
  0x200e: 'left-to-right mark',
  0x200f: 'right-to-left mark',
  0x202a: 'left-to-right embedding',
  0x202b: 'right-to-left embedding',
  0x202c: 'pop directional formatting',
  0x202d: 'left-to-right override',
  0x202e: 'right-to-left override',
  0x2060: 'word joiner',
  0x2066: 'left-to-right isolate',
  0x2067: 'right-to-left isolate',
  0x2068: 'first strong isolate',
  0x2069: 'pop directional isolate',
  0xfeff: 'zero-width no-break space (byte order mark)',
  0x0009: 'tab',
  0x000a: 'line break',
  0x000d: 'carriage return',
};

/** `U+202E` */
function codePoint(c: number): string {
  return `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** The first invisible character of `s`, with where it is; null when there is none. */
export function findInvisible(s: string): { index: number; code: string; name?: string } | null {
  const m = INVISIBLE.exec(s);
  if (!m) return null;
  const cp = m[0].codePointAt(0)!;
  return { index: m.index, code: codePoint(cp), name: NAMES[cp] };
}

/** `s` with every invisible character written as `<U+XXXX>`, safe to show back in chat or on a page. */
export function showInvisible(s: string): string {
  return s.replace(new RegExp(INVISIBLE.source, 'gu'), (c) => `<${codePoint(c.codePointAt(0)!)}>`);
}

/**
 * Throws a UserError naming the problem when `s` holds an invisible character. `what` is the
 * field ("source address", "project name", "source login").
 */
export function refuseInvisible(s: string, what: string): void {
  const f = findInvisible(s);
  if (!f) return;
  throw new UserError(
    'INVISIBLE_CHARACTER',
    `The ${what} "${showInvisible(s)}" contains an invisible character (${f.code}${f.name ? ` ${f.name}` : ''}) ` +
      `at position ${f.index + 1}. Such characters can make text display differently from what it ` +
      `is (reversed, or two names looking alike), so they are refused: type the ${what} again without it.`,
  );
}
