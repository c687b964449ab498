/**
 * Runs MailFerry's console (the real CLI, `bin/mailferry.mjs console`) with a script on stdin,
 * as the console end-to-end tests do: with `--wait` it returns once no migration is queued or
 * running. Killed after `timeoutMs` whatever it is doing; `onSpawn` gets the process (a test may kill it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export function consoleRun(
  script: string,
  env: Record<string, string>,
  o: { wait?: boolean; timeoutMs?: number; onSpawn?: (p: ChildProcess) => void } = {},
): Promise<{ out: string; err: string }> {
  return new Promise((res, rej) => {
    const p = spawn(
      process.execPath,
      [resolve('bin/mailferry.mjs'), 'console', ...(o.wait === false ? [] : ['--wait'])],
      { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    o.onSpawn?.(p);
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const t = setTimeout(() => p.kill('SIGKILL'), o.timeoutMs ?? 90_000);
    p.on('error', rej);
    p.on('close', () => {
      clearTimeout(t);
      res({ out, err });
    });
    p.stdin.end(script + '\n');
  });
}
