import type { ImapFlow } from 'imapflow';
import { readFetch, type FetchHandlers } from './fetch-reader.ts';
import { ownTag } from './lend-socket.ts';

/** What a plan needs of a message before its body: UID, RFC822.SIZE, INTERNALDATE, FLAGS. */
export interface RawMeta {
  uid: number;
  size: number;
  internalDate: Date;
  flags: string[];
}

const MONTHS: Record<string, number> = {
  jan: 0,
  feb: 1,
  mar: 2,
  apr: 3,
  may: 4,
  jun: 5,
  jul: 6,
  aug: 7,
  sep: 8,
  oct: 9,
  nov: 10,
  dec: 11,
};

/** RFC 3501 date-time (`dd-Mon-yyyy hh:mm:ss +zzzz`, day possibly space-padded); null when malformed. */
export function parseInternalDate(s: string): Date | null {
  const [, day, mon, year, h, mi, sec, sign, oh, om] =
    /^\s?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(s) ?? [];
  const month = mon ? MONTHS[mon.toLowerCase()] : undefined;
  if (month === undefined) return null;
  const offsetMin = (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om));
  return new Date(Date.UTC(Number(year), month, Number(day), Number(h), Number(mi), Number(sec)) - offsetMin * 60_000);
}

/** The metadata of one untagged FETCH response line, or null when it lacks any of it (e.g. a flag update). */
export function parseMetaLine(line: string): RawMeta | null {
  if (!/^\* \d+ FETCH \(/i.test(line)) return null;
  const uid = /[( ]UID (\d+)/i.exec(line)?.[1];
  const size = /[( ]RFC822\.SIZE (\d+)/i.exec(line)?.[1];
  const date = /[( ]INTERNALDATE "([^"]*)"/i.exec(line)?.[1];
  const flags = /[( ]FLAGS \(([^)]*)\)/i.exec(line)?.[1];
  if (uid === undefined || size === undefined || date === undefined || flags === undefined) return null;
  const internalDate = parseInternalDate(date);
  if (!internalDate) return null;
  return { uid: Number(uid), size: Number(size), internalDate, flags: flags.split(' ').filter(Boolean) };
}

/** A planning FETCH's responses: every message with all four items; one without them is read or reported. */
class MetaCollector implements FetchHandlers {
  readonly metas: RawMeta[] = [];
  /** The selected folder's message count as the server's EXISTS and EXPUNGE responses among ours left it. */
  exists: number | null = null;
  constructor(start: number | null) {
    this.exists = start;
  }
  /** Reported once our tagged reply has been read, so the connection stays in step. */
  private unreadable: Error | null = null;

  response(text: string): void {
    // Mailbox updates the server sends with our answer (RFC 3501 §7.3.1, §7.4.1; EXPUNGE is
    // allowed during a UID command): imapflow does not see them, so they are kept here.
    const update = /^\* (\d+) (EXISTS|EXPUNGE)$/i.exec(text);
    if (update) {
      if (update[2]?.toUpperCase() === 'EXISTS') this.exists = Number(update[1]);
      else if (this.exists !== null) this.exists = Math.max(0, this.exists - 1);
      return;
    }
    const meta = parseMetaLine(text);
    if (meta) this.metas.push(meta);
    else if (/^\* \d+ FETCH \(.*\bUID \d+/i.test(text) && /RFC822\.SIZE/i.test(text)) {
      this.unreadable ??= Object.assign(new Error('a FETCH response MailFerry cannot read'), { code: 'UNPARSEABLE' });
    }
  }

  completed(): Error | null {
    return this.unreadable;
  }

  tooLong(): Error {
    return Object.assign(new Error('response line too long'), { code: 'EConnectionClosed' });
  }
}

/**
 * `UID FETCH range (UID RFC822.SIZE INTERNALDATE FLAGS)` read by the FETCH reader
 * (fetch-reader.ts) on the connection's socket, lent between two imapflow commands
 * (lend-socket.ts). imapflow parses every response into objects and compiles each one back
 * to text for its log even with logging off: for a folder of thousands of messages that is
 * most of the planning's CPU. Responses without all four items (unsolicited flag updates)
 * are ignored, and literals (not asked for) skipped; a message the line parser cannot read
 * fails the call (`UNPARSEABLE`, after the tagged reply, so the connection stays usable)
 * and the caller falls back to imapflow. EXISTS and EXPUNGE responses sent with the answer
 * update the message count of imapflow's selected mailbox (`client.mailbox.exists`), as
 * imapflow's own FETCH would. Rejects like an imapflow command on NO/BAD or a lost connection.
 */
export async function fetchMetaRaw(client: ImapFlow, range: string): Promise<RawMeta[]> {
  const box = client.mailbox;
  const collector = new MetaCollector(box ? box.exists : null);
  try {
    await readFetch(client, ownTag('MM'), `UID FETCH ${range} (UID RFC822.SIZE INTERNALDATE FLAGS)`, collector, () =>
      Object.assign(new Error('connection closed during UID FETCH'), { code: 'EConnectionClosed' }),
    );
  } finally {
    if (box && box === client.mailbox && collector.exists !== null) box.exists = collector.exists;
  }
  return collector.metas;
}
