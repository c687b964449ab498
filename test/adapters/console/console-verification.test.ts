import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeMessage, seedImap } from '../../harness/dovecot.ts';
import { describeWithServers, startServer, type TestServer } from '../../harness/imap-servers.ts';
import { testDbUrl } from '../../harness/test-db.ts';
import { joinedRegExp } from '../../harness/regex.ts';

// A real pass from Dovecot into Cyrus through the console: Cyrus replaces the raw 8-bit
// bytes of one message's header by X on APPEND. The thread's Completed post says so in one
// line, and `status ADDRESS` shows the last pass's verification, the altered message, and
// the verification in the pass's history line.
describeWithServers('console: the verification in the Completed post and in status', ['dovecot', 'cyrus'], () => {
  let src: TestServer;
  let dst: TestServer;
  let dir: string;
  beforeAll(async () => {
    [src, dst] = await Promise.all([
      startServer('dovecot', [{ name: 'carol', password: 'src-Secret-3' }]),
      startServer('cyrus', [{ name: 'carol2', password: 'dst-Secret-4' }]),
    ]);
    const eightBit = Buffer.from(
      'From: Jürgen <j@example.test>\r\nTo: carol@example.test\r\nSubject: Grüße\r\nDate: Mon, ' +
        '01 May 2023 10:00:00 +0000\r\nMessage-ID: <gruesse@mailferry.test>\r\n\r\nHallo.\r\n',
      'utf8',
    );
    await seedImap(src, 'carol', 'src-Secret-3', {
      INBOX: [{ raw: makeMessage({ subject: 'plain' }) }, { raw: eightBit }],
    });
    dir = mkdtempSync(join(tmpdir(), 'mailferry-console-verify-'));
  });
  afterAll(async () => {
    await Promise.all([src?.dispose(), dst?.dispose()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function consoleRun(script: string): Promise<string> {
    return new Promise<string>((res, rej) => {
      const p = spawn(process.execPath, [resolve('bin/mailferry.mjs'), 'console', '--wait'], {
        env: { ...process.env, DATABASE_URL: testDbUrl(dir), MAILFERRY_DATA_DIR: dir, LOG_LEVEL: 'info' },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let o = '';
      p.stdout.on('data', (d) => (o += d));
      p.stderr.on('data', () => undefined);
      const t = setTimeout(() => p.kill('SIGKILL'), 120_000);
      p.on('error', rej);
      p.on('close', () => {
        clearTimeout(t);
        res(o);
      });
      p.stdin.end(script + '\n');
    });
  }

  it('Completed says which message the destination altered, and status ADDRESS keeps it', async () => {
    writeFileSync(join(dir, 'src.pw'), 'src-Secret-3\n');
    writeFileSync(join(dir, 'dst.pw'), 'dst-Secret-4\n');
    const out = await consoleRun(
      [
        `project create acme --source ${src.url} --destination ${dst.url}`,
        'add carol@old.example carol@new.example --source-login carol --destination-login carol2',
        `start carol@old.example --source-password-file ${join(dir, 'src.pw')} ` +
          `--destination-password-file ${join(dir, 'dst.pw')}`,
      ].join('\n'),
    );
    expect(out).toMatch(/✅ \*carol@old\.example\* completed/);
    expect(out).toContain(
      'Verified: 1 folder checked, counts match; 1 message altered by ' +
        'the destination (8-bit header bytes replaced by the server).',
    );

    const st = await consoleRun('status carol@old.example');
    expect(st).toContain(
      'Verified (last pass): 1 folder checked, counts match; 1 message ' +
        'altered by the destination (8-bit header bytes replaced by the server)',
    );
    expect(st).toMatch(
      joinedRegExp(
        /Altered by the destination \(stored differently from the source; 1 message, all passes\):/,
        /\n\s+• INBOX UID 2 \([^)]+\) → UID 2: 8-bit header bytes replaced by the server/,
      ),
    );
    expect(st).toMatch(
      /pass completed \(Running → Completed\) — verified: 1 folder checked, counts match, 1 altered by the destination/,
    );
  });
});
