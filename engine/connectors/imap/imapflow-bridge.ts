import { createRequire } from 'node:module';
import type { ImapFlow } from 'imapflow';

/**
 * The one place that touches imapflow's private fields and modules. imapflow has no public way to
 * send an APPEND with non-synchronizing literals from our own buffers, nor to run one
 * command of ours on its socket and hand the socket back, nor to tell whether a connection
 * is parked in a throttle wait (upstream/ holds a patch offered to imapflow for the first two).
 * The streamed copy, the planning FETCH, the LITERAL+ APPEND writer and a stop's cut of a
 * throttle wait need them, so they go through here, and nowhere else.
 *
 * The shape these fields must have is checked on every connection before first use
 * ({@link bridgeOf}, called by `connectImap` right after login). On a mismatch (an imapflow
 * release that renamed or reshaped one of them) the connection gets no bridge, one warning
 * is logged per process, and the engine takes imapflow's public path: buffered copy with
 * one `append()` per message, imapflow's own FETCH for planning, and a stop that closes
 * the connections after {@link STOP_GRACE_MS} instead of cutting a throttle wait at once.
 * Slower, never wrong. test/engine/imapflow-bridge.test.ts covers both paths; CI runs the
 * engine tests against imapflow@latest too (scripts/check-imapflow-latest.sh), where a
 * mismatch fails the shape test.
 */

type ReadSock = NodeJS.ReadWriteStream & {
  destroyed?: boolean;
  /** Node's stream state: where the socket is piped to (checked, never written). */
  _readableState?: { pipes?: unknown };
};
type WriteSock = NodeJS.WritableStream & {
  destroyed?: boolean;
  cork?(): void;
  uncork?(): void;
  writableNeedDrain?: boolean;
  writableLength?: number;
};

/** What imapflow's `exec` resolves with. */
export interface ExecResponse {
  response: { attributes?: { section?: { value?: unknown }[] }[] };
  next: () => void;
}

interface SendData {
  tag: string;
  command: string;
  attributes: unknown[];
  options?: Record<string | symbol, unknown>;
}

/** The private parts of imapflow (2.1.2 – 2.10.2) the engine relies on. */
interface Internals {
  socket: ReadSock | false | null | undefined;
  /** imapflow's response parser; the socket is piped into it. */
  streamer: NodeJS.WritableStream;
  writeSocket: WriteSock | false | null | undefined;
  writeBytesCounter: number;
  currentRequest: { tag: string; sent?: boolean } | false | null | undefined;
  requestQueue: unknown[];
  commandParts: unknown[];
  rawSensitiveCommand: boolean;
  /** Set once COMPRESS=DEFLATE is on: the socket then feeds an inflater, not the parser. */
  _inflate?: unknown;
  /** Pending throttle waits (imapflow holds an Office 365 "throttled" command for the server's hint). */
  _throttleWaits: Set<unknown>;
  exec(command: string, attributes: unknown[], options?: Record<string | symbol, unknown>): Promise<ExecResponse>;
  send(data: SendData): Promise<void>;
  lastClientWrite?: number | null;
  /**
   * The folders imapflow has listed, by path: SELECT sends a LIST first for a path not in it.
   * Not part of the checked shape: without it (or {@link Internals.skipLsub}) a round trip is
   * merely not saved.
   */
  folders?: Map<string, unknown>;
  /** Set: imapflow's listing sends no LSUB (it does so itself for a server that refuses LSUB). */
  skipLsub?: boolean;
}

/** How long a stop lets a connection without a bridge finish its command before closing it. */
export const STOP_GRACE_MS = 2000;

const isFn = (v: unknown) => typeof v === 'function';
const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object';
const isStream = (v: unknown, ...methods: string[]) => isObj(v) && methods.every((m) => isFn(v[m]));

/**
 * What does not match the shape the bridge needs, on a connected, logged-in client: an
 * empty list when everything does. Names only, never values (a field could hold a secret).
 */
