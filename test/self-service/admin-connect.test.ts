/**
 * `project connect`: admin credentials entered on a private form, verified against a real
 * Dovecot with a master user before they are kept, sealed in the vault, used by the runner
 * as the mailbox, shown (never their value) by `status`, forgotten by `--clear-admin`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync, createSign, randomBytes, X509Certificate } from 'node:crypto';
import { Vault } from '../../engine/vault/vault.ts';
import { reencryptCredentials } from '../../engine/vault/rotate-key.ts';
import {
  makeMessage,
  readMailbox,
  seedImap,
  startDovecot,
  dovecotAvailable,
  type DovecotInstance,
} from '../harness/dovecot.ts';
import { FAST_FAILURES, makeFormApp, csrfOf, getForm, postForm, submitForm, type FormTestApp } from './setup.ts';
import { waitForPost } from '../harness/app.ts';
import { Runner } from '../../engine/runner/runner.ts';
import { runPass } from '../../engine/copy/index.ts';
import { createPrismaCheckpointStore } from '../../engine/store/folder-state.ts';
import { FORM_CSP } from '../../bot/form/headers.ts';
import { testDbBytes } from '../harness/test-db.ts';
import { defined } from '../harness/defined.ts';

const ADMIN_PW = 'M4ster-Pässword "admin" <1>';
const WRONG = 'not-the-master-pw-7';
const SRC_PW = 'only-alice-knows-1';
const DST_PW = 'dst-side-secret-2';
const secrets = [ADMIN_PW, WRONG, SRC_PW, DST_PW];

let src: DovecotInstance;
let dst: DovecotInstance;
beforeAll(async () => {
  [src, dst] = await Promise.all([
    startDovecot({
      users: [
        { name: 'alice@old.example', password: SRC_PW },
        { name: 'bob@old.example', password: 'bob-own-pw-3' },
      ],
      masterUsers: [{ name: 'migrator', password: ADMIN_PW }],
      extraConfig: FAST_FAILURES,
    }),
    startDovecot({
      users: [
        { name: 'alice@new.example', password: DST_PW },
        { name: 'bob@new.example', password: DST_PW },
      ],
      extraConfig: FAST_FAILURES,
    }),
  ]);
  await seedImap(src, 'alice@old.example', SRC_PW, {
    INBOX: [{ raw: makeMessage({ subject: 'one' }) }, { raw: makeMessage({ subject: 'two', size: 30_000 }) }],
    Archive: [{ raw: makeMessage({ subject: 'old' }) }],
  });
}, 60_000);
afterAll(async () => {
  await src?.dispose();
  await dst?.dispose();
});

let t: FormTestApp | undefined;
const links: string[] = [];
afterEach(async () => {
  if (!t) return;
  const logs = t.logs.join('\n');
  for (const s of secrets) expect(logs).not.toContain(s);
  for (const l of links) expect(logs).not.toContain(l.split('/c/')[1]);
  expect(logs).not.toMatch(/\/c\/[A-Za-z0-9_-]{43}/);
  await t.close();
  t = undefined;
  links.length = 0;
});

/** Runs `project connect` and returns the link from the reply. */
async function connectLink(app: FormTestApp, side: 'source' | 'destination'): Promise<string> {
  const r = await app.run(`project connect acme --${side}`);
  expect(r.result.ok).toBe(true);
  const m = r.text.match(/http:\/\/127\.0\.0\.1:\d+\/c\/[A-Za-z0-9_-]{43}/);
  expect(m, r.text).not.toBeNull();
  links.push(m![0]);
  return m![0];
}

