/**
 * The feature users come for, end to end with real parts: an admin starts a mailbox whose
 * credentials nobody knows; a real SMTP server receives the request; a real headless
 * Chromium opens the link from that email, gets a password wrong, then right; the real
 * Dovecot checks it; the job runner copies the mail; the item completes. No password,
 * token or link reaches any log line of the whole run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  makeMessage,
  readMailbox,
  seedImap,
  startDovecot,
  dovecotAvailable,
  type DovecotInstance,
} from '../harness/dovecot.ts';
import { startSmtpSink, formLinkIn, type SmtpSink } from '../harness/smtp.ts';
import { chromiumAvailable, launchBrowser, type TestBrowser } from '../harness/browser.ts';
import { FAST_FAILURES, makeFormApp, type FormTestApp } from './setup.ts';
import { Runner } from '../../engine/runner/runner.ts';
import { runPass } from '../../engine/copy/index.ts';
import { createPrismaCheckpointStore } from '../../engine/store/folder-state.ts';
import { COMPLETION_NOTICE_SUBJECT } from '../../cards/completion-notice.ts';
import { defined } from '../harness/defined.ts';

const SRC_PW = 'Kl4ppe-Schwarz <src> & "quoted"';
const DST_PW = "d'Artagnan/dest#42";
const WRONG = 'wrong-one-7';

const ready = dovecotAvailable() && chromiumAvailable();

describe.skipIf(!ready)('self-service credentials, end to end (SMTP, Chromium, Dovecot, runner)', () => {
  let src: DovecotInstance;
  let dst: DovecotInstance;
  let smtp: SmtpSink;
  let browser: TestBrowser;
  let t: FormTestApp;
  let runner: Runner;
  const out: string[] = [];
  let restore: (() => void) | undefined;

  beforeAll(async () => {
    // Everything the process prints during the run, besides the app's own log lines.
    const ow = process.stdout.write.bind(process.stdout);
    const ew = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((c: string | Uint8Array, ...a: unknown[]) => (
      out.push(String(c)), ow(c as string, ...(a as []))
    )) as typeof process.stdout.write;
    process.stderr.write = ((c: string | Uint8Array, ...a: unknown[]) => (
      out.push(String(c)), ew(c as string, ...(a as []))
    )) as typeof process.stderr.write;
    restore = () => {
      process.stdout.write = ow;
      process.stderr.write = ew;
    };
    [src, dst, smtp, browser] = await Promise.all([
      startDovecot({ users: [{ name: 'alice@old.example', password: SRC_PW }], extraConfig: FAST_FAILURES }),
      startDovecot({ users: [{ name: 'alice@new.example', password: DST_PW }], extraConfig: FAST_FAILURES }),
      startSmtpSink(),
      launchBrowser(),
    ]);
    await seedImap(src, 'alice@old.example', SRC_PW, {
      INBOX: [
        { raw: makeMessage({ subject: 'hello' }), flags: ['\\Seen'] },
        { raw: makeMessage({ subject: 'second' }) },
      ],
      Archive: [{ raw: makeMessage({ subject: 'old news', size: 40_000 }), flags: ['\\Seen', 'Work'] }],
    });
    t = await makeFormApp({ SMTP_URL: smtp.url, MAIL_FROM: 'IT Migrations <it@corp.example>' });
    runner = new Runner(
      t.app.engine,
      createPrismaCheckpointStore(t.app.db),
      runPass,
      t.app.log.child({ part: 'runner' }),
      { concurrency: 1, pollMs: 200, stopCheckMs: 200 },
    );
    await runner.start();
  });

  afterAll(async () => {
    // The browser first: its open keep-alive connections would hold the HTTP server's close.
    await browser?.close();
    await runner?.stop();
    await t?.close();
    await smtp?.close();
    await src?.dispose();
    await dst?.dispose();
    restore?.();
  });

  it(
    'email → browser → wrong then right password → verified ' + '→ migrated → Completed; nothing secret in any log',
    async () => {
      await t.run(`project create acme --source ${src.url} --destination ${dst.url} --self-service both`);
      await t.run('add alice@old.example alice@new.example --ask source');
      const started = await t.run('start alice@old.example');
      expect(started.result.ok).toBe(true);
      expect((await t.item('alice@old.example')).status).toBe('WaitingForUser');

      // The email, as the SMTP server received it.
      const mail = await smtp.waitFor((m) => m.to.includes('alice@old.example'));
      expect(mail.parsed.subject).toBe('ACTION REQUIRED: Information required for your migration');
      expect(mail.parsed.html).toContain('acme');
      expect(mail.parsed.text).toMatch(/expires on \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
      const link = formLinkIn(mail);
      const token = link.split('/c/')[1];
      // The link in the HTML part is the same one the text part carries.
      expect(mail.parsed.html).toContain(`href="${link}"`);

      // A real browser opens it: phone-sized, no CSP violation, no script, labelled fields.
      const page = await browser.context.newPage();
      await page.setViewportSize({ width: 375, height: 740 });
      const problems: string[] = [];
      page.on('console', (m) => {
        // Error statuses (422, 404) are expected answers; anything else (a CSP violation) is not.
        if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(m.text());
      });
      page.on('dialog', (d) => {
        problems.push(`dialog: ${d.message()}`);
        void d.dismiss();
      });
      const resp = await page.goto(link);
      expect(resp?.status()).toBe(200);
      expect(resp?.headers()['content-security-policy']).toContain("script-src 'none'");
      await expect.poll(() => page.title()).toContain('Credentials for your migration');
      expect(await page.locator('h1').innerText()).toBe('Enter your credentials to start your migration');
      expect(await page.locator('body').innerText()).toContain(`127.0.0.1:${src.port}`);
      expect(await page.inputValue('#source-login')).toBe('alice@old.example');
      expect(await page.inputValue('#destination-login')).toBe('alice@new.example');
      expect(await page.getByLabel('Password').count()).toBe(2);
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
      // The style sheet applied (allowed by its hash): the button is styled, not the browser default.
      expect(
        await page
          .locator('button[type=submit]')
          .evaluate(
            (b) =>
              (globalThis as unknown as { getComputedStyle(e: unknown): { borderTopWidth: string } }).getComputedStyle(
                b,
              ).borderTopWidth,
          ),
      ).toBe('0px');

      // Wrong destination password, typed with the keyboard.
      await page.locator('#source-password').focus();
      await page.keyboard.type(SRC_PW);
      await page.keyboard.press('Tab'); // to the destination username
      await page.keyboard.press('Tab'); // to the destination password
      expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('destination-password');
      await page.keyboard.type(WRONG);
      await page.keyboard.press('Enter');
      await page.waitForLoadState('load');
      expect(await page.locator('#error-summary').innerText()).toContain(
        'The server of your new mailbox did not accept this username and password',
      );
      expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('error-summary');
      expect(await page.locator('#destination-password').getAttribute('aria-invalid')).toBe('true');
      // The source was right and is kept: only the destination is asked now.
      expect(await page.locator('#source-password').count()).toBe(0);
      expect((await t.item('alice@old.example')).status).toBe('WaitingForUser');

      // Right password, submitted with the button.
      await page.fill('#destination-password', DST_PW);
      await page.getByRole('button', { name: 'Verify and start the migration' }).click();
      await page.waitForLoadState('load');
      expect(await page.locator('h1').innerText()).toBe('Thank you: your migration has started');

      // The link is used up.
      const again = await page.goto(link);
      expect(again?.status()).toBe(404);
      expect(await page.locator('h1').innerText()).toBe('This link cannot be used');
      expect(problems).toEqual([]);
      await page.close();

      // The runner takes it from here: the migration completes.
      let status = '';
      for (let i = 0; i < 300 && status !== 'Completed' && status !== 'Failed'; i++) {
        status = (await t.item('alice@old.example')).status;
        if (status !== 'Completed') await new Promise((r) => setTimeout(r, 200));
      }
      const item = await t.item('alice@old.example');
      expect(item.failureDetail ?? '').toBe('');
      expect(item.status).toBe('Completed');
      expect(item.messagesCopied).toBe(3);
      const copied = await readMailbox(dst, 'alice@new.example', DST_PW);
      expect(copied.messages.INBOX).toHaveLength(2);
      expect(Object.values(copied.messages).flat()).toHaveLength(3);

      const kinds = (await t.app.engine.history(item.id)).map((h) => h.kind);
      expect(kinds).toEqual(
        expect.arrayContaining([
          'submit',
          'request.sent',
          'credentials.refused',
          'credentials-received',
          'claim',
          'pass-completed',
        ]),
      );
      const thread = t.posts.map((p) => p.text).join('\n');
      expect(thread).toMatch(/asked alice@old\.example by email/);
      expect(thread).toMatch(/destination server refused the credentials entered \(attempt 1\)/);
      expect(thread).toMatch(/alice@old\.example\*? completed/);

      // The whole run's log output: no password, no token, no link.
      await t.app.bus.idle();
      const all = [...t.logs, ...out].join('\n');
      expect(t.logs.length).toBeGreaterThan(5);
      for (const s of [SRC_PW, DST_PW, WRONG, token, link, '/c/' + defined(token).slice(0, 16)])
        expect(all).not.toContain(s);
      expect(all).not.toMatch(/\/c\/[A-Za-z0-9_-]{43}/);
    },
  );
  it('HTML and script typed into every field stay text in a real browser', async () => {
    await t.run('add eve@old.example alice@new.example --ask source');
    await t.run('start eve@old.example');
    const link = formLinkIn(await smtp.waitFor((m) => m.to.includes('eve@old.example')));
    const page = await browser.context.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(link);
    const payload = `"><script>alert('x')</script><img src=x onerror="alert('y')"><svg onload=alert(1)>`;
    for (const id of ['#source-login', '#source-password', '#destination-login', '#destination-password'])
      await page.fill(id, payload);
    await page.getByRole('button', { name: 'Verify and start the migration' }).click();
    await page.waitForLoadState('load');
    expect(await page.locator('#error-summary').innerText()).toContain('did not accept this username and password');
    // What was typed comes back as the value of the field, not as markup.
    expect(await page.inputValue('#source-login')).toBe(payload);
    expect(await page.inputValue('#destination-login')).toBe(payload);
    expect(await page.locator('img, svg, script').count()).toBe(0);
    expect(await page.inputValue('#source-password')).toBe(''); // passwords are never sent back
    expect(dialogs).toEqual([]);
    await page.close();
    expect((await t.item('eve@old.example')).status).toBe('WaitingForUser');
  });
  it('the whole run printed no password, token or link', async () => {
    await t.app.bus.idle();
    // Credential requests carry a link; the completion notice after the copy carries none.
    const links = smtp.messages.filter((m) => m.parsed.subject !== COMPLETION_NOTICE_SUBJECT).map(formLinkIn);
    expect(smtp.messages.some((m) => m.parsed.subject === COMPLETION_NOTICE_SUBJECT)).toBe(true);
    expect(links.length).toBeGreaterThanOrEqual(2);
    const all = [...t.logs, ...out].join('\n');
    for (const s of [SRC_PW, DST_PW, WRONG, ...links, ...links.map((l) => l.split('/c/')[1])])
      expect(all).not.toContain(s);
    expect(all).not.toMatch(/\/c\/[A-Za-z0-9_-]{43}/);
  });
});
