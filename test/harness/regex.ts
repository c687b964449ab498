/**
 * One regular expression made of several, each a whole expression of its own (a long pattern written in parts that
 * fit on a line), with the flags of the first.
 */
export function joinedRegExp(...parts: RegExp[]): RegExp {
  return new RegExp(parts.map((p) => p.source).join(''), parts[0]?.flags ?? '');
}
