/**
 * A private Dovecot for tests and the benchmark: its own config, users, Maildir, run and
 * state directories under a temp dir, on a free loopback port. Never touches a system
 * Dovecot; every test file gets its own instance, so vitest's parallel files do not clash.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { freePort, serverInstance, startServerProcess } from './server-process.ts';
import { defined } from './defined.ts';
import { writeSelfSignedCert } from './tls-cert.ts';

// The launch helpers, importable from here too (several tests take freePort from this module).
export { freePort, greets, tail } from './server-process.ts';

/** Where the Debian package puts the binaries (CI installs the same package). */
export const DOVECOT_BIN = process.env.DOVECOT_BIN ?? '/usr/sbin/dovecot';
/** doveadm, used for fast server-side seeding and for `doveadm backup` in the benchmark. */
export const DOVEADM_BIN = process.env.DOVEADM_BIN ?? '/usr/bin/doveadm';

/** A mail user of the private instance. */
export interface DovecotUser {
  name: string;
  password: string;
  /** Per-user quota rule value, e.g. `1M` (needs `quota: true` on the instance). */
  quotaStorage?: string;
  /** Per-user largest single message, e.g. `200k` (needs `quota: true`). */
  maxMailSize?: string;
}

/** Options of {@link startDovecot}. */
export interface DovecotOptions {
  users?: DovecotUser[];
  /** Hierarchy separator of the (single) personal namespace: '/' (LAYOUT=fs) or '.' (Maildir++). */
  separator?: '/' | '.';
  /**
   * Prefix of the personal namespace (RFC 2342), e.g. `INBOX.` as Courier, Cyrus and older
   * Maildir++ set-ups have it: every folder but INBOX is then listed as `INBOX.Name`. Must
   * end with the separator. Default: empty. Folder names in `specialUse` are given without it.
   */
  namespacePrefix?: string;
  /** Folders to announce with SPECIAL-USE (RFC 6154), e.g. `{ 'Sent Items': '\\Sent' }`. Auto-created. */
  specialUse?: Record<string, string>;
  /** Load the quota plugin (per-user rules from {@link DovecotUser}). */
  quota?: boolean;
  /** Master users (RFC 4616 authzid / `user*master` logins). */
  masterUsers?: { name: string; password: string }[];
  /** Extra raw config lines appended to the generated file. */
  extraConfig?: string;
  /**
   * TLS with a fresh self-signed certificate (needs the `openssl` binary): STARTTLS offered
   * on the imap port, and a second listener for implicit TLS (`imapsUrl`).
   */
  tls?: boolean;
  /**
   * OAuth 2.0 logins (SASL OAUTHBEARER, RFC 7628, and XOAUTH2) checked by Dovecot's oauth2
   * passdb against an introspection endpoint (RFC 7662 style): Dovecot POSTs `token=…` and
   * expects JSON `{ "active": true, "username": "<login>" }`. Password logins keep working.
   * `mechanisms` limits what the server offers (default both). `caFile`: a CA (PEM file)
   * trusted for an https introspection URL. `usernameFormat`: what of the login name and of
   * the introspected `username` must match (Dovecot's `username_format`, default `%Lu`;
   * `%d` compares domains only, for app-only tokens that carry no user).
   */
  oauth2?: {
    introspectionUrl: string;
    mechanisms?: ('oauthbearer' | 'xoauth2')[];
    caFile?: string;
    usernameFormat?: string;
  };
}

