/**
 * The parent side of test/harness/run-pass-child.ts: one pass in a child process, killed
 * with SIGKILL once it reports a number of copies (the kill -9 tests of every server).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildConfig } from './run-pass-child.ts';

export type { ChildConfig };

const CHILD = fileURLToPath(new URL('./run-pass-child.ts', import.meta.url));

/** What the child reported at the end of its pass. */
export interface ChildResult {
  outcome: string;
  copied: number;
  detail?: string;
}

/**
 * Runs the child; with `killAt`, SIGKILLs it once it reports that many copies in this run.
 * `node --import tsx` (not `npx tsx`) so the signal hits the process doing the APPENDs.
 */
export function runPassChild(cfg: ChildConfig, killAt?: number): Promise<{ killed: boolean; result?: ChildResult }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      env: { ...process.env, MF_CHILD_CONFIG: JSON.stringify(cfg) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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
