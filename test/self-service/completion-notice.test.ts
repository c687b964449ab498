/**
 * The end user hears the end: after a real copy (Dovecot to Dovecot, the job runner), the
 * user gets an email saying what was copied, where it now lives and whom to ask, received
 * by a real SMTP server. A delta pass with nothing new stays silent, one that copied new
 * mail says so; a project with the notice off sends nothing. No link and no password in
 * the notice or in any log line.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeMessage, seedImap, startDovecot, dovecotAvailable, type DovecotInstance } from '../harness/dovecot.ts';
import { startSmtpSink, formLinkIn, type SmtpSink, type ReceivedMail } from '../harness/smtp.ts';
import { makeFormApp, submitForm, type FormTestApp } from './setup.ts';
import { Runner } from '../../engine/runner/runner.ts';
import { runPass } from '../../engine/copy/index.ts';
import { createPrismaCheckpointStore } from '../../engine/store/folder-state.ts';
import { COMPLETION_NOTICE_SUBJECT } from '../../cards/completion-notice.ts';
import { defined } from '../harness/defined.ts';

const SRC_PW = 'src-Pw <9> & "q"';
const DST_PW = 'dst-Pw/42#x';
const SUPPORT = 'helpdesk@acme.example, +1 555 0100';

describe.skipIf(!dovecotAvailable())('completion notice to the end user (Dovecot, runner, SMTP)', () => {
  let src: DovecotInstance;
  let dst: DovecotInstance;
  let smtp: SmtpSink;
  let t: FormTestApp;
  let runner: Runner;

  const notices = (to: string) =>
    smtp.messages.filter((m) => m.to.includes(to) && m.parsed.subject === COMPLETION_NOTICE_SUBJECT);
  const completed = async (address: string, passes: number) => {
    await vi.waitFor(
      async () => {
        const item = await t.item(address);
        if (item.status === 'Failed') throw Object.assign(new Error(`failed: ${item.failureDetail}`), { fatal: true });
        expect(item.status).toBe('Completed');
        expect(item.passCount).toBe(passes);
      },
      { timeout: 60_000, interval: 100 },
    );
  };
  /** The runner logs the notice's outcome for every completion it handles: wait for the n-th. */
  const handled = async (n: number) => {
    await vi.waitFor(
      () =>
        expect(
          t.logs.filter((l) => /completion notice (sent|not sent|not delivered)/.test(l)).length,
        ).toBeGreaterThanOrEqual(n),
      { timeout: 30_000, interval: 50 },
    );
    await t.app.bus.idle();
  };
  /** Start, then the user answers the emailed request on the form (both sides asked of them). */
  const migrate = async (user: string, project: string) => {
    const s = await t.run(`start ${user}@old.example --project ${project}`);
    if (!s.result.ok) throw new Error(s.text);
    const link = formLinkIn(
      await smtp.waitFor((m) => m.to.includes(`${user}@old.example`) && m.parsed.subject !== COMPLETION_NOTICE_SUBJECT),
    );
    const r = await submitForm(link, {
      source_login: `${user}@old.example`,
      source_password: SRC_PW,
      destination_login: `${user}@new.example`,
      destination_password: DST_PW,
    });
    expect(r.status).toBe(200);
    return link;
  };

  beforeAll(async () => {
    [src, dst, smtp] = await Promise.all([
      startDovecot({ users: ['alice', 'bob'].map((u) => ({ name: `${u}@old.example`, password: SRC_PW })) }),
      startDovecot({ users: ['alice', 'bob'].map((u) => ({ name: `${u}@new.example`, password: DST_PW })) }),
      startSmtpSink(),
    ]);
    for (const u of ['alice', 'bob'])
      await seedImap(src, `${u}@old.example`, SRC_PW, {
        INBOX: [{ raw: makeMessage({ subject: 'one' }) }, { raw: makeMessage({ subject: 'two' }) }],
        Archive: [{ raw: makeMessage({ subject: 'three' }) }],
      });
    t = await makeFormApp({ SMTP_URL: smtp.url, MAIL_FROM: 'IT <it@corp.example>', MAILFERRY_ORG_NAME: 'ACME' });
    runner = new Runner(
      t.app.engine,
      createPrismaCheckpointStore(t.app.db),
      runPass,
      t.app.log.child({ part: 'runner' }),
      { concurrency: 1, pollMs: 100, stopCheckMs: 100 },
    );
    await runner.start();
    await t.run(`project create acme --source ${src.url} --destination ${dst.url} --self-service source`);
    const ps = await t.run(`project set acme --support "${SUPPORT}"`);
    if (!ps.result.ok) throw new Error(ps.text);
    await t.run('add alice@old.example alice@new.example --ask source --project acme');
    await t.run(`project create beta --source ${src.url} --destination ${dst.url} --self-service source`);
    await t.run('add bob@old.example bob@new.example --ask source --project beta');
  }, 120_000);

  afterAll(async () => {
    await runner?.stop();
    await t?.close();
    await smtp?.close();
    await src?.dispose();
    await dst?.dispose();
  });

  let link = '';
  let notice: ReceivedMail;

  it('after the first complete copy: what was copied, where it lives, whom to ask', async () => {
    link = await migrate('alice', 'acme');
    await completed('alice@old.example', 1);
    notice = await smtp.waitFor(
      (m) => m.to.includes('alice@old.example') && m.parsed.subject === COMPLETION_NOTICE_SUBJECT,
      30_000,
    );
    const text = notice.parsed.text ?? '';
    expect(text).toContain('3 messages in 2 folders now live in alice@new.example on 127.0.0.1:' + dst.port);
    expect(text).toMatch(/Folders:\s+(Archive, INBOX|INBOX, Archive)/);
    expect(text).toContain(`If something is missing, contact ${SUPPORT}`);
    expect(notice.parsed.html).toContain('ACME: your mailbox has been moved');
    expect(notice.parsed.headers.get('auto-submitted')).toBe('auto-generated');
    const item = await t.item('alice@old.example');
    await handled(1);
    const history = await t.app.engine.history(item.id);
    expect(history.filter((h) => h.kind === 'completion-notice.sent').map((h) => h.detail.via)).toEqual(['email']);
  });

  it('carries no link and no credential', () => {
    for (const part of [notice.parsed.text ?? '', String(notice.parsed.html)]) {
      expect(part).not.toMatch(/https?:\/\//);
      expect(part).not.toContain('/c/');
      for (const s of [SRC_PW, DST_PW, link, link.split('/c/')[1]]) expect(part).not.toContain(s);
    }
    expect(String(notice.parsed.html)).not.toMatch(/<a\s/i);
  });

  it('a delta pass that copied nothing sends nothing; one that copied new mail says what is new', async () => {
    await t.run('start alice@old.example --project acme');
    await completed('alice@old.example', 2);
    await handled(2);
    expect(notices('alice@old.example')).toHaveLength(1);
    expect(t.logs.filter((l) => l.includes('completion notice')).join('\n')).toMatch(
      /completion notice not sent.*nothing-new/,
    );

    await seedImap(src, 'alice@old.example', SRC_PW, { INBOX: [{ raw: makeMessage({ subject: 'four' }) }] });
    await t.run('start alice@old.example --project acme');
    await completed('alice@old.example', 3);
    const [, update] = await smtp.waitForCount(
      2,
      (m) => m.to.includes('alice@old.example') && m.parsed.subject === COMPLETION_NOTICE_SUBJECT,
      30_000,
    );
    expect(defined(update).parsed.text).toContain('1 message since the last copy');
    expect(defined(update).parsed.text).toContain('4 messages in 2 folders now live in alice@new.example');
  });

  it('a pre-stage sends nothing (old mail only); the full pass after it tells the user', async () => {
    await seedImap(src, 'alice@old.example', SRC_PW, {
      INBOX: [
        { raw: makeMessage({ subject: 'old' }), internalDate: new Date('2019-05-01T00:00:00Z') },
        { raw: makeMessage({ subject: 'new' }) },
      ],
    });
    await t.run('start alice@old.example --project acme --prestage 30');
    await completed('alice@old.example', 4);
    await handled(4);
    expect(t.logs.filter((l) => l.includes('completion notice')).join('\n')).toMatch(
      /completion notice not sent.*prestage/,
    );
    expect(notices('alice@old.example')).toHaveLength(2);
    await t.run('start alice@old.example --project acme --full');
    await completed('alice@old.example', 5);
    const [, , last] = await smtp.waitForCount(
      3,
      (m) => m.to.includes('alice@old.example') && m.parsed.subject === COMPLETION_NOTICE_SUBJECT,
      30_000,
    );
    expect(defined(last).parsed.text).toContain('1 message since the last copy');
    expect(defined(last).parsed.text).toContain('6 messages in 2 folders now live in alice@new.example');
  });

  it('turned off for a project: nothing is sent after the copy', async () => {
    const set = await t.run('project set beta --completion-notice off');
    expect(set.text).toContain('no completion notice to users');
    const before = t.logs.filter((l) => l.includes('completion notice')).length;
    await migrate('bob', 'beta');
    await completed('bob@old.example', 1);
    await handled(before + 1);
    expect(t.logs.filter((l) => l.includes('completion notice')).join('\n')).toMatch(/completion notice not sent.*off/);
    expect(notices('bob@old.example')).toHaveLength(0);
    // The request went out (the channel works): only the notice is off.
    expect(smtp.messages.filter((m) => m.to.includes('bob@old.example'))).toHaveLength(1);
  });

  it('no password, token or link in any log line', async () => {
    await t.app.bus.idle();
    const links = smtp.messages.filter((m) => m.parsed.subject !== COMPLETION_NOTICE_SUBJECT).map(formLinkIn);
    const all = t.logs.join('\n');
    for (const s of [SRC_PW, DST_PW, ...links, ...links.map((l) => l.split('/c/')[1])]) expect(all).not.toContain(s);
    expect(all).not.toMatch(/\/c\/[A-Za-z0-9_-]{43}/);
  });
});