export function shapeProblems(client: ImapFlow): string[] {
  const c = client as unknown as Partial<Internals> & Record<string, unknown>;
  const p: string[] = [];
  if (!isFn(c.exec)) p.push('exec() missing');
  if (!isFn(c.send)) p.push('send() missing');
  if (!isStream(c.socket, 'pipe', 'unpipe', 'on', 'removeListener', 'pause', 'resume'))
    p.push('socket is not a stream');
  if (!isStream(c.streamer, 'write')) p.push('streamer is not a writable stream');
  if (!isStream(c.writeSocket, 'write', 'once')) p.push('writeSocket is not a writable stream');
  if (typeof c.writeBytesCounter !== 'number') p.push('writeBytesCounter is not a number');
  if (!('currentRequest' in c)) p.push('currentRequest missing');
  if (!Array.isArray(c.requestQueue)) p.push('requestQueue is not an array');
  if (!Array.isArray(c.commandParts)) p.push('commandParts is not an array');
  if (typeof c.rawSensitiveCommand !== 'boolean') p.push('rawSensitiveCommand is not a boolean');
  if (!(c._throttleWaits instanceof Set)) p.push('_throttleWaits is not a Set');
  if (c._inflate) p.push('COMPRESS=DEFLATE is on');
  // The loan unpipes the socket from the parser: that only works while it is piped straight into it.
  if (isStream(c.socket) && isObj(c.streamer)) {
    const pipes = (c.socket as ReadSock)._readableState?.pipes;
    const list = Array.isArray(pipes) ? pipes : pipes ? [pipes] : [];
    if (!list.includes(c.streamer)) p.push('socket is not piped into streamer');
  }
  return p;
}

type Warn = (msg: string, fields: Record<string, unknown>) => void;
let warn: Warn = (msg, fields) => {
  const kv = Object.entries(fields)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(' ');
  process.stderr.write(`${new Date().toISOString()} WARN  ${msg} ${kv}\n`);
};
const warned = new Set<string>();

/** Where the mismatch warning goes (stderr by default; the app passes its logger). */
export function setBridgeWarn(sink: Warn): void {
  warn = sink;
}

