/**
 * A private Cyrus IMAP (3.6 from Debian, unpacked by scripts/install-test-deps.sh into the
 * private root) on a free loopback port, with its own config, spool and state under a temp
 * dir. How it is started:
 *
 * - `imapd.conf` as Debian ships it where it matters to a client (`altnamespace: no`,
 *   `unixhierarchysep: no`: every folder is `INBOX.Name`, separator `.`; Cyrus' defaults
 *   otherwise, `munge8bit` included: raw 8-bit bytes in headers are rewritten to `X` on
 *   APPEND), every path under the temp dir, `cyrus_user` the mail owner of the harness.
 * - Passwords: SASL's sasldb (`sasl_pwcheck_method: auxprop`, `sasl_auxprop_plugin:
 *   sasldb`), a private `sasldb2` written with the unpacked `saslpasswd2`; the SASL
 *   plugins are the system's (libsasl2-modules, installed by the script).
 * - `cyrus.conf` runs only `ctl_cyrusdb -r` at start and `imapd` on 127.0.0.1:PORT,
 *   every command with `-C imapd.conf`; `master -D` in the foreground, stderr to
 *   `master.log` (Cyrus logs to syslog otherwise).
 * - A user is a sasldb entry plus its mailbox `user.NAME`, created by an admin login
 *   (`admins: mfadmin`, a random password).
 *
 * What Cyrus 3.6 offers a client: LITERAL+, MULTIAPPEND, UIDPLUS, CONDSTORE/QRESYNC,
 * SPECIAL-USE, LIST-STATUS, NAMESPACE; no UTF8=ACCEPT (names in modified UTF-7).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mailOwner, rawImap } from './dovecot.ts';
import { serverInstance, startServerProcess, type ServerInstanceBase } from './server-process.ts';
import { privateBinariesProblem, privateLibPath, privateRoot } from './private-root.ts';
import { defined } from './defined.ts';

const BINARIES = [
  'usr/lib/cyrus/bin/master',
  'usr/lib/cyrus/bin/imapd',
  'usr/lib/cyrus/bin/ctl_cyrusdb',
  'usr/sbin/saslpasswd2',
];

/** Why Cyrus cannot run here, or null. */
export function cyrusProblem(): string | null {
  return privateBinariesProblem(BINARIES);
}

/** A running private Cyrus. */
export interface CyrusInstance extends ServerInstanceBase {
  logFile: string;
  separator: '.';
  namespacePrefix: 'INBOX.';
  addUser(name: string, password: string): Promise<void>;
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (statSync(path).isDirectory()) for (const e of readdirSync(path)) chownTree(join(path, e), uid, gid);
}

/** Starts a private Cyrus and waits until it greets; `users` are created (mailbox included). */
export async function startCyrus(
  options: { users?: { name: string; password: string }[] } = {},
): Promise<CyrusInstance> {
  const problem = cyrusProblem();
  if (problem) throw new Error(`Cyrus cannot run here: ${problem}`);
  const root = privateRoot();
  const bin = (n: string) => join(root, 'usr/lib/cyrus/bin', n);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LD_LIBRARY_PATH: privateLibPath(root) };
  const dir = mkdtempSync(join(tmpdir(), 'mf-cyrus-'));
  const owner = mailOwner();
  for (const d of ['config', 'spool', 'proc', 'lock', 'socket']) mkdirSync(join(dir, d));
  const conf = join(dir, 'imapd.conf');
  const sasldb = join(dir, 'sasldb2');
  const logFile = join(dir, 'master.log');
  const admin = { name: 'mfadmin', password: randomBytes(12).toString('hex') };
  writeFileSync(
    conf,
    [
      `configdirectory: ${dir}/config`,
      `partition-default: ${dir}/spool`,
      `defaultpartition: default`,
      `altnamespace: no`,
      `unixhierarchysep: no`,
      `admins: ${admin.name}`,
      `allowplaintext: yes`,
      `sasl_pwcheck_method: auxprop`,
      `sasl_auxprop_plugin: sasldb`,
      `sasl_sasldb_path: ${sasldb}`,
      `sasl_mech_list: PLAIN LOGIN`,
      `cyrus_user: ${owner.name}`,
      `proc_path: ${dir}/proc`,
      `mboxname_lockpath: ${dir}/lock`,
      `lmtpsocket: ${dir}/socket/lmtp`,
      `idlesocket: ${dir}/socket/idle`,
      `notifysocket: ${dir}/socket/notify`,
      `syslog_prefix: mf-cyrus`,
      '',
    ].join('\n'),
  );
  const setPassword = (name: string, password: string) => {
    if (!/^[A-Za-z0-9_-]+$/.test(name))
      throw new Error('Cyrus user names here are [A-Za-z0-9_-] (a dot is the hierarchy separator)');
    execFileSync(join(root, 'usr/sbin/saslpasswd2'), ['-p', '-c', '-f', sasldb, name], {
      input: password,
      env,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
  };
  setPassword(admin.name, admin.password);
  chownTree(dir, owner.uid, owner.gid);

  const writeServices = (port: number) =>
    writeFileSync(
      join(dir, 'cyrus.conf'),
      [
        `START {`,
        `  recover cmd="${bin('ctl_cyrusdb')} -C ${conf} -r"`,
        `}`,
        `SERVICES {`,
        `  imap cmd="${bin('imapd')} -C ${conf}" listen="127.0.0.1:${port}" prefork=0 maxchild=200`,
        `}`,
        `EVENTS {`,
        `}`,
        '',
      ].join('\n'),
    );
  const server = await startServerProcess({
    name: 'cyrus master',
    logFile,
    logOutput: true,
    greetTimeoutMs: 20_000,
    prepare: writeServices,
    command: () => ({
      file: bin('master'),
      args: ['-C', conf, '-M', join(dir, 'cyrus.conf'), '-p', join(dir, 'master.pid'), '-D'],
      cwd: dir,
      env,
    }),
  });
  const port = server.port;

  const addUser = async (name: string, password: string) => {
    setPassword(name, password);
    chownSync(sasldb, owner.uid, owner.gid);
    // Raw commands: the admin has no INBOX, and imapflow 2.1.2 fails on its NAMESPACE answer (personal NIL).
    const replies = await rawImap(port, [`LOGIN ${admin.name} ${admin.password}`, `CREATE user.${name}`, 'LOGOUT']);
    if (!/^OK/.test(defined(replies[0])) || !/^OK|exists/i.test(defined(replies[1])))
      throw new Error(`cyrus: creating user.${name} failed: ${replies.join(' | ')}`);
  };
  for (const u of options.users ?? []) await addUser(u.name, u.password);

  return { ...serverInstance(server, dir), logFile, separator: '.', namespacePrefix: 'INBOX.', addUser };
}
