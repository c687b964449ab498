// Composition-root wiring of Slack (listed in bot/plugins.ts, loaded only when configured).
import type { Plugin } from '../../bot/app.ts';
import { installSlack } from './install.ts';

/**
 * Slack joins `serve` (Bolt on POST /slack/events, thread posts, DMs) and `worker` (thread
 * posts and DMs for the passes it runs) when SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN are set.
 */
export const plugin: Plugin = (app, mode) => {
  if (mode === 'console') return;
  installSlack(app, { mode });
};
