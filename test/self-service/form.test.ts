import { waitForPost } from '../harness/app.ts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { freePort, startDovecot, type DovecotInstance } from '../harness/dovecot.ts';
import { startImapProxy } from '../harness/imap-proxy.ts';
import { FAST_FAILURES, makeFormApp, csrfOf, getForm, postForm, submitForm, type FormTestApp } from './setup.ts';
import type { CredentialRequest } from '../../bot/outreach/outreach.ts';
import type { SelfServiceOptions } from '../../bot/form/install.ts';
import { SYSTEM_ACTOR } from '../../engine/domain/types.ts';
import { defined } from '../harness/defined.ts';

// One private Dovecot plays both servers; wrong passwords answer at once (no auth delay).
let dv: DovecotInstance;
let closedPort: number;
const SRC_PW = 'Src-pässword 1!';
const DST_PW = 'dst"pw<2>&';
const WRONG = 'not-the-password-9';
const secrets = [SRC_PW, DST_PW, WRONG];

beforeAll(async () => {
  dv = await startDovecot({
    users: [
      { name: 'alice@old.example', password: SRC_PW },
      { name: 'alice@new.example', password: DST_PW },
    ],
    extraConfig: FAST_FAILURES,
  });
  closedPort = await freePort();
});
afterAll(async () => {
  await dv?.dispose();
});

let t: FormTestApp | undefined;
let requests: CredentialRequest[] = [];
const tokens: string[] = [];

afterEach(async () => {
  if (!t) return;
  // The whole run's log output: no password, no token, no link.
  const logs = t.logs.join('\n');
  for (const s of secrets) expect(logs).not.toContain(s);
  for (const tok of tokens) expect(logs).not.toContain(tok);
  expect(logs).not.toMatch(/\/c\/[A-Za-z0-9_-]{43}/);
  await t.close();
  t = undefined;
  tokens.length = 0;
});

/** An app whose "email" sender records the request (the SMTP path has its own tests). */
async function setUp(
  o: {
    selfService?: 'source' | 'destination' | 'both';
    dest?: string;
    opts?: SelfServiceOptions;
    env?: Record<string, string>;
  } = {},
) {
  t = await makeFormApp(o.env ?? {}, o.opts);
  requests = [];
  t.app.outreach.addSender({
    kind: 'email',
    send: async (req) => {
      requests.push(req);
      tokens.push(defined(req.url.split('/c/')[1]));
      return { ok: true, via: 'email' };
    },
  });
  await t.run(
    `project create acme --source ${dv.url} --destination ${o.dest ?? dv.url} ` +
      `--self-service ${o.selfService ?? 'both'}`,
  );
  // One recipient (the source address) per request, whatever the project asks by default.
  await t.run('add alice@old.example alice@new.example --ask source');
  return t;
}

async function startAndGetLink(t: FormTestApp): Promise<string> {
  const n = requests.length;
  const r = await t.run('start alice@old.example');
  expect(r.result.ok).toBe(true);
  expect(requests.length).toBe(n + 1);
  return defined(requests[n]).url;
}

const both = (src = SRC_PW, dst = DST_PW) => ({
  source_login: 'alice@old.example',
  source_password: src,
  destination_login: 'alice@new.example',
  destination_password: dst,
});

