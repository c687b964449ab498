import { waitForPost } from '../harness/app.ts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { credentialRequestMessage, CREDENTIAL_REQUEST_SUBJECT } from '../../cards/credential-request.ts';
import { renderEmail } from '../../cards/render-email.ts';
import { startSmtpSink, formLinkIn, type SmtpSink } from '../harness/smtp.ts';
import { makeFormApp, getForm, type FormTestApp } from './setup.ts';
import { defined } from '../harness/defined.ts';

const TOKEN_RE = /[A-Za-z0-9_-]{43}/;

describe('credential request content', () => {
  const view = {
    projectName: 'acme',
    requestedBy: 'Bob <script>alert(1)</script>',
    sourceAddress: 'alice@old.example',
    destinationAddress: 'alice@new.example',
    sides: ['source'],
    url: 'https://ferry.example/c/' + 'A'.repeat(43),
    expiresAt: new Date('2026-11-28T09:00:00Z'),
  };

  it(
    'says who asked, which mailbox, what happens next, when ' + 'the link expires, and carries the link, in both parts',
    () => {
      const e = renderEmail(credentialRequestMessage(view), CREDENTIAL_REQUEST_SUBJECT);
      expect(e.subject).toBe('ACTION REQUIRED: Information required for your migration');
      for (const part of [e.text, e.html]) {
        expect(part).toContain('acme');
        expect(part).toContain('alice@old.example');
        expect(part).toContain('alice@new.example');
        expect(part).toContain('2026-11-28 09:00 UTC');
        expect(part).toContain(view.url);
        expect(part).toMatch(/migration starts at once/);
      }
      expect(e.text).toContain('Bob <script>alert(1)</script>');
      expect(e.html).not.toContain('<script>');
      expect(e.html).toContain('Bob &#60;script&#62;alert(1)&#60;/script&#62;');
    },
  );

  it('names both mailboxes when both credentials are needed', () => {
    const m = credentialRequestMessage({ ...view, sides: ['source', 'destination'] });
    expect(m.text).toMatch(
      /current mailbox \(alice@old\.example\) and the username and password of your new mailbox \(alice@new\.example\)/,
    );
  });
});

describe('credential request by email (real SMTP)', () => {
  let smtp: SmtpSink;
  let t: FormTestApp | undefined;
  beforeAll(async () => {
    smtp = await startSmtpSink();
  });
  afterAll(async () => {
    await smtp.close();
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function setUp(selfService: 'source' | 'destination' | 'both' = 'source', env: Record<string, string> = {}) {
    t = await makeFormApp({ SMTP_URL: smtp.url, MAIL_FROM: 'MailFerry <ferry@corp.example>', ...env });
    await t.run(
      `project create acme --source imap://127.0.0.1:1 --destination imap://127.0.0.1:2 --self-service ${selfService}`,
    );
    await t.run('add alice@old.example alice@new.example');
    return t;
  }

  it('start on an item with missing credentials sends the request; the link opens the form', async () => {
    const t = await setUp();
    const before = smtp.messages.length;
    const r = await t.run('start alice@old.example');
    expect(r.result.ok).toBe(true);
    expect((await t.item('alice@old.example')).status).toBe('WaitingForUser');
    const [mail] = (await smtp.waitForCount(before + 1)).slice(before);
    expect(defined(mail).to).toEqual(['alice@old.example']);
    expect(defined(mail).from).toBe('ferry@corp.example');
    expect(defined(mail).parsed.subject).toBe('ACTION REQUIRED: Information required for your migration');
    expect(defined(mail).parsed.html).toBeTruthy();
    expect(defined(mail).parsed.text).toBeTruthy();
    const link = formLinkIn(defined(mail));
    expect(link.startsWith(`${t.base}/c/`)).toBe(true);
    expect(defined(mail).parsed.html).toContain(link);
    expect(defined(mail).parsed.text).toContain('admin');
    expect(defined(mail).parsed.headers.get('auto-submitted')).toBe('auto-generated');
    const page = await getForm(link);
    expect(page.status).toBe(200);
    expect(page.html).toContain('alice@old.example');
    expect(await t.historyKinds('alice@old.example')).toContain('request.sent');
    await waitForPost(t, /asked alice@old\.example by email/);
    // The link (token) never reached a log line or the history.
    const token = link.split('/c/')[1];
    expect(t.logs.join('\n')).not.toContain(token);
    const hist = JSON.stringify(await t.app.engine.history((await t.item('alice@old.example')).id));
    expect(hist).not.toContain(token);
    expect(hist).not.toMatch(new RegExp(`/c/${TOKEN_RE.source}`));
  });

  it('asks the source and the destination address when the project says both, each with its own link', async () => {
    const t = await setUp('both');
    await t.run('project set acme --self-service both');
    const before = smtp.messages.length;
    await t.run('start alice@old.example');
    const mails = (await smtp.waitForCount(before + 2)).slice(before);
    expect(mails.map((m) => m.to[0]).sort()).toEqual(['alice@new.example', 'alice@old.example']);
    const [a, b] = mails.map(formLinkIn);
    expect(a).not.toBe(b);
    expect((await getForm(defined(a))).status).toBe(200);
    expect((await getForm(defined(b))).status).toBe(200);
  });

  it('resend: a new link goes out and the old one dies', async () => {
    const t = await setUp();
    const before = smtp.messages.length;
    await t.run('start alice@old.example');
    const first = formLinkIn(defined((await smtp.waitForCount(before + 1))[before]));
    const r = await t.run('resend alice@old.example');
    expect(r.result.ok).toBe(true);
    const second = formLinkIn(defined((await smtp.waitForCount(before + 2))[before + 1]));
    expect(second).not.toBe(first);
    const old = await getForm(first);
    expect(old.status).toBe(404);
    expect(old.html).toContain('This link cannot be used');
    expect((await getForm(second)).status).toBe(200);
  });

  it('a refused recipient is recorded; the item keeps waiting', async () => {
    const t = await setUp();
    smtp.refuseRecipients(true);
    try {
      await t.run('start alice@old.example');
    } finally {
      smtp.refuseRecipients(false);
    }
    const item = await t.item('alice@old.example');
    expect(item.status).toBe('WaitingForUser');
    const h = (await t.app.engine.history(item.id)).find((x) => x.kind === 'request.failed');
    expect(h?.detail.via).toBe('email');
    expect(String(h?.detail.why)).toMatch(/550|refused/);
  });
});

describe('without SMTP_URL', () => {
  it(
    'the request cannot be sent: the thread says so, ' + 'the item stays waiting with that fact in its history',
    async () => {
      const t = await makeFormApp({});
      try {
        expect(t.logs.join('\n')).toMatch(/WARN .*email is not configured/);
        await t.run('project create acme --source imap://127.0.0.1:1 --destination imap://127.0.0.1:2');
        await t.run('add alice@old.example');
        await t.run('start alice@old.example');
        const item = await t.item('alice@old.example');
        expect(item.status).toBe('WaitingForUser');
        const h = (await t.app.engine.history(item.id)).find((x) => x.kind === 'request.failed');
        expect(h?.detail).toMatchObject({ recipient: 'alice@old.example', via: 'email' });
        expect(String(h?.detail.why)).toMatch(/email is not configured/);
        await waitForPost(t, /could not reach alice@old\.example by email: email is not configured/);
      } finally {
        await t.close();
      }
    },
  );
});