/** A running private Dovecot. */
export interface DovecotInstance {
  host: string;
  port: number;
  /** `imap://127.0.0.1:PORT` */
  url: string;
  /** `imaps://127.0.0.1:PORT` when started with `tls: true`. */
  imapsUrl?: string;
  /** PEM of the self-signed certificate when started with `tls: true`. */
  certPem?: string;
  dir: string;
  confFile: string;
  logFile: string;
  separator: '/' | '.';
  /** Prefix of the personal namespace ('' unless started with `namespacePrefix`). */
  namespacePrefix: string;
  addUser(name: string, password: string, extra?: Omit<DovecotUser, 'name' | 'password'>): void;
  /** Maildir root of a user. */
  userDir(name: string): string;
  /** Graceful stop (SIGTERM to the master, waits for exit). */
  stop(): Promise<void>;
  /**
   * Stop then start again on the same port (connections drop, state stays). `hard`: SIGKILL instead of a clean
   * shutdown.
   */
  restart(hard?: boolean): Promise<void>;
  /** SIGKILL the whole process group (master and its imap children). */
  kill(): Promise<void>;
  /** Stops and removes the temp dir. */
  dispose(): Promise<void>;
}

/** The system user that owns test mail (and runs the private servers' mail processes). */
export function mailOwner(): { uid: number; gid: number; name: string } {
  // Dovecot refuses uid/gid 0 for mail access, so as root the mail belongs to the
  // `dovecot` system user the Debian package creates; otherwise to the current user.
  if (process.getuid?.() === 0) {
    for (const name of ['dovecot', 'nobody']) {
      try {
        const line = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim();
        const parts = line.split(':');
        return { name, uid: Number(parts[2]), gid: Number(parts[3]) };
      } catch {
        /* try next */
      }
    }
    throw new Error('no dovecot or nobody user to own test mail');
  }
  const u = userInfo();
  return { name: u.username, uid: u.uid, gid: u.gid };
}

function writeConfig(o: {
  dir: string;
  port: number;
  separator: '/' | '.';
  prefix: string;
  owner: { uid: number; gid: number; name: string };
  specialUse: Record<string, string>;
  quota: boolean;
  master: boolean;
  extra: string;
  tlsPort?: number;
  oauth2?: DovecotOptions['oauth2'];
}): string {
  const { dir } = o;
  const asRoot = process.getuid?.() === 0;
  const layout = o.separator === '/' ? ':LAYOUT=fs' : '';
  const mailboxes = Object.entries(o.specialUse)
    .map(([name, use]) => `  mailbox "${name}" {\n    auto = create\n    special_use = ${use}\n  }`)
    .join('\n');
  const lines = [
    `# generated by test/harness/dovecot.ts`,
    `protocols = imap`,
    `listen = 127.0.0.1`,
    `base_dir = ${dir}/run`,
    `state_dir = ${dir}/state`,
    `instance_name = mailferry-${o.port}`,
    `log_path = ${dir}/dovecot.log`,
    `info_log_path = ${dir}/dovecot.log`,
    o.tlsPort ? `ssl = yes\nssl_cert = <${dir}/cert.pem\nssl_key = <${dir}/key.pem` : `ssl = no`,
    `disable_plaintext_auth = no`,
    `auth_mechanisms = plain login${o.oauth2 ? ' ' + oauth2Mechs(o.oauth2).join(' ') : ''}`,
    `mail_uid = ${o.owner.uid}`,
    `mail_gid = ${o.owner.gid}`,
    `first_valid_uid = ${Math.min(o.owner.uid, 100)}`,
    `first_valid_gid = ${Math.min(o.owner.gid, 100)}`,
    ...(asRoot ? [] : [`default_login_user = ${o.owner.name}`, `default_internal_user = ${o.owner.name}`]),
    `mail_location = maildir:${dir}/mail/%u${layout}`,
    `mail_max_userip_connections = 200`,
    `auth_cache_size = 0`,
    // Refused logins answer at once. (Dovecot's per-IP auth penalty still doubles the
    // delay of each further failure from 127.0.0.1: give wrong-password tests their own instance.)
    `auth_failure_delay = 0`,
    o.master ? `auth_master_user_separator = *` : '',
    o.master
      ? `passdb {\n  driver = passwd-file\n  master = yes\n  pass = yes\n  ` +
        `args = scheme=PLAIN username_format=%u ${dir}/master-passwd\n}`
      : '',
    o.oauth2
      ? `passdb {\n  driver = oauth2\n  mechanisms = ${oauth2Mechs(o.oauth2).join(' ')}\n  ` +
        `args = ${writeOauth2Conf(dir, o.oauth2)}\n}`
      : '',
    // One passwd-file per user (%u in the path): a user added while running is seen at
    // once (a shared file is re-read at most once a second).
    `passdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u ${dir}/users/%u\n}`,
    `userdb {\n  driver = passwd-file\n  args = username_format=%u ${dir}/users/%u\n}`,
    `service imap-login {\n  inet_listener imap {\n    address = 127.0.0.1\n    port = ${o.port}\n  }\n  ` +
      `inet_listener imaps {\n    address = 127.0.0.1\n    port = ${o.tlsPort ?? 0}\n    ssl = yes\n  }\n}`,
    `service pop3-login {\n  inet_listener pop3 {\n    port = 0\n  }\n}`,
    `service imap {\n  process_limit = 256\n}`,
    `namespace inbox {\n  inbox = yes\n  prefix = ${o.prefix}\n  separator = ${o.separator}\n${mailboxes}\n}`,
    o.quota
      ? `mail_plugins = $mail_plugins quota\nprotocol imap {\n  mail_plugins = ` +
        `$mail_plugins imap_quota\n}\nplugin {\n  quota = maildir:User quota\n}`
      : '',
    o.extra,
  ];
  const file = join(dir, 'dovecot.conf');
  writeFileSync(file, lines.filter(Boolean).join('\n') + '\n');
  return file;
}