describe('the form page', () => {
  it(
    'says which mailbox and server, prefills the username, asks only ' +
      'for what is unknown, with strict headers; GET never consumes',
    async () => {
      const t = await setUp({ selfService: 'source' });
      // The destination is known already: only the source is asked.
      const item = await t.item('alice@old.example');
      await t.app.engine.setCredential(SYSTEM_ACTOR, item, 'destination', 'alice@new.example', { password: DST_PW });
      const link = await startAndGetLink(t);
      expect(defined(requests[0]).sides).toEqual(['source']);
      const a = await getForm(link);
      const b = await getForm(link); // a mail scanner's prefetch, then the user
      expect(a.status).toBe(200);
      expect(b.html).toBe(a.html);
      expect(a.html).toContain('alice@old.example');
      expect(a.html).toContain(`127.0.0.1:${dv.port}`);
      expect(a.html).toMatch(/<label for="source-login">Username<\/label>/);
      expect(a.html).toMatch(/<label for="source-password">Password<\/label>/);
      expect(a.html).toMatch(/id="source-login" name="source_login" type="text" value="alice@old\.example"/);
      expect(a.html).not.toContain('destination_password');
      expect(a.html).toContain('name="viewport"');
      expect(a.html).not.toMatch(/<script/i);
      expect(a.headers.get('content-security-policy')).toMatch(
        /default-src 'none'.*script-src 'none'.*form-action 'self'.*frame-ancestors 'none'/,
      );
      expect(a.headers.get('referrer-policy')).toBe('no-referrer');
      expect(a.headers.get('cache-control')).toBe('no-store');
      expect(a.headers.get('x-frame-options')).toBe('DENY');
      expect(a.headers.get('strict-transport-security')).toBeNull(); // plain HTTP here
      const r = await postForm(link, {
        csrf: csrfOf(b.html),
        source_login: 'alice@old.example',
        source_password: SRC_PW,
      });
      expect(r.status).toBe(200);
      expect(r.html).toContain('your migration has started');
      const after = await t.item('alice@old.example');
      expect(after.status).toBe('Queued');
      expect((await t.app.engine.credentialOf(after.id, 'source'))?.secret.password).toBe(SRC_PW);
    },
  );

  it('sends HSTS when behind HTTPS', async () => {
    const t = await setUp({ env: { MAILFERRY_TRUST_PROXY: 'loopback' } });
    const link = await startAndGetLink(t);
    const r = await fetch(link, { headers: { 'x-forwarded-proto': 'https' } }); // from loopback: the configured proxy
    expect(r.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
  });
});

describe('verification before keeping', () => {
  it('valid: encrypted, stored, link used up, item submitted at once; the thread and history say so', async () => {
    const t = await setUp();
    const link = await startAndGetLink(t);
    const r = await submitForm(link, both());
    expect(r.status).toBe(200);
    expect(r.html).toContain('your migration has started');
    const item = await t.item('alice@old.example');
    expect(item.status).toBe('Queued');
    const rows = await t.app.db.credential.findMany({ where: { itemId: item.id } });
    expect(rows.map((c) => c.side).sort()).toEqual(['destination', 'source']);
    for (const c of rows) expect(Buffer.from(c.ciphertext).toString('utf8')).not.toContain('pw');
    expect((await getForm(link)).status).toBe(404);
    expect(await t.historyKinds('alice@old.example')).toEqual(expect.arrayContaining(['credentials-received']));
    await waitForPost(t, /credentials received from alice@old\.example and verified/);
  });

  it('wrong password then right password: the page says which side, the next try works', async () => {
    const t = await setUp();
    const link = await startAndGetLink(t);
    const bad = await submitForm(link, both(SRC_PW, WRONG));
    expect(bad.status).toBe(422);
    expect(bad.html).toContain('There is a problem');
    expect(bad.html).toContain('The server of your new mailbox did not accept this username and password');
    expect(bad.html).toContain('You have 2 attempts left.');
    expect(bad.html).toMatch(/id="destination-password"[^>]*aria-invalid="true"/);
    // The source was right: it is kept, and the form now asks only for the destination.
    expect(bad.html).not.toContain('source_password');
    expect((await t.item('alice@old.example')).status).toBe('WaitingForUser');
    const good = await postForm(link, {
      csrf: csrfOf(bad.html),
      destination_login: 'alice@new.example',
      destination_password: DST_PW,
    });
    expect(good.status).toBe(200);
    expect(good.html).toContain('your migration has started');
    expect((await t.item('alice@old.example')).status).toBe('Queued');
    await waitForPost(t, /destination server refused the credentials entered \(attempt 1\)/);
  });

  it(
    'three wrong: the item fails with the side refused, the ' +
      'page says the admin has been told, the license goes back',
    async () => {
      const t = await setUp();
      await t.run('project set acme --licenses 5');
      const link = await startAndGetLink(t);
      expect((await t.app.db.project.findFirstOrThrow()).licensesUsed).toBe(1);
      for (let i = 1; i <= 2; i++) {
        const r = await submitForm(link, both(WRONG, DST_PW));
        expect(r.status).toBe(422);
        expect(r.html).toContain('The server of your current mailbox did not accept');
      }
      const last = await submitForm(link, both(WRONG, DST_PW));
      expect(last.status).toBe(200);
      expect(last.html).toContain('We could not verify your credentials');
      expect(last.html).toContain('Your administrator has been told');
      const item = await t.item('alice@old.example');
      expect(item.status).toBe('Failed');
      expect(item.failureReason).toBe('SourceCredentials');
      expect((await t.app.db.project.findFirstOrThrow()).licensesUsed).toBe(0);
      expect((await getForm(link)).status).toBe(404);
      const hist = await t.app.engine.history(item.id);
      expect(hist.filter((h) => h.kind === 'credentials.refused').map((h) => h.detail.attempt)).toEqual([1, 2, 3]);
      await waitForPost(t, /failed: The source server refused the credentials/);
    },
  );

  it('--ask both: each address is asked for its own mailbox; the item starts when both have answered', async () => {
    const t = await setUp();
    await t.run('add dave@old.example alice@new.example --ask both');
    const n = requests.length;
    await t.run('start dave@old.example');
    const reqs = requests.slice(n);
    expect(reqs.map((r) => [r.recipient, r.sides.join()])).toEqual([
      ['dave@old.example', 'source'],
      ['alice@new.example', 'destination'],
    ]);
    const [srcLink, dstLink] = reqs.map((r) => r.url);
    const srcPage = await getForm(defined(srcLink));
    expect(srcPage.html).toContain('source_password');
    expect(srcPage.html).not.toContain('destination_password');
    expect((await getForm(defined(dstLink))).html).not.toContain('source_password');
    // dave's source login is his address; Dovecot knows alice@old.example: use that login.
    const one = await postForm(defined(srcLink), {
      csrf: csrfOf(srcPage.html),
      source_login: 'alice@old.example',
      source_password: SRC_PW,
    });
    expect(one.html).toContain('starts as soon as the credentials of the other mailbox have been entered');
    expect((await t.item('dave@old.example')).status).toBe('WaitingForUser');
    const two = await submitForm(defined(dstLink), {
      destination_login: 'alice@new.example',
      destination_password: DST_PW,
    });
    expect(two.html).toContain('your migration has started');
    expect((await t.item('dave@old.example')).status).toBe('Queued');
  });

  it(
    'the destination side refused to the end: ' + 'DestinationCredentials; attempts are configurable per project',
    async () => {
      const t = await setUp();
      await t.app.engine.updateProject(SYSTEM_ACTOR, await t.app.db.project.findFirstOrThrow(), {
        options: { maxAttempts: 1 },
      });
      const link = await startAndGetLink(t);
      const r = await submitForm(link, both(SRC_PW, WRONG));
      expect(r.html).toContain('The server of your new mailbox (alice@new.example) did not accept');
      const item = await t.item('alice@old.example');
      expect(item.status).toBe('Failed');
      expect(item.failureReason).toBe('DestinationCredentials');
    },
  );

  it('an unreachable server: the page says so, nothing counts against the user', async () => {
    const t = await setUp({ dest: `imap://127.0.0.1:${closedPort}` });
    const link = await startAndGetLink(t);
    for (let i = 0; i < 4; i++) {
      const r = await submitForm(link, both(SRC_PW, DST_PW));
      expect(r.status).toBe(503);
      expect(r.html).toContain('We could not reach the mail server');
      expect(r.html).toContain('This does not count as an attempt');
    }
    const row = await t.app.db.credentialLink.findFirstOrThrow({ where: { usedAt: null, revokedAt: null } });
    expect(row.attempts).toBe(0);
    const item = await t.item('alice@old.example');
    expect(item.status).toBe('WaitingForUser');
    expect(await t.historyKinds('alice@old.example')).toContain('credentials.unverified');
  });

  it(
    'a server that throttles the login (Office 365 "Request is ' +
      'throttled"): the page says it is busy, nothing counts against the user',
    async () => {
      const proxy = await startImapProxy({ port: dv.port });
      try {
        proxy.throttle({ command: 'AUTHENTICATE', nth: 1, times: Infinity, backoffMs: 50 });
        proxy.throttle({ command: 'LOGIN', nth: 1, times: Infinity, backoffMs: 50 });
        const t = await setUp({ dest: proxy.url });
        const link = await startAndGetLink(t);
        const r = await submitForm(link, both(SRC_PW, DST_PW));
        expect(r.status).toBe(503);
        expect(r.html).toContain('The mail server is busy');
        expect(r.html).toContain('This does not count as an attempt');
        const row = await t.app.db.credentialLink.findFirstOrThrow({ where: { usedAt: null, revokedAt: null } });
        expect(row.attempts).toBe(0);
        expect((await t.item('alice@old.example')).status).toBe('WaitingForUser');
      } finally {
        await proxy.close();
      }
    },
  );

  it('empty fields: an error summary linking to the fields; nothing counted, nothing verified', async () => {
    const t = await setUp();
    const link = await startAndGetLink(t);
    const r = await submitForm(link, {
      source_login: '',
      source_password: '',
      destination_login: 'alice@new.example',
      destination_password: '',
    });
    expect(r.status).toBe(422);
    expect(r.html).toMatch(/role="alert"[^>]*autofocus/);
    expect(r.html).toContain('<a href="#source-login">Enter the username of your current mailbox.</a>');
    expect(r.html).toContain('<a href="#destination-password">Enter the password of your new mailbox.</a>');
    expect((await t.app.db.credentialLink.findFirstOrThrow()).attempts).toBe(0);
  });

  it('HTML and script in every field come back inert', async () => {
    const t = await setUp();
    const link = await startAndGetLink(t);
    const evil = `"><script>alert(1)</script><img src=x onerror=alert(2)>`;
    const r = await submitForm(link, {
      source_login: evil,
      source_password: evil,
      destination_login: evil,
      destination_password: evil,
    });
    expect(r.status).toBe(422);
    expect(r.html).not.toContain('<script>alert');
    expect(r.html).not.toContain('<img');
    expect(r.html).toContain('&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;');
    // Passwords are never echoed back.
    expect(r.html.match(/onerror/g)?.length).toBe(2); // the two escaped usernames only
  });

  it('a double submit: one wins, the other gets the calm page', async () => {
    const t = await setUp();
    const link = await startAndGetLink(t);
    const page = await getForm(link);
    const body = { csrf: csrfOf(page.html), ...both() };
    const [a, b] = await Promise.all([postForm(link, body), postForm(link, body)]);
    expect([a.status, b.status].sort()).toEqual([200, 404]);
    expect((await t.item('alice@old.example')).status).toBe('Queued');
  });
});

describe('links that cannot be used', () => {
  it('expired, reused, unknown, malformed, stopped: one calm page that reveals nothing about which', async () => {
    const t = await setUp();
    const link = await startAndGetLink(t);
    expect((await submitForm(link, both())).status).toBe(200);
    const reused = await getForm(link);
    const reusedPost = await postForm(link, { csrf: 'x', ...both() });
    const unknown = await getForm(`${t.base}/c/${randomBytes(32).toString('base64url')}`);
    const malformed = await getForm(`${t.base}/c/%3Cscript%3E`);
    const nested = await getForm(`${t.base}/c/abc/def`);

    // Expired: a second item whose link is past its time.
    await t.run('add bob@old.example --ask source');
    const n = requests.length;
    await t.run('start bob@old.example');
    const bobLink = defined(requests[n]).url;
    expect((await getForm(bobLink)).status).toBe(200);
    const bob = await t.item('bob@old.example');
    await t.app.db.credentialLink.updateMany({
      where: { itemId: bob.id },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    const expired = await getForm(bobLink);
    const expiredPost = await postForm(bobLink, { csrf: 'x', ...both() });

    // Stopped: a third item, stopped while waiting.
    await t.run('add carol@old.example --ask source');
    const m = requests.length;
    await t.run('start carol@old.example');
    const carolLink = defined(requests[m]).url;
    const used = (await t.app.db.project.findFirstOrThrow()).licensesUsed;
    await t.run('stop carol@old.example');
    expect((await t.item('carol@old.example')).status).toBe('Stopped');
    expect((await t.app.db.project.findFirstOrThrow()).licensesUsed).toBe(used - 1); // the license went back
    const stopped = await getForm(carolLink);

    const pages = [reused, reusedPost, unknown, malformed, nested, expired, expiredPost, stopped];
    for (const p of pages) {
      expect(p.status).toBe(404);
      expect(p.html).toBe(reused.html);
      expect(p.headers.get('cache-control')).toBe('no-store');
    }
    expect(reused.html).toContain('This link cannot be used');
    expect((await t.item('bob@old.example')).status).toBe('WaitingForUser');
  });

  it('clear-credentials and delete kill links and wipe credentials', async () => {
    const t = await setUp();
    const link = await startAndGetLink(t);
    await t.run('stop alice@old.example');
    const item = await t.item('alice@old.example');
    await t.app.engine.setCredential(SYSTEM_ACTOR, item, 'source', 'alice@old.example', { password: SRC_PW });
    await t.app.engine.setCredential(SYSTEM_ACTOR, item, 'destination', 'alice@new.example', { password: DST_PW });
    expect(await t.app.db.credential.count()).toBe(2);
    const c = await t.run('clear-credentials alice@old.example --source');
    expect(c.result.ok).toBe(true);
    expect((await t.app.db.credential.findMany()).map((x) => x.side)).toEqual(['destination']);
    // A later start asks again (only the source now), with a new link; the old one is dead.
    const again = await startAndGetLink(t);
    expect(requests.at(-1)!.sides).toEqual(['source']);
    expect((await getForm(link)).status).toBe(404);
    expect((await getForm(again)).html).not.toContain('destination_password');
    await t.run('stop alice@old.example');
    const d = await t.run('delete alice@old.example');
    expect(d.result.ok).toBe(true);
    expect(await t.app.db.credential.count()).toBe(0);
    expect(await t.app.db.credentialLink.count()).toBe(0);
    expect((await getForm(again)).status).toBe(404);
  });
});

describe('anti-CSRF and rate limits', () => {
  it("a POST without our token, or with another link's, changes nothing", async () => {
    const t = await setUp();
    const link = await startAndGetLink(t);
    const none = await postForm(link, both());
    expect(none.status).toBe(403);
    expect(none.html).toContain('Please reload the form');
    await t.run('add bob@old.example --ask source');
    const n = requests.length;
    await t.run('start bob@old.example');
    const other = await getForm(defined(requests[n]).url);
    const wrong = await postForm(link, { csrf: csrfOf(other.html), ...both() });
    expect(wrong.status).toBe(403);
    expect((await t.item('alice@old.example')).status).toBe('WaitingForUser');
    expect(await t.app.db.credential.count()).toBe(0);
    expect((await submitForm(link, both())).status).toBe(200);
  });

  it('per link and per client address', async () => {
    const t = await setUp({
      opts: { limits: { postsPerLink: { max: 2, windowMs: 60_000 }, perClient: { max: 12, windowMs: 60_000 } } },
    });
    const link = await startAndGetLink(t);
    const page = await getForm(link);
    const csrf = csrfOf(page.html);
    expect((await postForm(link, { csrf, source_login: '', source_password: '' })).status).toBe(422);
    expect((await postForm(link, { csrf, source_login: '', source_password: '' })).status).toBe(422);
    const limited = await postForm(link, { csrf, ...both() });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.html).toContain('Please wait a moment');
    // Per client: unknown links count too, so guessing is slow.
    let last = 0;
    for (let i = 0; i < 12; i++) last = (await getForm(`${t.base}/c/${randomBytes(32).toString('base64url')}`)).status;
    expect(last).toBe(429);
    expect(await t.app.db.credential.count()).toBe(0);
  });
});

describe('admin commands', () => {
  it(
    'form ADDRESS returns a private link to the same form; ' + "using it submits the item and retires the user's link",
    async () => {
      const t = await setUp();
      const userLink = await startAndGetLink(t);
      const r = await t.run('form alice@old.example');
      expect(r.result.ok).toBe(true);
      const url = r.text.match(/http:\/\/\S+\/c\/[A-Za-z0-9_-]{43}/)?.[0];
      expect(url).toBeTruthy();
      tokens.push(defined(url!.split('/c/')[1]));
      const page = await getForm(url!);
      expect(page.html).toContain('Enter the credentials for this migration');
      const done = await postForm(url!, { csrf: csrfOf(page.html), ...both() });
      expect(done.html).toContain('your migration has started');
      expect((await t.item('alice@old.example')).status).toBe('Queued');
      expect((await getForm(userLink)).status).toBe(404);
      expect(await t.historyKinds('alice@old.example')).toContain('form.link-created');
    },
  );

  it('form on a not-started item: entering credentials starts it', async () => {
    const t = await setUp();
    const r = await t.run('form alice@old.example');
    const url = r.text.match(/http:\/\/\S+\/c\/[A-Za-z0-9_-]{43}/)![0];
    tokens.push(defined(url.split('/c/')[1]));
    const done = await submitForm(url, both());
    expect(done.status).toBe(200);
    expect((await t.item('alice@old.example')).status).toBe('Queued');
  });

  it('form on a queued item is refused', async () => {
    const t = await setUp();
    const link = await startAndGetLink(t);
    await submitForm(link, both());
    const r = await t.run('form alice@old.example');
    expect(r.result.ok).toBe(false);
    expect(r.text).toMatch(/already known/);
  });
});
