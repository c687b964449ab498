import { afterEach, describe, expect, it } from 'vitest';
import { repliesAt, startSlackTest, type SlackTest } from './slack-harness.ts';
import { defined } from '../../harness/defined.ts';

// Bolt's single-workspace authorization calls auth.test before each listener when it lacks
// the bot's ids. MailFerry checks the token once at start-up instead: a slash command is
// acknowledged and run whatever auth.test does. Real signed requests over HTTP, against the
// local Slack Web API stand-in.
describe('slash commands do not wait for auth.test', () => {
  let s: SlackTest | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  const replyText = (s: SlackTest, path: string) =>
    repliesAt(s.fake, path)
      .map((b) => JSON.stringify(b))
      .join('\n');

  it('auth.test slow: the command is acknowledged and answered before auth.test has answered', async () => {
    s = await startSlackTest({}, {}, (fake) => fake.delays.set('auth.test', 20_000));
    await s.fake.waitFor(() => s!.fake.of('auth.test').length, 10_000, 'the start-up auth.test');
    const r = await s.command('help');
    expect(r.status).toBe(200);
    await s.fake.waitFor(() => repliesAt(s!.fake, r.responsePath).length, 15_000, 'the reply to help');
    expect(replyText(s, r.responsePath)).toContain('project create');
    // Still no answer from auth.test, and no second call: the request did not wait for it.
    expect(s.fake.of('auth.test')).toHaveLength(1);
    expect(defined(s.fake.of('auth.test')[0]).result).toBeUndefined();
  }, 60_000);

  it('auth.test rate-limited (429) or failing: commands ' +
    'are acknowledged and run; the log says what to check', async () => {
    s = await startSlackTest({}, { authRetryMs: 60_000 }, (fake) =>
      fake.failAlways('auth.test', { status: 429, retryAfter: 1 }),
    );
    await s.fake.waitFor(
      () => s!.t.logs.some((l) => /could not check the bot token/.test(l)),
      20_000,
      'the start-up warning',
    );
    const calls = s.fake.of('auth.test').length;
    for (const text of [
      'help',
      'project create acme --source imaps://old.example:993 --destination imaps://new.example:993',
    ]) {
      const r = await s.command(text);
      expect(r.status).toBe(200);
      await s.fake.waitFor(
        () => repliesAt(s!.fake, r.responsePath).length || s!.fake.of('chat.postMessage').length,
        15_000,
        `the answer to ${text}`,
      );
    }
    await s.settle();
    expect((await s.t.app.engine.getProject('acme')).name).toBe('acme');
    // No request called auth.test.
    expect(s.fake.of('auth.test')).toHaveLength(calls);
  }, 60_000);

  it('a refused token is said once at start-up with the fix; a command is still acknowledged', async () => {
    s = await startSlackTest({}, {}, (fake) => fake.failAlways('auth.test', { error: 'invalid_auth' }));
    await s.fake.waitFor(
      () =>
        s!.t.logs.some((l) => /the bot token was refused; set SLACK_BOT_TOKEN to the "Bot User OAuth Token"/.test(l)),
      10_000,
      'the start-up error',
    );
    const r = await s.command('help');
    expect(r.status).toBe(200);
    await s.fake.waitFor(() => repliesAt(s!.fake, r.responsePath).length, 15_000, 'the reply to help');
    expect(s.fake.of('auth.test')).toHaveLength(1);
  }, 60_000);

  it('with a working auth.test, it is called once at start-up, never per request', async () => {
    s = await startSlackTest();
    for (let i = 0; i < 5; i++) expect((await s.command('help')).status).toBe(200);
    await s.settle();
    expect(s.fake.of('auth.test')).toHaveLength(1);
  }, 60_000);
});
