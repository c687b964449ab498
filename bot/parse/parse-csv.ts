import type { AddRow, RefusedRow } from '../../engine/engine.ts';

/** Splits one CSV line (RFC 4180 quoting; `;` accepted too, as spreadsheets export it). */
export function splitCsvLine(line: string, sep: string): string[] | null {
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') q = false;
      else cur += c;
    } else if (c === '"' && cur.trim() === '') {
      q = true;
      cur = '';
    } else if (c === sep) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  if (q) return null;
  out.push(cur.trim());
  return out;
}

/**
 * Parses bulk input: `source,destination[,source_login,destination_login]` per line, an
 * optional header line, blank lines and `#` comments ignored. Returns rows with their line
 * numbers and the lines refused for their shape (addresses are checked by the engine).
 */
export function parseBulkCsv(text: string): { rows: AddRow[]; refused: RefusedRow[] } {
  const rows: AddRow[] = [];
  const refused: RefusedRow[] = [];
  const lines = text
    .replace(/^\uFEFF/, '')
    .replace(/\r\n?/g, '\n')
    .split('\n');
  const sample = lines.find((l) => l.trim() && !l.trim().startsWith('#')) ?? '';
  const sep = !sample.includes(',') && sample.includes(';') ? ';' : ',';
  lines.forEach((raw, idx) => {
    const line = idx + 1;
    const l = raw.trim();
    if (!l || l.startsWith('#')) return;
    const cells = splitCsvLine(l, sep);
    if (!cells) return refused.push({ line, input: l, reason: 'a quote is not closed' });
    if (
      rows.length === 0 &&
      refused.length === 0 &&
      /^(source|from|email|address)/i.test(cells[0] ?? '') &&
      !cells[0]?.includes('@')
    )
      return; // header
    if (cells.length > 4)
      return refused.push({
        line,
        input: l,
        reason: `expected at most 4 columns (source,destination,source_login,destination_login), found ${cells.length}`,
      });
    const [source, destination, sourceLogin, destinationLogin] = cells;
    if (!source) return refused.push({ line, input: l, reason: 'the source address is missing' });
    rows.push({
      source,
      destination: destination || undefined,
      sourceLogin: sourceLogin || undefined,
      destinationLogin: destinationLogin || undefined,
      line,
    });
  });
  return { rows, refused };
}
