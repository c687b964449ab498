// Composition-root wiring of the Teams surface (imported once from bot/plugins.ts). This is
// the only file of adapters/teams/ that reaches past `bot/` types: it hands the adapter the
// database-backed conversation store as a plain interface, so the adapter itself never
// touches the database.
import { use } from '../../bot/cli.ts';
import type { App } from '../../bot/app.ts';
import { helpEntries } from '../../bot/commands/help.ts';
import { conversationStore } from '../../engine/store/conversations.ts';
import { installTeams, TeamsConfigError, type TeamsOptions, type TeamsSurface } from './install-teams.ts';

/**
 * Adds Teams to a process: `serve` mounts POST /api/messages and posts; `worker` only
 * posts (status changes of the passes it runs); `console` has no Teams. When nothing of
 * Teams is configured and MAILFERRY_DEV is off, Teams stays off and /api/messages refuses
 * every request (401) rather than running unauthenticated.
 */
export function teamsPlugin(app: App, mode: 'serve' | 'console' | 'worker', opts: TeamsOptions = {}): TeamsSurface | undefined {
  if (mode === 'console') return undefined;
  const t = app.config.teams;
  if (!t.appId && !app.config.dev) {
    // Partly configured is a mistake worth stopping for; not configured at all means "no Teams".
    if (t.appPassword || t.tenantId)
      throw new TeamsConfigError('MicrosoftAppPassword or MicrosoftAppTenantId is set but MicrosoftAppId is empty: refusing to start Teams without authentication. Set MicrosoftAppId (or MAILFERRY_DEV=1 for local development only).');
    if (mode === 'serve')
      app.http.post('/api/messages', (_req, res) => {
        res.status(401).json({ error: 'Teams is not configured on this MailFerry server (MicrosoftAppId is empty).' });
      });
    return undefined;
  }
  const examples = helpEntries(app.dispatcher.commands, 'teams')
    .filter((e) => ['project create', 'add', 'status', 'help'].includes(e.name))
    .map((e) => `@MailFerry ${(e.examples[0] ?? e.usage).replace(/^\/migrate /, 'migrate ')}`);
  return installTeams(
    {
      log: app.log,
      dispatcher: app.dispatcher,
      admins: app.config.admins,
      store: conversationStore(app.db),
      registerPoster: (s, p) => app.notifier.register(s, p),
      addSender: (s) => app.outreach.addSender(s),
      http: mode === 'serve' ? app.http : undefined,
      examples,
    },
    { ...t, dev: app.config.dev },
    opts,
  );
}

use((app, mode) => void teamsPlugin(app, mode));