describe.skipIf(!dovecotAvailable())('project connect: an IMAP admin login', () => {
  it(
    'refused master password counts an attempt and keeps nothing; the ' +
      'right one is kept sealed; waiting mailboxes are queued; status says so',
    async () => {
      t = await makeFormApp();
      await t.run(`project create acme --source ${src.url} --destination ${dst.url} --self-service source`);
      await addAliceWaiting(t);

      const url = await connectLink(t, 'source');
      const page = await getForm(url);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toBe(FORM_CSP);
      expect(page.html).toContain('Connect the source of project acme');
      expect(page.html).toContain('name="admin_password"');
      // The test mailbox is prefilled with the project's first mailbox.
      expect(page.html).toMatch(
        /name="test_mailbox"[^>]*value="alice@old\.example"|value="alice@old\.example"[^>]*name="test_mailbox"/,
      );

      // Wrong master password: refused by Dovecot, one attempt counted, nothing kept.
      const bad = await submitForm(url, {
        admin_user: 'migrator',
        admin_password: WRONG,
        style: 'separator',
        separator: '*',
        test_mailbox: 'alice@old.example',
      });
      expect(bad.status).toBe(422);
      expect(bad.html).toContain('did not accept this admin login');
      expect(bad.html).toContain('4 attempts left');
      expect(await t.app.db.projectCredential.count()).toBe(0);
      expect((await t.app.db.projectLink.findFirstOrThrow()).attempts).toBe(1);

      // Missing fields: no attempt counted, the form says what is missing.
      const empty = await submitForm(url, { admin_user: '', admin_password: '', test_mailbox: '' });
      expect(empty.status).toBe(422);
      expect(empty.html).toContain('Enter the admin user.');
      expect((await t.app.db.projectLink.findFirstOrThrow()).attempts).toBe(1);
      const hidden = await submitForm(url, {
        admin_user: 'migr\u202eator',
        admin_password: ADMIN_PW,
        test_mailbox: 'alice@old.example',
      });
      expect(hidden.html).toContain('invisible character (U+202E');
      expect((await t.app.db.projectLink.findFirstOrThrow()).attempts).toBe(1);

      // The right one, as SASL authorization identity this time: verified, kept, and alice (waiting only for her
      // source)
      // is queued.
      const ok = await submitForm(url, {
        admin_user: 'migrator',
        admin_password: ADMIN_PW,
        style: 'authzid',
        test_mailbox: 'bob@old.example',
      });
      expect(ok.status).toBe(200);
      expect(ok.html).toContain('The source of acme is connected');
      expect(ok.html).toContain('One mailbox that was waiting for its user is now queued');
      expect((await t.item('alice@old.example')).status).toBe('Queued');
      // Her request link died with it.
      expect(await t.app.db.credentialLink.count({ where: { usedAt: null, revokedAt: null } })).toBe(0);

      // Single use: the link is gone.
      expect((await getForm(url)).status).toBe(404);
      expect(
        (
          await postForm(url, {
            csrf: csrfOf(page.html),
            admin_user: 'migrator',
            admin_password: ADMIN_PW,
            test_mailbox: 'bob@old.example',
          })
        ).status,
      ).toBe(404);

      // Sealed: the row opens only with the project and side it was sealed for.
      const row = await t.app.db.projectCredential.findFirstOrThrow();
      expect(row).toMatchObject({ side: 'source', kind: 'imap-master' });
      expect(t.app.vault.openAdmin(row.projectId, 'source', row)).toMatchObject({
        kind: 'imap-master',
        user: 'migrator',
        password: ADMIN_PW,
        style: 'authzid',
      });
      expect(() => t!.app.vault.openAdmin(row.projectId, 'destination', row)).toThrow();
      expect(() => t!.app.vault.open(row.projectId, 'source', row)).toThrow();

      // rotate-key re-seals them under a new key, still bound to project and side.
      const next = new Vault(randomBytes(32));
      // alice's destination password and the admin login
      expect(await reencryptCredentials(t.app.db, t.app.vault, next)).toMatchObject({ rotated: 2 });
      const rotated = await t.app.db.projectCredential.findFirstOrThrow();
      expect(rotated.keyId).toBe(next.keyId);
      expect(next.openAdmin(rotated.projectId, 'source', rotated)).toMatchObject({ password: ADMIN_PW });
      expect(await reencryptCredentials(t.app.db, next, t.app.vault)).toMatchObject({ rotated: 2 });

      // status names the side, never the credentials.
      const st = await t.run('status');
      expect(st.text).toContain('source: admin credentials (admin login)');
      expect(st.text).not.toContain('migrator');
      const history = await t.app.db.itemEvent.findMany({
        where: { kind: { startsWith: 'project.' } },
        orderBy: { id: 'asc' },
      });
      expect(history.map((h) => h.kind)).toEqual([
        'project.created',
        'project.connect-link-created',
        'project.admin-refused',
        'project.admin-connected',
      ]);
      for (const h of history) for (const s of secrets) expect(h.detail).not.toContain(s);

      // Nothing secret in the database file as bytes (WAL included).
      const bytes = testDbBytes(t!.dir);
      for (const s of [ADMIN_PW, WRONG, 'M4ster']) expect(bytes).not.toContain(s);
      for (const l of links) expect(bytes).not.toContain(l.split('/c/')[1]);
    },
  );

  it('with admin credentials, start queues at once without asking anyone, ' +
    'and the runner copies as the mailbox through the master login', async () => {
    t = await makeFormApp();
    await t.run(`project create acme --source ${src.url} --destination ${dst.url} --self-service both`);
    const url = await connectLink(t, 'source');
    expect(
      (
        await submitForm(url, {
          admin_user: 'migrator',
          admin_password: ADMIN_PW,
          style: 'separator',
          separator: '*',
          test_mailbox: 'alice@old.example',
        })
      ).status,
    ).toBe(200);
    const url2 = await connectLink(t, 'destination');
    // The destination has no master user: its login is refused.
    const refused = await submitForm(url2, {
      admin_user: 'migrator',
      admin_password: ADMIN_PW,
      style: 'separator',
      test_mailbox: 'alice@new.example',
    });
    expect(refused.status).toBe(422);
    await addAliceWithDestination(t);

    const requests: string[] = [];
    t.app.outreach.addSender({
      kind: 'email',
      send: async (req) => (requests.push(req.recipient), { ok: true, via: 'email' }),
    });
    const started = await t.run('start alice@old.example');
    expect(started.result.ok).toBe(true);
    expect((await t.item('alice@old.example')).status).toBe('Queued');
    expect(requests).toEqual([]);

    const runner = new Runner(
      t.app.engine,
      createPrismaCheckpointStore(t.app.db),
      runPass,
      t.app.log.child({ part: 'runner' }),
      { concurrency: 1, pollMs: 100, stopCheckMs: 100 },
    );
    await runner.start();
    try {
      await waitForPost(t, /alice@old\.example\* completed/, 60_000);
    } finally {
      await runner.stop();
    }
    const item = await t.item('alice@old.example');
    expect(item.status).toBe('Completed');
    const a = await readMailbox(src, 'alice@old.example', SRC_PW);
    const b = await readMailbox(dst, 'alice@new.example', DST_PW);
    expect(
      defined(b.messages.INBOX)
        .map((m) => m.sha256)
        .sort(),
    ).toEqual(
      defined(a.messages.INBOX)
        .map((m) => m.sha256)
        .sort(),
    );
    expect(b.messages.Archive).toHaveLength(1);
    // The item never held a source credential of its own.
    expect(await t.app.db.credential.count({ where: { itemId: item.id, side: 'source' } })).toBe(0);
  }, 90_000);

  it('--clear-admin forgets them: the next start asks the user again, and an open connect link dies', async () => {
    t = await makeFormApp();
    await t.run(`project create acme --source ${src.url} --destination ${dst.url}`);
    const url = await connectLink(t, 'source');
    expect(
      (await submitForm(url, { admin_user: 'migrator', admin_password: ADMIN_PW, test_mailbox: 'alice@old.example' }))
        .status,
    ).toBe(200);
    const pending = await connectLink(t, 'source');
    expect((await t.app.db.project.findFirstOrThrow()).sourceAuth).toBe('admin');

    const cleared = await t.run('project set acme --clear-admin source');
    expect(cleared.text).toContain('admin credentials of the source forgotten');
    expect(await t.app.db.projectCredential.count()).toBe(0);
    expect((await t.app.db.project.findFirstOrThrow()).sourceAuth).toBe('self-service');
    expect((await getForm(pending)).status).toBe(404);
    expect((await t.run('status')).text).toContain('source: asked from users');
    expect((await t.run('project set acme --clear-admin source')).text).toContain(
      'the source had no admin credentials',
    );

    await addAliceWaiting(t);
  });

  it('a forged or stale form post is refused; only admins may ask for a link; one side at a time', async () => {
    t = await makeFormApp();
    await t.run(`project create acme --source ${src.url} --destination ${dst.url}`);
    const url = await connectLink(t, 'source');
    const forged = await postForm(url, {
      csrf: 'x'.repeat(43),
      admin_user: 'migrator',
      admin_password: ADMIN_PW,
      test_mailbox: 'alice@old.example',
    });
    expect(forged.status).toBe(403);
    expect(await t.app.db.projectCredential.count()).toBe(0);
    const notAdmin = await t.run('project connect acme --source', { user: 'mallory' });
    expect(notAdmin.result.code).toBe('NOT_ADMIN');
    expect(notAdmin.text).not.toMatch(/\/c\//);
    expect((await t.run('project connect acme')).result.code).toBe('CONNECT_SIDE');
    expect((await t.run('project connect acme --source --destination')).result.code).toBe('CONNECT_SIDE');
    // A newer link of the same side replaces the older one.
    await connectLink(t, 'source');
    expect((await getForm(url)).status).toBe(404);
  });
});

describe('project connect: a Microsoft 365 app registration on the form', () => {
  it(
    'checks the client id, secret-or-certificate, and that the ' +
      'private key belongs to the certificate before asking anyone',
    async () => {
      const seen: { clientId: string; secret?: string; thumbprint?: string; mailbox?: string }[] = [];
      t = await makeFormApp(
        {},
        {
          adminVerify: {
            m365: async (_c, app, mailbox) => {
              seen.push({
                clientId: app.clientId,
                secret: app.clientSecret,
                thumbprint: app.certificate?.thumbprint,
                mailbox,
              });
              return app.clientSecret === 'right-secret' || app.certificate
                ? { ok: true }
                : { ok: false, kind: 'refused', detail: 'AADSTS7000215: Invalid client secret provided.' };
            },
          },
        },
      );
      await t.run(`project create acme --source ${src.url} --destination m365://contoso.onmicrosoft.com`);
      const url = await connectLink(t, 'destination');
      const page = await getForm(url);
      expect(page.html).toContain('contoso.onmicrosoft.com');
      expect(page.html).toContain('name="client_secret"');
      expect(page.html).not.toContain('name="admin_password"');

      const id = '11111111-2222-3333-4444-555555555555';
      expect(
        (await submitForm(url, { client_id: 'not-a-guid', client_secret: 's', test_mailbox: 'a@contoso.com' })).html,
      ).toContain('is a GUID');
      expect((await submitForm(url, { client_id: id, test_mailbox: 'a@contoso.com' })).html).toContain(
        'Enter a client secret, or a certificate and its private key.',
      );
      const { cert, key, otherKey } = selfSigned();
      expect(
        (
          await submitForm(url, {
            client_id: id,
            certificate: cert,
            private_key: otherKey,
            test_mailbox: 'a@contoso.com',
          })
        ).html,
      ).toContain('does not belong to the certificate');
      expect(seen).toEqual([]);

      const refused = await submitForm(url, {
        client_id: id,
        client_secret: 'wrong-secret',
        test_mailbox: 'a@contoso.com',
      });
      expect(refused.status).toBe(422);
      expect(refused.html).toContain('AADSTS7000215');
      const ok = await submitForm(url, {
        client_id: id,
        certificate: cert,
        private_key: key,
        test_mailbox: 'a@contoso.com',
      });
      expect(ok.status).toBe(200);
      const thumb = new X509Certificate(cert).fingerprint256.replace(/:/g, '');
      expect(seen.at(-1)).toEqual({ clientId: id, secret: undefined, thumbprint: thumb, mailbox: 'a@contoso.com' });
      const stored = await t.app.engine.adminCredentialOf(
        (await t.app.db.project.findFirstOrThrow()).id,
        'destination',
      );
      expect(stored).toMatchObject({ kind: 'm365-app', clientId: id, certificate: { thumbprint: thumb } });
      expect((await t.run('status')).text).toContain('destination: admin credentials (Microsoft 365 app)');
      const bytes = testDbBytes(t.dir);
      expect(bytes).not.toContain('PRIVATE KEY');
      expect(bytes).not.toContain('wrong-secret');
    },
  );
});

/** A self-signed certificate with its key, and an unrelated key (node:crypto only: a minimal DER certificate). */
function selfSigned(): { cert: string; key: string; otherKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const der = (tag: number, body: Buffer) => {
    const len =
      body.length < 128
        ? Buffer.from([body.length])
        : body.length < 256
          ? Buffer.from([0x81, body.length])
          : Buffer.from([0x82, body.length >> 8, body.length & 255]);
    return Buffer.concat([Buffer.from([tag]), len, body]);
  };
  const seq = (...parts: Buffer[]) => der(0x30, Buffer.concat(parts));
  const sha256Rsa = seq(der(0x06, Buffer.from('2a864886f70d01010b', 'hex')), Buffer.from([0x05, 0x00]));
  const name = seq(der(0x31, seq(der(0x06, Buffer.from('550403', 'hex')), der(0x0c, Buffer.from('mailferry-test')))));
  const time = (s: string) => der(0x17, Buffer.from(s));
  const tbs = seq(
    der(0xa0, der(0x02, Buffer.from([2]))),
    der(0x02, Buffer.from([1])),
    sha256Rsa,
    name,
    seq(time('250101000000Z'), time('350101000000Z')),
    name,
    spki,
  );
  const sig = createSign('sha256').update(tbs).sign(privateKey);
  const cert = seq(tbs, sha256Rsa, der(0x03, Buffer.concat([Buffer.from([0]), sig])));
  const pem =
    `-----BEGIN CERTIFICATE-----\n` +
    `${cert.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;
  return {
    cert: pem,
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    otherKey: other.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** Adds alice with her destination password known and starts her: she waits for the source's credentials. */
async function addAliceWaiting(t: Awaited<ReturnType<typeof makeFormApp>>): Promise<void> {
  await addAliceWithDestination(t);
  await t.run('start alice@old.example');
  expect((await t.item('alice@old.example')).status).toBe('WaitingForUser');
}

/** Adds alice, her destination password known (set by an admin). */
async function addAliceWithDestination(t: Awaited<ReturnType<typeof makeFormApp>>): Promise<void> {
  await t.run('add alice@old.example alice@new.example');
  await t.app.engine.setCredential(
    { surface: 'test', id: 'admin' },
    await t.item('alice@old.example'),
    'destination',
    'alice@new.example',
    { password: DST_PW },
  );
}
