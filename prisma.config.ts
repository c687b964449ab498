import { defineConfig } from 'prisma/config';

// Prisma 6.19 with the JS engine and a driver adapter: nothing native is downloaded.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  engine: 'js',
  experimental: { adapter: true },
  async adapter() {
    const { PrismaBetterSQLite3 } = await import('@prisma/adapter-better-sqlite3');
    return new PrismaBetterSQLite3({ url: process.env.DATABASE_URL ?? 'file:./data/mailferry.db' });
  },
});
