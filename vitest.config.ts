import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // MAILFERRY_TEST_DB=postgresql: every test database is a fresh PostgreSQL database (test/harness/test-db.ts).
    globalSetup: ['test/harness/global-setup.ts'],
    pool: 'forks',
    // Two cores here: more workers only fight over Dovecot and Chromium.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
