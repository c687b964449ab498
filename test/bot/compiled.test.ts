/**
 * The compile step: `scripts/build.mjs` (run at install) compiles the sources to dist/, and
 * the command line runs dist/ while it matches the sources and the sources through tsx once
 * one of them changed. On a copy of the project (its own dist/), never this checkout's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

let root: string;

function node(
  args: string[],
  input = '',
  env: Record<string, string> = {},
): Promise<{ out: string; err: string; code: number | null }> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, args, {
      cwd: root,
      env: {
        ...process.env,
        MAILFERRY_FROM_SOURCES: '',
        DATABASE_URL: `file:${join(root, 'data', 'db.sqlite')}`,
        MAILFERRY_DATA_DIR: join(root, 'data'),
        LOG_LEVEL: 'warn',
        ...env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', rej);
    p.on('close', (code) => res({ out, err, code }));
    p.stdin.end(input);
  });
}

const setVersion = (file: string, version: string) =>
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), version }, null, 2));

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'mailferry-compiled-'));
  for (const d of ['adapters', 'bot', 'cards', 'engine', 'generated', 'prisma', 'bin', 'scripts', 'package.json'])
    cpSync(resolve(d), join(root, d), { recursive: true, preserveTimestamps: true });
  symlinkSync(resolve('node_modules'), join(root, 'node_modules'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('compile once', () => {
  it('runs the compiled tree while it matches the sources, and the sources once one changed', async () => {
    const build = await node(['scripts/build.mjs']);
    expect(build.code, build.err).toBe(0);
    expect(build.out).toMatch(/mailferry build: \d+ modules compiled to dist\//);
    // Every migrations folder (SQLite's and PostgreSQL's) is read at run time beside the compiled code.
    const migrationDirs = readdirSync(join(root, 'prisma')).filter((d) => d.startsWith('migrations'));
    expect(migrationDirs.length).toBeGreaterThanOrEqual(2);
    for (const d of migrationDirs)
      expect(readdirSync(join(root, 'dist', 'prisma', d)), d).toEqual(readdirSync(join(root, 'prisma', d)));
    // Marks the compiled tree: its package.json is not a source, so the build still matches.
    setVersion(join(root, 'dist', 'package.json'), '0.0.0-compiled');
    expect((await node(['bin/mailferry.mjs', '--version'])).out).toBe('mailferry 0.0.0-compiled\n');

    // The compiled tree works end to end: migrations applied, a command answered.
    const c = await node(
      ['bin/mailferry.mjs', 'console'],
      'project create acme --source imap://127.0.0.1:1 --destination imap://127.0.0.1:2\nproject list\n',
    );
    expect(c.code, c.err).toBe(0);
    expect(c.out).toMatch(/acme/);

    // A source changed: the sources run (their package.json), not the old build.
    setVersion(join(root, 'package.json'), '9.9.9');
    expect((await node(['bin/mailferry.mjs', '--version'])).out).toBe('mailferry 9.9.9\n');
    // Built again, the compiled tree runs again.
    expect((await node(['scripts/build.mjs'])).code).toBe(0);
    setVersion(join(root, 'dist', 'package.json'), '9.9.9-compiled');
    expect((await node(['bin/mailferry.mjs', '--version'])).out).toBe('mailferry 9.9.9-compiled\n');
    // MAILFERRY_FROM_SOURCES=1 always runs the sources.
    expect((await node(['bin/mailferry.mjs', '--version'], '', { MAILFERRY_FROM_SOURCES: '1' })).out).toBe(
      'mailferry 9.9.9\n',
    );
  }, 300_000);
});
