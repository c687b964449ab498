// Writes the SQL that takes the database from the last committed schema to the current
// prisma/schema.prisma, as a new folder under prisma/migrations (SQLite) and one of the same
// name under prisma/migrations-postgresql (PostgreSQL, from the schema's PostgreSQL variant).
//   npm run db:migration -- NAME           (diff against the schema as of git HEAD)
//   npm run db:migration -- --init         (regenerate 0001_init from scratch; only before
//                                           the first release, when nothing is deployed)
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPrisma, postgresSchema, writePostgresSchema, SCHEMA } from './prisma-generate.mjs';

const arg = process.argv[2];
if (!arg) {
  console.error('usage: npm run db:migration -- NAME | --init');
  process.exit(2);
}
const dialects = [
  { dir: 'prisma/migrations', provider: 'sqlite', schema: SCHEMA, variant: (text) => text },
  {
    dir: 'prisma/migrations-postgresql',
    provider: 'postgresql',
    schema: writePostgresSchema(readFileSync(SCHEMA, 'utf8')),
    variant: (text) => postgresSchema(text),
  },
];
const prev = arg === '--init' ? null : execFileSync('git', ['show', `HEAD:${SCHEMA}`], { encoding: 'utf8' });
const n = readdirSync(dialects[0].dir).filter((d) => /^\d{4}_/.test(d)).length + 1;
const name = arg === '--init' ? '0001_init' : `${String(n).padStart(4, '0')}_${arg.replace(/[^a-z0-9_]+/gi, '_')}`;
for (const d of dialects) {
  mkdirSync(d.dir, { recursive: true });
  let from = ['--from-empty'];
  if (prev === null) {
    for (const e of readdirSync(d.dir)) if (e !== 'migration_lock.toml') rmSync(join(d.dir, e), { recursive: true });
  } else {
    const tmp = join(mkdtempSync(join(tmpdir(), 'mf-schema-')), 'schema.prisma');
    writeFileSync(tmp, d.variant(prev));
    from = ['--from-schema-datamodel', tmp];
  }
  const sql = runPrisma(['migrate', 'diff', ...from, '--to-schema-datamodel', d.schema, '--script']);
  mkdirSync(join(d.dir, name), { recursive: true });
  writeFileSync(join(d.dir, name, 'migration.sql'), sql);
  writeFileSync(join(d.dir, 'migration_lock.toml'), `provider = "${d.provider}"\n`);
  console.log(`wrote ${join(d.dir, name, 'migration.sql')}`);
}
