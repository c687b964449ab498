/**
 * Vitest global setup: on PostgreSQL (MAILFERRY_TEST_DB=postgresql) checks the server is
 * reachable, names this run (test databases are `mft_<run>_…`), and drops the run's
 * databases when it ends. Nothing to do on SQLite, whose files live in each test's directory.
 */
import { randomBytes } from 'node:crypto';
import { dropTestDatabases, pgAdmin, testDialect, testRunPrefix } from './test-db.ts';

export default function setup(): (() => void) | undefined {
  if (testDialect() !== 'postgresql') return undefined;
  process.env.MAILFERRY_TEST_RUN ??= randomBytes(4).toString('hex');
  pgAdmin('SELECT 1');
  const prefix = testRunPrefix();
  return () => {
    if (!process.env.MAILFERRY_TEST_KEEP_DB) dropTestDatabases(prefix);
  };
}
