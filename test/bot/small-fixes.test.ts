import { afterEach, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../harness/app.ts';
import { SYSTEM_ACTOR } from '../../engine/domain/types.ts';
import { parseCommand } from '../../bot/parse/parse-command.ts';
import { COMMANDS } from '../../bot/commands/index.ts';
import { renderBlockKit } from '../../cards/render-block-kit.ts';
import { blockText, repliesAt, startSlackTest } from '../adapters/slack/slack-harness.ts';
import { defined } from '../harness/defined.ts';

const FIGURES = {
  messagesFound: 0,
  bytesFound: 0,
  messagesCopied: 0,
  bytesCopied: 0,
  messagesPresent: 0,
  messagesSkipped: 0,
  durationMs: 5,
};

describe('start after a server refused stored credentials', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  /** alice with both passwords stored by the admin; a pass then fails because the server refused one side. */
  async function failedOn(reason: 'SourceCredentials' | 'DestinationCredentials') {
    t = await makeTestApp();
    await t.run('project create acme --source imaps://127.0.0.1:1 --destination imaps://127.0.0.1:2');
    await t.run('add alice@old.example alice@new.example');
    await t.run('add bob@old.example bob@new.example');
    const project = await t.app.engine.getProject('acme');
    for (const a of ['alice', 'bob']) {
      let item = await t.app.engine.getItem(project, `${a}@old.example`);
      item = await t.app.engine.setCredential(SYSTEM_ACTOR, item, 'source', `${a}@old.example`, { password: 'old-pw' });
      item = await t.app.engine.setCredential(SYSTEM_ACTOR, item, 'destination', `${a}@new.example`, {
        password: 'new-pw',
      });
      await t.app.engine.startItem(SYSTEM_ACTOR, item);
      const claimed = await t.app.engine.claimNext();
      await t.app.engine.finishPass(claimed!.id, 'failed', FIGURES, { reason, detail: 'AUTHENTICATIONFAILED' });
    }
    await t.app.bus.idle();
    await t.app.notifier.idle();
    return project;
  }

  it('says in the failure post what start will do', async () => {
    await failedOn('SourceCredentials');
    const post = t!.posts.map((p) => p.text).find((x) => x.includes('alice@old.example* failed'));
    expect(post).toContain(
      '`/migrate start alice@old.example` forgets the refused source password and asks the user again',
    );
  });

  it('a plain start forgets the refused side (only it) and asks the user again instead of retrying it', async () => {
    const project = await failedOn('SourceCredentials');
    const r = await t!.run('start alice@old.example');
    expect(r.result.ok).toBe(true);
    expect(r.text).toContain(
      'its source password was refused last time, so it was forgotten and the user is asked again',
    );
    const item = await t!.app.engine.getItem(project, 'alice@old.example');
    expect(item.status).toBe('WaitingForUser');
    expect(await t!.app.engine.credentialOf(item.id, 'source')).toBeUndefined();
    expect((await t!.app.engine.credentialOf(item.id, 'destination'))?.secret.password).toBe('new-pw');
  });

  it('start --all does the same for every item a server refused', async () => {
    const project = await failedOn('DestinationCredentials');
    const r = await t!.run('start --all');
    expect(r.text).toMatch(/alice@old\.example: [^\n]*its destination password was refused last time/);
    expect(r.text).toMatch(/bob@old\.example: [^\n]*its destination password was refused last time/);
    for (const a of ['alice', 'bob']) {
      const item = await t!.app.engine.getItem(project, `${a}@old.example`);
      expect(item.status).toBe('WaitingForUser');
      expect(await t!.app.engine.credentialOf(item.id, 'destination')).toBeUndefined();
      expect(await t!.app.engine.credentialOf(item.id, 'source')).toBeDefined();
    }
  });

  it('clear-credentials on a failed item keeps why it failed (status says the same before and after)', async () => {
    const project = await failedOn('SourceCredentials');
    const r = await t!.run('clear-credentials alice@old.example --source');
    expect(r.result.ok, r.text).toBe(true);
    const item = await t!.app.engine.getItem(project, 'alice@old.example');
    expect(await t!.app.engine.credentialOf(item.id, 'source')).toBeUndefined();
    expect([item.status, item.failureReason, item.failureDetail]).toEqual([
      'Failed',
      'SourceCredentials',
      'AUTHENTICATIONFAILED',
    ]);
    expect((await t!.run('status alice@old.example')).text).not.toContain('Internal');
  });

  it('another failure is retried as it was (the credentials were not the problem)', async () => {
    t = await makeTestApp();
    await t.run('project create acme --source imaps://127.0.0.1:1 --destination imaps://127.0.0.1:2');
    await t.run('add alice@old.example');
    const project = await t.app.engine.getProject('acme');
    let item = await t.app.engine.getItem(project, 'alice@old.example');
    item = await t.app.engine.setCredential(SYSTEM_ACTOR, item, 'source', 'alice@old.example', { password: 'pw' });
    item = await t.app.engine.setCredential(SYSTEM_ACTOR, item, 'destination', 'alice@old.example', { password: 'pw' });
    await t.app.engine.startItem(SYSTEM_ACTOR, item);
    await t.app.engine.finishPass((await t.app.engine.claimNext())!.id, 'failed', FIGURES, {
      reason: 'SourceUnreachable',
    });
    const r = await t.run('start alice@old.example');
    expect(r.text).not.toContain('forgotten');
    expect((await t.app.engine.getItem(project, 'alice@old.example')).status).toBe('Queued');
  });
});

