import type { ImapFlow } from 'imapflow';
import { traced } from '../../trace.ts';
import { bridgeOf } from './imapflow-bridge.ts';

type Sock = NodeJS.ReadWriteStream & { destroyed?: boolean };

/** A socket lent by imapflow for one command of ours. */
export interface SocketLoan {
  /** The connection's (possibly TLS) socket: pause/resume it for back-pressure. */
  socket: Sock;
  /** Whether the loan has ended. */
  readonly settled: boolean;
  /** Our tagged reply was read: the socket goes back to imapflow with the bytes that followed (`rest`). */
  end(err: Error | null, rest?: Buffer): void;
  /** Out of step with the server (mid-response): the connection is closed, not handed back. */
  abort(err: Error): void;
}

let tagCounter = 0;

/** A tag of ours, distinct from imapflow's hexadecimal counter. */
export function ownTag(prefix: string): string {
  return `${prefix}${(++tagCounter).toString(36)}`;
}

/**
 * Runs one command of ours on an imapflow connection, between two of imapflow's commands.
 * imapflow reads its socket through a pipe into its parser; the loan unpipes it, writes
 * `commandLine`, hands every chunk that arrives to `onData` until it ends the loan, then
 * pipes the socket back (with whatever followed our reply) so imapflow carries on as if
 * nothing happened. Used where imapflow's own parsing costs too much: the streamed copy
 * (stream-copy.ts), the planning FETCH (fetch-meta.ts) and the pipelined CREATEs (create-folder.ts), all read by
 * fetch-reader.ts. `commandLine` may hold several commands, one a line (pipelined); `label` names them in the trace.
 * Resolves or rejects when the loan ends; a closed connection rejects with `lost()`. Needs the connection's bridge
 * (imapflow-bridge.ts): callers check {@link hasBridge} and take imapflow's own path without it.
 */
export function lendSocket(
  client: ImapFlow,
  commandLine: string,
  onData: (chunk: Buffer, loan: SocketLoan) => void,
  lost: () => Error,
  label?: string,
): Promise<void> {
  // The trace (MAILFERRY_TRACE) names the command (`UID FETCH`), never its arguments.
  const name = `imap ${label ?? commandLine.split(' ').slice(1, 3).join(' ')}`;
  return traced(
    name,
    client.id ?? '-',
    untilIdle(client).then(() => lend(client, commandLine, onData, lost)),
  );
}

/** How long a loan waits for imapflow to finish the commands it has queued (a SUBSCRIBE sent without waiting). */
const IDLE_WAIT_MS = 30_000;

/**
 * Resolves once imapflow has no command in flight or queued (at once, usually): a command the
 * engine queued without waiting for it, such as the SUBSCRIBE of a folder just created
 * (create-folder.ts), is answered before the socket is lent. Gives up after
 * {@link IDLE_WAIT_MS}, when the socket closes or when imapflow has given the connection up (a
 * server gone mid-command); the loan then fails as a lost connection.
 */
async function untilIdle(client: ImapFlow): Promise<void> {
  const b = bridgeOf(client);
  const until = Date.now() + IDLE_WAIT_MS;
  while (b && !b.idle && b.socket && client.usable && Date.now() < until) await new Promise((r) => setTimeout(r, 1));
}

function lend(
  client: ImapFlow,
  commandLine: string,
  onData: (chunk: Buffer, loan: SocketLoan) => void,
  lost: () => Error,
): Promise<void> {
  const b = bridgeOf(client);
  if (!b)
    return Promise.reject(
      Object.assign(new Error('no socket loan on this imapflow (shape mismatch)'), { code: 'NO_BRIDGE' }),
    );
  const sock = b.socket;
  if (!sock || !b.idle) return Promise.reject(lost());
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const detach = () => {
      settled = true;
      sock.removeListener('data', data);
      sock.removeListener('close', closed);
      sock.removeListener('error', closed);
    };
    const loan: SocketLoan = {
      socket: sock,
      get settled() {
        return settled;
      },
      end(err, rest) {
        if (settled) return;
        detach();
        b.attachParser(rest);
        if (err) reject(err);
        else resolve();
      },
      abort(err) {
        if (settled) return;
        detach();
        client.close();
        reject(err);
      },
    };
    const data = (chunk: Buffer) => onData(chunk, loan);
    const closed = () => loan.end(lost());
    b.detachParser();
    sock.on('data', data);
    sock.once('close', closed);
    sock.once('error', closed);
    b.write(Buffer.from(`${commandLine}\r\n`, 'latin1'));
    sock.resume();
  });
}
