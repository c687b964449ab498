// Lists every function of the product's TypeScript (not tests, not benchmarks) longer than 80
// lines, from its first line to its closing brace, as FILE:LINE NAME: LINES, and exits 1 when
// there is one (`npm test` runs it after the line-length check). A longer function is split
// into named parts: a reader should understand it from the names of its parts.
//   node scripts/check-function-length.mjs
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import ts from 'typescript';

const MAX = 80;

const files = execFileSync('git', ['ls-files', '*.ts'], { encoding: 'utf8' })
  .split('\n')
  .filter((f) => f && !f.startsWith('test/') && !f.startsWith('bench/') && !f.endsWith('.d.ts'));

const long = [];
for (const file of files) {
  const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const visit = (node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = src.getLineAndCharacterOfPosition(node.getStart(src)).line;
      const last = src.getLineAndCharacterOfPosition(node.end).line;
      const lines = last - first + 1;
      const name = node.name ? node.name.getText(src) : '(anonymous)';
      if (lines > MAX) long.push(`${file}:${first + 1} ${name}: ${lines} lines`);
    }
    ts.forEachChild(node, visit);
  };
  visit(src);
}

if (long.length) {
  console.error(`${long.length} function(s) over ${MAX} lines:\n${long.join('\n')}`);
  process.exit(1);
}
