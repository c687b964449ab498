/**
 * The credential form asks the mailbox owner when copying should begin: now, tonight (when
 * the project's copy window is closed: its opening) or tomorrow. The choice is applied once
 * the credentials are verified: the queued mailbox is held until then (the runner does not
 * claim it), the page and the admin's thread say when, and `stop` cancels it. Real Dovecot
 * verifies the passwords; the form is posted over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type DovecotInstance } from '../harness/dovecot.ts';
import { waitForPost } from '../harness/app.ts';
import { FAST_FAILURES, getForm, makeFormApp, submitForm, type FormTestApp } from './setup.ts';
import { SYSTEM_ACTOR } from '../../engine/domain/types.ts';
import { joinedRegExp } from '../harness/regex.ts';

const PW = 'pw-1';
let dv: DovecotInstance;
let t: FormTestApp;
const links = new Map<string, string>();

/** `HH:MM` in UTC, `hours` from now. */
const hhmm = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString().slice(11, 16);
/** When the test's copy window opens (set once). */
const OPENS = hhmm(2);

beforeAll(async () => {
  dv = await startDovecot({
    users: ['alice', 'bob'].flatMap((u) => [
      { name: `${u}@old.example`, password: PW },
      { name: `${u}@new.example`, password: PW },
    ]),
    extraConfig: FAST_FAILURES,
  });
  t = await makeFormApp();
  t.app.outreach.addSender({
    kind: 'email',
    send: async (req) => {
      links.set(req.sourceAddress, req.url);
      return { ok: true, via: 'email' };
    },
  });
  await t.run(`project create acme --source ${dv.url} --destination ${dv.url} --self-service source`);
  for (const u of ['alice', 'bob']) {
    await t.run(`add ${u}@old.example ${u}@new.example --ask source`);
    await t.app.engine.setCredential(
      SYSTEM_ACTOR,
      await t.item(`${u}@old.example`),
      'destination',
      `${u}@new.example`,
      { password: PW },
    );
    await t.run(`start ${u}@old.example`);
  }
}, 120_000);
afterAll(async () => {
  await t?.close();
  await dv?.dispose();
});

describe('when copying begins, chosen on the form', () => {
  it("offers now and tomorrow; tonight only while the project's copy window is closed", async () => {
    const before = await getForm(links.get('alice@old.example')!);
    expect(before.html).toContain('When should copying begin?');
    expect(before.html).toMatch(
      /<input type="radio" name="when" value="now" checked><span>Now, as soon as your credentials are verified<\/span>/,
    );
    expect(before.html).toContain('value="tomorrow"');
    expect(before.html).not.toContain('value="tonight"');
    // A window that opens in two hours (UTC): closed now.
    await t.run(`project set acme --window "${OPENS}-${hhmm(3)}" --tz UTC`);
    const after = await getForm(links.get('alice@old.example')!);
    expect(after.html).toMatch(/value="tonight"><span>Tonight, from \d{4}-\d\d-\d\d \d\d:\d\d UTC<\/span>/);
  });

  it(
    'tomorrow: verified, queued and held a day; the page ' + "and the admin's thread say when; stop cancels it",
    async () => {
      const r = await submitForm(links.get('alice@old.example')!, {
        source_login: 'alice@old.example',
        source_password: PW,
        when: 'tomorrow',
      });
      expect(r.status).toBe(200);
      expect(r.html).toContain('your migration is scheduled');
      expect(r.html).toMatch(/begins \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
      const alice = await t.item('alice@old.example');
      expect(alice.status).toBe('Queued');
      expect(Math.abs(alice.startAt!.getTime() - Date.now() - 86_400_000)).toBeLessThan(120_000);
      await waitForPost(
        t,
        joinedRegExp(
          /alice@old\.example\*? chose on the form: tomorrow, \d{4}-\d\d-\d\d \d\d:\d\d UTC\. /,
          /The credentials are verified; copying begins then\./,
        ),
      );
      // Held: the runner's claim passes it over (its project's window is not even asked).
      expect(await t.app.engine.claimNext()).toBeUndefined();
      expect((await t.run('status alice@old.example')).text).toMatch(/Scheduled:?\s*\d{4}-\d\d-\d\d \d\d:\d\d UTC/);
      const stop = await t.run('stop alice@old.example');
      expect(stop.text).toMatch(/alice@old\.example: its start scheduled for .* is cancelled\. It is stopped too/);
      expect((await t.item('alice@old.example')).status).toBe('Stopped');
    },
  );

  it('tonight: held until the window opens', async () => {
    const r = await submitForm(links.get('bob@old.example')!, {
      source_login: 'bob@old.example',
      source_password: PW,
      when: 'tonight',
    });
    expect(r.html).toContain('your migration is scheduled');
    const bob = await t.item('bob@old.example');
    expect(bob.status).toBe('Queued');
    expect(bob.startAt!.toISOString().slice(11, 16)).toBe(OPENS);
    await waitForPost(t, /bob@old\.example\*? chose on the form: tonight, \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    expect(await t.app.engine.claimNext()).toBeUndefined();
  });
});
