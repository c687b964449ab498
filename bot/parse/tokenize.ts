import { UserError } from '../../engine/errors.ts';

/**
 * Splits a command line into words, shell-style: spaces separate, "double" or 'single'
 * quotes keep spaces (`--digest "0 9 * * 1-5"`), a backslash escapes the next character.
 * Chat clients turn quotes into typographic ones; those count as quotes too.
 */
export function tokenize(line: string): string[] {
  const s = line
    .replace(/[\u201c\u201d\u201e]/g, '"')
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/\u00a0/g, ' ');
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s.charAt(i);
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < s.length) cur += s.charAt(++i);
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s.charAt(++i);
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new UserError('UNCLOSED_QUOTE', `A ${quote === '"' ? 'double' : 'single'} quote is not closed.`);
  if (inWord) out.push(cur);
  return out;
}
