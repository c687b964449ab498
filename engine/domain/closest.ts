/** Edit distance (Levenshtein), for "did you mean". */
export function distance(a: string, b: string): number {
  // One row of the table at a time; every index read below was written before (rows have b.length + 1 cells).
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (cur[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/**
 * The candidate nearest to `word` (case-insensitive), when it is near enough to be a typo:
 * at most 2 edits, or a third of the candidate's length for longer words.
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const w = word.toLowerCase();
  for (const c of candidates) {
    // Cheap bound first: lengths alone already differ by more than any allowed distance.
    if (Math.abs(c.length - w.length) > Math.max(2, Math.floor(c.length / 3))) continue;
    const dd = distance(w, c.toLowerCase());
    if (dd < bestD) [best, bestD] = [c, dd];
  }
  return best && bestD > 0 && bestD <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}
