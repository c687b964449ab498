import { defineConfig } from 'prisma/config';

// Prisma 6.19 with the JS engine and a driver adapter: nothing native is downloaded.
// The adapter follows DATABASE_URL: better-sqlite3 for a file: URL, pg for postgresql://
// (pass `--schema generated/postgresql/schema.prisma`, the PostgreSQL variant of the schema
// that scripts/prisma-generate.mjs writes, to CLI commands run against PostgreSQL).
export default defineConfig({
  schema: 'prisma/schema.prisma',
  engine: 'js',
  experimental: { adapter: true },
  async adapter() {
    const url = process.env.DATABASE_URL ?? 'file:./data/mailferry.db';
    if (/^postgres(ql)?:\/\//i.test(url)) {
      const { PrismaPg } = await import('@prisma/adapter-pg');
      return new PrismaPg({ connectionString: url });
    }
    const { PrismaBetterSQLite3 } = await import('@prisma/adapter-better-sqlite3');
    return new PrismaBetterSQLite3({ url });
  },
});
