/**
 * Where scripts/install-test-deps.sh unpacks Cyrus IMAP and Courier IMAP (they conflict
 * with dovecot-imapd as Debian packages, so they are never installed): a private root with
 * the packages' files (`usr/lib/cyrus/bin/master`, `usr/sbin/couriertcpd`, …) and the
 * libraries they need that a Dovecot machine lacks.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * `$MAILFERRY_TEST_SERVERS/root`, else `${XDG_CACHE_HOME:-~/.cache}/mailferry/test-servers/root`;
 * as root `/var/cache/mailferry/test-servers/root` (the servers' mail processes then run as
 * another user, who cannot enter /root). The same rule as scripts/install-test-deps.sh.
 */
export function privateRoot(): string {
  const fallback =
    process.getuid?.() === 0
      ? '/var/cache/mailferry/test-servers'
      : join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'mailferry', 'test-servers');
  const cache = process.env.MAILFERRY_TEST_SERVERS ?? fallback;
  return join(cache, 'root');
}

/** Library directories of the private root, for LD_LIBRARY_PATH. */
export function privateLibPath(root = privateRoot()): string {
  return [
    'usr/lib',
    'usr/lib/x86_64-linux-gnu',
    'lib/x86_64-linux-gnu',
    'usr/lib/aarch64-linux-gnu',
    'lib/aarch64-linux-gnu',
    'usr/lib/courier-authlib',
  ]
    .map((d) => join(root, d))
    .filter((d) => existsSync(d))
    .join(':');
}

/**
 * Why the binaries cannot run here, or null when they can: missing from the private root
 * (install-test-deps.sh not run) or a shared library not found (ldd).
 */
export function privateBinariesProblem(binaries: string[]): string | null {
  const root = privateRoot();
  if (!existsSync(join(root, '.mailferry-stamp')))
    return `no private root at ${root} (run scripts/install-test-deps.sh)`;
  for (const rel of binaries) {
    const bin = join(root, rel);
    if (!existsSync(bin)) return `${bin} missing (run scripts/install-test-deps.sh)`;
    let out = '';
    try {
      out = execFileSync('ldd', [bin], {
        encoding: 'utf8',
        env: { ...process.env, LD_LIBRARY_PATH: privateLibPath(root) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (err) {
      return `ldd ${rel} failed: ${(err as Error).message.split('\n')[0]}`;
    }
    const missing = out
      .split('\n')
      .filter((l) => l.includes('not found'))
      .map((l) => l.trim().split(' ')[0]);
    if (missing.length) return `${rel} needs libraries not found: ${missing.join(', ')}`;
  }
  return null;
}

/** True when the file in the private root contains the bytes. */
export function privateFileContains(rel: string, text: string): boolean {
  try {
    return readFileSync(join(privateRoot(), rel)).includes(Buffer.from(text));
  } catch {
    return false;
  }
}
