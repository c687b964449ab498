/**
 * The IMAP servers the engine is tested against, behind one shape: the private Dovecot
 * (dovecot.ts: no namespace prefix, separator `/`), Cyrus (cyrus.ts: `INBOX.` prefix,
 * separator `.`, MULTIAPPEND/LITERAL+/CONDSTORE, no UTF8=ACCEPT) and Courier (courier.ts:
 * `INBOX.` prefix, separator `.`, UTF8=ACCEPT, no LITERAL+/MULTIAPPEND/CONDSTORE, no
 * UIDNEXT on SELECT). Tests name folders logically (`Projekte/Übersicht`) and ask the
 * server for its own name of them ({@link TestServer.path}).
 *
 * A server that cannot run on this machine (the private root of
 * scripts/install-test-deps.sh missing, a library not found) makes its tests skip with
 * the reason in the test's name and a warning on stderr: never silently.
 */
import { readFileSync } from 'node:fs';
import { describe, it } from 'vitest';
import { courierProblem, startCourier } from './courier.ts';
import { cyrusProblem, startCyrus } from './cyrus.ts';
import { dovecotAvailable, startDovecot, DOVECOT_BIN } from './dovecot.ts';
import { defined } from './defined.ts';

export type ServerKind = 'dovecot' | 'cyrus' | 'courier';
export const SERVER_KINDS: ServerKind[] = ['dovecot', 'cyrus', 'courier'];

/** A running private IMAP server of any kind. */
export interface TestServer {
  kind: ServerKind;
  host: string;
  port: number;
  url: string;
  separator: string;
  /** Personal namespace prefix ('' or 'INBOX.'). */
  namespacePrefix: string;
  addUser(name: string, password: string): Promise<void>;
  /** This server's mailbox name of a logical folder (`/`-separated, without prefix; INBOX stays INBOX). */
  path(logical: string): string;
  stop(): Promise<void>;
  restart(hard?: boolean): Promise<void>;
  kill(): Promise<void>;
  dispose(): Promise<void>;
}

/** Why a kind of server cannot run here, or null. */
export function serverProblem(kind: ServerKind): string | null {
  if (kind === 'dovecot')
    return dovecotAvailable() ? null : `${DOVECOT_BIN} missing (run scripts/install-test-deps.sh)`;
  if (kind === 'cyrus') return cyrusProblem();
  return courierProblem();
}

/** A server's mailbox name of a logical folder name. */
export function serverPath(s: { separator: string; namespacePrefix: string }, logical: string): string {
  if (logical.toUpperCase() === 'INBOX') return 'INBOX';
  return s.namespacePrefix + logical.split('/').join(s.separator);
}

/** Starts a private server of that kind with the users. */
export async function startServer(
  kind: ServerKind,
  users: { name: string; password: string }[] = [],
): Promise<TestServer> {
  const wrap = <T extends { separator: string; namespacePrefix: string }>(
    inst: T,
    addUser: (n: string, p: string) => Promise<void>,
  ) =>
    Object.assign(inst, {
      kind,
      addUser,
      path: (logical: string) => serverPath(inst, logical),
    }) as unknown as TestServer;
  if (kind === 'dovecot') {
    const dv = await startDovecot({ users });
    // Taken before the wrapper replaces it (the wrapper's addUser must not call itself).
    const add = dv.addUser;
    return wrap(dv, async (n, p) => add(n, p));
  }
  if (kind === 'cyrus') {
    const cy = await startCyrus({ users });
    return wrap(cy, cy.addUser);
  }
  const co = await startCourier({ users });
  return wrap(co, co.addUser);
}

/**
 * TCP connections established to a local port, counted from the kernel's tables
 * (/proc/net/tcp and tcp6): what a server holds open, whoever opened them.
 */
export function establishedConnections(port: number): number {
  let n = 0;
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4) continue;
      const local = cols[1];
      const state = cols[3];
      // State 01 is ESTABLISHED; the local address is the server's side of the connection.
      if (state === '01' && parseInt(defined(defined(local).split(':')[1]), 16) === port) n++;
    }
  }
  return n;
}

/**
 * `describe` for a set of servers: when one of them cannot run here, the suite holds a
 * single skipped test whose name says why, and the reason goes to stderr.
 */
export function describeWithServers(name: string, kinds: ServerKind[], fn: () => void): void {
  const problems = [...new Set(kinds)].map((k) => [k, serverProblem(k)] as const).filter(([, p]) => p);
  if (problems.length) {
    const why = problems.map(([k, p]) => `${k}: ${p}`).join('; ');
    console.warn(`[imap-servers] SKIPPING "${name}": ${why}`);
    describe(name, () => {
      it.skip(`SKIPPED, server cannot run here: ${why}`, () => undefined);
    });
    return;
  }
  describe(name, fn);
}
