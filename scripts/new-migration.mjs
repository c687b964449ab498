// Writes the SQL that takes the database from the last committed schema to the current
// prisma/schema.prisma, as a new folder under prisma/migrations.
//   npm run db:migration -- NAME           (diff against the schema as of git HEAD)
//   npm run db:migration -- --init         (regenerate 0001_init from scratch; only before
//                                           the first release, when nothing is deployed)
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPrisma } from './prisma-generate.mjs';

const arg = process.argv[2];
if (!arg) {
  console.error('usage: npm run db:migration -- NAME | --init');
  process.exit(2);
}
const dir = 'prisma/migrations';
mkdirSync(dir, { recursive: true });
let from = ['--from-empty'];
let name;
if (arg === '--init') {
  for (const d of readdirSync(dir)) if (d !== 'migration_lock.toml') rmSync(join(dir, d), { recursive: true });
  name = '0001_init';
} else {
  const prev = execFileSync('git', ['show', 'HEAD:prisma/schema.prisma'], { encoding: 'utf8' });
  const tmp = join(mkdtempSync(join(tmpdir(), 'mf-schema-')), 'schema.prisma');
  writeFileSync(tmp, prev);
  from = ['--from-schema-datamodel', tmp];
  const n = readdirSync(dir).filter((d) => /^\d{4}_/.test(d)).length + 1;
  name = `${String(n).padStart(4, '0')}_${arg.replace(/[^a-z0-9_]+/gi, '_')}`;
}
const sql = runPrisma(['migrate', 'diff', ...from, '--to-schema-datamodel', 'prisma/schema.prisma', '--script']);
mkdirSync(join(dir, name), { recursive: true });
writeFileSync(join(dir, name, 'migration.sql'), sql);
writeFileSync(join(dir, 'migration_lock.toml'), 'provider = "sqlite"\n');
console.log(`wrote ${join(dir, name, 'migration.sql')}`);
