import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../harness/app.ts';
import { serveHttp } from '../../bot/app.ts';
import { installSlack } from '../../adapters/slack/install.ts';
import { teamsPlugin } from '../../adapters/teams/plugin.ts';
import { installSelfService } from '../../bot/form/install.ts';
import type { CredentialRequest } from '../../bot/outreach/outreach.ts';
import { FakeSlack, signSlack } from '../adapters/slack/fake-slack.ts';
import { ConnectorRecorder } from '../adapters/teams/teams-harness.ts';
import { commandLine, csvText, runs, token } from './arbitraries.ts';
import { defined } from '../harness/defined.ts';

const SECRET = 'fuzz-signing-secret-0123456789abcdef';

/**
 * Every request path of the HTTP server under generated input, on one real server (Slack
 * signed with the real secret, Teams in development mode, the credential form with a
 * verifier that refuses every password): no answer is a 5xx, nothing unexpected is logged
 * as a failure, and a refused request writes nothing.
 */
describe('fuzz: the HTTP request paths and the command path', () => {
  let t: TestApp;
  let fake: FakeSlack;
  let rec: ConnectorRecorder;
  let base: string;
  let link: string;
  let csrfLink: string;
  const requests: CredentialRequest[] = [];

  beforeAll(async () => {
    fake = await new FakeSlack().start();
    rec = await new ConnectorRecorder().start();
    t = await makeTestApp({
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_BOT_TOKEN: 'xoxb-fuzz',
      SLACK_API_URL: fake.url,
      MAILFERRY_DEV: '1',
      MAILFERRY_ADMINS: 'test:admin,slack:UADMIN',
    });
    installSlack(t.app, { retryConfig: { retries: 0, minTimeout: 1, maxTimeout: 1, factor: 1 } });
    teamsPlugin(t.app, 'serve', { retry: { attempts: 1 } });
    installSelfService(t.app, {
      verify: async () => ({ ok: false, kind: 'refused', detail: 'AUTHENTICATIONFAILED' }),
      maxAttempts: 1_000_000,
      limits: {
        perClient: { max: 1e9, windowMs: 60_000 },
        postsPerClient: { max: 1e9, windowMs: 60_000 },
        perLink: { max: 1e9, windowMs: 60_000 },
        postsPerLink: { max: 1e9, windowMs: 60_000 },
      },
    });
    t.app.outreach.addSender({ kind: 'email', send: async (r) => (requests.push(r), { ok: true, via: 'email' }) });
    base = `http://127.0.0.1:${(await serveHttp(t.app)).port}`;
    await t.run(
      'project create acme --source imaps://127.0.0.1:1 --destination imaps://127.0.0.1:2 --self-service both',
    );
    await t.run('add alice@old.example alice@new.example');
    await t.run('start alice@old.example');
    link = requests.at(-1)!.url.replace(/^https?:\/\/[^/]+/, base);
    const page = await (await fetch(link)).text();
    csrfLink = defined(/name="csrf" value="([^"]+)"/.exec(page)?.[1], 'csrf field');
  });
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
    await rec?.close();
  });

  /** No line the final error handler writes for a 5xx. */
  const noServerErrors = () => expect(t.logs.filter((l) => l.includes('http: request failed'))).toEqual([]);

  it('Slack: signed commands, interactions and events of any shape never get a 5xx (120 requests)', async () => {
    const ids = fc.constantFrom('UADMIN', 'UNOBODY', '', 'U\u202e1');
    const command = fc
      .record({
        text: commandLine,
        user_id: ids,
        channel_id: fc.constantFrom('C1', 'D1', ''),
        trigger_id: fc.string({ maxLength: 20 }),
        team_id: fc.constantFrom('T1', ''),
      })
      .map((f) => ({
        body: new URLSearchParams({
          ...f,
          command: '/migrate',
          user_name: 'fuzz',
          response_url: `${fake.base}/response/fuzz`,
        }).toString(),
        type: 'application/x-www-form-urlencoded',
      }));
    const interaction = fc
      .record({
        // Mostly kinds we listen to: Bolt answers a kind nobody acks only after its 3 s timeout (a 404), which slows
        // the run.
        type: fc.oneof(
          { weight: 12, arbitrary: fc.constantFrom('block_actions', 'view_submission') },
          { weight: 1, arbitrary: fc.constantFrom('shortcut', 'message_action', 'view_closed', 'nonsense') },
        ),
        user: fc.record({ id: ids, name: fc.string({ maxLength: 5 }) }),
        actions: fc.array(fc.record({ action_id: fc.constantFrom('mf_cmd_0', 'mf_link_0'), value: commandLine }), {
          minLength: 1,
          maxLength: 2,
        }),
        view: fc.record({
          callback_id: fc.constantFrom('mf_add', 'mf_bulk', 'mf_project'),
          private_metadata: fc.oneof(fc.constant('{"c":"C1","t":"T1"}'), fc.string({ maxLength: 20 })),
          state: fc.record({ values: fc.jsonValue({ maxDepth: 3 }) }),
        }),
        trigger_id: fc.string({ maxLength: 10 }),
        extra: fc.jsonValue({ maxDepth: 2 }),
      })
      .map((p) => ({
        body: new URLSearchParams({ payload: JSON.stringify(p) }).toString(),
        type: 'application/x-www-form-urlencoded',
      }));
    const event = fc
      .record({
        type: fc.constantFrom('event_callback', 'url_verification'),
        event_id: fc.string({ maxLength: 8 }),
        challenge: fc.string({ maxLength: 8 }),
        event: fc.record({
          type: fc.constantFrom('app_mention'),
          user: ids,
          channel: fc.constantFrom('C1', ''),
          text: commandLine,
        }),
      })
      .map((e) => ({ body: JSON.stringify(e), type: 'application/json' }));
    const garbage = fc
      .tuple(
        fc.string({ maxLength: 200 }),
        fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', ''),
      )
      .map(([body, type]) => ({ body, type }));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 6, arbitrary: command },
          { weight: 4, arbitrary: interaction },
          { weight: 2, arbitrary: event },
          { weight: 1, arbitrary: garbage },
        ),
        async ({ body, type }) => {
          const ts = Math.floor(Date.now() / 1000);
          const r = await fetch(`${base}/slack/events`, {
            method: 'POST',
            headers: {
              ...(type ? { 'content-type': type } : {}),
              'x-slack-request-timestamp': String(ts),
              'x-slack-signature': signSlack(SECRET, body, ts),
            },
            body,
            signal: AbortSignal.timeout(20_000),
          });
          await r.arrayBuffer();
          expect(r.status).toBeLessThan(500);
        },
      ),
      runs(120),
    );
    await t.app.bus.idle();
    noServerErrors();
  }, 180_000);

  it('Slack: unsigned or mis-signed requests get the same 401, every time (100 requests)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 100 }),
        fc.option(fc.string({ maxLength: 70 })),
        fc.option(fc.string({ maxLength: 12 })),
        async (body, sig, ts) => {
          const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
          // Header values must be ISO-8859-1 without line breaks (fetch refuses others before sending).
          if (sig !== null) headers['x-slack-signature'] = sig.replace(/[^\x20-\x7e]/g, '');
          if (ts !== null) headers['x-slack-request-timestamp'] = ts.replace(/[^\x20-\x7e]/g, '');
          const once = async () => {
            const r = await fetch(`${base}/slack/events`, { method: 'POST', headers, body });
            return { status: r.status, text: await r.text() };
          };
          const a = await once();
          expect(a.status).toBe(401);
          expect(await once()).toEqual(a);
        },
      ),
      runs(100),
    );
  }, 180_000);

  it('Teams: activities of any shape never get a 5xx, and the ' +
    'same activity gets the same answer (200 × 2 requests)', async () => {
    const activity = fc.oneof(
      fc.record(
        {
          type: fc.constantFrom('message', 'invoke', 'conversationUpdate', 'installationUpdate', 'event', 'x', ''),
          name: fc.constantFrom('adaptiveCard/action', 'x'),
          text: commandLine,
          id: fc.string({ maxLength: 6 }),
          serviceUrl: fc.constant(rec.url),
          channelId: fc.constantFrom('msteams', 'x'),
          from: fc.record({ id: fc.string({ maxLength: 6 }), aadObjectId: fc.string({ maxLength: 6 }) }),
          conversation: fc.option(
            fc.record({ id: fc.string({ maxLength: 10 }), conversationType: fc.constantFrom('channel', 'personal') }),
          ),
          value: fc.jsonValue({ maxDepth: 3 }),
          channelData: fc.jsonValue({ maxDepth: 2 }),
        },
        { requiredKeys: [] },
      ),
      fc.jsonValue({ maxDepth: 3 }),
    );
    await fc.assert(
      fc.asyncProperty(activity, async (a) => {
        const post = async () => {
          const r = await fetch(`${base}/api/messages`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(a),
          });
          const text = await r.text();
          return { status: r.status, json: r.headers.get('content-type')?.startsWith('application/json') || !text };
        };
        const first = await post();
        expect(first.status).toBeLessThan(500);
        if (first.status >= 400) expect(first.json).toBe(true);
        expect((await post()).status).toBe(first.status);
      }),
      runs(200),
    );
    noServerErrors();
  }, 180_000);

  it('the form: any post on a live or a made-up link never ' +
    'gets a 5xx and writes no credential (150 requests)', async () => {
    const fields = fc.dictionary(
      fc.constantFrom(
        'csrf',
        'source_login',
        'source_password',
        'destination_login',
        'destination_password',
        'x',
        '__proto__',
        'source_login[]',
      ),
      fc.oneof(token, fc.string({ maxLength: 300 }), fc.constant(csrfLink)),
      { maxKeys: 6 },
    );
    const target = fc.oneof(
      fc.constant(link),
      fc.constant(link),
      fc.string({ maxLength: 50 }).map((s) => `${base}/c/${encodeURIComponent(s)}`),
    );
    const type = fc.constantFrom(
      'application/x-www-form-urlencoded',
      'application/json',
      'multipart/form-data',
      'text/plain',
    );
    await fc.assert(
      fc.asyncProperty(target, fields, type, fc.boolean(), async (url, f, ct, withCsrf) => {
        const body = new URLSearchParams({ ...f, ...(withCsrf ? { csrf: csrfLink } : {}) }).toString();
        const r = await fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': ct }, body });
        await r.arrayBuffer();
        expect(r.status).toBeLessThan(500);
        expect(await t.app.db.credential.count()).toBe(0);
      }),
      runs(150),
    );
    const item = await t.app.db.item.findFirstOrThrow({ where: { sourceAddress: 'alice@old.example' } });
    expect(item.status).toBe('WaitingForUser');
    noServerErrors();
  }, 180_000);

  it('commands: a refused add or bulk writes nothing (400 commands)', async () => {
    const line = fc.oneof(
      commandLine.map((l) => `add ${l}`),
      fc
        .tuple(
          fc.constantFrom('bulk', 'bulk --ask source', 'bulk --notify carrier-pigeon', 'bulk --project nope'),
          csvText,
        )
        .map(([c, csv]) => `${c}\n${csv}`),
      commandLine,
    );
    await fc.assert(
      fc.asyncProperty(line, async (text) => {
        const before = { items: await t.app.db.item.count(), history: await t.app.db.itemEvent.count() };
        const r = await t.run(text);
        if (!r.result.ok) {
          expect(await t.app.db.item.count()).toBe(before.items);
          expect(await t.app.db.itemEvent.count()).toBe(before.history);
        }
      }),
      runs(400),
    );
  }, 180_000);
});
