import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxOpenCalls } from './fake-slack.ts';
import { startSlackTest, type SlackTest } from './slack-harness.ts';

// Slack rate-limits its Web API per method (users.lookupByEmail and conversations.open are
// Tier 3, about 50 calls a minute): a start --all of hundreds of users must not open hundreds
// of calls at once. The DMs go through the outreach's queue, a few at a time.

describe('Slack DMs of a start --all of 150 users', () => {
  const N = 150;
  const BOUND = 2;
  let s: SlackTest;
  beforeAll(async () => {
    s = await startSlackTest({
      MAILFERRY_OUTREACH_CONCURRENCY: String(BOUND),
      MAILFERRY_ADMINS: 'slack:UADMIN,test:admin',
    });
    for (let i = 0; i < N; i++) s.fake.users.set(`dm${i}@old.example`, { id: `UDM${i}`, name: `dm${i}` });
    // A Slack that takes a moment to answer: calls would pile up if nothing bounded them.
    s.fake.delays.set('users.lookupByEmail', 15);
    s.fake.delays.set('conversations.open', 15);
    await s.command(
      'project create acme --source imaps://old.example:993 --destination imaps://new.example:993 --notify chat',
    );
    await s.settle();
    // The addresses in bulk through the local test surface (a Slack admin would upload a CSV).
    const added = await s.t.run(
      `bulk --project acme\n${Array.from({ length: N }, (_, i) => `dm${i}@old.example`).join('\n')}`,
    );
    expect(added.text).toMatch(/150 mailboxes added/);
  }, 120_000);
  afterAll(async () => s?.close());

  it(`every user gets a DM, never more than ${BOUND} DM ` +
    `calls open at once, and the thread gets one summary`, async () => {
    await s.command('start --all');
    await s.settle();
    await s.t.app.bus.idle();
    await s.settle();
    const dms = s.fake.of('chat.postMessage').filter((c) => String(c.args.channel).startsWith('D'));
    expect(new Set(dms.map((c) => c.args.channel)).size).toBe(N);
    expect(maxOpenCalls(s.fake.calls, ['users.lookupByEmail', 'conversations.open'])).toBeLessThanOrEqual(BOUND);
    expect(maxOpenCalls(s.fake.calls, ['users.lookupByEmail', 'conversations.open'])).toBeGreaterThanOrEqual(1);
    expect(await s.t.app.db.itemEvent.count({ where: { kind: 'request.sent' } })).toBe(N);
    const summaries = s.fake.of('chat.postMessage').filter((c) => /Asked [\d,]+ users/.test(String(c.args.text)));
    expect(summaries.map((c) => c.args.text)).toEqual([
      expect.stringMatching(/^📨 Asked 150 users for their credentials: 150 by Slack DM\./),
    ]);
    expect(s.t.logs.join('\n')).not.toMatch(/\/c\/[A-Za-z0-9_-]{16,}/);
  }, 180_000);
});