function imapflowVersion(): string {
  try {
    return (createRequire(import.meta.url)('imapflow/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The symbol under which an exec() carries our writer to the wrapped `send`. */
const WRITER = Symbol('mailferry.writer');
type Writer = (tag: string, out: RawOut) => Buffer[];

/** The destination socket as our writer sees it: writes are counted like imapflow's own. */
export interface RawOut {
  write(b: Buffer): boolean;
  onceDrain(fn: () => void): void;
  /** Holds the writes that follow until {@link RawOut.uncork}: they go out together (one writev). */
  cork(): void;
  /** Sends the held writes; true when the socket is still full: then 'drain' follows ({@link RawOut.onceDrain}). */
  uncork(): boolean;
}

/** Private access to one imapflow connection whose shape was checked. */
export class ImapflowBridge {
  private sendWrapped = false;
  constructor(private readonly c: Internals) {}

  /** No command of imapflow's is in flight or queued: the socket may be lent. */
  get idle(): boolean {
    return !this.c.currentRequest && this.c.requestQueue.length === 0;
  }

  /** The socket, while open (pause/resume it for back-pressure). */
  get socket(): ReadSock | null {
    const s = this.c.socket;
    return s && !s.destroyed ? s : null;
  }

  /** Stops feeding imapflow's parser: the socket's bytes are ours until {@link attachParser}. */
  detachParser(): void {
    this.socket?.unpipe(this.c.streamer);
  }

  /** Feeds imapflow's parser again, first with `rest` (bytes read past our reply). */
  attachParser(rest?: Buffer): void {
    const s = this.socket;
    if (!s) return;
    s.pause();
    if (rest?.length) this.c.streamer.write(rest);
    s.pipe(this.c.streamer);
  }

  /** Writes bytes of ours to the connection, counted in imapflow's byte statistics. */
  write(b: Buffer): boolean {
    const w = this.c.writeSocket;
    if (!w || w.destroyed) return false;
    this.c.writeBytesCounter += b.length;
    this.c.lastClientWrite = Date.now();
    return w.write(b);
  }

  /** True while imapflow waits out a server's throttle hint on this connection (see run-pass). */
  get inThrottleWait(): boolean {
    return this.c._throttleWaits.size > 0;
  }

  /**
   * A folder this session just created, noted as listed: imapflow's SELECT sends a LIST for a
   * folder it has not listed (for the delimiter and special use, which the engine takes from
   * its own listing), one round trip the engine has no use for.
   */
  noteCreated(path: string, delimiter: string | undefined): void {
    const folders = this.c.folders;
    if (folders instanceof Map && !folders.has(path))
      folders.set(path, { path, delimiter, flags: new Set(), listed: true });
  }

  /**
   * The next listing asks for no subscriptions (LSUB, one round trip where the server did not
   * answer them in the LIST itself): the engine copies folders whether subscribed or not.
   */
  skipSubscriptions(): void {
    if (typeof this.c.skipLsub === 'boolean') this.c.skipLsub = true;
  }

  /** imapflow's own command path (its compiler, synchronizing literals over 4 KB without LITERAL+). */
  exec(command: string, attributes: unknown[]): Promise<ExecResponse> {
    return this.c.exec(command, attributes);
  }

  /**
   * A command through imapflow's queue, written by `writer` when its turn comes: imapflow
   * keeps one command in flight and matches the tagged reply as usual; the writer returns
   * the chunks to write in one corked write (bodies uncopied) and may keep writing to
   * `out` afterwards (the streamed copy does, as the source delivers).
   */
  execWritten(command: string, writer: Writer): Promise<ExecResponse> {
    this.wrapSend();
    return this.c.exec(command, [], { [WRITER]: writer });
  }

  /** Wraps imapflow's `send` once: a command carrying our writer is written by it, every other by imapflow. */
  private wrapSend(): void {
    if (this.sendWrapped) return;
    this.sendWrapped = true;
    const c = this.c;
    const original = c.send.bind(c);
    const out: RawOut = {
      write: (b) => this.write(b),
      onceDrain: (fn) => {
        const w = c.writeSocket;
        if (w) w.once('drain', fn);
      },
      cork: () => {
        const w = c.writeSocket;
        if (w) w.cork?.();
      },
      uncork: () => {
        const w = c.writeSocket;
        if (!w) return false;
        w.uncork?.();
        // Bytes the kernel did not take at once: 'drain' comes when they have gone.
        return !!w.writableNeedDrain && (w.writableLength ?? 0) > 0;
      },
    };
    c.send = async (data) => {
      const writer = data.options?.[WRITER] as Writer | undefined;
      if (!writer) return original(data);
      const sock = c.socket;
      const w = c.writeSocket;
      if (!sock || sock.destroyed || !w || w.destroyed) {
        throw Object.assign(new Error('Socket is already closed'), { code: 'NoConnection' });
      }
      // Mirrors send(): no continuation parts pending, and nothing secret in these bytes.
      c.commandParts = [];
      c.rawSensitiveCommand = false;
      const chunks = writer(data.tag, out);
      w.cork?.();
      for (const b of chunks) this.write(b);
      w.uncork?.();
      if (c.currentRequest && c.currentRequest.tag === data.tag) c.currentRequest.sent = true;
    };
  }
}

const bridges = new WeakMap<object, ImapflowBridge | null>();

/**
 * The bridge of a connected client, or null when imapflow's shape does not match (then
 * the caller takes imapflow's public path). Checked once per connection; the first
 * mismatch of a kind is logged once per process, with imapflow's version and the names
 * of what differs. Call it after `connect()`.
 */
export function bridgeOf(client: ImapFlow): ImapflowBridge | null {
  const known = bridges.get(client);
  if (known !== undefined) return known;
  const problems = shapeProblems(client);
  const b = problems.length ? null : new ImapflowBridge(client as unknown as Internals);
  bridges.set(client, b);
  if (problems.length) {
    const key = problems.join('; ');
    if (!warned.has(key)) {
      warned.add(key);
      warn(
        'imapflow does not have the shape MailFerry was built for: copying on its public path ' +
          '(buffered, one APPEND per message; a stop closes connections after a grace period)',
        {
          imapflow: imapflowVersion(),
          problems: key,
        },
      );
    }
  }
  return b;
}

/** Whether the connection has a working bridge (see {@link bridgeOf}). */
export function hasBridge(client: ImapFlow): boolean {
  return bridgeOf(client) !== null;
}

/** imapflow's path helpers (private module `imapflow/lib/tools.js`): how its own CREATE names a folder. */
export type ImapflowTools = {
  normalizePath(c: ImapFlow, path: string | string[]): string;
  encodePath(c: ImapFlow, path: string): string;
  enhanceCommandError(err: unknown): Promise<unknown>;
};

let tools: Promise<ImapflowTools | null> | undefined;

/**
 * imapflow's path helpers, checked like the fields above: null where this imapflow has none
 * of that shape (the caller then takes imapflow's public `mailboxCreate`).
 */
export function imapflowTools(): Promise<ImapflowTools | null> {
  tools ??= import('imapflow/lib/tools.js').then(
    (t: Partial<ImapflowTools>) =>
      isFn(t.normalizePath) && isFn(t.encodePath) && isFn(t.enhanceCommandError) ? (t as ImapflowTools) : null,
    () => null,
  );
  return tools;
}