function oauth2Mechs(o: NonNullable<DovecotOptions['oauth2']>): string[] {
  return o.mechanisms?.length ? o.mechanisms : ['oauthbearer', 'xoauth2'];
}

/**
 * The oauth2 passdb settings (Dovecot 2.3 `args` file): token introspection by POST, the account active only when
 * `active` is true.
 */
function writeOauth2Conf(dir: string, o: NonNullable<DovecotOptions['oauth2']>): string {
  const file = join(dir, 'dovecot-oauth2.conf.ext');
  writeFileSync(
    file,
    [
      `introspection_mode = post`,
      `introspection_url = ${o.introspectionUrl}`,
      ...(o.caFile ? [`tls_ca_cert_file = ${o.caFile}`] : []),
      ...(o.usernameFormat ? [`username_format = ${o.usernameFormat}`] : []),
      `username_attribute = username`,
      `active_attribute = active`,
      `active_value = true`,
      `timeout_msecs = 5000`,
    ].join('\n') + '\n',
  );
  return file;
}

/**
 * Starts a private Dovecot on a free loopback port and waits until it greets. Retries
 * with another port when the chosen one was taken in between.
 */
export async function startDovecot(options: DovecotOptions = {}): Promise<DovecotInstance> {
  const dir = mkdtempSync(join(tmpdir(), 'mf-dovecot-'));
  // Dovecot's auth process runs as the `dovecot` user and must read the passwd file.
  chmodSync(dir, 0o755);
  const owner = mailOwner();
  const separator = options.separator ?? '/';
  const namespacePrefix = options.namespacePrefix ?? '';
  if (namespacePrefix && !namespacePrefix.endsWith(separator))
    throw new Error(`namespacePrefix must end with the separator ${separator}`);
  for (const d of ['run', 'state', 'mail']) mkdirSync(join(dir, d), { recursive: true });
  chownSync(join(dir, 'mail'), owner.uid, owner.gid);
  mkdirSync(join(dir, 'users'));
  const masterFile = join(dir, 'master-passwd');
  writeFileSync(masterFile, (options.masterUsers ?? []).map((m) => `${m.name}:{PLAIN}${m.password}\n`).join(''));
  const logFile = join(dir, 'dovecot.log');
  const userDir = (name: string) => join(dir, 'mail', name);

  const addUser = (name: string, password: string, extra: Omit<DovecotUser, 'name' | 'password'> = {}) => {
    if (/[:\n]/.test(name + password)) throw new Error('user name/password must not contain : or newline');
    if (!/^[A-Za-z0-9._@-]+$/.test(name) || name.startsWith('.'))
      throw new Error('user names here are [A-Za-z0-9._@-]');
    const fields: string[] = [];
    if (extra.quotaStorage) fields.push(`userdb_quota_rule=*:storage=${extra.quotaStorage}`);
    if (extra.maxMailSize) fields.push(`userdb_quota_max_mail_size=${extra.maxMailSize}`);
    // passwd-file: user:password:uid:gid:gecos:home:shell:extra_fields (re-read on change)
    writeFileSync(
      join(dir, 'users', name),
      `${name}:{PLAIN}${password}:::::${fields.length ? ':' + fields.join(' ') : ''}\n`,
    );
  };
  for (const u of options.users ?? []) addUser(u.name, u.password, u);

  let tlsPort = 0;
  let confFile = '';
  if (options.tls) {
    writeSelfSignedCert(dir, 'localhost', 'IP:127.0.0.1,DNS:localhost');
  }
  const server = await startServerProcess({
    name: 'dovecot',
    logFile,
    prepare: async (port) => {
      tlsPort = options.tls ? await freePort() : 0;
      confFile = writeConfig({
        tlsPort: tlsPort || undefined,
        dir,
        port,
        separator,
        prefix: namespacePrefix,
        owner,
        specialUse: options.specialUse ?? {},
        quota: options.quota ?? false,
        master: (options.masterUsers ?? []).length > 0,
        extra: options.extraConfig ?? '',
        oauth2: options.oauth2,
      });
    },
    command: () => ({ file: DOVECOT_BIN, args: ['-F', '-c', confFile] }),
  });

  const instance: DovecotInstance = {
    ...serverInstance(server, dir),
    imapsUrl: tlsPort ? `imaps://127.0.0.1:${tlsPort}` : undefined,
    certPem: options.tls ? readFileSync(join(dir, 'cert.pem'), 'utf8') : undefined,
    confFile,
    logFile,
    separator,
    namespacePrefix,
    addUser,
    userDir,
  };
  return instance;
}

