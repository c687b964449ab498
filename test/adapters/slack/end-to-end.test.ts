import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runner } from '../../../engine/runner/runner.ts';
import { runPass } from '../../../engine/copy/index.ts';
import { createPrismaCheckpointStore } from '../../../engine/store/folder-state.ts';
import { makeMessage, readMailbox, seedImap, startDovecot, type DovecotInstance } from '../../harness/dovecot.ts';
import type { SlackCall } from './fake-slack.ts';
import { blockText, startSlackTest, type SlackTest } from './slack-harness.ts';

// A real migration driven from Slack: slash commands over signed HTTP, the end user asked by
// DM, credentials arriving (as the secure form stores them), the real runner copying from a
// private Dovecot, and every status in the anchor's thread.
describe('Slack end to end with a real IMAP server', () => {
  let dv: DovecotInstance;
  let s: SlackTest;
  let runner: Runner;

  beforeAll(async () => {
    dv = await startDovecot({
      users: [
        { name: 'alice', password: 'src-Secret-1' },
        { name: 'alice2', password: 'dst-Secret-2' },
      ],
    });
    await seedImap(dv, 'alice', 'src-Secret-1', {
      INBOX: [
        { raw: makeMessage({ subject: 'hello' }), flags: ['\\Seen'] },
        { raw: makeMessage({ subject: 'second' }) },
      ],
      Projects: [{ raw: makeMessage({ subject: 'plan', size: 40_000 }) }],
    });
    s = await startSlackTest();
    s.fake.users.set('alice@old.example', { id: 'UALICE', name: 'alice' });
    runner = new Runner(
      s.t.app.engine,
      createPrismaCheckpointStore(s.t.app.db),
      runPass,
      s.t.app.log.child({ part: 'runner' }),
      { concurrency: 1, pollMs: 200 },
    );
    await runner.start();
    s.t.app.onClose(() => runner.stop());
  });
  afterAll(async () => {
    await s?.close();
    await dv?.dispose();
  });

  it('asks alice by DM, copies her mailbox once the credentials arrive, and reports it in the thread', async () => {
    // Slack runs commands as they come, side by side: each one is let finish before the next.
    for (const line of [
      `project create acme --source ${dv.url} --destination ${dv.url} --notify chat`,
      'add alice@old.example alice@new.example --source-login alice --destination-login alice2 --ask source',
      'start alice@old.example',
    ]) {
      await s.command(line);
      await s.settle();
    }
    const project = await s.t.app.engine.getProject('acme');
    let item = await s.t.app.engine.getItem(project, 'alice@old.example');
    expect(item.status).toBe('WaitingForUser');
    const ts = item.threadRef!.split('/').at(-1)!;
    const thread = (): SlackCall[] => s.fake.of('chat.postMessage').filter((c) => c.args.thread_ts === ts);

    // The DM has the form link; alice "submits the form" (the form stores verified credentials this way).
    const dm = s.fake.of('chat.postMessage').find((c) => c.args.channel === 'DALICE')!;
    const link: string = dm.args.blocks.find((b: any) => b.type === 'actions').elements[0].url;
    expect(link).toMatch(/^https:\/\/mailferry\.example\/c\//);
    const form = { surface: 'form', id: 'alice@old.example' };
    item = await s.t.app.engine.setCredential(form, item, 'source', 'alice', { password: 'src-Secret-1' });
    await s.t.app.engine.setCredential(form, item, 'destination', 'alice2', { password: 'dst-Secret-2' });

    // The runner copies; the thread ends with Completed and its figures.
    const done = await s.fake.waitFor(
      () => thread().find((c) => c.args.text.startsWith('✅ alice@old.example completed')),
      60_000,
      'Completed post',
    );
    const fields = done.args.blocks.find((b: any) => b.fields).fields.map((f: any) => f.text);
    expect(fields[0]).toMatch(/^\*Copied\*\n3 messages, /);
    expect(fields[3]).toMatch(/^\*Duration\*\n\d+ s$/);
    const texts = thread().map((c) => c.args.text);
    expect(texts[0]).toContain('alice@old.example is waiting for source and destination credentials');
    expect(texts[0]).toContain('asked alice@old.example by Slack DM to @alice');
    expect(texts.some((t) => t.startsWith('🔐 alice@old.example: source credentials received'))).toBe(true);
    expect(texts.some((t) => t.startsWith('🕒 alice@old.example is queued'))).toBe(true);
    // The anchor ends up saying Completed 1.
    await s.fake.waitFor(
      () => s.fake.of('chat.update').some((c) => c.args.ts === ts && c.args.text.includes('Now: Completed 1')),
      5000,
      'anchor summary Completed 1',
    );
    expect(
      blockText(
        s.fake
          .of('chat.update')
          .filter((c) => c.args.ts === ts)
          .at(-1)!.args.blocks,
      ),
    ).toContain('📊 Now: Completed 1');

    const box = await readMailbox(dv, 'alice2', 'dst-Secret-2');
    expect(Object.values(box.messages).flat()).toHaveLength(3);
    // No password anywhere Slack or the log could see.
    expect(JSON.stringify(s.fake.calls) + s.t.logs.join('\n')).not.toMatch(/src-Secret-1|dst-Secret-2/);
    // The link went to the user's DM button and nowhere else: no token in any log line.
    expect(s.t.logs.length).toBeGreaterThan(0);
    expect(s.t.logs.join('\n')).not.toMatch(/\/c\/[A-Za-z0-9_-]{20,}/);
    expect(s.t.logs.join('\n')).not.toContain(link.split('/c/')[1]);
  });
});
