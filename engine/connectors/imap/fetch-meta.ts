import type { ImapFlow } from 'imapflow';
import { lendSocket, ownTag } from './lend-socket.ts';

/** What a plan needs of a message before its body: UID, RFC822.SIZE, INTERNALDATE, FLAGS. */
export interface RawMeta {
  uid: number;
  size: number;
  internalDate: Date;
  flags: string[];
}

const MONTHS: Record<string, number> = { jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11 };

/** RFC 3501 date-time (`dd-Mon-yyyy hh:mm:ss +zzzz`, day possibly space-padded); null when malformed. */
export function parseInternalDate(s: string): Date | null {
  const m = /^\s?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(s);
  const month = m ? MONTHS[m[2].toLowerCase()] : undefined;
  if (!m || month === undefined) return null;
  const offsetMin = (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9]));
  return new Date(Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6])) - offsetMin * 60_000);
}

/** The metadata of one untagged FETCH response line, or null when it lacks any of it (e.g. a flag update). */
export function parseMetaLine(line: string): RawMeta | null {
  if (!/^\* \d+ FETCH \(/i.test(line)) return null;
  const uid = /[( ]UID (\d+)/i.exec(line);
  const size = /[( ]RFC822\.SIZE (\d+)/i.exec(line);
  const date = /[( ]INTERNALDATE "([^"]*)"/i.exec(line);
  const flags = /[( ]FLAGS \(([^)]*)\)/i.exec(line);
  if (!uid || !size || !date || !flags) return null;
  const internalDate = parseInternalDate(date[1]);
  if (!internalDate) return null;
  return { uid: Number(uid[1]), size: Number(size[1]), internalDate, flags: flags[1].split(' ').filter(Boolean) };
}

/**
 * `UID FETCH range (UID RFC822.SIZE INTERNALDATE FLAGS)` read by our own line parser on
 * the connection's socket, lent between two imapflow commands (lend-socket.ts). imapflow
 * parses every response into objects and compiles each one back to text for its log even
 * with logging off: for a folder of thousands of messages that is most of the planning's
 * CPU. Responses without all four items (unsolicited flag updates) are ignored; a message
 * the line parser cannot read fails the call (`UNPARSEABLE`, after the tagged reply, so the
 * connection stays usable) and the caller falls back to imapflow. Rejects like an imapflow
 * command on NO/BAD or a lost connection.
 */
export async function fetchMetaRaw(client: ImapFlow, range: string): Promise<RawMeta[]> {
  const tag = ownTag('MM');
  const out: RawMeta[] = [];
  let pending = '';
  let literalLeft = 0;
  let unreadable: Error | null = null; // reported once our tagged reply has been read, so the connection stays in step
  const onLine = (line: string): 'done' | Error | null => {
    if (line.startsWith(`${tag} `)) {
      const m = /^\S+ (OK|NO|BAD)\b ?(.*)$/i.exec(line);
      if (m && m[1].toUpperCase() === 'OK') return 'done';
      return Object.assign(new Error(`UID FETCH failed: ${m?.[2] ?? line}`), { responseStatus: (m?.[1] ?? 'BAD').toUpperCase(), responseText: m?.[2] ?? line });
    }
    const meta = parseMetaLine(line);
    if (meta) out.push(meta);
    else if (/^\* \d+ FETCH \(.*\bUID \d+/i.test(line) && /RFC822\.SIZE/i.test(line)) {
      unreadable ??= Object.assign(new Error('a FETCH response MailFerry cannot read'), { code: 'UNPARSEABLE' });
    }
    return null;
  };
  await lendSocket(
    client,
    `${tag} UID FETCH ${range} (UID RFC822.SIZE INTERNALDATE FLAGS)`,
    (chunk, loan) => {
      let pos = 0;
      while (pos < chunk.length && !loan.settled) {
        if (literalLeft > 0) {
          // Not asked for; skipped (its response is then ignored or reported unparseable).
          const n = Math.min(literalLeft, chunk.length - pos);
          literalLeft -= n;
          pos += n;
          continue;
        }
        const lf = chunk.indexOf(10, pos);
        if (lf < 0) {
          pending += chunk.toString('latin1', pos);
          if (pending.length > 1024 * 1024) loan.abort(Object.assign(new Error('response line too long'), { code: 'EConnectionClosed' }));
          return;
        }
        const line = (pending + chunk.toString('latin1', pos, lf + 1)).replace(/\r?\n$/, '');
        pending = '';
        pos = lf + 1;
        const lit = /\{(\d+)\}$/.exec(line);
        if (lit) {
          literalLeft = Number(lit[1]);
          pending = line.slice(0, -lit[0].length);
          continue;
        }
        const r = onLine(line);
        if (r === 'done') return loan.end(unreadable, chunk.subarray(pos));
        if (r) return loan.end(r, chunk.subarray(pos));
      }
    },
    () => Object.assign(new Error('connection closed during UID FETCH'), { code: 'EConnectionClosed' }),
  );
  return out;
}
