/**
 * A status change and its thread post commit together. A process killed -9 right after the
 * commit of a status change (the test fault point `after-status-commit`: before any event or
 * delivery) leaves the post in the outbox; the next start delivers it, exactly once.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createApp } from '../../bot/app.ts';
import { loadConfig } from '../../bot/config.ts';
import { Logger } from '../../bot/log.ts';
import { testDbRows, testDbUrl } from '../harness/test-db.ts';
import { defined } from '../harness/defined.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mailferry-crash-post-'));
  writeFileSync(join(dir, 'pw'), 'secret\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = () => ({
  DATABASE_URL: testDbUrl(dir),
  MAILFERRY_DATA_DIR: dir,
  SMTP_URL: '',
  SLACK_SIGNING_SECRET: '',
  SLACK_BOT_TOKEN: '',
  MicrosoftAppId: '',
  MAILFERRY_DEV: '',
  LOG_LEVEL: 'warn',
});

function consoleRun(
  script: string,
  extra: Record<string, string>,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  return new Promise((res) => {
    const p = spawn(process.execPath, [resolve('bin/mailferry.mjs'), 'console'], {
      env: { ...process.env, ...env(), ...extra },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('close', (code, signal) => res({ code, signal, out }));
    p.stdin.end(script);
  });
}

function outboxRows(): { kind: string; state: string | null; threadRef: string }[] {
  return testDbRows(
    dir,
    `SELECT "kind", "state", "threadRef" FROM "OutboxPost" WHERE "kind" LIKE 'item-%' ORDER BY "id"`,
  );
}

/** Opens the database as a restarted server would, with a console poster; returns what it delivered. */
async function restartAndDeliver(expectPosts: number): Promise<string[]> {
  const app = await createApp(loadConfig(env(), '/nonexistent'), { log: new Logger(() => {}, 'error') });
  const delivered: string[] = [];
  try {
    app.notifier.register('console', async (p) => void delivered.push(p.message.text));
    await app.notifier.drain();
    if (expectPosts)
      await vi.waitFor(() => expect(delivered).toHaveLength(expectPosts), { timeout: 15_000, interval: 50 });
    await app.notifier.idle();
    // Another round finds nothing left to send.
    await app.notifier.drain();
    await app.notifier.idle();
  } finally {
    await app.close();
  }
  return delivered;
}

describe('a status post survives a kill -9 right after the status change commits', () => {
  it('the post is in the outbox with the change, and the next start delivers it once', async () => {
    const url = 'imap://127.0.0.1:1';
    const script =
      [
        `project create acme --source ${url} --destination ${url}`,
        'add alice@old.example alice@new.example',
        `start alice@old.example --source-password-file ${join(dir, 'pw')} ` +
          `--destination-password-file ${join(dir, 'pw')}`,
        'status',
      ].join('\n') + '\n';
    const r = await consoleRun(script, { MAILFERRY_FAULT_POINT: 'after-status-commit' });
    // Killed at the first status change (NotStarted → Queued), before anything was posted.
    expect(r.signal).toBe('SIGKILL');
    expect(r.out).toMatch(/1 mailbox added to acme/);
    expect(r.out).not.toMatch(/queued for migration/);

    // Committed together: the status and its post.
    const [item] = testDbRows<{ status: string }>(dir, 'SELECT "status" FROM "Item"');
    expect(defined(item).status).toBe('Queued');
    expect(outboxRows()).toEqual([{ kind: 'item-queued', state: null, threadRef: expect.stringMatching(/^console:/) }]);

    // Restart: delivered, once.
    expect(await restartAndDeliver(1)).toEqual(['🕒 alice@old.example is queued for migration.']);
    expect(outboxRows()).toEqual([
      { kind: 'item-queued', state: 'sent', threadRef: expect.stringMatching(/^console:/) },
    ]);
    expect(await restartAndDeliver(0)).toEqual([]);
  });
});
