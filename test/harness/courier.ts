/**
 * A private Courier IMAP (5.0 from Debian, unpacked by scripts/install-test-deps.sh into
 * the private root) on a free loopback port, with its users' Maildirs under a temp dir.
 * How it is started:
 *
 * - `couriertcpd -address=127.0.0.1 PORT imaplogin imapd Maildir`, as Debian's init script
 *   does, with the settings of Debian's /etc/courier/imapd passed as environment variables
 *   (`IMAP_CAPABILITY` as shipped, keywords and ACLs on). Its cwd is the temp dir.
 * - Passwords: imaplogin asks courier-authlib, which asks `authdaemond` over a Unix socket.
 *   The install script rewrote that socket's compiled-in path to the relative
 *   `authdaemon.sock`, and this harness answers the authdaemon protocol on
 *   `DIR/authdaemon.sock` itself (`AUTH` with service/`login`/user/password, `PRE` look-ups):
 *   a user is a name, a password and a Maildir, owned by the harness' mail owner. A wrong
 *   password answers `FAIL`, as authdaemond does.
 * - gamin's `gam_server` (file-change notices for IDLE) is unpacked too and named in
 *   `GAMIN_DEBUG_SERVER`: without it every login and STATUS waits 1.25 s for one to start.
 * - Debian's Courier writes its log to syslog; here couriertcpd's stderr goes to `imapd.log`.
 *
 * What Courier 5.0 offers a client: UIDPLUS, NAMESPACE (`INBOX.` prefix, separator `.`),
 * UTF8=ACCEPT, IDLE, ACL; no LITERAL+, no MULTIAPPEND, no CONDSTORE, no SPECIAL-USE, no
 * LIST-STATUS, and no `[UIDNEXT]` on SELECT (STATUS has it).
 */
import { chownSync, chmodSync, mkdirSync, mkdtempSync, unlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mailOwner } from './dovecot.ts';
import { serverInstance, startServerProcess, type ServerInstanceBase, type ServerProcess } from './server-process.ts';
import { privateBinariesProblem, privateFileContains, privateLibPath, privateRoot } from './private-root.ts';
import { defined } from './defined.ts';

const BINARIES = [
  'usr/sbin/couriertcpd',
  'usr/lib/courier/courier/imaplogin',
  'usr/bin/imapd',
  'usr/libexec/gam_server',
];

/** Why Courier cannot run here, or null. */
export function courierProblem(): string | null {
  const p = privateBinariesProblem(BINARIES);
  if (p) return p;
  if (!privateFileContains('usr/lib/libcourierauth.so.0', 'authdaemon.sock'))
    return (
      'libcourierauth in the private root is not patched for a ' +
      'private authdaemon socket (re-run scripts/install-test-deps.sh)'
    );
  return null;
}

/** A running private Courier. */
export interface CourierInstance extends ServerInstanceBase {
  logFile: string;
  separator: '.';
  namespacePrefix: 'INBOX.';
  addUser(name: string, password: string): Promise<void>;
  /** Maildir of a user. */
  userDir(name: string): string;
}

/** Debian's /etc/courier/imapd settings that matter to a client. */
const IMAPD_ENV = {
  IMAP_CAPABILITY: 'IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE',
  IMAP_KEYWORDS: '1',
  IMAP_ACL: '1',
  IMAP_PROXY: '0',
  IMAP_IDLE_TIMEOUT: '60',
  IMAP_MAILBOX_SANITY_CHECK: '1',
  IMAP_DISABLETHREADSORT: '0',
  IMAP_CHECK_ALL_FOLDERS: '0',
  IMAP_OBSOLETE_CLIENT: '0',
  IMAP_UMASK: '022',
  IMAP_ULIMITD: '131072',
  IMAP_USELOCKS: '1',
  IMAP_ENHANCEDIDLE: '0',
  IMAP_TRASHFOLDERNAME: 'Trash',
  IMAP_EMPTYTRASH: '',
  IMAP_MOVE_EXPUNGE_TO_TRASH: '0',
  MAILDIRPATH: 'Maildir',
};

/**
 * The authdaemon protocol (courier-authlib's authdaemond), as far as imaplogin and imapd
 * use it: a request of optional `NAME=value` lines then `AUTH <n>\n` and n bytes of
 * `service\nlogin\nuser\npassword\n`, or `PRE . service user\n`; the answer is
 * `UID=…\nGID=…\nHOME=…\nADDRESS=…\nMAILDIR=…\n.\n`, or `FAIL\n`.
 */
