import type { ConfidentialClientApplication, Configuration } from '@azure/msal-node';
import { M365AuthError } from './classify-error.ts';
import { AuthorityHttpClient } from './network-client.ts';
import { authorityOf } from './settings.ts';
import type { M365App, M365Settings } from './types.ts';

/**
 * An msal-node confidential client for an app registration, with the HTTP client that reports why the authority was
 * unreachable.
 */
export interface MsalApp {
  cca: ConfidentialClientApplication;
  http: AuthorityHttpClient;
}

/**
 * Builds msal-node's ConfidentialClientApplication for `app` at `settings.authorityHost`.
 * The authority host is listed in `knownAuthorities`, so msal-node trusts it without an
 * instance-discovery call to login.microsoftonline.com (sovereign clouds, private
 * authorities) and reads the tenant's OpenID configuration from
 * `HOST/TENANT/v2.0/.well-known/openid-configuration`. msal-node's own log is off: its
 * lines can carry request details, and no token may reach a log. msal-node is loaded on
 * first use: a MailFerry without Microsoft 365 sides never pays for it.
 */
export async function msalApp(app: M365App, settings: M365Settings): Promise<MsalApp> {
  const { ConfidentialClientApplication, LogLevel } = await import('@azure/msal-node');
  if (!app.clientSecret && !app.certificate)
    throw new M365AuthError('refused', 'the app registration has neither a client secret nor a certificate');
  const http = new AuthorityHttpClient(settings.ca);
  const thumb = app.certificate?.thumbprint.replace(/[:\s]/g, '');
  const config: Configuration = {
    auth: {
      clientId: app.clientId,
      authority: authorityOf(settings, app.tenantId),
      knownAuthorities: [new URL(settings.authorityHost).host],
      ...(app.clientSecret
        ? { clientSecret: app.clientSecret }
        : {
            clientCertificate: {
              privateKey: app.certificate!.privateKeyPem,
              // A SHA-1 thumbprint is 40 hex digits (older registrations), SHA-256 is 64.
              ...(thumb && thumb.length === 40 ? { thumbprint: thumb } : { thumbprintSha256: thumb }),
            },
          }),
    },
    system: {
      networkClient: http,
      loggerOptions: { piiLoggingEnabled: false, logLevel: LogLevel.Error, loggerCallback: () => undefined },
    },
  };
  return { cca: new ConfidentialClientApplication(config), http };
}

/**
 * The refresh token msal-node keeps in its cache after a code or refresh-token redemption (its results do not carry
 * it).
 */
export function refreshTokenOf(cca: ConfidentialClientApplication): string | undefined {
  const cache = JSON.parse(cca.getTokenCache().serialize()) as { RefreshToken?: Record<string, { secret?: string }> };
  const all = Object.values(cache.RefreshToken ?? {});
  return all.at(-1)?.secret;
}
