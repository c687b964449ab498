import { afterAll, describe, expect, it } from 'vitest';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { testDbUrl } from '../harness/test-db.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The children of a process (Linux `ps`). */
function childrenOf(pid: number): number[] {
  return execFileSync('ps', ['-eo', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .flatMap(([p, ppid]) => (p !== undefined && ppid === pid ? [p] : []));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts a command with a fresh data dir; resolves once it logs where it listens. */
async function start(
  cmd: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ p: ChildProcess; port: number; log: () => string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'mailferry-proc-'));
  const p = spawn(cmd, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: testDbUrl(dir),
      MAILFERRY_DATA_DIR: dir,
      PORT: '0',
      SMTP_URL: '',
      SLACK_SIGNING_SECRET: '',
      SLACK_BOT_TOKEN: '',
      MicrosoftAppId: '',
      MAILFERRY_DEV: '',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  p.stdout!.on('data', (d) => (log += d));
  p.stderr!.on('data', (d) => (log += d));
  const port = await new Promise<number>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`no listen line in ${log}`)), 150_000);
    const check = () => {
      const m = /listening on port (\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        res(Number(m[1]));
      }
    };
    p.stdout!.on('data', check);
    p.stderr!.on('data', check);
    p.on('exit', () => rej(new Error(`exited before listening: ${log}`)));
  });
  return { p, port, log: () => log, dir };
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host, port });
    s.once('connect', () => (s.destroy(), res(true)));
    s.once('error', () => res(false));
  });
}

describe('the serve process', () => {
  const leftovers: number[] = [];
  afterAll(() => {
    for (const pid of leftovers) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });

  it('npm start: SIGTERM to npm leaves no process behind', async () => {
    const s = await start('npm', ['start'], {});
    const tree = (pid: number): number[] => childrenOf(pid).flatMap((c) => [c, ...tree(c)]);
    const below = tree(s.p.pid!);
    leftovers.push(...below);
    expect(below.length).toBeGreaterThan(0);
    const exited = new Promise((r) => s.p.once('exit', r));
    s.p.kill('SIGTERM');
    await exited;
    // Every process npm started is gone (the server saw its parent go and shut down cleanly).
    await until(() => below.every((pid) => !alive(pid)), 60_000, `processes ${below.join(', ')} to exit`);
    expect(s.log()).not.toMatch(/Error/);
    rmSync(s.dir, { recursive: true, force: true });
  }, 240_000);

  /** Runs `mailferry worker` on a fresh database; `onLog` sees each chunk of its output. */
  async function worker(
    env: Record<string, string>,
    onLog: (log: string, p: ChildProcess) => void = () => {},
  ): Promise<{ code: number | null; signal: string | null; log: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'mailferry-proc-'));
    try {
      const p = spawn(process.execPath, ['bin/mailferry.mjs', 'worker'], {
        cwd: ROOT,
        env: {
          ...process.env,
          DATABASE_URL: testDbUrl(dir),
          MAILFERRY_DATA_DIR: dir,
          SMTP_URL: '',
          LOG_LEVEL: 'info',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      leftovers.push(p.pid!);
      let log = '';
      const add = (d: Buffer) => {
        log += d;
        onLog(log, p);
      };
      p.stdout!.on('data', add);
      p.stderr!.on('data', add);
      const [code, signal] = await new Promise<[number | null, string | null]>((r) =>
        p.once('exit', (c, s) => r([c, s])),
      );
      return { code, signal, log };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('an idle worker runs until SIGTERM, then stops cleanly', async () => {
    let sent = false;
    const r = await worker({}, (log, p) => {
      if (!sent && /MailFerry worker started/.test(log)) {
        sent = true;
        p.kill('SIGTERM');
      }
    });
    // Not exited on its own (code 13: nothing held the event loop) before the signal came.
    expect({ code: r.code, signal: r.signal }, r.log).toEqual({ code: 0, signal: null });
    expect(r.log).toMatch(/SIGTERM: shutting down/);
  }, 240_000);

  it('a SIGTERM while the worker boots (its runner already started) stops it cleanly once booted', async () => {
    const r = await worker({ MAILFERRY_FAULT_POINT: 'booted' });
    // Not killed by the signal: the app was closed (running passes would have saved their progress).
    expect({ code: r.code, signal: r.signal }, r.log).toEqual({ code: 0, signal: null });
    expect(r.log).toMatch(/SIGTERM: shutting down/);
    expect(r.log).toMatch(/INFO {2}stopped/);
  }, 240_000);

  it('MAILFERRY_BIND=127.0.0.1 listens on that address only, and says so', async () => {
    const s = await start(process.execPath, ['bin/mailferry.mjs', 'serve'], { MAILFERRY_BIND: '127.0.0.1' });
    leftovers.push(s.p.pid!);
    try {
      expect(s.log()).toMatch(/listening on port \d+ address=127\.0\.0\.1/);
      expect(await canConnect('127.0.0.1', s.port)).toBe(true);
      // Not on the IPv6 loopback (nor any other interface) of the same machine.
      expect(await canConnect('::1', s.port)).toBe(false);
    } finally {
      const exited = new Promise((r) => s.p.once('exit', r));
      s.p.kill('SIGTERM');
      await exited;
      rmSync(s.dir, { recursive: true, force: true });
    }
  }, 240_000);
});
