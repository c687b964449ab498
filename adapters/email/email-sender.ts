import nodemailer, { type Transporter } from 'nodemailer';
import type { CredentialRequest, Sender, SendResult, UserNotice } from '../../bot/outreach/outreach.ts';
import { CREDENTIAL_REQUEST_SUBJECT, credentialRequestMessage } from '../../cards/credential-request.ts';
import { renderEmail, type RenderedEmail } from '../../cards/render-email.ts';

/** Settings of the email sender (from the environment: `SMTP_URL`, `MAIL_FROM`). */
export interface EmailSenderOptions {
  /** `smtp://host:port`, `smtps://user:pass@host:465`, … (nodemailer's URL form). */
  smtpUrl: string;
  /**
   * The From header, e.g. `ACME IT <migrations@acme.example>`. A bare address
   * (`migrations@acme.example`) is given the name "ORGANISATION IT" of the request's
   * organisation when it has one (see `fromHeader`).
   */
  from: string;
  /** Give up on an SMTP exchange after this long (ms). Default 20 s. */
  timeoutMs?: number;
  /** Connections kept open to the server at most (the outreach's concurrency). Default 4. */
  maxConnections?: number;
  /** Messages sent over one connection before it is replaced. Default 100. */
  maxMessages?: number;
}

/**
 * The email channel of the outreach: renders the credential request (HTML and text parts)
 * and hands it to the SMTP server of `SMTP_URL` through nodemailer. Email is the fallback
 * of every chat channel. Transport only: it never logs, and the failure text it returns
 * (kept in the item's history) never contains the link.
 */
export class EmailSender implements Sender {
  readonly kind = 'email' as const;
  readonly label = 'email';
  private transport: Transporter;

  constructor(private opts: EmailSenderOptions) {
    const t = opts.timeoutMs ?? 20_000;
    // nodemailer's own logger stays off: its debug output would print the message body, and the body holds the link.
    // Pooled: a few connections, each reused for many messages, instead of one connection (and
    // greeting, EHLO, STARTTLS, login) per message. The outreach bounds how many are asked for at
    // once; the pool's own requeue of a message whose connection closed is off, so retries are
    // the outreach's alone (one policy, counted in the item's history).
    this.transport = nodemailer.createTransport({
      url: opts.smtpUrl,
      pool: true,
      maxConnections: opts.maxConnections ?? 4,
      maxMessages: opts.maxMessages ?? 100,
      maxRequeues: 0,
      logger: false,
      debug: false,
      connectionTimeout: t,
      greetingTimeout: t,
      socketTimeout: t,
    } as never);
    this.transport.set('disableFileAccess', true);
    this.transport.set('disableUrlAccess', true);
  }

  async send(req: CredentialRequest): Promise<SendResult> {
    const email = renderEmail(
      credentialRequestMessage({
        projectName: req.projectName,
        requestedBy: req.requestedBy,
        organisation: req.organisation,
        sourceAddress: req.sourceAddress,
        destinationAddress: req.destinationAddress,
        sides: req.sides,
        url: req.url,
        expiresAt: req.expiresAt,
        resend: req.resend,
        reminder: req.reminder,
      }),
      CREDENTIAL_REQUEST_SUBJECT,
    );
    return this.mail(req.recipient, email, req.url, req.organisation?.name);
  }

  /** Sends a notice (no link in it) as an email. */
  async sendNotice(n: UserNotice): Promise<SendResult> {
    return this.mail(n.recipient, renderEmail(n.message, n.subject));
  }

  private async mail(to: string, email: RenderedEmail, url?: string, orgName?: string): Promise<SendResult> {
    try {
      const info = await this.transport.sendMail({
        from: fromHeader(this.opts.from, orgName),
        to,
        subject: email.subject,
        text: email.text,
        html: email.html,
        // RFC 3834: an automatic message; auto-responders should not answer it.
        headers: { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All' },
        disableFileAccess: true,
        disableUrlAccess: true,
      });
      if (info.rejected?.length) return { ok: false, via: 'email', why: `the mail server refused the recipient ${to}` };
      return { ok: true, via: 'email' };
    } catch (e) {
      return { ok: false, via: 'email', why: describeSmtpError(e, url), ...classifySmtpError(e) };
    }
  }

  /** Closes pooled connections. */
  close(): void {
    this.transport.close();
  }
}

/** Error codes of nodemailer (and of the socket under it) that say the connection failed, not the message. */
const CONNECTION_CODES = new Set([
  'ECONNECTION',
  'ETIMEDOUT',
  'ESOCKET',
  'EDNS',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

interface SmtpErrorShape {
  code?: string;
  errno?: string;
  responseCode?: number;
  response?: string;
  message?: string;
}

/**
 * Whether an SMTP failure is worth another try later and whether it is the server's rather
 * than the recipient's. RFC 5321 §4.2.1: a 4yz reply is a transient negative completion (try
 * again), 5yz permanent; 421 means the service is closing the channel (busy, too many
 * connections: the server's state, not the recipient's). A refused, reset or timed-out
 * connection is transient too; a refused login (EAUTH) or TLS set-up is the configuration's,
 * permanent and server-wide.
 */
export function classifySmtpError(e: unknown): { transient: boolean; serverWide: boolean } {
  const err = (e ?? {}) as SmtpErrorShape;
  if (err.code === 'EAUTH' || err.code === 'ENOAUTH' || err.code === 'ETLS' || err.code === 'ECONFIG')
    return { transient: false, serverWide: true };
  const reply = err.responseCode ?? 0;
  if (reply >= 400 && reply < 500) return { transient: true, serverWide: reply === 421 };
  if (reply >= 500) return { transient: false, serverWide: false };
  if (CONNECTION_CODES.has(err.code ?? '') || CONNECTION_CODES.has(err.errno ?? ''))
    return { transient: true, serverWide: true };
  return { transient: false, serverWide: false };
}

/**
 * The From of a request: MAIL_FROM as it is when it has a display name; a bare address gets
 * "ORGANISATION IT" as its name when the organisation is known (`it@acme.example` and
 * ACME → `"ACME IT" <it@acme.example>`), since a From without a name shows as a bare
 * address, which users are told to distrust. Nodemailer quotes and encodes the name.
 */
export function fromHeader(from: string, organisation: string | undefined): string | { name: string; address: string } {
  const address = /^\s*<?([^<>\s@"]+@[^<>\s@"]+)>?\s*$/.exec(from)?.[1];
  if (!address || !organisation) return from;
  return { name: `${organisation} IT`, address };
}

/** A short, operator-readable reason, with the link removed should a server ever echo the message. */
export function describeSmtpError(e: unknown, url?: string): string {
  const err = (e ?? {}) as SmtpErrorShape;
  const base =
    err.code === 'EAUTH'
      ? 'the mail server refused the SMTP login; check the user and password in SMTP_URL'
      : err.responseCode
        ? `the mail server answered ${err.responseCode}: ${err.response ?? err.message ?? ''}`
        : CONNECTION_CODES.has(err.code ?? '') || CONNECTION_CODES.has(err.errno ?? '')
          ? `could not connect to the mail server (${err.message ?? err.code}); check SMTP_URL`
          : (err.message ?? String(e));
  return (url ? base.split(url).join('[link]') : base)
    .replace(/\/c\/[A-Za-z0-9_-]{16,}/g, '/c/[redacted]')
    .slice(0, 300);
}
