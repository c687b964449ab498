import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildSlackManifest, MANIFEST_PLACEHOLDER_URL, SLACK_BOT_SCOPES } from '../../../adapters/slack/manifest.ts';
import { installSlack } from '../../../adapters/slack/install.ts';
import { COMMANDS } from '../../../bot/commands/index.ts';
import { makeTestApp } from '../../harness/app.ts';
import { startSlackTest } from './slack-harness.ts';

describe('Slack app manifest', () => {
  const committed = JSON.parse(
    readFileSync(fileURLToPath(new URL('../../../manifest/slack/manifest.json', import.meta.url)), 'utf8'),
  );

  it(
    'is the one generated from the command definitions (regenerate with ' +
      '`npx tsx adapters/slack/manifest.ts > manifest/slack/manifest.json`)',
    () => {
      expect(committed).toEqual(buildSlackManifest(MANIFEST_PLACEHOLDER_URL));
    },
  );

  it('points the command, interactivity and events at POST /slack/events and asks for the scopes we use', () => {
    const m = buildSlackManifest('https://mf.acme.example/') as any;
    const url = 'https://mf.acme.example/slack/events';
    expect(m.features.slash_commands).toEqual([
      expect.objectContaining({ command: '/migrate', url, should_escape: false }),
    ]);
    for (const c of COMMANDS) if (!c.hidden) expect(m.features.slash_commands[0].usage_hint).toContain(c.name);
    // Button-only commands are not offered to be typed.
    expect(m.features.slash_commands[0].usage_hint).not.toContain('answer');
    expect(m.settings.interactivity).toEqual({ is_enabled: true, request_url: url });
    expect(m.settings.event_subscriptions).toEqual({ request_url: url, bot_events: ['app_mention'] });
    expect(m.oauth_config.scopes.bot).toEqual([...SLACK_BOT_SCOPES]);
    for (const s of ['commands', 'chat:write', 'im:write', 'users:read', 'users:read.email', 'files:read'])
      expect(m.oauth_config.scopes.bot).toContain(s);
    expect(m.display_information.long_description.length).toBeGreaterThanOrEqual(175);
    expect(m.features.slash_commands[0].description.length).toBeLessThanOrEqual(100);
  });
});

describe('wiring', () => {
  it('installs nothing when SLACK_SIGNING_SECRET or SLACK_BOT_TOKEN is missing', async () => {
    const t = await makeTestApp({ SLACK_BOT_TOKEN: 'xoxb-only-token' });
    try {
      expect(installSlack(t.app)).toBeNull();
      expect(t.app.notifier.canPost('slack:T1/C1/1.2')).toBe(false);
    } finally {
      await t.close();
    }
  });

  it('worker mode registers the poster and the DM sender but no HTTP route', async () => {
    const t = await makeTestApp({
      SLACK_SIGNING_SECRET: 's',
      SLACK_BOT_TOKEN: 'xoxb-t',
      SLACK_API_URL: 'http://127.0.0.1:9/api/',
    });
    try {
      const r = installSlack(t.app, { mode: 'worker' })!;
      expect(r.surface).toBeUndefined();
      expect(t.app.notifier.canPost('slack:T1/C1/1.2')).toBe(true);
    } finally {
      await t.close();
    }
  });

  it('posts a channel reference (digests) at the top level of the channel', async () => {
    const s = await startSlackTest();
    try {
      const ok = await s.t.app.notifier.post({
        threadRef: 'slack:C7',
        message: { kind: 'digest', text: 'Daily digest', blocks: [{ type: 'header', text: 'Digest of acme' }] },
      });
      expect(ok).toBe(true);
      const call = s.fake.of('chat.postMessage').at(-1)!;
      expect(call.args.channel).toBe('C7');
      expect(call.args.thread_ts).toBeUndefined();
      expect(call.args.blocks[0]).toEqual({
        type: 'header',
        text: { type: 'plain_text', text: 'Digest of acme', emoji: true },
      });
    } finally {
      await s.close();
    }
  });
});
