// Teams when MicrosoftAppId is empty: small on purpose, so that a server without Teams never
// loads botbuilder (listed in bot/plugins.ts).
import type { App, Plugin, ProcessMode } from '../../bot/app.ts';

/** A refused Teams configuration, with what to do about it. */
export class TeamsConfigError extends Error {
  readonly code = 'TEAMS_CONFIG';
}

/**
 * Teams is off: partly configured is a mistake worth stopping for (a password without an
 * app id would otherwise run unauthenticated); not configured at all means "no Teams", and
 * `serve` answers POST /api/messages with 401 rather than running unauthenticated.
 */
export function teamsOff(app: App, mode: ProcessMode): void {
  const t = app.config.teams;
  if (t.appPassword || t.tenantId)
    throw new TeamsConfigError(
      'MicrosoftAppPassword or MicrosoftAppTenantId is set but MicrosoftAppId is empty: refusing to start ' +
        'Teams without authentication. Set MicrosoftAppId (or MAILFERRY_DEV=1 for local development only).',
    );
  if (mode === 'serve')
    app.http.post('/api/messages', (_req, res) => {
      res.status(401).json({ error: 'Teams is not configured on this MailFerry server (MicrosoftAppId is empty).' });
    });
}

/** The plugin form of {@link teamsOff}. */
export const teamsOffPlugin: Plugin = (app, mode) => {
  if (mode !== 'console') teamsOff(app, mode);
};
