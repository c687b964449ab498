import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { parseAdmins } from './auth.ts';

/** Everything MailFerry reads from the environment (the names are in the README's Configuration table). */
export interface Config {
  databaseUrl: string;
  dataDir: string;
  port: number;
  publicUrl: string;
  encryptionKey?: string;
  slack: { signingSecret?: string; botToken?: string; apiUrl?: string };
  teams: { appId?: string; appPassword?: string; appType?: string; tenantId?: string };
  smtpUrl?: string;
  mailFrom: string;
  admins: string[];
  dev: boolean;
  /** Passes run at once in this process. */
  concurrency: number;
  /** Hours a credential link stays valid. */
  linkTtlHours: number;
  /** Attempts an end user gets on the form before the item fails (projects may override). */
  formAttempts: number;
  /** License pool of new projects (null: no limit) unless `--licenses` says otherwise. */
  defaultLicenses: number | null;
  /**
   * Addresses of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed
   * (MAILFERRY_TRUST_PROXY); empty: none, the peer's own address is the client.
   */
  trustProxy: string[];
}

/**
 * Reads the configuration. A `.env` file in the working directory is loaded first
 * (values already in the environment win).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, envFile = '.env'): Config {
  if (env === process.env && existsSync(envFile)) process.loadEnvFile(envFile);
  const port = Number(env.PORT ?? 3978);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, got "${env.PORT}"`);
  const databaseUrl = env.DATABASE_URL || 'file:./data/mailferry.db';
  return {
    databaseUrl,
    dataDir: resolve(env.MAILFERRY_DATA_DIR || './data'),
    port,
    publicUrl: (env.PUBLIC_URL || `http://localhost:${port}`).replace(/\/+$/, ''),
    encryptionKey: env.ENCRYPTION_KEY || undefined,
    slack: { signingSecret: env.SLACK_SIGNING_SECRET || undefined, botToken: env.SLACK_BOT_TOKEN || undefined, apiUrl: env.SLACK_API_URL || undefined },
    teams: {
      appId: env.MicrosoftAppId || undefined,
      appPassword: env.MicrosoftAppPassword || undefined,
      appType: env.MicrosoftAppType || undefined,
      tenantId: env.MicrosoftAppTenantId || undefined,
    },
    smtpUrl: env.SMTP_URL || undefined,
    mailFrom: env.MAIL_FROM || 'MailFerry <mailferry@localhost>',
    admins: parseAdmins(env.MAILFERRY_ADMINS),
    dev: env.MAILFERRY_DEV === '1',
    concurrency: Math.max(1, Number(env.MAILFERRY_CONCURRENCY ?? 2) || 2),
    linkTtlHours: Math.max(1, Number(env.MAILFERRY_LINK_TTL_HOURS ?? 72) || 72),
    defaultLicenses: parseLicenses(env.MAILFERRY_LICENSES),
    formAttempts: Math.max(1, Math.floor(Number(env.MAILFERRY_FORM_ATTEMPTS ?? 3)) || 3),
    trustProxy: parseTrustProxy(env.MAILFERRY_TRUST_PROXY),
  };
}

/** Which surfaces are configured, for the start-up banner. */
export function surfaces(c: Config): { name: string; configured: boolean; why: string }[] {
  return [
    { name: 'Slack', configured: !!(c.slack.signingSecret && c.slack.botToken), why: c.slack.signingSecret && c.slack.botToken ? 'POST /slack/events' : 'set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN' },
    { name: 'Teams', configured: !!c.teams.appId || c.dev, why: c.teams.appId ? 'POST /api/messages' : c.dev ? 'POST /api/messages (MAILFERRY_DEV=1: no authentication!)' : 'set MicrosoftAppId and MicrosoftAppPassword' },
    { name: 'Email', configured: !!c.smtpUrl, why: c.smtpUrl ? `SMTP as ${c.mailFrom}` : 'set SMTP_URL and MAIL_FROM' },
  ];
}

/**
 * MAILFERRY_TRUST_PROXY: comma-separated addresses, CIDR ranges or Express's names
 * (`loopback`, `linklocal`, `uniquelocal`) of the proxies in front. Unset, empty or `none`:
 * trust none. A hop count is refused: it would believe whatever the nearest peer claims.
 */
function parseTrustProxy(raw: string | undefined): string[] {
  const list = (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (!list.length || (list.length === 1 && list[0].toLowerCase() === 'none')) return [];
  for (const v of list) {
    const [addr, bits, more] = v.split('/');
    const ok = ['loopback', 'linklocal', 'uniquelocal'].includes(v) || (isIP(addr) !== 0 && more === undefined && (bits === undefined || /^\d{1,3}$/.test(bits)));
    if (!ok)
      throw new Error(`MAILFERRY_TRUST_PROXY: "${v}" is not an address, a CIDR range or loopback/linklocal/uniquelocal (the addresses of your reverse proxies, comma-separated)`);
  }
  return list;
}

function parseLicenses(raw: string | undefined): number | null {
  if (raw === undefined || raw === '') return null;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`MAILFERRY_LICENSES must be a whole number, got "${raw}"`);
  return n;
}
