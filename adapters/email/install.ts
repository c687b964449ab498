import type { App } from '../../bot/app.ts';
import { EmailSender } from './email-sender.ts';

/**
 * Adds the email channel to the outreach when `SMTP_URL` is set. Without it, requests are
 * recorded as not delivered (history and thread say so) and the item keeps waiting; the
 * log says how to fix it once at start.
 */
export function installEmail(app: App): EmailSender | undefined {
  const { config, log } = app;
  if (!config.smtpUrl) {
    log.warn(
      'email is not configured: credential requests cannot be emailed ' +
        '(set SMTP_URL and MAIL_FROM); items wait and the history says so',
    );
    return undefined;
  }
  // As many pooled connections as requests in flight: each request holds one while it sends, and reuses it after.
  const email = new EmailSender({
    smtpUrl: config.smtpUrl,
    from: config.mailFrom,
    maxConnections: config.outreachConcurrency,
  });
  app.outreach.addSender(email);
  app.onClose(async () => {
    await app.outreach.idle();
    email.close();
  });
  return email;
}
