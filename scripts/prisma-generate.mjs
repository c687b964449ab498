// Runs `prisma generate` without any native engine download: Prisma 6.19's JS engine with
// a driver adapter needs no binary, but its CLI still looks for one; point it at a file
// that exists and tell it not to verify checksums, so that nothing is fetched from Prisma's
// binary server (install and generate work offline).
//
// Two clients come out of the one schema, prisma/schema.prisma: generated/prisma for
// SQLite (the provider written there) and generated/prisma-pg for PostgreSQL, from a copy
// of the schema with only the datasource's provider and the output folder changed. A
// generated client is bound to its provider (it refuses an adapter of another database),
// so each database needs its own; their model types are the same.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const prismaEnv = {
  ...process.env,
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath,
  PRISMA_QUERY_ENGINE_LIBRARY: process.env.PRISMA_QUERY_ENGINE_LIBRARY ?? process.execPath,
  PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING: '1',
  PRISMA_HIDE_UPDATE_MESSAGE: '1',
  CHECKPOINT_DISABLE: '1',
  DATABASE_URL: process.env.DATABASE_URL ?? 'file:./data/mailferry.db',
};

/** The schema every client and migration is derived from. */
export const SCHEMA = 'prisma/schema.prisma';
/** Where the PostgreSQL copy of the schema is written (generated, never committed). */
export const PG_SCHEMA = 'generated/postgresql/schema.prisma';

/**
 * The PostgreSQL variant of a schema text: the datasource's provider becomes "postgresql"
 * and the client's output becomes generated/prisma-pg; everything else is kept as written.
 * `outputFromSchema` is the client folder as seen from where the variant is written.
 */
export function postgresSchema(text, outputFromSchema = '../prisma-pg') {
  const provider = /(datasource\s+db\s*\{[^}]*?provider\s*=\s*)"sqlite"/;
  const output = /(generator\s+client\s*\{[^}]*?output\s*=\s*)"[^"]*"/;
  if (!provider.test(text) || !output.test(text))
    throw new Error(`${SCHEMA}: expected a sqlite datasource and a client output`);
  return text.replace(provider, '$1"postgresql"').replace(output, `$1"${outputFromSchema}"`);
}

/** Writes the PostgreSQL copy of a schema text to `file` and returns its path. */
export function writePostgresSchema(text = readFileSync(SCHEMA, 'utf8'), file = PG_SCHEMA) {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, postgresSchema(text));
  return file;
}

export function runPrisma(args, env = {}) {
  // better-sqlite3 does not create the folder of a file: URL.
  const url = prismaEnv.DATABASE_URL;
  if (url.startsWith('file:')) mkdirSync(dirname(url.slice(5)), { recursive: true });
  const r = spawnSync(process.execPath, ['node_modules/prisma/build/index.js', ...args], {
    env: { ...prismaEnv, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    process.stdout.write(r.stdout ?? '');
    throw new Error(`prisma ${args.join(' ')} failed (exit ${r.status})`);
  }
  return r.stdout;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runPrisma(['generate', '--no-hints']);
  console.log('prisma client generated in generated/prisma');
  runPrisma(['generate', '--no-hints', '--schema', writePostgresSchema()]);
  console.log('prisma client generated in generated/prisma-pg');
}
