// Runs `prisma generate` without any native engine download: Prisma 6.19's JS engine with
// a driver adapter needs no binary, but its CLI still looks for one; point it at a file
// that exists and tell it not to verify checksums, so that nothing is fetched from Prisma's
// binary server (install and generate work offline).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdirSync } from 'node:fs';
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

export function runPrisma(args) {
  // better-sqlite3 does not create the folder of a file: URL.
  const url = prismaEnv.DATABASE_URL;
  if (url.startsWith('file:')) mkdirSync(dirname(url.slice(5)), { recursive: true });
  const r = spawnSync(process.execPath, ['node_modules/prisma/build/index.js', ...args], {
    env: prismaEnv,
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
}
