import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../bot/config.ts';
import { startSmtpSink, formLinkIn, type SmtpSink } from '../harness/smtp.ts';
import { makeFormApp, getForm, type FormTestApp } from './setup.ts';
import { defined } from '../harness/defined.ts';

describe('start-up warnings about defaults end users would take for phishing', () => {
  it('names each default and what to set, one line each', () => {
    const w = loadConfig({ SMTP_URL: 'smtp://127.0.0.1:25' }).warnings;
    expect(w).toHaveLength(4);
    expect(w[0]).toMatch(/^PUBLIC_URL is not set: credential links point to http:\/\/localhost:3978, .*set PUBLIC_URL/);
    expect(w[1]).toMatch(
      /^MAIL_FROM is not set: credential requests are sent from MailFerry <mailferry@localhost>.*set MAIL_FROM/,
    );
    expect(w[2]).toMatch(/^MAILFERRY_ORG_NAME is not set: .*project set NAME --org/);
    expect(w[3]).toMatch(/^MAILFERRY_SUPPORT_CONTACT is not set: .*project set NAME --support/);
    for (const line of w) expect(line).not.toContain('\n');
  });

  it(
    'an http:// or localhost PUBLIC_URL and a From at ' + 'localhost are warned about too; a complete setup is quiet',
    () => {
      expect(
        loadConfig({
          PUBLIC_URL: 'http://ferry.acme.example',
          MAILFERRY_ORG_NAME: 'ACME',
          MAILFERRY_SUPPORT_CONTACT: 'x',
        }).warnings,
      ).toEqual([expect.stringMatching(/^PUBLIC_URL is not https/)]);
      expect(
        loadConfig({ PUBLIC_URL: 'https://127.0.0.1:8443', MAILFERRY_ORG_NAME: 'ACME', MAILFERRY_SUPPORT_CONTACT: 'x' })
          .warnings,
      ).toEqual([expect.stringMatching(/^PUBLIC_URL points to 127\.0\.0\.1:8443/)]);
      expect(
        loadConfig({
          PUBLIC_URL: 'https://ferry.acme.example',
          SMTP_URL: 'smtp://x',
          MAIL_FROM: 'it@localhost',
          MAILFERRY_ORG_NAME: 'ACME',
          MAILFERRY_SUPPORT_CONTACT: 'x',
        }).warnings,
      ).toEqual([expect.stringMatching(/^MAIL_FROM is an address at "localhost"/)]);
      expect(
        loadConfig({
          PUBLIC_URL: 'https://ferry.acme.example',
          SMTP_URL: 'smtp://x',
          MAIL_FROM: 'ACME IT <it@acme.example>',
          MAILFERRY_ORG_NAME: 'ACME',
          MAILFERRY_SUPPORT_CONTACT: 'helpdesk@acme.example',
        }).warnings,
      ).toEqual([]);
      expect(() => loadConfig({ MAILFERRY_ORG_NAME: 'x'.repeat(101) })).toThrow(
        /MAILFERRY_ORG_NAME must be one line of at most 100 characters/,
      );
    },
  );
});

