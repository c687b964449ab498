/**
 * A fault-injecting IMAP proxy for tests: a TCP server on loopback in front of a real IMAP
 * server (the private Dovecot) that forwards bytes both ways and can be told to answer
 * chosen client commands itself, with the "Request is throttled. Suggested Backoff Time: N
 * milliseconds" reply Office 365 gives an overloaded client (imapflow turns it into an
 * `ETHROTTLE` error). Dovecot cannot produce that reply.
 *
 * The client stream is parsed just enough to find command boundaries (RFC 3501 §2.2): a
 * line ending in a literal marker `{n}`, `{n+}` (LITERAL+, RFC 7888) or `~{n}` (literal8,
 * RFC 3516) is followed by n raw bytes and more of the same command. A command the proxy
 * answers itself is consumed whole: for each synchronizing literal it sends the `+`
 * continuation the client waits for, reads the literal, and only after the last line sends
 * the tagged reply. Nothing of such a command reaches the server.
 *
 * Assumes the client sends one command at a time (imapflow does), so an injected reply
 * never lands in the middle of a server response. After STARTTLS or COMPRESS the stream is
 * no longer readable here and is forwarded blindly.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';

/** Which client commands the proxy answers itself, with a throttling reply (or `reply`). */
export interface ThrottleRule {
  /**
   * Command name, upper case, with `UID` when sent with it: `APPEND`, `UID FETCH`, `SELECT`,
   * `AUTHENTICATE`. `*`: any command after a login on the connection except CAPABILITY,
   * NOOP and LOGOUT.
   */
  command: string;
  /** A further test on the command's first line, e.g. `/BODY\.PEEK\[\]/` for body fetches only. */
  match?: RegExp;
  /**
   * The first matching command answered (1-based, counted over every connection from when the rule was added). Default
   * 1.
   */
  nth?: number;
  /** Consecutive matching commands answered from `nth` on. Default 1; `Infinity`: every one. */
  times?: number;
  /** The suggested backoff in the reply, in milliseconds. */
  backoffMs: number;
  /**
   * Status of the tagged reply (Office 365 has been seen to use both). Default `NO`. `OK`
   * acknowledges a command the server never sees: an APPEND answered so stands for a
   * server that says it stored a message and did not.
   */
  status?: 'NO' | 'BAD' | 'OK';
  /**
   * Another text instead of the throttling one, e.g. Exchange Online's "User is
   * authenticated but not connected." to every command of an app without permission on the mailbox.
   */
  reply?: string;
}

/** TLS the proxy terminates (implicit TLS on its port; it talks plain IMAP to the upstream). */
export interface ProxyTls {
  key: string;
  cert: string;
}

/** A client command the proxy saw. */
export interface ProxyEvent {
  /** `Date.now()` when the command's first line arrived (forwarded) or when the proxy's reply was sent (throttled). */
  at: number;
  /** Connection number (1-based, in accept order). */
  conn: number;
  tag: string;
  /** Upper-case command name (`UID FETCH`, `APPEND`…); empty for a continuation line (SASL response, IDLE's DONE). */
  command: string;
  /**
   * The first line without literal data, cut at 200 characters; empty for logins and continuation lines (they carry
   * secrets).
   */
  line: string;
  throttled: boolean;
  /**
   * The client's data chunk (counted per connection from 1) the first line arrived in:
   * commands written at once share it.
   */
  chunk: number;
}

/** A running proxy. */
export interface ImapProxy {
  host: string;
  port: number;
  /** `imap://127.0.0.1:PORT` (`imaps://` with TLS) */
  url: string;
  /** Every command seen, in order. */
  events: ProxyEvent[];
  /** Adds a rule; its count of matching commands starts now. */
  throttle(rule: ThrottleRule): void;
  /** Forgets every rule (and the answer rewrite): from now on everything is forwarded. */
  clearRules(): void;
  /**
   * Rewrites the server's answers, whole lines at a time, on connections made from now on
   * (e.g. RFC822.SIZE as an estimate, the way Exchange answers). Test messages must not
   * contain what it matches: it sees literal data too.
   */
  rewriteAnswers(fn: ((text: string) => string) | null): void;
  /**
   * Holds the server's answers once: on the first connection whose answers show `at`, the
   * proxy forwards `extraBytes` more bytes and then holds everything until `release()`
   * (e.g. a FETCH stopped in the middle of a message's literal, to let another connection
   * act first). `held` resolves when the hold begins.
   */
  holdAnswers(at: RegExp, extraBytes: number): { held: Promise<void>; release(): void };
  /**
   * Drops a connection after a command reached the server: the `nth` command matching
   * `command` (and `match`) is forwarded whole, and when the server's tagged reply to it
   * comes, the connection is closed instead of passing the reply on (an APPEND the server
   * stored whose client never heard so). `dropped` resolves with the connection number.
   */
  dropAtReply(rule: { command: string; match?: RegExp; nth?: number }): { dropped: Promise<number> };
  /** Called after each throttling reply is sent. */
  onThrottle?: (e: ProxyEvent) => void;
  /** Stops listening and drops every connection. */
  close(): Promise<void>;
}

