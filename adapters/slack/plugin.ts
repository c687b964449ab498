import { use } from '../../bot/cli.ts';
import { installSlack } from './install.ts';

// Slack joins `serve` (Bolt on POST /slack/events, thread posts, DMs) and `worker` (thread
// posts and DMs for the passes it runs) when SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN are set.
use((app, mode) => {
  if (mode === 'console') return;
  installSlack(app, { mode });
});
