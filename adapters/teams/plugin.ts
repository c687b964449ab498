// Composition-root wiring of the Teams surface (listed in bot/plugins.ts). This is
// the only file of adapters/teams/ that reaches past `bot/` types: it hands the adapter the
// database-backed conversation store as a plain interface, so the adapter itself never
// touches the database.
import type { App, Plugin, ProcessMode } from '../../bot/app.ts';
import { helpEntries } from '../../bot/commands/help.ts';
import { conversationStore } from '../../bot/store/conversations.ts';
import { installTeams, type TeamsOptions, type TeamsSurface } from './install-teams.ts';
import { teamsOff } from './unconfigured.ts';
import { requestLedger } from '../../bot/store/seen-requests.ts';

/**
 * Adds Teams to a process: `serve` mounts POST /api/messages and posts; `worker` only
 * posts (status changes of the passes it runs); `console` has no Teams. When nothing of
 * Teams is configured and MAILFERRY_DEV is off, Teams stays off and /api/messages refuses
 * every request (401) rather than running unauthenticated.
 */
export function teamsPlugin(app: App, mode: ProcessMode, opts: TeamsOptions = {}): TeamsSurface | undefined {
  if (mode === 'console') return undefined;
  const t = app.config.teams;
  if (!t.appId && !app.config.dev) {
    teamsOff(app, mode);
    return undefined;
  }
  const examples = helpEntries(app.dispatcher.commands, 'teams')
    .filter((e) => ['project create', 'add', 'status', 'help'].includes(e.name))
    .map((e) => `@MailFerry ${(e.examples[0] ?? e.usage).replace(/^\/migrate /, 'migrate ')}`);
  const surface = installTeams(
    {
      log: app.log,
      dispatcher: app.dispatcher,
      admins: app.config.admins,
      store: conversationStore(app.db),
      registerPoster: (s, p) => app.notifier.register(s, p),
      addSender: (s) => app.outreach.addSender(s),
      http: mode === 'serve' ? app.http : undefined,
      examples,
      claim: requestLedger(app.db).claim,
    },
    { ...t, dev: app.config.dev },
    opts,
  );
  // Bulk adds answered early finish (and post their result) before the app closes.
  app.onClose(() => surface.bot.idle());
  return surface;
}

/** The plugin form of {@link teamsPlugin}. */
export const plugin: Plugin = (app, mode) => void teamsPlugin(app, mode);
