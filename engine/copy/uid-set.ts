/** UID set of a list of UIDs, with ranges (RFC 3501 §9 sequence-set): [5, 1, 2, 3] → `1:3,5`. */
export function uidSet(uids: readonly number[]): string {
  const sorted = [...uids].sort((a, b) => a - b);
  const parts: string[] = [];
  let start: number | undefined;
  let end = 0;
  for (const u of sorted) {
    if (start !== undefined && u === end + 1) {
      end = u;
      continue;
    }
    if (start !== undefined) parts.push(start === end ? `${start}` : `${start}:${end}`);
    start = end = u;
  }
  if (start !== undefined) parts.push(start === end ? `${start}` : `${start}:${end}`);
  return parts.join(',');
}
