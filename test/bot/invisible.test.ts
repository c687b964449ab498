import { afterEach, describe, expect, it } from 'vitest';
import { findInvisible, showInvisible } from '../../engine/domain/invisible.ts';
import { normaliseAddress } from '../../engine/domain/addresses.ts';
import { makeFormApp, csrfOf, getForm, postForm, type FormTestApp } from '../self-service/setup.ts';
import type { CredentialRequest } from '../../bot/outreach/outreach.ts';

/** Every character the refusal covers: bidi controls and marks, zero-width ones, soft hyphen, other Cf and Cc. */
const HIDDEN = [
  ...[0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200e, 0x200f, 0x061c],
  ...[
    0x200b, 0x200c, 0x200d, 0x2060, 0xfeff, 0x00ad, 0x180e, 0x2028, 0x2029, 0xe0001, 0x0000, 0x0007, 0x001b, 0x007f,
    0x0085,
  ],
].map((c) => String.fromCodePoint(c));
const cp = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

describe('invisible characters', () => {
  it('are found in every position, and spelled out when shown back', () => {
    for (const c of HIDDEN) {
      expect(findInvisible(`ab${c}cd`), cp(c)).toMatchObject({ index: 2, code: cp(c) });
      expect(showInvisible(`ab${c}cd`)).toBe(`ab<${cp(c)}>cd`);
    }
    // Letters of any script, accents and emoji are not invisible.
    for (const ok of ['alice@old.example', 'jörg@müller.example', 'имя@пример.example', '山田@例え.example', 'a😀b'])
      expect(findInvisible(ok)).toBeNull();
  });

  it(
    'are refused in addresses (local part and domain) with ' + 'a message naming the character, which never echoes it',
    () => {
      for (const c of HIDDEN.filter((x) => x.trim() === x)) {
        for (const bad of [`ali${c}ce@old.example`, `alice@old${c}.example`, `alice@elpmaxe${c}.old`]) {
          let msg = '';
          try {
            normaliseAddress(bad, 'source address');
          } catch (e) {
            msg = (e as Error).message;
            expect((e as { code?: string }).code).toBe('INVISIBLE_CHARACTER');
          }
          expect(msg, `${cp(c)} in ${JSON.stringify(bad)}`).toContain(`invisible character (${cp(c)}`);
          expect(msg).toContain('source address');
          expect(findInvisible(msg)).toBeNull();
        }
      }
    },
  );
});

describe('invisible characters on every surface', () => {
  let t: FormTestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('commands and CSV: addresses, project names and logins are refused, the other rows go in', async () => {
    const requests: CredentialRequest[] = [];
    t = await makeFormApp();
    t.app.outreach.addSender({ kind: 'email', send: async (r) => (requests.push(r), { ok: true, via: 'email' }) });
    const p = await t.run('project create ac\u200bme --source imaps://127.0.0.1:1 --destination imaps://127.0.0.1:2');
    expect(p.result.ok).toBe(false);
    expect(p.text).toContain('project name "ac<U+200B>me" contains an invisible character (U+200B zero-width space)');
    expect(await t.app.db.project.count()).toBe(0);
    expect(
      (
        await t.run(
          'project create acme --source imaps://127.0.0.1:1 --destination imaps://127.0.0.1:2 --self-service source',
        )
      ).result.ok,
    ).toBe(true);

    const a = await t.run('add alice@old.exa\u202emple');
    expect(a.result.ok).toBe(false);
    expect(a.text).toContain('U+202E right-to-left override');
    expect(a.text).not.toContain('\u202e');
    const l = await t.run('add bob@old.example --source-login "b\u00adob"');
    expect(l.result.ok).toBe(false);
    expect(l.text).toContain('source login "b<U+00AD>ob" contains an invisible character (U+00AD soft hyphen)');
    expect(await t.app.db.item.count()).toBe(0);

    const csv = [
      'source,destination,source_login,destination_login',
      'carol@old.example,carol@new.example',
      'dave@old.example,dave@new.exam\u2067ple',
      'erin@old.example,erin@new.example,er\u200din',
      'frank@old.example',
    ].join('\n');
    const b = await t.run(`bulk\n${csv}`);
    expect(b.text).toMatch(/line 3\b[^\n]*U\+2067 right-to-left isolate/);
    expect(b.text).toMatch(/line 4\b[^\n]*U\+200D zero-width joiner/);
    expect(b.text).not.toMatch(/[\u2067\u200d]/);
    expect((await t.app.db.item.findMany({ orderBy: { sourceAddress: 'asc' } })).map((i) => i.sourceAddress)).toEqual([
      'carol@old.example',
      'frank@old.example',
    ]);

    // The form: a login with a bidi override is refused before any server is asked.
    expect((await t.run('start carol@old.example')).result.ok).toBe(true);
    const link = requests.at(-1)!.url;
    const page = await getForm(link);
    const r = await postForm(link, {
      csrf: csrfOf(page.html),
      source_login: 'carol@old.exa\u202emple',
      source_password: 'pw',
    });
    expect(r.status).toBe(422);
    expect(r.html).toContain('contains an invisible character (U+202E right-to-left override)');
    expect(r.html).not.toContain('\u202e');
    expect(await t.app.db.credential.count()).toBe(0);
  });
});
