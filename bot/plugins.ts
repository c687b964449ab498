import type { App, Plugin, ProcessMode } from './app.ts';
import type { Config } from './config.ts';

/** One capability of the composition root. `load` returns nothing when the process does not want it. */
interface PluginEntry {
  name: string;
  load(config: Config, mode: ProcessMode): Promise<Plugin | undefined>;
}

const slackConfigured = (c: Config) => !!(c.slack.signingSecret && c.slack.botToken);
const teamsMentioned = (c: Config) => !!(c.teams.appId || c.teams.appPassword || c.teams.tenantId || c.dev);

/**
 * Every capability that joins the core, in the order it is installed. A surface's SDK is
 * imported only when that surface is configured (Bolt and botbuilder cost ~50 MB and over
 * a second of CPU at start). Order matters where two register the same kind of thing: the
 * outreach tries chat senders in the order they were added (Teams, then Slack).
 */
export const PLUGINS: readonly PluginEntry[] = [
  // The engine workers run in every mode: the console runs what it starts, to be tried end to end.
  { name: 'engine workers', load: async () => (await import('./workers.ts')).workersPlugin },
  {
    name: 'Teams',
    load: async (c, mode) => {
      if (mode === 'console') return undefined;
      // Unconfigured, POST /api/messages still answers (401) without loading botbuilder.
      return teamsMentioned(c)
        ? (await import('../adapters/teams/plugin.ts')).plugin
        : (await import('../adapters/teams/unconfigured.ts')).teamsOffPlugin;
    },
  },
  { name: 'email', load: async () => (await import('../adapters/email/plugin.ts')).plugin },
  // The credential form: the page every credential link opens, and `/migrate form` links.
  { name: 'credential form', load: async () => (await import('./form/plugin.ts')).plugin },
  { name: 'scheduler', load: async () => (await import('./scheduler/plugin.ts')).plugin },
  {
    name: 'Slack',
    load: async (c, mode) =>
      mode !== 'console' && slackConfigured(c) ? (await import('../adapters/slack/plugin.ts')).plugin : undefined,
  },
];

/** Installs every wanted capability into an app, in list order; returns the names installed. */
export async function installPlugins(
  app: App,
  mode: ProcessMode,
  list: readonly PluginEntry[] = PLUGINS,
): Promise<string[]> {
  const installed: string[] = [];
  for (const entry of list) {
    const plugin = await entry.load(app.config, mode);
    if (!plugin) continue;
    await plugin(app, mode);
    installed.push(entry.name);
  }
  return installed;
}