interface LiveRule extends ThrottleRule {
  seen: number;
}

/** A one-shot hold of the server's answers (see {@link ImapProxy.holdAnswers}). */
interface AnswerGate {
  at: RegExp;
  /** Bytes still to forward once `at` was seen; -1 while not seen yet. */
  left: number;
  extraBytesAtStart: number;
  tail: string;
  conn: number;
  held: Buffer[];
  holding: boolean;
  released: boolean;
  began: () => void;
  flush: ((chunks: Buffer[]) => void) | null;
}

/**
 * Passes `d` through the gate: returns what may be forwarded now and keeps the rest. The
 * search runs on the chunk with the end of the previous one, so `at` may span two chunks.
 */
function throughGate(g: AnswerGate, conn: number, d: Buffer): Buffer {
  if (g.released || (g.conn && g.conn !== conn)) return d;
  if (g.holding) {
    g.held.push(d);
    return Buffer.alloc(0);
  }
  let from = 0;
  if (g.left < 0) {
    const text = g.tail + d.toString('latin1');
    const m = g.at.exec(text);
    if (!m) {
      g.tail = text.slice(-512);
      return d;
    }
    g.conn = conn;
    g.left = g.extraBytesAtStart;
    from = Math.max(0, m.index + m[0].length - g.tail.length);
  }
  const cut = Math.min(d.length, from + g.left);
  g.left -= cut - from;
  if (g.left > 0) return d;
  g.holding = true;
  g.held.push(d.subarray(cut));
  g.began();
  return d.subarray(0, cut);
}

const LITERAL_AT_END = /~?\{(\d+)(\+)?\}$/;
const SECRET_COMMANDS = new Set(['LOGIN', 'AUTHENTICATE']);
const NEVER_WILDCARD = new Set(['LOGIN', 'AUTHENTICATE', 'CAPABILITY', 'NOOP', 'LOGOUT', 'STARTTLS', '']);

/**
 * Starts a proxy on a free loopback port in front of `upstream`; with `tls`, clients connect with implicit TLS (`url`
 * is then imaps://).
 */