/** One message to seed. */
export interface SeedMessage {
  raw: Buffer | string;
  flags?: string[];
  internalDate?: Date;
}

/** Opens an imapflow client on the instance (no logging). */
export async function openClient(dv: { port: number }, user: string, password: string): Promise<ImapFlow> {
  // The harness trusts its own self-signed certificate (STARTTLS is offered with `tls: true`).
  const c = new ImapFlow({
    host: '127.0.0.1',
    port: dv.port,
    secure: false,
    auth: { user, pass: password },
    logger: false,
    disableAutoIdle: true,
    tls: { rejectUnauthorized: false },
  });
  await c.connect();
  return c;
}

/**
 * Seeds mailboxes over IMAP (APPEND with flags, keywords and internal date). Selects each
 * folder first: imapflow drops any keyword not in PERMANENTFLAGS of the selected mailbox.
 * `folders` keys use the instance separator.
 */
export async function seedImap(
  dv: { port: number },
  user: string,
  password: string,
  folders: Record<string, SeedMessage[]>,
): Promise<void> {
  const c = await openClient(dv, user, password);
  try {
    for (const [folder, msgs] of Object.entries(folders)) {
      if (folder.toUpperCase() !== 'INBOX') {
        try {
          await c.mailboxCreate(folder);
        } catch {
          /* exists */
        }
      }
      await c.mailboxOpen(folder);
      for (const m of msgs) await c.append(folder, m.raw, m.flags ?? [], m.internalDate);
    }
  } finally {
    await c.logout().catch(() => undefined);
  }
}

let seedCounter = 0;
const MAILDIR_FLAG_LETTERS: Record<string, string> = {
  '\\Draft': 'D',
  '\\Flagged': 'F',
  '\\Answered': 'R',
  '\\Seen': 'S',
  '\\Deleted': 'T',
};

/**
 * Seeds a user's Maildir directly on disk (fast; for the benchmark). Dovecot assigns UIDs
 * on first access. Flags map to the info suffix (`:2,FS`), keywords to the letters of
 * `dovecot-keywords` (at most 26 per mailbox), the internal date to the file mtime.
 * Folder names are lists of path segments (ASCII only here).
 */
