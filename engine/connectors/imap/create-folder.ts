import type { ImapFlow } from 'imapflow';
import { errorField } from './classify-error.ts';
import { FetchReader } from './fetch-reader.ts';
import { bridgeOf, imapflowTools } from './imapflow-bridge.ts';
import { lendSocket, ownTag } from './lend-socket.ts';

/** What {@link createFolder} did. */
export interface Created {
  /** The folder's path as imapflow names it (namespace prefix included). */
  path: string;
  /** A new folder that is not subscribed yet: the caller subscribes it ({@link subscribeLater}). */
  subscribe: boolean;
}

/**
 * CREATE (RFC 3501 §6.3.3) of a folder given by its levels, as imapflow's `mailboxCreate`
 * sends it, minus the two round trips imapflow adds: its SUBSCRIBE right after (left to the
 * caller, who sends it while the connection would otherwise wait; see {@link subscribeLater})
 * and the LIST its next SELECT of a folder it has not listed sends. An existing folder
 * (ALREADYEXISTS, RFC 5530) is not an error. Without the bridge, imapflow's own path.
 */
export async function createFolder(client: ImapFlow, segments: string[]): Promise<Created> {
  const b = bridgeOf(client);
  const t = b && (await imapflowTools());
  if (!b || !t) {
    const r = await client.mailboxCreate(segments);
    return { path: r.path, subscribe: false };
  }
  const path = t.normalizePath(client, segments);
  try {
    const r = await b.exec('CREATE', [{ type: 'ATOM', value: t.encodePath(client, path) }]);
    r.next();
  } catch (err) {
    await t.enhanceCommandError(err);
    if (errorField(err, 'serverResponseCode') === 'ALREADYEXISTS') return { path, subscribe: false };
    throw err;
  }
  b.noteCreated(path, client.namespace?.delimiter ?? undefined);
  return { path, subscribe: true };
}

/**
 * SUBSCRIBE, queued behind whatever the connection is doing, so a new folder shows in mail
 * clients that list subscribed folders only (imapflow's `mailboxCreate` does the same). A
 * refusal is not an error of the copy: resolves either way.
 */
export function subscribeLater(client: ImapFlow, path: string): Promise<void> {
  return client.mailboxSubscribe(path).then(
    () => undefined,
    () => undefined,
  );
}

/** What {@link createFolders} found of one folder. */
export type CreateOutcome =
  /** Created now (and subscribed, when the SUBSCRIBE was taken). */
  | 'created'
  /** It was there already (ALREADYEXISTS, RFC 5530). */
  | 'exists'
  /** Not created here: the folder's own {@link createFolder} tries again and reports a refusal. */
  | 'left';

/** A mailbox name as an IMAP quoted string (RFC 3501 §4.3), or null when it must go another way (a literal). */
function quotedName(encoded: string): string | null {
  return /^[\x20-\x7e]*$/.test(encoded) ? `"${encoded.replace(/[\\"]/g, (c) => `\\${c}`)}"` : null;
}

/** A tagged reply: its status (`OK`, `NO`, `BAD`) and text. */
interface Reply {
  status: string;
  text: string;
}

/**
 * Sends `commands` (each without its tag) at once on the lent socket: one round trip for all.
 * The loan ends when every one has its tagged reply, in whatever order the server answers
 * (RFC 3501 §5.5 lets it run pipelined commands at once). Returns each command's tagged status and text.
 */
async function pipelined(client: ImapFlow, commands: string[], label: string): Promise<Reply[]> {
  const tags = commands.map(() => ownTag('PC'));
  const replies = new Map<string, Reply>();
  // No reply carries this tag: every tagged reply is read here as a response.
  const reader = new FetchReader(ownTag('PX'), {
    response(text) {
      const m = /^(\S+) (OK|NO|BAD)\b ?(.*)$/i.exec(text);
      if (m?.[1] && tags.includes(m[1])) replies.set(m[1], { status: (m[2] ?? '').toUpperCase(), text: m[3] ?? '' });
    },
    allAnswered: () => replies.size === tags.length,
    tooLong: () => Object.assign(new Error('response line too long'), { code: 'EConnectionClosed' }),
  });
  const lines = commands.map((c, i) => `${tags[i]} ${c}`).join('\r\n');
  const lost = () => Object.assign(new Error(`connection closed during ${label}`), { code: 'EConnectionClosed' });
  await lendSocket(client, lines, (chunk, loan) => reader.feed(chunk, loan), lost, label);
  return tags.map((t) => replies.get(t) ?? { status: 'BAD', text: 'no reply' });
}

/**
 * Creates the destination folders a pass is about to copy into, all in one round trip, each
 * CREATE followed by its SUBSCRIBE (imapflow's CREATE costs a round trip each, and its
 * SUBSCRIBE another). The listing saw none of them, so a folder found there all the same
 * (ALREADYEXISTS, RFC 5530: another pass or lane was first) gets a SUBSCRIBE its creator
 * sent too. Folders whose name is not plain ASCII, and any the server refuses, are `left` to
 * the folder's own {@link createFolder}, which reports a refusal (a refused folder's
 * SUBSCRIBE is taken back); a refused SUBSCRIBE is not an error (as {@link subscribeLater}).
 * Created folders are noted as listed (no LIST before their SELECT). Null without the bridge;
 * rejects when the connection is lost (then nothing is known: the folders' own CREATEs follow).
 */
export async function createFolders(client: ImapFlow, folders: string[][]): Promise<CreateOutcome[] | null> {
  const b = bridgeOf(client);
  const t = b && (await imapflowTools());
  if (!b || !t) return null;
  const paths = folders.map((segments) => t.normalizePath(client, segments));
  const names = paths.map((p) => quotedName(t.encodePath(client, p)));
  const asked = names.flatMap((n, i) => (n ? [i] : []));
  const outcomes: CreateOutcome[] = folders.map(() => 'left');
  if (!asked.length) return outcomes;
  const commands = asked.flatMap((i) => [`CREATE ${names[i]}`, `SUBSCRIBE ${names[i]}`]);
  const replies = await pipelined(client, commands, 'CREATE (pipelined)');
  const refused: string[] = [];
  asked.forEach((i, k) => {
    const r = replies[2 * k];
    if (r?.status === 'OK') {
      outcomes[i] = 'created';
      b.noteCreated(paths[i] ?? '', client.namespace?.delimiter ?? undefined);
    } else if (r?.status === 'NO' && (/^\[ALREADYEXISTS\]/i.test(r.text) || /exists/i.test(r.text)))
      // RFC 5530's code, or a server's words without it (as createFolder reads them): nothing refused.
      outcomes[i] = 'exists';
    else if (replies[2 * k + 1]?.status === 'OK') refused.push(`UNSUBSCRIBE ${names[i]}`);
  });
  // A folder the server would not create keeps no subscription of ours.
  if (refused.length) await pipelined(client, refused, 'UNSUBSCRIBE (pipelined)');
  return outcomes;
}
