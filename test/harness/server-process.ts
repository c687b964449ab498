/**
 * The process side of the private test servers (Dovecot, Cyrus, Courier): start a server's
 * master in its own process group on a free loopback port, wait for the IMAP greeting,
 * retry on another port when the chosen one was taken in between, and stop, restart or
 * kill the whole group (the master and the per-connection processes it forked). Groups
 * still running when the test process exits are killed, so a crashed test file leaves no
 * server behind. Each server's harness writes its configuration and says how to run it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

/** Process groups of the servers still running, killed when this process exits. */
const live = new Set<number>();
process.once('exit', () => {
  for (const pid of live) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

/** A free loopback port (the kernel picks it; a retry covers the short race until the server binds it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once a connection to the port gets an IMAP greeting (`* OK`). */
export async function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (v: boolean) => {
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(2000, () => done(false));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n')) done(buf.startsWith('* OK'));
    });
    sock.on('error', () => done(false));
    sock.on('close', () => done(false));
  });
}

/** The last lines of a log file ('' when it cannot be read), for error messages. */
export function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-8).join('\n');
  } catch {
    return '';
  }
}

/** How to run one kind of server. */
export interface ServerProcessOptions {
  /** Named in errors (`dovecot`, `cyrus master`, `couriertcpd`). */
  name: string;
  /** Writes what depends on the port (configuration files); called with a fresh port before each start attempt. */
  prepare?: (port: number) => void | Promise<void>;
  /** The command of the master process, started detached (its own process group). */
  command: (port: number) => { file: string; args: string[]; cwd?: string; env?: NodeJS.ProcessEnv };
  /** The server's log, quoted in errors; with `logOutput` the master's stdout and stderr are appended to it. */
  logFile: string;
  logOutput?: boolean;
  /** How long to wait for the greeting. Default 15 s. */
  greetTimeoutMs?: number;
  /**
   * How a graceful stop ends the server: `master` sends SIGTERM to the master, which ends
   * its children itself (SIGKILL to the group after 5 s, and to any survivor after); `group`
   * sends SIGTERM to the whole group at once.
   */
  stopBy?: 'master' | 'group';
}

/** A running server process group. */
export interface ServerProcess {
  /** The port it listens on (the same across restarts). */
  readonly port: number;
  /** Graceful stop. */
  stop(): Promise<void>;
  /**
   * Stop then start again on the same port (connections drop, state stays). `hard`: SIGKILL instead of a clean
   * shutdown.
   */
  restart(hard?: boolean): Promise<void>;
  /** SIGKILL to the whole process group. */
  kill(): Promise<void>;
}

/** Starts a server (up to 5 ports tried) and resolves once it greets. */
export async function startServerProcess(o: ServerProcessOptions): Promise<ServerProcess> {
  let port = 0;
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  const greetMs = o.greetTimeoutMs ?? 15_000;

  const running = (): ChildProcess | null => {
    const c = child as ChildProcess | null;
    return c && c.exitCode === null && c.signalCode === null ? c : null;
  };
  const killGroup = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const c = running();
    if (!c) return;
    try {
      process.kill(-c.pid!, signal);
    } catch {
      /* gone */
    }
    await exited;
  };
  const launch = async () => {
    const cmd = o.command(port);
    const proc = spawn(cmd.file, cmd.args, {
      detached: true,
      cwd: cmd.cwd,
      env: cmd.env,
      stdio: ['ignore', o.logOutput ? 'pipe' : 'ignore', 'pipe'],
    });
    let stderr = '';
    const log = (d: Buffer) => writeFileSync(o.logFile, d, { flag: 'a' });
    proc.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (o.logOutput) log(d);
    });
    if (o.logOutput) proc.stdout?.on('data', log);
    let isExited = false;
    exited = new Promise((resolve) => proc.once('exit', () => ((isExited = true), live.delete(proc.pid!), resolve())));
    child = proc;
    if (proc.pid) live.add(proc.pid);
    const deadline = Date.now() + greetMs;
    while (Date.now() < deadline) {
      if (isExited) throw new Error(`${o.name} exited at start: ${stderr.trim()} ${tail(o.logFile)}`);
      if (await greets(port)) return;
      await new Promise((r) => setTimeout(r, 30));
    }
    throw new Error(`${o.name} did not greet on port ${port} within ${greetMs / 1000} s: ${tail(o.logFile)}`);
  };
  const stop = async () => {
    if (o.stopBy === 'group') return killGroup('SIGTERM');
    const c = running();
    if (!c) return;
    c.kill('SIGTERM');
    const t = setTimeout(() => void killGroup('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
    // The children notice the master is gone; make sure none outlives it.
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* none left */
    }
  };

  let lastErr: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    port = await freePort();
    try {
      await o.prepare?.(port);
      await launch();
      lastErr = undefined;
      break;
    } catch (err) {
      lastErr = err;
      await killGroup();
    }
  }
  if (lastErr) throw lastErr;
  return {
    get port() {
      return port;
    },
    stop,
    restart: async (hard = false) => {
      if (hard) await killGroup('SIGKILL');
      else await stop();
      // Same port: the servers' listeners use SO_REUSEADDR, so a fresh master binds at once.
      await launch();
    },
    kill: () => killGroup('SIGKILL'),
  };
}

/** What every private server instance has: its address, its files, and control of its process group. */
export interface ServerInstanceBase {
  host: string;
  port: number;
  /** `imap://127.0.0.1:PORT` */
  url: string;
  dir: string;
  /** Graceful stop. */
  stop(): Promise<void>;
  /**
   * Stop then start again on the same port (connections drop, state stays). `hard`: SIGKILL instead of a clean
   * shutdown.
   */
  restart(hard?: boolean): Promise<void>;
  /** SIGKILL to the whole process group. */
  kill(): Promise<void>;
  /** Kills the server and removes its files. */
  dispose(): Promise<void>;
}

/**
 * What every private server instance shares: its loopback address, and stop, restart,
 * kill and dispose of its process group; dispose also runs `cleanup` and removes `dir`.
 */
export function serverInstance(server: ServerProcess, dir: string, cleanup?: () => void): ServerInstanceBase {
  return {
    host: '127.0.0.1',
    port: server.port,
    url: `imap://127.0.0.1:${server.port}`,
    dir,
    stop: () => server.stop(),
    restart: (hard = false) => server.restart(hard),
    kill: () => server.kill(),
    dispose: async () => {
      // No graceful shutdown needed for a throw-away instance.
      await server.kill();
      cleanup?.();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