describe('usage lines per surface', () => {
  const hintOf = (text: string, surface: string) => {
    try {
      parseCommand(text, COMMANDS, surface);
    } catch (e) {
      return (e as { hint?: string }).hint ?? '';
    }
    throw new Error('parsed');
  };
  it('list console-only options in the console only', () => {
    expect(hintOf('start --bogus', 'console')).toContain('--source-password-file');
    for (const s of ['slack', 'teams']) {
      expect(hintOf('start --bogus', s)).toMatch(/Usage: \/migrate start \[ADDRESS\]/);
      expect(hintOf('start --bogus', s)).not.toContain('password-file');
    }
  });

  it("Slack: an error's usage line and `help start` leave out console-only options", async () => {
    const s = await startSlackTest();
    try {
      const bad = await s.command('start --bogus');
      const h = await s.command('help start');
      await s.settle();
      const err = repliesAt(s.fake, bad.responsePath)[0];
      expect(defined(err).text).toContain('Usage: /migrate start');
      expect(defined(err).text + blockText(defined(err).blocks)).not.toContain('password-file');
      const help = repliesAt(s.fake, h.responsePath)[0];
      expect(blockText(defined(help).blocks)).toContain('--waiting');
      expect(defined(help).text + blockText(defined(help).blocks)).not.toContain('password-file');
    } finally {
      await s.close();
    }
  });
});

describe('Slack plain-text fallback', () => {
  it('escapes &, < and > like the blocks, so <!channel> and <url|label> stay text', () => {
    const kit = renderBlockKit({
      kind: 'x',
      text: 'hi <!channel> & <https://evil.example|bank>',
      tone: 'info',
      blocks: [{ type: 'text', text: 'hi <!channel>' }],
    });
    expect(kit.text).toBe('hi &lt;!channel&gt; &amp; &lt;https://evil.example|bank&gt;');
    expect(JSON.stringify(kit.blocks)).not.toContain('<!channel>');
  });

  it('over HTTP: an ephemeral answer echoing typed text carries no live <!channel>', async () => {
    const s = await startSlackTest();
    try {
      const r = await s.command('status "<!channel>"');
      await s.settle();
      const reply = repliesAt(s.fake, r.responsePath)[0];
      expect(defined(reply).text).toContain('&lt;!channel&gt;');
      expect(JSON.stringify(reply)).not.toContain('<!channel>');
    } finally {
      await s.close();
    }
  });
});
