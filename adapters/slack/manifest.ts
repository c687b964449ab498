import { fileURLToPath } from 'node:url';
import type { CommandDef } from '../../bot/commands/types.ts';
import { COMMANDS } from '../../bot/commands/index.ts';
import { SLACK_EVENTS_PATH } from './slack-surface.ts';

/** Bot scopes, each for one thing the Slack surface does. */
export const SLACK_BOT_SCOPES = [
  'commands', // the /migrate slash command
  'chat:write', // anchors, thread posts, edits, ephemeral replies
  'chat:write.public', // post anchors in public channels without being invited first
  'im:write', // open a DM with an end user (conversations.open)
  'users:read', // users.lookupByEmail needs both users:read…
  'users:read.email', // …and users:read.email
  'files:read', // download the CSV of the bulk modal
  'app_mentions:read', // answer "@MailFerry …" with a pointer to /migrate
] as const;

/** The placeholder host of the committed manifest (replace it with PUBLIC_URL). */
export const MANIFEST_PLACEHOLDER_URL = 'https://mailferry.example.com';

/**
 * The Slack app manifest ("Create an app from a manifest"): the slash command (its usage
 * hint derived from the command definitions), scopes, and every request URL pointing at
 * `POST /slack/events` on PUBLIC_URL.
 */
export function buildSlackManifest(
  publicUrl: string,
  commands: readonly CommandDef[] = COMMANDS,
): Record<string, unknown> {
  const url = `${publicUrl.replace(/\/+$/, '')}${SLACK_EVENTS_PATH}`;
  const names = commands.filter((c) => !c.hidden).map((c) => c.name);
  return {
    display_information: {
      name: 'MailFerry',
      description: 'Mailbox migrations from chat: add mailboxes, follow every status in a thread.',
      background_color: '#1f3a5f',
      long_description:
        'MailFerry moves mailboxes from one mail server to another, ' +
        'driven from Slack. Admins add mailboxes with /migrate, ' +
        'users enter their passwords on a secure form they receive ' +
        'by direct message or email (never in Slack), and every ' +
        'status change of a migration is posted in the thread where it was ' +
        'asked for. Self-hosted: nothing leaves your servers but the mail itself.',
    },
    features: {
      bot_user: { display_name: 'MailFerry', always_online: true },
      slash_commands: [
        {
          command: '/migrate',
          url,
          description: 'Mailbox migrations: add, bulk, status, start, stop…',
          usage_hint: names.join(' | ').slice(0, 1000),
          // Addresses must arrive as typed, not turned into <mailto:…> links.
          should_escape: false,
        },
      ],
    },
    oauth_config: { scopes: { bot: [...SLACK_BOT_SCOPES] } },
    settings: {
      event_subscriptions: { request_url: url, bot_events: ['app_mention'] },
      interactivity: { is_enabled: true, request_url: url },
      org_deploy_enabled: false,
      socket_mode_enabled: false,
      token_rotation_enabled: false,
    },
  };
}

// `npx tsx adapters/slack/manifest.ts [PUBLIC_URL]` prints the manifest for your server.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const base = process.argv[2] ?? process.env.PUBLIC_URL ?? MANIFEST_PLACEHOLDER_URL;
  process.stdout.write(JSON.stringify(buildSlackManifest(base), null, 2) + '\n');
}