export function seedMaildir(
  dv: DovecotInstance,
  user: string,
  folders: { path: string[]; messages: SeedMessage[]; keywords?: string[] }[],
): void {
  const owner = mailOwner();
  const root = dv.userDir(user);
  const host = 'seed';
  const mk = (d: string) => {
    mkdirSync(d, { recursive: true });
  };
  for (const folder of folders) {
    const isInbox = folder.path.length === 1 && defined(folder.path[0]).toUpperCase() === 'INBOX';
    const dirName = isInbox
      ? root
      : dv.separator === '/'
        ? join(root, ...folder.path)
        : join(root, '.' + folder.path.join('.'));
    for (const sub of ['cur', 'new', 'tmp']) mk(join(dirName, sub));
    if (!isInbox) writeFileSync(join(dirName, 'maildirfolder'), '');
    // A fixed keyword table (`keywords`) keeps letters stable across several calls per folder.
    const keywords: string[] = [...(folder.keywords ?? [])];
    for (const m of folder.messages) {
      const raw = typeof m.raw === 'string' ? Buffer.from(m.raw) : m.raw;
      let letters = '';
      const kwLetters: string[] = [];
      for (const f of m.flags ?? []) {
        if (f.startsWith('\\')) {
          if (MAILDIR_FLAG_LETTERS[f]) letters += MAILDIR_FLAG_LETTERS[f];
        } else {
          let i = keywords.indexOf(f);
          if (i < 0) {
            if (keywords.length >= 26) throw new Error('at most 26 keywords per Maildir folder');
            keywords.push(f);
            i = keywords.length - 1;
          }
          kwLetters.push(String.fromCharCode(97 + i));
        }
      }
      const info = [...letters].sort().join('') + kwLetters.sort().join('');
      const t = m.internalDate ?? new Date();
      const secs = Math.floor(t.getTime() / 1000);
      // S= is the size on disk, W= the size with CRLF line ends (RFC822.SIZE): Dovecot writes
      // both into the names of the files it delivers, and without W= it would read the whole
      // message to answer RFC822.SIZE or a BODY[] literal's size.
      let bareLf = 0;
      for (let i = raw.indexOf(10); i >= 0; i = raw.indexOf(10, i + 1)) if (i === 0 || raw[i - 1] !== 13) bareLf++;
      const file = join(
        dirName,
        'cur',
        `${secs}.M${seedCounter++}P${process.pid}.${host},S=${raw.length},W=${raw.length + bareLf}:2,${info}`,
      );
      writeFileSync(file, raw);
      utimesSync(file, t, t);
      chownSync(file, owner.uid, owner.gid);
    }
    if (keywords.length)
      writeFileSync(join(dirName, 'dovecot-keywords'), keywords.map((k, i) => `${i} ${k}\n`).join(''));
    // Hand the new directories (root down to the folder) and metadata files to the mail user.
    let d = dirName;
    for (;;) {
      for (const e of ['', 'cur', 'new', 'tmp', 'maildirfolder', 'dovecot-keywords']) {
        if (existsSync(join(d, e))) chownSync(join(d, e), owner.uid, owner.gid);
      }
      if (d === root || !d.startsWith(root)) break;
      d = dirname(d);
    }
  }
}

/** One message as read back for assertions. */
export interface ReadMessage {
  uid: number;
  sha256: string;
  size: number;
  /** System flags (`\Seen` …), sorted, without `\Recent`. */
  flags: string[];
  /** Keywords, sorted. */
  keywords: string[];
  /** INTERNALDATE in ms since epoch. */
  internalDate: number;
}

/** A mailbox as read back for assertions. */
export interface ReadMailbox {
  folders: { path: string; delimiter: string; specialUse?: string; noselect: boolean }[];
  messages: Record<string, ReadMessage[]>;
}

/**
 * Reads a whole mailbox back independently of the engine: folder list and, per message,
 * the SHA-256 of the exact bytes, flags, keywords and internal date.
 */
