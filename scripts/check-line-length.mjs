// Lists every line over 120 characters in the files git tracks, as FILE:LINE: LENGTH, and exits 1
// when there is one (`npm test` runs it after `biome ci`). The formatter breaks code at 120 but
// never a string or a comment; this catches those, and the files Biome does not read.
//   node scripts/check-line-length.mjs
//
// Not checked:
// - JSON (package-lock.json included): data, often written by tools.
// - *.patch: a diff of upstream source, whose context lines must match that source.
// - prisma/migrations*/*/migration.sql: written by Prisma, and a migration already applied somewhere
//   must stay as it was.
// - Binary files (a NUL byte in the first 8 KB).
// - In Markdown, prose is wrapped but these are not: lines inside ``` or ~~~ code blocks (command
//   lines and output shown as they are), table rows (a row is one line), and lines with a URL.
// Length counts characters (Unicode code points), not bytes.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const MAX = 120;

const EXEMPT = [/\.json$/, /\.patch$/, /^prisma\/migrations[^/]*\/[^/]+\/migration\.sql$/];

/** Whether line `i` of a Markdown file may be long: in a code block, a table row, or holding a URL. */
function markdownExemptions(lines) {
  const exempt = new Set();
  let fence = null;
  lines.forEach((line, i) => {
    const open = /^\s*(`{3,}|~{3,})/.exec(line);
    if (open) {
      exempt.add(i);
      if (fence === null) fence = open[1];
      else if (line.trim().startsWith(fence)) fence = null;
      return;
    }
    if (fence !== null || /^\s*\|/.test(line) || line.includes('://')) exempt.add(i);
  });
  return exempt;
}

const files = execFileSync('git', ['ls-files', '-z'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  .split('\0')
  .filter((f) => f && !EXEMPT.some((re) => re.test(f)));

const long = [];
for (const file of files) {
  let buf;
  try {
    buf = readFileSync(file);
  } catch {
    continue; // tracked but deleted in the working tree
  }
  if (buf.subarray(0, 8192).includes(0)) continue;
  const lines = buf.toString('utf8').split('\n');
  const exempt = file.endsWith('.md') ? markdownExemptions(lines) : new Set();
  lines.forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const length = [...line].length;
    if (length > MAX && !exempt.has(i)) long.push(`${file}:${i + 1}: ${length}`);
  });
}

if (long.length) {
  console.error(`${long.length} line(s) over ${MAX} characters (split the string or the comment):`);
  for (const l of long) console.error(`  ${l}`);
  process.exit(1);
}
