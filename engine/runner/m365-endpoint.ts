import type { ConnectorEndpoint } from '../connectors/types.ts';
import { appTokenSource, delegatedTokenSource } from '../connectors/m365/token-source.ts';
import type { M365App, M365Settings } from '../connectors/m365/types.ts';
import type { FailureReason, Side } from '../domain/types.ts';

/** An app registration as kept for a project side (the tenant comes from the side's m365:// URL). */
export type M365AppCredential = Omit<M365App, 'tenantId'>;

/** What is known of one Microsoft 365 side of an item when its pass starts. */
export interface M365SideInput {
  /** The side's connector URL as parsed (`m365://TENANT[?imap=HOST:PORT]`). */
  url: string;
  tenantId: string;
  side: Side;
  /** The mailbox's UPN (the login of the side). */
  login: string;
  /** The project's app registration for this side, when the admin connected one. */
  app?: M365AppCredential;
  /** The refresh token of the user's own sign-in ("Sign in with Microsoft"), when there is one. */
  refreshToken?: string;
  settings: M365Settings;
  /** Keeps a rotated refresh token (sealed, in place of the old one). */
  onRotated?: (refreshToken: string) => void | Promise<void>;
}

/**
 * The endpoint of a Microsoft 365 side: the user's own sign-in (delegated tokens from their
 * refresh token) when there is one, else the project's app registration (app-only tokens,
 * IMAP.AccessAsApp, logging in as the mailbox). Both need the app registration: a refresh
 * token belongs to the app that obtained it. Without either, the side's credentials are
 * missing. The authority's and the IMAP host's CA comes from the settings.
 */
export function m365Endpoint(input: M365SideInput): ConnectorEndpoint | { fail: FailureReason; detail: string } {
  const credentials: FailureReason = input.side === 'source' ? 'SourceCredentials' : 'DestinationCredentials';
  if (!input.app)
    return {
      fail: credentials,
      detail:
        `No Microsoft 365 app registration is connected for the ${input.side} ` +
        `(tenant ${input.tenantId}): an admin connects one with project connect.`,
    };
  const app: M365App = { ...input.app, tenantId: input.tenantId };
  const oauth = input.refreshToken
    ? delegatedTokenSource(app, input.refreshToken, input.settings, input.onRotated)
    : appTokenSource(app, input.settings);
  return {
    url: input.url,
    login: input.login,
    secret: { oauth },
    ...(input.settings.ca ? { options: { tls: { ca: input.settings.ca } } } : {}),
  };
}