export async function readMailbox(dv: { port: number }, user: string, password: string): Promise<ReadMailbox> {
  const c = await openClient(dv, user, password);
  try {
    const list = await c.list();
    const out: ReadMailbox = { folders: [], messages: {} };
    for (const f of list) {
      const noselect = f.flags.has('\\Noselect') || f.flags.has('\\NonExistent');
      out.folders.push({
        path: f.path,
        delimiter: f.delimiter,
        specialUse: f.specialUseSource === 'extension' ? f.specialUse : undefined,
        noselect,
      });
      if (noselect) continue;
      const box = await c.mailboxOpen(f.path, { readOnly: true });
      const msgs: ReadMessage[] = [];
      if (box.exists > 0) {
        for await (const m of c.fetch('1:*', { uid: true, source: true, flags: true, internalDate: true })) {
          const flags = [...(m.flags ?? [])].filter((x) => x !== '\\Recent');
          msgs.push({
            uid: m.uid,
            sha256: createHash('sha256').update(m.source!).digest('hex'),
            size: m.source!.length,
            flags: flags.filter((x) => x.startsWith('\\')).sort(),
            keywords: flags.filter((x) => !x.startsWith('\\')).sort(),
            internalDate: new Date(m.internalDate!).getTime(),
          });
        }
      }
      out.messages[f.path] = msgs;
    }
    return out;
  } finally {
    await c.logout().catch(() => undefined);
  }
}

/** A random RFC 5322 message of roughly `size` bytes (CRLF line ends). */
export function makeMessage(
  o: { size?: number; messageId?: string | null; subject?: string; from?: string; date?: Date; seed?: string } = {},
): Buffer {
  const id = o.messageId === undefined ? `<${randomBytes(8).toString('hex')}@mailferry.test>` : o.messageId;
  const head = [
    `From: ${o.from ?? 'Alice <alice@example.test>'}`,
    `To: Bob <bob@example.test>`,
    `Subject: ${o.subject ?? 'test ' + randomBytes(4).toString('hex')}`,
    `Date: ${(o.date ?? new Date('2024-03-01T10:00:00Z')).toUTCString().replace('GMT', '+0000')}`,
    ...(id ? [`Message-ID: ${id}`] : []),
    `MIME-Version: 1.0`,
    `Content-Type: text/plain; charset=utf-8`,
    '',
    '',
  ].join('\r\n');
  const target = Math.max(o.size ?? 2000, head.length + 10);
  const lines: string[] = [];
  let len = head.length;
  const seedBuf = randomBytes(Math.ceil((target - len) / 2) + 64).toString('base64');
  let pos = 0;
  while (len < target - 2) {
    const chunk = seedBuf.slice(pos, pos + 76) || 'x';
    pos = (pos + 76) % Math.max(1, seedBuf.length - 76);
    lines.push(chunk);
    len += chunk.length + 2;
  }
  return Buffer.from(head + lines.join('\r\n') + '\r\n');
}

/**
 * Sends plain IMAP commands one after the other on a fresh connection (no TLS) and returns
 * each tagged reply without its tag (`OK …`, `NO …`). For set-up steps imapflow cannot do.
 */
export async function rawImap(port: number, commands: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    const replies: string[] = [];
    let buf = '';
    let greeted = false;
    const next = () => {
      if (replies.length < commands.length) sock.write(`m${replies.length} ${commands[replies.length]}\r\n`);
      else sock.end();
    };
    sock.setTimeout(15_000, () => sock.destroy(new Error(`no answer to ${commands[replies.length]?.split(' ')[0]}`)));
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (!greeted) {
          greeted = true;
          next();
        } else if (line.startsWith(`m${replies.length} `)) {
          replies.push(line.slice(`m${replies.length} `.length));
          next();
        }
      }
    });
    sock.on('error', reject);
    sock.on('close', () => resolve(replies));
  });
}

/** True when the Dovecot binary is present (tests skip otherwise, with a message). */
export function dovecotAvailable(): boolean {
  return existsSync(DOVECOT_BIN);
}
