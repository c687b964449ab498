/**
 * The database a test runs on. `MAILFERRY_TEST_DB=postgresql` runs the suite on PostgreSQL
 * (`MAILFERRY_TEST_PG_URL`, default postgresql://root@127.0.0.1:5432/postgres, names the
 * server and a database to connect to for creating others); anything else, SQLite.
 * Each test directory gets its own database: a file in it on SQLite, a fresh database on
 * PostgreSQL named after the test run and the directory, so every process of one test
 * (a server, a worker, a child) that is handed the same directory shares it.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Dialect } from '../../engine/store/dialect.ts';
import { defined } from './defined.ts';

/** The dialect the suite runs on, from MAILFERRY_TEST_DB. */
export function testDialect(): Dialect {
  return /^postgres/i.test(process.env.MAILFERRY_TEST_DB ?? '') ? 'postgresql' : 'sqlite';
}

/** Where the PostgreSQL test server is (a database on it used to create the others). */
export function testPgAdminUrl(): string {
  return process.env.MAILFERRY_TEST_PG_URL ?? 'postgresql://root@127.0.0.1:5432/postgres';
}

/** Prefix of every database this test run creates (the global setup drops them at the end). */
export function testRunPrefix(): string {
  return `mft_${(process.env.MAILFERRY_TEST_RUN ?? String(process.ppid)).replace(/[^a-z0-9]/gi, '').toLowerCase()}_`;
}

const created = new Map<string, string>();

/** Runs one SQL statement on the PostgreSQL test server with psql (synchronous, so URLs can be made anywhere). */
export function pgAdmin(sql: string, url = testPgAdminUrl()): string {
  return execFileSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * DATABASE_URL of the database of test directory `dir` (`name` tells several apart in one
 * directory). Created on first use on PostgreSQL, empty: openDb applies the migrations.
 */
export function testDbUrl(dir: string, name = 'db', dialect: Dialect = testDialect()): string {
  if (dialect === 'sqlite') return `file:${join(dir, `${name}.sqlite`)}`;
  const key = `${dir}\0${name}`;
  let url = created.get(key);
  if (!url) {
    const db = `${testRunPrefix()}${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
    const exists = pgAdmin(`SELECT 1 FROM pg_database WHERE datname = '${db}'`).trim() === '1';
    if (!exists) pgAdmin(`CREATE DATABASE "${db}"`);
    const u = new URL(testPgAdminUrl());
    u.pathname = `/${db}`;
    url = u.toString();
    created.set(key, url);
  }
  return url;
}

/** Drops every database a test run created (the global teardown). */
export function dropTestDatabases(prefix = testRunPrefix()): number {
  const names = pgAdmin(`SELECT datname FROM pg_database WHERE datname LIKE '${prefix}%'`).split('\n').filter(Boolean);
  for (const n of names) pgAdmin(`DROP DATABASE IF EXISTS "${n}" WITH (FORCE)`);
  return names.length;
}

/**
 * Everything the database of test directory `dir` holds, as text to search for secrets in
 * clear: on SQLite the bytes of its file and WAL; on PostgreSQL a data dump, with each
 * bytea value decoded too (a secret written in clear to a binary column shows up as well).
 */
export function testDbBytes(dir: string, name = 'db', dialect: Dialect = testDialect()): string {
  if (dialect === 'sqlite') {
    const file = join(dir, `${name}.sqlite`);
    return [file, `${file}-wal`].map((f) => (existsSync(f) ? readFileSync(f).toString('latin1') : '')).join('');
  }
  const dump = execFileSync('pg_dump', ['--data-only', '--no-owner', testDbUrl(dir, name, dialect)], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  const blobs = [...dump.matchAll(/\\{1,2}x((?:[0-9a-f]{2})+)/gi)].map((m) =>
    Buffer.from(defined(m[1]), 'hex').toString('latin1'),
  );
  return [dump, ...blobs].join('\n');
}

/**
 * Rows of a read-only query on the database of test directory `dir`, read straight from the
 * database (not through the app): SQLite's file opened read-only, or PostgreSQL through psql.
 * Write the SQL in the common subset (quoted identifiers). A DateTime comes back as SQLite
 * or PostgreSQL keeps it; read it with {@link instantOf}. Throws while the database is not there yet.
 */
export function testDbRows<T>(dir: string, sql: string, name = 'db', dialect: Dialect = testDialect()): T[] {
  if (dialect === 'sqlite') {
    const db = new Database(join(dir, `${name}.sqlite`), { readonly: true, fileMustExist: true });
    try {
      return db.prepare(sql).all() as T[];
    } finally {
      db.close();
    }
  }
  return JSON.parse(
    pgAdmin(`SELECT coalesce(json_agg(t), '[]') FROM (${sql}) t`, testDbUrl(dir, name, dialect)),
  ) as T[];
}

/** A DateTime column as read by {@link testDbRows}, in epoch milliseconds (null stays null). */
export function instantOf(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number' || typeof v === 'bigint') return Number(v);
  const s = String(v);
  if (/^\d+$/.test(s)) return Number(s);
  // PostgreSQL's timestamp(3) has no zone; Prisma writes it in UTC.
  return Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s : `${s.replace(' ', 'T')}Z`);
}
