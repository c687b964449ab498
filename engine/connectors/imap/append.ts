import type { ImapFlow } from 'imapflow';
import { bridgeOf } from './imapflow-bridge.ts';

/** One message of an APPEND command. */
export interface AppendMessage {
  /** Flags and keywords, already filtered to what the destination keeps. */
  flags: string[];
  internalDate: Date;
  body: Buffer;
}

/** What the server said about an APPEND. */
export interface AppendResult {
  /** APPENDUID (RFC 4315): the destination UIDs the messages got, in order, when told. */
  uids?: number[];
  uidValidity?: bigint;
}

/** Mailbox name in modified UTF-7 (RFC 3501 §5.1.3), as servers without UTF8=ACCEPT expect. */
export function encodeMailboxName(name: string): string {
  let out = '';
  let pending = '';
  const flush = () => {
    if (!pending) return;
    const buf = Buffer.alloc(pending.length * 2);
    for (let i = 0; i < pending.length; i++) buf.writeUInt16BE(pending.charCodeAt(i), i * 2);
    out += '&' + buf.toString('base64').replace(/=+$/, '').replace(/\//g, ',') + '-';
    pending = '';
  };
  for (const ch of name) {
    const code = ch.codePointAt(0)!;
    if (code >= 0x20 && code <= 0x7e) {
      flush();
      out += ch === '&' ? '&-' : ch;
    } else pending += ch;
  }
  flush();
  return out;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** INTERNALDATE as RFC 3501 date-time (`dd-Mon-yyyy hh:mm:ss +0000`), in UTC. */
export function formatInternalDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    `${p(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`
  );
}

/**
 * An astring (RFC 3501 §9) for a mailbox name already as it goes on the wire (modified
 * UTF-7, or UTF-8 on a UTF8=ACCEPT session): an atom when it can be one (ASCII only), else
 * a quoted string (UTF-8 is allowed in quoted strings once UTF8=ACCEPT is enabled, RFC
 * 6855 §3). CR, LF and NUL cannot be in a name at all.
 */
