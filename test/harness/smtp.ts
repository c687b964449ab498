/**
 * A real SMTP server for tests (smtp-server on a free loopback port, no TLS, no AUTH):
 * every message it receives is parsed with mailparser and kept in order.
 */
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { defined } from './defined.ts';

/** One received message: the envelope and the parsed mail. */
export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  parsed: ParsedMail;
}

/** A running SMTP sink. */
export interface SmtpSink {
  port: number;
  /** `smtp://127.0.0.1:PORT` (what SMTP_URL takes). */
  url: string;
  messages: ReceivedMail[];
  /** Resolves with the first message (received so far or later) matching, or rejects after `timeoutMs`. */
  waitFor(match?: (m: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  /** Resolves with the `n`-th message to a recipient (1-based). */
  waitForCount(n: number, match?: (m: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail[]>;
  /** Refuse every recipient from now on (for delivery-failure tests). */
  refuseRecipients(on: boolean): void;
  /** Answer the next `n` connections with `code` (421: too busy, try later) and close them. */
  refuseConnections(n: number, code?: number): void;
  /** Connections open now, the most open at once, and opened in all (counted in onConnect / onClose). */
  connections: { open: number; max: number; total: number; refused: number };
  /** RCPT TO commands seen per address (retries show as more than one). */
  rcptAttempts: Map<string, number>;
  /** AUTH attempts seen (all refused). */
  readonly logins: number;
  close(): Promise<void>;
}

/**
 * Starts an SMTP sink on 127.0.0.1 (a free port). With `refuseLogin`, it offers AUTH (no TLS) and refuses every login
 * (535).
 */
export async function startSmtpSink(opts: { refuseLogin?: boolean } = {}): Promise<SmtpSink> {
  const messages: ReceivedMail[] = [];
  const waiters: (() => void)[] = [];
  let refuse = false;
  let refuseNext = 0;
  let refuseCode = 421;
  const connections = { open: 0, max: 0, total: 0, refused: 0 };
  const rcptAttempts = new Map<string, number>();
  let logins = 0;
  const server = new SMTPServer({
    secure: false,
    authOptional: !opts.refuseLogin,
    allowInsecureAuth: !!opts.refuseLogin,
    disabledCommands: opts.refuseLogin ? ['STARTTLS'] : ['AUTH', 'STARTTLS'],
    onAuth(_auth, _session, cb) {
      logins++;
      cb(Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }));
    },
    logger: false,
    size: 10 * 1024 * 1024,
    onConnect(_session, cb) {
      connections.open++;
      connections.total++;
      connections.max = Math.max(connections.max, connections.open);
      if (refuseNext > 0) {
        refuseNext--;
        connections.refused++;
        return cb(
          Object.assign(new Error('4.7.0 Too many connections, try again later'), { responseCode: refuseCode }),
        );
      }
      cb();
    },
    onClose() {
      connections.open--;
    },
    onRcptTo(address, _session, cb) {
      rcptAttempts.set(address.address, (rcptAttempts.get(address.address) ?? 0) + 1);
      if (refuse) return cb(Object.assign(new Error('5.1.1 mailbox unavailable'), { responseCode: 550 }));
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', async () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        try {
          const parsed = await simpleParser(raw);
          messages.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw,
            parsed,
          });
          for (const w of waiters.splice(0)) w();
          cb();
        } catch (e) {
          cb(e as Error);
        }
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const a = server.server.address();
      resolve(typeof a === 'object' && a ? a.port : 0);
    });
  });
  const waitForCount = (n: number, match: (m: ReceivedMail) => boolean = () => true, timeoutMs = 15_000) =>
    new Promise<ReceivedMail[]>((resolve, reject) => {
      const check = () => {
        const found = messages.filter(match);
        if (found.length >= n) {
          clearTimeout(timer);
          resolve(found);
          return true;
        }
        return false;
      };
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `SMTP sink: ${n} matching message(s) not received within ${timeoutMs} ms (have ${messages.length})`,
            ),
          ),
        timeoutMs,
      );
      const loop = () => {
        if (!check()) waiters.push(loop);
      };
      loop();
    });
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    waitFor: async (match, timeoutMs) => defined((await waitForCount(1, match, timeoutMs))[0], 'mail'),
    waitForCount: async (n, match, timeoutMs) => waitForCount(n, match, timeoutMs),
    refuseRecipients: (on) => void (refuse = on),
    refuseConnections: (n, code = 421) => {
      refuseNext = n;
      refuseCode = code;
    },
    connections,
    rcptAttempts,
    get logins() {
      return logins;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The credential form link in a received mail's text part (`…/c/TOKEN`). */
export function formLinkIn(m: ReceivedMail): string {
  const found = (m.parsed.text ?? '').match(/https?:\/\/\S+\/c\/[A-Za-z0-9_-]{43}/);
  if (!found) throw new Error('no form link in the message text');
  return found[0];
}
