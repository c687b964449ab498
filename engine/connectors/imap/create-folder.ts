import type { ImapFlow } from 'imapflow';
import { errorField } from './classify-error.ts';
import { bridgeOf, imapflowTools } from './imapflow-bridge.ts';

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