export function mailboxArgument(encoded: string): string {
  if (/[\r\n\x00]/.test(encoded)) throw new Error('mailbox name with a line break or NUL');
  if (/^[^(){ %*"\\\x00-\x20\x7f-\uffff]+$/.test(encoded)) return encoded;
  return `"${encoded.replace(/["\\]/g, (c) => '\\' + c)}"`;
}

/**
 * True when the session takes mailbox names in UTF-8: UTF8=ACCEPT enabled (RFC 6855;
 * imapflow enables it wherever offered, e.g. Courier) or IMAP4rev2 (RFC 9051). Otherwise
 * names go in modified UTF-7 (RFC 3501 §5.1.3), which such a session takes literally
 * (`&-` would be a folder name with "&-" in it). The same rule as imapflow's own commands.
 */
export function namesInUtf8(client: { enabled?: Set<string>; capabilities?: Map<string, unknown> }): boolean {
  const enabled = client.enabled ?? new Set<string>();
  const caps = client.capabilities ?? new Map<string, unknown>();
  return enabled.has('UTF8=ACCEPT') || enabled.has('IMAP4REV2') || (caps.has('IMAP4rev2') && !caps.has('IMAP4rev1'));
}

/** A mailbox name as the session expects it on the wire (see {@link namesInUtf8}). */
export function wireMailboxName(name: string, utf8: boolean): string {
  return utf8 ? name : encodeMailboxName(name);
}

/** Flags of an APPEND: system flags and keywords are atoms (checked by the caller). */
function flagList(flags: string[]): string {
  for (const f of flags)
    if (!/^\\?[^(){ %*"\\\]\x00-\x20\x7f]+$/.test(f)) throw new Error(`not a flag atom: ${JSON.stringify(f)}`);
  return `(${flags.join(' ')})`;
}

/**
 * The bytes of one APPEND command (RFC 3501 §6.3.11; several messages make a MULTIAPPEND,
 * RFC 3502) with non-synchronizing literals (LITERAL+, RFC 7888): the tag line, then per
 * message a small header buffer and the message body itself (never copied), then CRLF.
 * A body with a NUL byte goes as literal8 (`~{n+}`, RFC 3516) where BINARY is offered.
 */
export function appendCommandChunks(
  tag: string,
  mailbox: string,
  messages: AppendMessage[],
  binary: boolean,
  utf8 = false,
): Buffer[] {
  const chunks: Buffer[] = [];
  messages.forEach((m, i) => {
    const head = appendMessageHead(m, m.body.length, binary && m.body.includes(0));
    chunks.push(i === 0 ? Buffer.concat([appendHead(tag, mailbox, utf8), head]) : head, m.body);
  });
  chunks.push(Buffer.from('\r\n', 'latin1'));
  return chunks;
}

/**
 * `tag APPEND mailbox`: the start of an APPEND command; `utf8`: the session takes UTF-8 names ({@link namesInUtf8}).
 */
export function appendHead(tag: string, mailbox: string, utf8 = false): Buffer {
  return Buffer.from(`${tag} APPEND ${mailboxArgument(wireMailboxName(mailbox, utf8))}`, 'utf8');
}

/** ` (flags) "date" {size+}CRLF`: what goes before one message's bytes in an APPEND. */
export function appendMessageHead(m: { flags: string[]; internalDate: Date }, size: number, literal8 = false): Buffer {
  return Buffer.from(
    ` ${flagList(m.flags)} "${formatInternalDate(m.internalDate)}" ${literal8 ? '~' : ''}{${size}+}\r\n`,
    'latin1',
  );
}

/** Parses `APPENDUID uidvalidity uid-set` (RFC 4315 §3) into the list of UIDs. */
export function parseAppendUid(section: { value?: unknown }[] | undefined): AppendResult {
  if (!section || String(section[0]?.value ?? '').toUpperCase() !== 'APPENDUID') return {};
  const validity = String(section[1]?.value ?? '');
  const uids: number[] = [];
  for (const part of String(section[2]?.value ?? '').split(',')) {
    const [a, b] = part.split(':').map(Number);
    if (a === undefined || !Number.isFinite(a)) continue;
    const end = b !== undefined && Number.isFinite(b) ? b : a;
    for (let u = Math.min(a, end); u <= Math.max(a, end); u++) uids.push(u);
  }
  return { uids: uids.length ? uids : undefined, uidValidity: /^\d+$/.test(validity) ? BigInt(validity) : undefined };
}

/**
 * Appends messages to a mailbox in one APPEND command (MULTIAPPEND when more than one;
 * the caller checks the capability and {@link hasBridge}). With LITERAL+ the command goes
 * out in one write without waiting for continuations (our writer, through the bridge);
 * without it imapflow's own compiler sends it with synchronizing literals. A connection
 * without a bridge (imapflow's shape changed) appends its one message with imapflow's
 * public `append()`. Rejects like any imapflow command (`responseStatus` NO/BAD,
 * connection errors). Returns the APPENDUID the server gave, if any.
 */
export async function appendMessages(
  client: ImapFlow,
  mailbox: string,
  messages: AppendMessage[],
): Promise<AppendResult> {
  const bridge = bridgeOf(client);
  if (!bridge) {
    const [m] = messages;
    if (!m || messages.length !== 1)
      throw new Error('MULTIAPPEND needs the imapflow bridge; append one message at a time');
    const r = await client.append(mailbox, m.body, m.flags, m.internalDate);
    if (!r)
      throw Object.assign(new Error('APPEND not sent: the connection is not authenticated'), { code: 'NoConnection' });
    return r.uid ? { uids: [r.uid], uidValidity: r.uidValidity } : {};
  }
  const binary = client.capabilities.has('BINARY');
  const utf8 = namesInUtf8(client);
  const res = client.capabilities.has('LITERAL+')
    ? await bridge.execWritten('APPEND', (tag) => appendCommandChunks(tag, mailbox, messages, binary, utf8))
    : await bridge.exec('APPEND', appendAttributes(mailbox, messages, binary, utf8));
  const result = parseAppendUid(res.response.attributes?.[0]?.section);
  res.next();
  return result;
}

/** The APPEND arguments for imapflow's compiler (synchronizing literals). */
function appendAttributes(mailbox: string, messages: AppendMessage[], binary: boolean, utf8: boolean): unknown[] {
  const attributes: unknown[] = [{ type: 'ATOM', value: wireMailboxName(mailbox, utf8) }];
  for (const m of messages) {
    attributes.push(m.flags.map((f) => ({ type: 'ATOM', value: f })));
    attributes.push({ type: 'STRING', value: formatInternalDate(m.internalDate) });
    attributes.push({ type: 'LITERAL', value: m.body, isLiteral8: binary && m.body.includes(0) });
  }
  return attributes;
}