function authDaemon(socketPath: string, lookup: (user: string, password: string | null) => string | null): Server {
  const srv = createServer((c) => {
    let buf = '';
    c.on('error', () => undefined);
    c.on('data', (d) => {
      buf += d.toString('utf8');
      const auth = /(?:^|\n)AUTH (\d+)\n/.exec(buf);
      if (auth) {
        const start = auth.index + auth[0].length;
        if (Buffer.byteLength(buf.slice(start)) < Number(auth[1])) return;
        const [, type, user, password] = buf.slice(start).split('\n');
        c.end((type === 'login' ? lookup(defined(user), defined(password)) : null) ?? 'FAIL\n');
        return;
      }
      const pre = /(?:^|\n)PRE \S+ \S+ (\S+)\n/.exec(buf);
      if (pre) c.end(lookup(defined(pre[1]), null) ?? 'FAIL\n');
      else if (/(?:^|\n)ENUMERATE\n/.test(buf)) c.end('.\n');
      else if (/(?:^|\n)PASSWD /.test(buf) && buf.endsWith('\n')) c.end('FAIL\n');
    });
  });
  srv.listen(socketPath);
  return srv;
}

/** Starts a private Courier and waits until it greets. */
export async function startCourier(
  options: { users?: { name: string; password: string }[] } = {},
): Promise<CourierInstance> {
  const problem = courierProblem();
  if (problem) throw new Error(`Courier cannot run here: ${problem}`);
  const root = privateRoot();
  const dir = mkdtempSync(join(tmpdir(), 'mf-courier-'));
  chmodSync(dir, 0o755);
  const owner = mailOwner();
  mkdirSync(join(dir, 'home'));
  chownSync(join(dir, 'home'), owner.uid, owner.gid);
  const logFile = join(dir, 'imapd.log');
  const users = new Map<string, string>();
  const userDir = (name: string) => join(dir, 'home', name, 'Maildir');

  const addUser = async (name: string, password: string) => {
    if (!/^[A-Za-z0-9._@-]+$/.test(name) || name.startsWith('.'))
      throw new Error('user names here are [A-Za-z0-9._@-]');
    const md = userDir(name);
    for (const d of ['', 'cur', 'new', 'tmp']) mkdirSync(join(md, d), { recursive: true });
    for (const d of [join(dir, 'home', name), md, join(md, 'cur'), join(md, 'new'), join(md, 'tmp')])
      chownSync(d, owner.uid, owner.gid);
    users.set(name, password);
  };
  for (const u of options.users ?? []) await addUser(u.name, u.password);

  const socketPath = join(dir, 'authdaemon.sock');
  const auth = authDaemon(socketPath, (user, password) => {
    const known = users.get(user);
    if (known === undefined || (password !== null && password !== known)) return null;
    return (
      `UID=${owner.uid}\nGID=${owner.gid}\nHOME=${join(dir, 'home', user)}` +
      `\nADDRESS=${user}\nMAILDIR=${userDir(user)}\n.\n`
    );
  });
  await new Promise<void>((resolve, reject) =>
    auth.listening ? resolve() : auth.once('listening', () => resolve()).once('error', reject),
  );
  // imaplogin runs as root or as the harness user; under root the socket must be reachable by it.
  chmodSync(socketPath, 0o777);

  // Courier's imapd asks gamin (FAM) about its Maildirs at login and on STATUS; without a
  // gam_server each such call waits 1.25 s for one to start. GAMIN_DEBUG_SERVER points
  // libgamin at the unpacked one (it runs as the mail owner and exits once idle).
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LD_LIBRARY_PATH: privateLibPath(root),
    GAMIN_DEBUG_SERVER: join(root, 'usr/libexec/gam_server'),
    ...IMAPD_ENV,
  };
  let server: ServerProcess;
  try {
    server = await startServerProcess({
      name: 'couriertcpd',
      logFile,
      logOutput: true,
      // couriertcpd and the imapd of each connection share the process group: a stop ends them all.
      stopBy: 'group',
      command: (port) => ({
        file: join(root, 'usr/sbin/couriertcpd'),
        args: [
          '-address=127.0.0.1',
          '-maxprocs=200',
          '-maxperip=200',
          '-nodnslookup',
          '-noidentlookup',
          String(port),
          join(root, 'usr/lib/courier/courier/imaplogin'),
          join(root, 'usr/bin/imapd'),
          'Maildir',
        ],
        cwd: dir,
        env,
      }),
    });
  } catch (err) {
    auth.close();
    throw err;
  }
  return {
    ...serverInstance(server, dir, () => {
      auth.close();
      try {
        unlinkSync(socketPath);
      } catch {
        /* gone */
      }
    }),
    logFile,
    separator: '.',
    namespacePrefix: 'INBOX.',
    addUser,
    userDir,
  };
}
