import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, freePort, type DovecotInstance } from '../harness/dovecot.ts';
import { startSmtpSink, formLinkIn, type SmtpSink } from '../harness/smtp.ts';
import { startOidc, type OidcHarness } from '../harness/oidc.ts';
import { probeServer } from '../../engine/connectors/probe-server.ts';
import { makeFormApp, submitForm, type FormTestApp } from './setup.ts';
import { defined } from '../harness/defined.ts';
import { joinedRegExp } from '../harness/regex.ts';

// project create / project set look at both servers (no login) and say what they found;
// the project is kept either way. Real Dovecot (implicit TLS and STARTTLS), a real SMTP
// server on a port given as IMAP, a closed port, and the test OpenID provider as the
// Microsoft authority.
describe('project create and project set look at both servers', () => {
  let dv: DovecotInstance;
  let smtp: SmtpSink;
  let idp: OidcHarness;
  let t: FormTestApp;
  let closed: number;
  beforeAll(async () => {
    [dv, smtp, idp] = await Promise.all([
      startDovecot({ tls: true, users: [{ name: 'alice', password: 'pw-alice' }] }),
      startSmtpSink(),
      startOidc(),
    ]);
    closed = await freePort();
    t = await makeFormApp({ SMTP_URL: smtp.url, MAIL_FROM: 'ACME IT <it@acme.example>' });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await Promise.all([dv?.dispose(), smtp?.close(), idp?.close()]);
  });

  it('a working server: TLS, the greeting and the capabilities; an untrusted certificate is a warning', async () => {
    const r = await t.run(`project create good --source ${dv.imapsUrl} --destination ${dv.url}`);
    expect(r.text).toMatch(/Project \*?good\*? created/);
    // The harness's certificate is self-signed: the check says logins would be refused for it.
    expect(r.text).toMatch(
      /⚠️ Source 127\.0\.0\.1:\d+: reachable; TLSv1\.[23], but the certificate is not trusted \(\w+\)/,
    );
    expect(r.text).toMatch(
      joinedRegExp(
        /⚠️ Destination 127\.0\.0\.1:\d+: reachable; IMAP greeting "[^"]*"; /,
        /STARTTLS: TLSv1\.[23], but the certificate is not trusted/,
      ),
    );
    expect(r.text).toMatch(/capabilities IMAP4rev1 /);
    expect(r.text).toContain('The project is kept as it is.');
    // With its CA trusted, the same servers pass.
    const s = await probeServer(dv.imapsUrl!, { ca: dv.certPem });
    expect(s.findings.join('; ')).toMatch(
      joinedRegExp(
        /^reachable; TLSv1\.[23], certificate valid for 127\.0\.0\.1; /,
        /IMAP greeting "[^"]*"; capabilities IMAP4rev1 .*; logins .*PLAIN/,
      ),
    );
    expect(s.ok).toBe(true);
    const st = await probeServer(dv.url, { ca: dv.certPem });
    expect(st.ok).toBe(true);
    expect(st.findings.join('; ')).toMatch(/STARTTLS: TLSv1\.[23], certificate valid/);
  });

  it('unreachable, not IMAP, or a reserved name: said, with what to check, and the project is kept', async () => {
    const r = await t.run(
      `project create broken --source imap://127.0.0.1:${closed} ` +
        `--destination imap://127.0.0.1:${new URL(smtp.url).port}`,
    );
    expect(r.text).toMatch(/Project \*?broken\*? created/);
    expect(r.text).toMatch(
      new RegExp(
        `⚠️ Source 127\\.0\\.0\\.1:${closed}: not reachable: nothing listens ` +
          `on 127\\.0\\.0\\.1:${closed} \\(connection refused\\); check the port`,
      ),
    );
    expect(r.text).toMatch(/⚠️ Destination 127\.0\.0\.1:\d+: reachable; not an IMAP greeting: "220 /);
    expect((await t.app.engine.getProject('broken')).sourceUrl).toBe(`imap://127.0.0.1:${closed}`);
    const x = await t.run(
      'project create typo --source imaps://mail.old.example:993 --destination imaps://mail.new.example',
    );
    expect(x.text).toMatch(/⚠️ Source mail\.old\.example:993: mail\.old\.example is a reserved example name/);
    // project set looks again.
    const s = await t.run('project set broken --digest off');
    expect(s.text).toContain('Project broken updated: digest off.');
    expect(s.text).toMatch(/⚠️ Source 127\.0\.0\.1:\d+: not reachable/);
  });

  it('m365://: the tenant is looked up at the authority (OpenID metadata), then the IMAP host', async () => {
    t.app.services.probeServer = (url) =>
      probeServer(url, { m365: { authorityHost: idp.authorityHost, ca: idp.caPem } });
    const imap = `?imap=127.0.0.1:${new URL(dv.imapsUrl!).port}`;
    const r = await t.run(
      `project create cloud --source m365://${idp.tenantId}${imap} ` +
        `--destination m365://00000000-dead-4000-8000-000000000000${imap}`,
    );
    expect(r.text).toMatch(/Project \*?cloud\*? created/);
    expect(r.text).toMatch(
      new RegExp(
        `Source 127\\.0\\.0\\.1:\\d+: tenant ${idp.tenantId} found at https://127\\.0\\.0\\.1:\\d+; reachable; TLSv1`,
      ),
    );
    expect(r.text).toMatch(
      joinedRegExp(
        /⚠️ Destination 127\.0\.0\.1:\d+: the authority https:\/\/127\.0\.0\.1:\d+ /,
        /does not know the tenant 00000000-dead-4000-8000-000000000000 \(HTTP 404/,
      ),
    );
    const down = await probeServer('m365://contoso', { m365: { authorityHost: `https://127.0.0.1:${closed}` } });
    expect(down.ok).toBe(false);
    expect(down.findings[0]).toMatch(/the authority https:\/\/127\.0\.0\.1:\d+ cannot be reached: nothing listens/);
  });

  it('an unreachable server seen from the form is told to the thread once, not once per attempt', async () => {
    // Both servers down (connection refused at once): each side is told once.
    await t.run(`project create down --source imap://127.0.0.1:${closed} --destination imap://127.0.0.1:${closed}`);
    await t.run('add alice@old.example --project down');
    await t.run('add bob@old.example --project down');
    const before = smtp.messages.length;
    await t.run('start alice@old.example --project down');
    await t.run('start bob@old.example --project down');
    const mails = (await smtp.waitForCount(before + 2)).slice(before);
    const links = mails.map(formLinkIn);
    for (const link of [links[0], links[0], links[1]]) {
      const r = await submitForm(defined(link), {
        source_login: 'u',
        source_password: 'p',
        destination_login: 'u',
        destination_password: 'p',
      });
      expect(r.status).toBe(503);
      expect(r.html).toContain('We could not reach the mail server');
    }
    await t.app.notifier.idle();
    expect(t.posts.filter((p) => /could not be reached when the user/.test(p.text))).toHaveLength(2);
    const told = t.posts.filter((p) =>
      /The source server of project down .* could not be reached when the user/.test(p.text),
    );
    expect(told).toHaveLength(1);
    expect(defined(told[0]).text).toMatch(
      new RegExp(
        `The source server of project down \\(127\\.0\\.0\\.1:${closed}\\) could not be ` +
          `reached when the user of (alice|bob)@old\\.example entered their credentials`,
      ),
    );
  });
});
