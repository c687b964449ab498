import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { installPlugins } from '../../bot/plugins.ts';
import { makeTestApp, type TestApp } from '../harness/app.ts';

const require = createRequire(import.meta.url);
/** Whether a CommonJS package (Bolt, botbuilder) has been loaded into this process. */
const loaded = (pkg: string) => Object.keys(require.cache).some((f) => f.includes(`/node_modules/${pkg}/`));

describe('the composition root', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it(
    'installs the capabilities in order and loads neither ' + 'Slack nor Teams SDK when neither is configured',
    async () => {
      t = await makeTestApp();
      const names = await installPlugins(t.app, 'serve');
      expect(names).toEqual(['engine workers', 'Teams', 'email', 'credential form', 'scheduler']);
      expect(loaded('@slack/bolt')).toBe(false);
      expect(loaded('botbuilder')).toBe(false);
      // Teams unconfigured still answers its route, with 401 rather than running unauthenticated.
      const { port } = await import('../../bot/app.ts').then((m) => m.serveHttp(t!.app));
      const res = await fetch(`http://127.0.0.1:${port}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status).toBe(401);
    },
  );

  it('adds Slack when its secret and token are set, and the console gets no chat surface', async () => {
    t = await makeTestApp({
      SLACK_SIGNING_SECRET: 'x'.repeat(32),
      SLACK_BOT_TOKEN: 'xoxb-test',
      SLACK_API_URL: 'http://127.0.0.1:9/api/',
    });
    expect(await installPlugins(t.app, 'worker')).toContain('Slack');
    expect(loaded('@slack/bolt')).toBe(true);
    const c = await makeTestApp({ SLACK_SIGNING_SECRET: 'x'.repeat(32), SLACK_BOT_TOKEN: 'xoxb-test' });
    try {
      expect(await installPlugins(c.app, 'console')).toEqual([
        'engine workers',
        'email',
        'credential form',
        'scheduler',
      ]);
    } finally {
      await c.close();
    }
  });

  it(
    'MAILFERRY_CONCURRENCY=0: a serve runs no passes (a start ' +
      'stays queued for the workers); a worker or console refuses it',
    async () => {
      t = await makeTestApp({ MAILFERRY_CONCURRENCY: '0' });
      await installPlugins(t.app, 'serve');
      expect(t.logs.join('\n')).toMatch(/this process copies nothing \(MAILFERRY_CONCURRENCY=0\)/);
      const { SYSTEM_ACTOR } = await import('../../engine/domain/types.ts');
      const engine = t.app.engine;
      const project = await engine.createProject(SYSTEM_ACTOR, {
        name: 'p0',
        sourceUrl: 'imap://127.0.0.1:9',
        destinationUrl: 'imap://127.0.0.1:9',
        channelRef: 'test:C1',
      });
      await engine.addItems(SYSTEM_ACTOR, project, [{ source: 'zoe@old.example', destination: 'zoe@new.example' }], {
        threadRef: 'test:C1/T1',
      });
      let item = await engine.getItem(project, 'zoe@old.example');
      item = await engine.setCredential(SYSTEM_ACTOR, item, 'source', 'zoe', { password: 'pw' });
      item = await engine.setCredential(SYSTEM_ACTOR, item, 'destination', 'zoe', { password: 'pw' });
      await engine.startItem(SYSTEM_ACTOR, item);
      // No runner in this process: nothing claims the item (a runner would at once, and fail it on port 9).
      await t.app.bus.idle();
      await new Promise((r) => setTimeout(r, 1500));
      expect((await engine.itemById(item.id))?.status).toBe('Queued');
      const w = await makeTestApp({ MAILFERRY_CONCURRENCY: '0' });
      try {
        await expect(installPlugins(w.app, 'worker')).rejects.toThrow(/MAILFERRY_CONCURRENCY=0 is for mailferry serve/);
      } finally {
        await w.close();
      }
      await expect(makeTestApp({ MAILFERRY_CONCURRENCY: 'two' })).rejects.toThrow(
        /MAILFERRY_CONCURRENCY must be a whole number/,
      );
    },
  );
});
