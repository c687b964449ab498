import type { ImapFlow } from 'imapflow';
import { bridgeOf } from '../connectors/imap/imapflow-bridge.ts';

/** A folder as listed by a server. */
export interface MailFolder {
  /** Full path, decoded from modified UTF-7 (RFC 3501 §5.1.3) to UTF-8. */
  path: string;
  /** Hierarchy levels of the path. */
  segments: string[];
  delimiter: string;
  /** `\Sent`, `\Drafts`, `\Trash`, `\Junk`, `\Archive`, `\Inbox`… */
  specialUse?: string;
  /** true when the server announced the special use (RFC 6154), false when guessed by name. */
  specialUseFromServer: boolean;
  /** false for `\Noselect` / `\NonExistent` (RFC 3501 §7.2.2, RFC 5258 §3) hierarchy placeholders. */
  selectable: boolean;
  /** `highestModseq` only where the server offers CONDSTORE (RFC 7162). */
  status?: { messages: number; uidNext: number; uidValidity: bigint; size?: number; highestModseq?: bigint };
}

/**
 * Lists every folder of the connected account. With `withStatus`, asks for MESSAGES,
 * UIDNEXT, UIDVALIDITY and SIZE of each folder in the same round trip where the server
 * offers LIST-STATUS (RFC 5819) and STATUS=SIZE (RFC 8438); imapflow falls back to one
 * STATUS per folder otherwise. Subscriptions are not asked for (no LSUB).
 */
export async function listFolders(client: ImapFlow, withStatus: boolean): Promise<MailFolder[]> {
  // Subscriptions play no part in the copy: no LSUB after the LIST (one round trip on a server
  // that does not answer RETURN (SUBSCRIBED), or whose account has no subscription).
  bridgeOf(client)?.skipSubscriptions();
  const hasSize = client.capabilities.has('STATUS=SIZE');
  // HIGHESTMODSEQ (RFC 7162) tells a folder whose flags changed; imapflow asks only where CONDSTORE is offered.
  const list = await client.list(
    withStatus
      ? {
          statusQuery: {
            messages: true,
            uidNext: true,
            uidValidity: true,
            highestModseq: true,
            ...(hasSize ? { size: true } : {}),
          },
        }
      : {},
  );
  return list.map((f) => {
    const selectable = !f.flags.has('\\Noselect') && !f.flags.has('\\NonExistent');
    const s = f.status as
      | { messages?: number; uidNext?: number; uidValidity?: bigint; size?: number; highestModseq?: bigint }
      | undefined;
    const segments = f.delimiter ? [...(f.parent ?? []), f.name] : [f.path];
    return {
      path: f.path,
      segments,
      delimiter: f.delimiter || '/',
      specialUse: f.specialUse,
      specialUseFromServer: f.specialUseSource === 'extension',
      selectable,
      status:
        s && s.uidNext !== undefined
          ? {
              messages: s.messages ?? 0,
              uidNext: s.uidNext,
              uidValidity: BigInt(s.uidValidity ?? 0),
              ...(s.size !== undefined ? { size: Number(s.size) } : {}),
              ...(s.highestModseq ? { highestModseq: BigInt(s.highestModseq) } : {}),
            }
          : undefined,
    };
  });
}
