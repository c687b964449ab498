import type { M365Settings } from './types.ts';

/** Microsoft's global authority host. */
export const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';

/**
 * Reads the Microsoft 365 settings from the environment: `MICROSOFT_AUTHORITY_HOST`
 * (default https://login.microsoftonline.com). msal-node refuses an authority that is not
 * https, so a plain-http value is refused here with a message that says so.
 */
export function m365Settings(env: NodeJS.ProcessEnv = process.env): M365Settings {
  const raw = (env.MICROSOFT_AUTHORITY_HOST ?? '').trim() || DEFAULT_AUTHORITY_HOST;
  let u: URL;
  try {
    u = new URL(raw.includes('://') ? raw : `https://${raw}`);
  } catch {
    throw new Error(`MICROSOFT_AUTHORITY_HOST "${raw}" is not a URL (e.g. https://login.microsoftonline.com)`);
  }
  if (u.protocol !== 'https:')
    throw new Error(`MICROSOFT_AUTHORITY_HOST must be https (msal-node refuses any other authority): ${raw}`);
  return { authorityHost: `https://${u.host}` };
}

/** The authority URL of a tenant: `https://HOST/TENANT_ID`. */
export function authorityOf(settings: M365Settings, tenantId: string): string {
  return `${settings.authorityHost.replace(/\/+$/, '')}/${encodeURIComponent(tenantId)}`;
}
