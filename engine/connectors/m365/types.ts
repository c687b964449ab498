/**
 * Microsoft 365 types shared by the token sources, the sign-in flow and the connector.
 * These names are a contract with the chat/form side (admin credentials, "Sign in with
 * Microsoft"): keep them stable.
 */

/** An app registration in a tenant: a client secret or a certificate (private key + thumbprint). */
export interface M365App {
  tenantId: string;
  clientId: string;
  clientSecret?: string;
  /**
   * Certificate credential: PEM private key and the certificate's SHA-256 thumbprint (hex); SHA-1 thumbprints (40 hex
   * digits) are accepted for older registrations.
   */
  certificate?: { privateKeyPem: string; thumbprint: string };
}

/** Where Microsoft's identity platform is, from the environment (see {@link m365Settings}). */
export interface M365Settings {
  /**
   * `MICROSOFT_AUTHORITY_HOST`: https://login.microsoftonline.com, or a sovereign cloud's (login.microsoftonline.us,
   * login.chinacloudapi.cn).
   */
  authorityHost: string;
  /**
   * Extra CA certificates (PEM) trusted for the authority and the M365 IMAP host, on top of
   * the system's: a TLS-inspecting proxy's CA, a private cloud's. NODE_EXTRA_CA_CERTS does
   * the same for the whole process.
   */
  ca?: string;
}

/** An OAuth 2.0 access token and when it stops working. */
export interface AccessToken {
  accessToken: string;
  expiresOn: Date;
}

/**
 * Where an endpoint's access tokens come from. `token()` answers a cached token while it
 * is comfortably valid and a new one otherwise; `forceRefresh` asks the authority for a new
 * one whatever the cache says (after the server refused the cached one).
 */
export interface TokenSource {
  token(opts?: { forceRefresh?: boolean }): Promise<AccessToken>;
}

/** The scope of app-only IMAP tokens (application permission IMAP.AccessAsApp, "Office 365 Exchange Online"). */
export const APP_IMAP_SCOPE = 'https://outlook.office365.com/.default';
/** The delegated scopes of a user's sign-in: IMAP as the user, and a refresh token for later passes. */
export const DELEGATED_IMAP_SCOPES = ['https://outlook.office.com/IMAP.AccessAsUser.All', 'offline_access'];
/** Exchange Online's IMAP host (implicit TLS, RFC 8314). */
export const M365_IMAP_HOST = 'outlook.office365.com';
export const M365_IMAP_PORT = 993;
