import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeMessage, readMailbox, seedMaildir, startDovecot, type DovecotInstance, type SeedMessage } from '../harness/dovecot.ts';
import { endpoint, hashCounts } from '../harness/copy-assert.ts';
import type { ChildConfig } from '../harness/run-pass-child.ts';
import { testDbUrl } from '../harness/test-db.ts';

const CHILD = fileURLToPath(new URL('../harness/run-pass-child.ts', import.meta.url));
let dv: DovecotInstance;
let dir: string;

beforeAll(async () => {
  dv = await startDovecot({ users: [{ name: 'ksrc', password: 'ks' }, { name: 'kdst', password: 'kd' }] });
  dir = mkdtempSync(join(tmpdir(), 'mf-kill9-'));
});
afterAll(async () => {
  await dv?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs the child; with `killAt`, SIGKILLs it once it reports that many copies in this run.
 * `node --import tsx` (not `npx tsx`) so the signal hits the process doing the APPENDs.
 */
function runChild(cfg: ChildConfig, killAt?: number): Promise<{ killed: boolean; result?: { outcome: string; copied: number; detail?: string } }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], { env: { ...process.env, MF_CHILD_CONFIG: JSON.stringify(cfg) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let killed = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (killAt === undefined || killed) return;
      const copied = [...out.matchAll(/PROGRESS (\d+)/g)].map((m) => Number(m[1]));
      if (copied.length && Math.max(...copied) >= killAt) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', () => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (!killed && !line) return reject(new Error(`child ended without a result: ${err.slice(-2000)}`));
      resolve({ killed, result: line ? JSON.parse(line.slice(7)) : undefined });
    });
  });
}

describe('kill -9 mid-pass', () => {
  it('a pass killed twice mid-APPEND and run again leaves each source message exactly once', async () => {
    const at = (i: number) => new Date(Date.UTC(2020, 5, 1, 0, 0, i));
    const dup = makeMessage({ size: 30_000 });
    const noId = makeMessage({ size: 12_000, messageId: null });
    const inbox: SeedMessage[] = Array.from({ length: 150 }, (_, i) => ({ raw: makeMessage({ size: 8_000 + (i % 7) * 9_000 }), flags: i % 2 ? ['\\Seen', 'Kw' + (i % 3)] : [], internalDate: at(i) }));
    inbox.splice(40, 0, { raw: dup, internalDate: at(999) }, { raw: dup, internalDate: at(999) }, { raw: noId, internalDate: at(998) }, { raw: noId, internalDate: at(998) });
    const other: SeedMessage[] = Array.from({ length: 60 }, (_, i) => ({ raw: makeMessage({ size: 20_000 }), internalDate: at(2000 + i) }));
    // Straight into the Maildir: hundreds of IMAP APPENDs would dominate the test's time.
    seedMaildir(dv, 'ksrc', [{ path: ['INBOX'], messages: inbox }, { path: ['Other'], messages: other }]);
    const cfg: ChildConfig = {
      dbUrl: testDbUrl(dir, 'state'),
      itemId: 'kill9',
      source: endpoint(dv, 'ksrc', 'ks'),
      destination: endpoint(dv, 'kdst', 'kd'),
      options: { batchMessages: 5, connections: 2, messagesPerLane: 1 },
    };
    const first = await runChild(cfg, 25);
    expect(first.killed).toBe(true);
    const second = await runChild(cfg, 30);
    expect(second.killed).toBe(true);
    const last = await runChild(cfg);
    expect(last.result?.outcome, last.result?.detail).toBe('completed');
    const src = await readMailbox(dv, 'ksrc', 'ks');
    const dst = await readMailbox(dv, 'kdst', 'kd');
    expect(dst.messages.INBOX.length).toBe(inbox.length);
    expect(dst.messages.Other.length).toBe(other.length);
    expect(hashCounts(dst)).toEqual(hashCounts(src));
    // And nothing left to do.
    const again = await runChild(cfg);
    expect(again.result).toMatchObject({ outcome: 'completed', copied: 0 });
    // Four child processes, each starting Node and tsx: slow on a loaded machine. Every wait
    // is on the child's own output or exit; this is only the ceiling.
  }, 600_000);
});