describe('the organisation, its support contact and its time zone in what users see (real SMTP, real HTTP)', () => {
  let smtp: SmtpSink;
  let t: FormTestApp | undefined;
  beforeAll(async () => {
    smtp = await startSmtpSink();
  });
  afterAll(async () => smtp.close());
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const setUp = async (env: Record<string, string> = {}) => {
    t = await makeFormApp({ SMTP_URL: smtp.url, MAIL_FROM: 'ACME IT <it@acme.example>', ...env });
    await t.run('project create acme --source imap://127.0.0.1:1 --destination imap://127.0.0.1:2');
    await t.run('add alice@old.example alice@new.example');
    return t;
  };
  const startAndRead = async (t: FormTestApp) => {
    const before = smtp.messages.length;
    expect((await t.run('start alice@old.example')).result.ok).toBe(true);
    return (await smtp.waitForCount(before + 1))[before];
  };

  it(
    "the install's name and contact are in the email and on the " +
      "form; the project's own win; times in the project's zone and UTC",
    async () => {
      const t = await setUp({ MAILFERRY_ORG_NAME: 'ACME Holding', MAILFERRY_SUPPORT_CONTACT: 'helpdesk@acme.example' });
      let mail = await startAndRead(t);
      for (const part of [defined(mail).parsed.text!, String(defined(mail).parsed.html)]) {
        expect(part).toContain('ACME Holding');
        expect(part).toContain('helpdesk@acme.example');
      }
      // The project's own: name, contact and zone.
      await t.run('stop alice@old.example');
      const set = await t.run(
        'project set acme --org "ACME Corp (Europe)" --support "IT desk, +49 30 1234 567" --tz Europe/Berlin',
      );
      expect(set.text).toContain('organisation "ACME Corp (Europe)"');
      mail = await startAndRead(t);
      const text = defined(mail).parsed.text!;
      expect(text).toContain('ACME Corp (Europe) is moving your mailbox');
      expect(text).toContain('Questions, or not sure this message is genuine? Contact IT desk, +49 30 1234 567.');
      expect(text).not.toContain('ACME Holding');
      expect(text).toMatch(/expires on \d{4}-\d\d-\d\d \d\d:\d\d Europe\/Berlin \((\d{4}-\d\d-\d\d )?\d\d:\d\d UTC\)/);
      // The form shows the same.
      const page = await getForm(formLinkIn(defined(mail)));
      expect(page.status).toBe(200);
      expect(page.html).toContain('<header class="bar" role="banner">ACME Corp (Europe) <span>');
      expect(page.html).toMatch(/<dt>Help<\/dt><dd>IT desk, \+49 30 1234 567<\/dd>/);
      expect(page.html).toMatch(/<dt>Link expires<\/dt><dd>[^<]*Europe\/Berlin \([^<]*UTC\)<\/dd>/);
      // `off` returns to the install's.
      await t.run('project set acme --org off --support off');
      await t.run('stop alice@old.example');
      mail = await startAndRead(t);
      expect(defined(mail).parsed.text).toContain('ACME Holding');
      expect(defined(mail).parsed.text).toContain('helpdesk@acme.example');
      // status shows the history in the project's zone as well.
      const st = await t.run('status alice@old.example');
      expect(st.text).toMatch(/\d\d:\d\d Europe\/Berlin \(\d\d:\d\d UTC\) — /);
    },
  );

  it("a bare MAIL_FROM is sent with the organisation's name; one with a name is kept as it is", async () => {
    const t = await setUp({ MAIL_FROM: 'it@acme.example', MAILFERRY_ORG_NAME: 'ACME Holding' });
    let mail = await startAndRead(t);
    expect(defined(mail).parsed.from?.value).toEqual([{ name: 'ACME Holding IT', address: 'it@acme.example' }]);
    expect(defined(mail).from).toBe('it@acme.example');
    // The project's own name wins, as in the text.
    await t.run('stop alice@old.example');
    await t.run('project set acme --org "ACME Corp (Europe)"');
    mail = await startAndRead(t);
    expect(defined(mail).parsed.from?.value).toEqual([{ name: 'ACME Corp (Europe) IT', address: 'it@acme.example' }]);
    await t.close();
    // A display name of its own is never replaced.
    const named = await setUp({ MAIL_FROM: 'Migration Desk <it@acme.example>', MAILFERRY_ORG_NAME: 'ACME Holding' });
    mail = await startAndRead(named);
    expect(defined(mail).parsed.from?.value).toEqual([{ name: 'Migration Desk', address: 'it@acme.example' }]);
  });

  it('a bare MAIL_FROM without any organisation name stays a bare address', async () => {
    const t = await setUp({ MAIL_FROM: 'it@acme.example' });
    const mail = await startAndRead(t);
    expect(defined(mail).parsed.from?.value).toEqual([{ name: '', address: 'it@acme.example' }]);
  });

  it("a link of the wrong shape or an unknown one gets the install's name and support contact", async () => {
    const t = await setUp({ MAILFERRY_ORG_NAME: 'ACME Holding', MAILFERRY_SUPPORT_CONTACT: 'helpdesk@acme.example' });
    for (const path of ['/c/not-a-link-at-all', '/c/a/b/c', '/c', `/c/${'A'.repeat(43)}`]) {
      const page = await getForm(`${t.base}${path}`);
      expect(page.status, path).toBe(404);
      expect(page.html, path).toContain('This link cannot be used');
      expect(page.html, path).toContain('ACME Holding');
      expect(page.html, path).toContain('ask helpdesk@acme.example to send you a new link');
    }
  });

  it('a request made from the console does not say the console login asked', async () => {
    const t = await setUp({ MAILFERRY_ORG_NAME: 'ACME Holding' });
    const before = smtp.messages.length;
    await t.app.dispatcher.dispatch({
      text: 'start alice@old.example',
      surface: 'console',
      userId: 'root',
      userName: 'root',
      channelRef: (await t.app.engine.getProject('acme')).channelRef!,
      threadRef: null,
      reply: async () => {},
      openThread: async () => 'console:T1',
    });
    const mail = (await smtp.waitForCount(before + 1))[before];
    expect(defined(mail).parsed.text).not.toMatch(/\broot\b/);
    expect(defined(mail).parsed.text).toContain('The IT team of ACME Holding asked for the migration');
  });

  it('a project name or contact with an invisible character or over the length is refused', async () => {
    const t = await setUp();
    expect((await t.run('project set acme --org "ACME\u202EtseT"')).text).toMatch(/invisible character/);
    expect((await t.run(`project set acme --support "${'x'.repeat(201)}"`)).text).toMatch(/at most 200 are shown/);
  });
});