export async function startImapProxy(upstream: { host?: string; port: number }, tls?: ProxyTls): Promise<ImapProxy> {
  const rules: LiveRule[] = [];
  let rewriter: ((text: string) => string) | null = null;
  const events: ProxyEvent[] = [];
  const sockets = new Set<Socket>();
  let connCount = 0;
  let gate: AnswerGate | null = null;
  const dropRules: { command: string; match?: RegExp; nth: number; seen: number; done: (conn: number) => void }[] = [];

  /** Decides whether a command is answered by the proxy (and counts it against the rules). */
  const decide = (command: string, line: string, loggedIn: boolean): LiveRule | null => {
    let hit: LiveRule | null = null;
    for (const r of rules) {
      const wild = r.command === '*' && loggedIn && !NEVER_WILDCARD.has(command);
      if ((!wild && r.command.toUpperCase() !== command) || (r.match && !r.match.test(line))) continue;
      r.seen++;
      const first = r.nth ?? 1;
      const last = first + (r.times ?? 1) - 1;
      if (!hit && r.seen >= first && r.seen <= last) hit = r;
    }
    return hit;
  };

  const onClient = (client: Socket) => {
    const conn = ++connCount;
    let loggedIn = false;
    const up = connect({ host: upstream.host ?? '127.0.0.1', port: upstream.port });
    sockets.add(client);
    sockets.add(up);
    const drop = () => {
      client.destroy();
      up.destroy();
      sockets.delete(client);
      sockets.delete(up);
    };
    client.on('error', drop);
    up.on('error', drop);
    client.on('close', drop);
    up.on('close', drop);
    const rewrite = rewriter;
    let carry = '';
    /** The tag whose reply drops the connection (dropAtReply), with what came before it. */
    let dropAt: { tag: string; tail: string; done: () => void } | null = null;
    let dropping = false;
    up.on('data', (raw: Buffer) => {
      if (dropping) return;
      if (dropAt) {
        const text = dropAt.tail + raw.toString('latin1');
        // The tail starts as a line end: the command was sent after the previous reply.
        const i = text.indexOf(`\r\n${dropAt.tag} `);
        if (i >= 0) {
          const keep = Math.max(0, i + 2 - dropAt.tail.length);
          const done = dropAt.done;
          dropping = true;
          client.write(raw.subarray(0, keep), () => {
            drop();
            done();
          });
          return;
        }
        dropAt.tail = text.slice(-64);
      }
      const g = gate;
      const d = g ? throughGate(g, conn, raw) : raw;
      if (g?.holding && g.conn === conn && !g.flush) g.flush = (chunks) => chunks.forEach(forward);
      forward(d);
    });
    const forward = (d: Buffer) => {
      if (!d.length) return;
      if (!rewrite) return void client.write(d);
      // Latin-1 keeps every byte; only whole lines are rewritten, the rest waits for its end.
      const text = carry + d.toString('latin1');
      const end = text.lastIndexOf('\r\n') + 2;
      carry = text.slice(end);
      if (end > 0) client.write(Buffer.from(rewrite(text.slice(0, end)), 'latin1'));
    };

    let buf: Buffer = Buffer.alloc(0);
    let literalLeft = 0;
    let atCommandStart = true;
    let blind = false;
    let answering: { rule: LiveRule; tag: string; event: ProxyEvent } | null = null;
    let blindAfter = false;
    let chunks = 0;

    client.on('data', (chunk: Buffer) => {
      chunks++;
      if (blind) {
        up.write(chunk);
        return;
      }
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      for (;;) {
        if (literalLeft > 0) {
          const n = Math.min(literalLeft, buf.length);
          if (n === 0) return;
          if (!answering) up.write(buf.subarray(0, n));
          buf = buf.subarray(n);
          literalLeft -= n;
          continue;
        }
        const eol = buf.indexOf('\r\n');
        if (eol < 0) return;
        const lineBuf = buf.subarray(0, eol + 2);
        buf = buf.subarray(eol + 2);
        const line = lineBuf.subarray(0, eol).toString('latin1');
        if (atCommandStart) {
          const words = line.split(' ');
          const tag = words[0] ?? '';
          let command = (words[1] ?? '').toUpperCase();
          if (command === 'UID' && words[2]) command += ' ' + words[2].toUpperCase();
          if (!/^[A-Z]+( [A-Z]+)?$/.test(command)) command = '';
          const event: ProxyEvent = {
            at: Date.now(),
            conn,
            tag: command ? tag : '',
            command,
            line: command && !SECRET_COMMANDS.has(command) ? line.replace(LITERAL_AT_END, '').slice(0, 200) : '',
            throttled: false,
            chunk: chunks,
          };
          events.push(event);
          const rule = command ? decide(command, line, loggedIn) : null;
          for (const r of dropRules) {
            if (r.command.toUpperCase() !== command || (r.match && !r.match.test(line))) continue;
            if (++r.seen === r.nth && !dropAt) dropAt = { tag, tail: '\r\n', done: () => r.done(conn) };
          }
          if (command === 'LOGIN' || command === 'AUTHENTICATE') loggedIn = true;
          if (rule) {
            event.throttled = true;
            answering = { rule, tag, event };
          } else if (command === 'STARTTLS' || command === 'COMPRESS') blindAfter = true;
        }
        const lit = LITERAL_AT_END.exec(line);
        if (lit) {
          literalLeft = Number(lit[1]);
          atCommandStart = false;
          if (answering) {
            // A synchronizing literal waits for our go-ahead; LITERAL+ does not (RFC 7888).
            if (!lit[2]) client.write('+ Ready for literal data\r\n');
          } else up.write(lineBuf);
          continue;
        }
        atCommandStart = true;
        if (answering) {
          const { rule, tag, event } = answering;
          answering = null;
          event.at = Date.now();
          client.write(
            `${tag} ${rule.status ?? 'NO'} ` +
              `${rule.reply ?? `Request is throttled. Suggested Backoff Time: ${rule.backoffMs} milliseconds`}\r\n`,
          );
          proxy.onThrottle?.(event);
          continue;
        }
        up.write(lineBuf);
        if (blindAfter) {
          // From here on the bytes are TLS or deflate: forward whatever follows unread.
          blind = true;
          if (buf.length) up.write(buf);
          buf = Buffer.alloc(0);
          return;
        }
      }
    });
  };
  const server: Server = tls ? createTlsServer({ key: tls.key, cert: tls.cert }, onClient) : createServer(onClient);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;

  const proxy: ImapProxy = {
    host: '127.0.0.1',
    port,
    url: `${tls ? 'imaps' : 'imap'}://127.0.0.1:${port}`,
    events,
    throttle: (rule) => {
      rules.push({ ...rule, seen: 0 });
    },
    clearRules: () => {
      rules.length = 0;
      dropRules.length = 0;
      rewriter = null;
    },
    dropAtReply: (rule) => {
      let done = (_conn: number) => {};
      const dropped = new Promise<number>((resolve) => (done = resolve));
      dropRules.push({ ...rule, nth: rule.nth ?? 1, seen: 0, done });
      return { dropped };
    },
    rewriteAnswers: (fn) => {
      rewriter = fn;
    },
    holdAnswers: (at, extraBytes) => {
      let began = () => {};
      const held = new Promise<void>((resolve) => (began = resolve));
      const g: AnswerGate = {
        at,
        left: -1,
        extraBytesAtStart: extraBytes,
        tail: '',
        conn: 0,
        held: [],
        holding: false,
        released: false,
        began,
        flush: null,
      };
      gate = g;
      return {
        held,
        release: () => {
          if (g.released) return;
          g.released = true;
          const chunks = g.held.splice(0);
          g.flush?.(chunks);
        },
      };
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      sockets.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
