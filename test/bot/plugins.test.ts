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

  it('installs the capabilities in order and loads neither Slack nor Teams SDK when neither is configured', async () => {
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
  });

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
});
