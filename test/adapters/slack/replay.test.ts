import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, repliesAt, startSlackTest, type SlackTest } from './slack-harness.ts';
import { requestLedger } from '../../../bot/store/seen-requests.ts';
import { testDbUrl } from '../../harness/test-db.ts';

/** Slack's retries and replays of one request must run it once, in every process sharing the database. */
describe('Slack retries and replays', () => {
  let a: SlackTest;
  let b: SlackTest;
  let seq = 0;
  beforeAll(async () => {
    a = await startSlackTest();
    // A second server on the same database (two `serve` processes behind one URL).
    b = await startSlackTest({ DATABASE_URL: testDbUrl(a.t.dir), MAILFERRY_DATA_DIR: a.t.dir });
    await a.command('project create acme --source imaps://old.example:993 --destination imaps://new.example:993');
    await a.settle();
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  /** A slash command body as Slack sends it, with its own trigger id. */
  function commandBody(s: SlackTest, text: string): { body: string; path: string } {
    const path = `/response/replay${++seq}`;
    const fields = {
      ...fixture('slash-command.json'),
      text,
      user_id: 'UADMIN',
      user_name: 'ada',
      channel_id: 'C1',
      response_url: `${s.fake.base}${path}`,
      trigger_id: `replay-trigger-${seq}`,
    };
    return { body: new URLSearchParams(fields).toString(), path };
  }
  const form = 'application/x-www-form-urlencoded';
  const anchors = () =>
    [...a.fake.of('chat.postMessage'), ...b.fake.of('chat.postMessage')].filter((c) => !c.args.thread_ts);
  const settle = async () => {
    await a.settle();
    await b.settle();
  };

  it('runs a byte-identical signed replay once (same signature, inside the window)', async () => {
    const before = anchors().length;
    const { body, path } = commandBody(a, 'add alice@old.example alice@new.example');
    const ts = Math.floor(Date.now() / 1000);
    expect((await a.send(body, form, { ts })).status).toBe(200);
    await settle();
    expect((await a.send(body, form, { ts })).status).toBe(200);
    await settle();
    expect(anchors().length - before).toBe(1);
    expect(repliesAt(a.fake, path)).toEqual([]);
    expect(a.t.logs.join('\n')).toContain('slack: repeated request ignored');
  });

  it(
    'runs a retried command once (X-Slack-Retry-Num, a ' + 'new timestamp and signature, the same trigger id)',
    async () => {
      const before = anchors().length;
      const { body, path } = commandBody(a, 'add bob@old.example bob@new.example');
      const ts = Math.floor(Date.now() / 1000);
      expect((await a.send(body, form, { ts })).status).toBe(200);
      await settle();
      const retry = await a.send(body, form, {
        ts: ts - 2,
        headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' },
      });
      expect(retry.status).toBe(200);
      await settle();
      expect(anchors().length - before).toBe(1);
      // A second run would have answered "already in the project" on the same response_url.
      expect(repliesAt(a.fake, path)).toEqual([]);
      const project = await a.t.app.engine.getProject('acme');
      expect((await a.t.app.engine.getItem(project, 'bob@old.example')).threadRef).toBe(
        `slack:T1/C1/${anchors().at(-1)!.result!.ts}`,
      );
    },
  );

  it('runs a retried `start` once: one anchor, the item started once', async () => {
    const before = anchors().length;
    const { body } = commandBody(a, 'start alice@old.example');
    expect((await a.send(body, form)).status).toBe(200);
    await settle();
    const mid = anchors().length;
    const retry = await a.send(body, form, {
      ts: Math.floor(Date.now() / 1000) + 1,
      headers: { 'x-slack-retry-num': '1' },
    });
    expect(retry.status).toBe(200);
    await settle();
    expect(anchors().length).toBe(mid);
    expect(mid - before).toBeLessThanOrEqual(1);
  });

  it('holds across processes: a replay sent to the other server on the same database is not run', async () => {
    const before = anchors().length;
    const { body } = commandBody(a, 'add carol@old.example');
    const ts = Math.floor(Date.now() / 1000);
    expect((await a.send(body, form, { ts })).status).toBe(200);
    expect((await b.send(body, form, { ts })).status).toBe(200);
    await settle();
    expect(anchors().length - before).toBe(1);
    expect(b.t.logs.join('\n')).toContain('slack: repeated request ignored');
  });

  it('answers an event once when Slack redelivers it with the same event id', async () => {
    const mention = JSON.stringify(fixture('event-app-mention.json'));
    const answered = () =>
      [...a.fake.of('chat.postEphemeral'), ...b.fake.of('chat.postEphemeral')].filter((c) =>
        String(c.args.text).includes('/migrate help'),
      ).length;
    const before = answered();
    expect((await a.send(mention, 'application/json')).status).toBe(200);
    await a.fake.waitFor(() => answered() > before || undefined, 3000, 'mention answer');
    // Redelivered a second later to the other server, without a retry header.
    expect((await b.send(mention, 'application/json', { ts: Math.floor(Date.now() / 1000) + 1 })).status).toBe(200);
    await settle();
    expect(answered() - before).toBe(1);
  });

  it('runs a repeated interaction (the same trigger id) once', async () => {
    const p = fixture('block-actions-link.json');
    p.trigger_id = 'replay-click-1';
    p.user = { id: 'UADMIN', name: 'ada' };
    p.channel = { id: 'C1' };
    p.response_url = `${a.fake.base}/response/click1`;
    p.actions = [{ action_id: 'mf_cmd_0', type: 'button', value: 'help' }];
    const body = new URLSearchParams({ payload: JSON.stringify(p) }).toString();
    expect((await a.send(body, form)).status).toBe(200);
    await settle();
    expect((await b.send(body, form, { ts: Math.floor(Date.now() / 1000) - 1 })).status).toBe(200);
    await settle();
    expect(repliesAt(a.fake, '/response/click1')).toHaveLength(1);
  });

  it('leaves URL verification alone (no side effect to guard)', async () => {
    const body = JSON.stringify(fixture('url-verification.json'));
    const ts = Math.floor(Date.now() / 1000);
    const first = await a.send(body, 'application/json', { ts });
    const again = await a.send(body, 'application/json', { ts });
    expect(first.text).toBe(again.text);
    expect(first.text).toContain('challenge');
  });

  it('forgets keys after their window and removes expired rows', async () => {
    let clock = 1_000_000;
    const ledger = requestLedger(a.t.app.db, () => clock);
    expect(await ledger.claim(['test:k1'], 1000)).toBe(true);
    expect(await ledger.claim(['test:k1'], 1000)).toBe(false);
    expect(await ledger.claim(['test:k2', 'test:k1'], 1000)).toBe(false);
    clock += 1001;
    expect(await ledger.claim(['test:k1'], 1000)).toBe(true);
    clock += 120_000;
    await ledger.claim(['test:k3'], 1000);
    const left = await a.t.app.db.seenRequest.findMany({ where: { key: { startsWith: 'test:' } } });
    expect(left.map((r) => r.key).sort()).toEqual(['test:k3']);
  });

  it('gives a key to exactly one of many claims at once, and records the new keys of a repeat', async () => {
    const one = requestLedger(a.t.app.db);
    const other = requestLedger(a.t.app.db);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => (i % 2 ? one : other).claim(['race:sig', `race:trigger${i % 3}`], 60_000)),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    // Every trigger key was recorded by the claims that carried it, won or lost.
    for (const k of ['race:trigger0', 'race:trigger1', 'race:trigger2'])
      expect(await one.claim([k], 60_000)).toBe(false);
  });
});
