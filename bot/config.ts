import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { parseAdmins } from './auth.ts';

/** Everything MailFerry reads from the environment (the names are in the README's Configuration table). */
export interface Config {
  databaseUrl: string;
  dataDir: string;
  port: number;
  /** Address the HTTP server listens on (MAILFERRY_BIND); undefined: every interface (IPv6 and IPv4). */
  bind?: string;
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
  /** Credential requests sent at once (SMTP connections, chat DMs): MAILFERRY_OUTREACH_CONCURRENCY. */
  outreachConcurrency: number;
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
  /** The organisation end users see in requests and on the form (projects may override). */
  organisation: { name?: string; support?: string };
  /**
   * Settings left at a default that makes end-user messages look like phishing or carry
   * links nobody can open: one line each, saying what to set (logged at start-up).
   */
  warnings: string[];
}

/**
 * Reads the configuration. A `.env` file in the working directory is loaded first
 * (values already in the environment win).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, envFile = '.env'): Config {
  if (env === process.env && existsSync(envFile)) process.loadEnvFile(envFile);
  const port = Number(env.PORT ?? 3978);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`PORT must be a port number, got "${env.PORT}"`);
  const databaseUrl = env.DATABASE_URL || 'file:./data/mailferry.db';
  const config: Config = {
    databaseUrl,
    dataDir: resolve(env.MAILFERRY_DATA_DIR || './data'),
    port,
    bind: parseBind(env.MAILFERRY_BIND),
    publicUrl: (env.PUBLIC_URL || `http://localhost:${port}`).replace(/\/+$/, ''),
    encryptionKey: env.ENCRYPTION_KEY || undefined,
    slack: {
      signingSecret: env.SLACK_SIGNING_SECRET || undefined,
      botToken: env.SLACK_BOT_TOKEN || undefined,
      apiUrl: env.SLACK_API_URL || undefined,
    },
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
    concurrency: parseConcurrency(env.MAILFERRY_CONCURRENCY),
    outreachConcurrency: Math.max(1, Math.floor(Number(env.MAILFERRY_OUTREACH_CONCURRENCY ?? 4)) || 4),
    linkTtlHours: Math.max(1, Number(env.MAILFERRY_LINK_TTL_HOURS ?? 72) || 72),
    defaultLicenses: parseLicenses(env.MAILFERRY_LICENSES),
    formAttempts: Math.max(1, Math.floor(Number(env.MAILFERRY_FORM_ATTEMPTS ?? 3)) || 3),
    trustProxy: parseTrustProxy(env.MAILFERRY_TRUST_PROXY),
    organisation: {
      name: clean(env.MAILFERRY_ORG_NAME, 'MAILFERRY_ORG_NAME', 100),
      support: clean(env.MAILFERRY_SUPPORT_CONTACT, 'MAILFERRY_SUPPORT_CONTACT', 200),
    },
    warnings: [],
  };
  config.warnings = firstHourWarnings(env, config);
  return config;
}

/**
 * The configuration once the HTTP server got its port: with PORT=0 (any free port) and no
 * PUBLIC_URL, the default links point to the port actually bound, not to `localhost:0`.
 */
export function withBoundPort(c: Config, port: number, env: NodeJS.ProcessEnv = process.env): Config {
  if (env.PUBLIC_URL || port === c.port) return c;
  const bound = { ...c, port, publicUrl: `http://localhost:${port}` };
  bound.warnings = firstHourWarnings(env, bound);
  return bound;
}

/** An optional free-text setting, trimmed; refused when too long or on several lines. */
function clean(raw: string | undefined, name: string, max: number): string | undefined {
  const v = raw?.trim();
  if (!v) return undefined;
  if (v.length > max || /[\r\n]/.test(v)) throw new Error(`${name} must be one line of at most ${max} characters`);
  return v;
}

const LOCAL_HOST = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|0\.0\.0\.0)$/i;

/**
 * The defaults an admin must not go live with, each as one line saying what to set:
 * links to localhost or over plain HTTP, a From address at localhost, no organisation
 * name and no support contact in the messages end users receive.
 */
function firstHourWarnings(env: NodeJS.ProcessEnv, c: Config): string[] {
  const out: string[] = [];
  if (!env.PUBLIC_URL)
    out.push(
      `PUBLIC_URL is not set: credential links point to ${c.publicUrl}, which ` +
        `users cannot open; set PUBLIC_URL to MailFerry's public https:// address`,
    );
  else {
    let url: URL | undefined;
    try {
      url = new URL(c.publicUrl);
    } catch {
      out.push(`PUBLIC_URL "${c.publicUrl}" is not a URL; set it to MailFerry's public https:// address`);
    }
    if (url && LOCAL_HOST.test(url.hostname))
      out.push(
        `PUBLIC_URL points to ${url.host}, which users cannot open; set it to MailFerry's public https:// address`,
      );
    else if (url && url.protocol !== 'https:')
      out.push(
        `PUBLIC_URL is not https: passwords typed on the form would cross the network ` +
          `unencrypted; set PUBLIC_URL to the https:// address of the proxy in front of MailFerry`,
      );
  }
  if (c.smtpUrl) {
    const domain = /@([^>\s]+)>?\s*$/.exec(c.mailFrom)?.[1] ?? '';
    if (!env.MAIL_FROM)
      out.push(
        `MAIL_FROM is not set: credential requests are sent from ${c.mailFrom}, ` +
          `which mail filters and users take for phishing; set MAIL_FROM to an address ` +
          `of your domain, e.g. MAIL_FROM="ACME IT <it-migration@acme.example>"`,
      );
    else if (/^(localhost|localdomain|example\.(com|org|net)|[^.]+)$/i.test(domain))
      out.push(
        `MAIL_FROM is an address at "${domain}": mail filters and users take ` +
          `it for phishing; set MAIL_FROM to an address of your own domain`,
      );
  }
  if (!c.organisation.name)
    out.push(
      'MAILFERRY_ORG_NAME is not set: credential requests and the form do not say which ' +
        'organisation asks; set MAILFERRY_ORG_NAME (or per project: project set NAME --org "…")',
    );
  if (!c.organisation.support)
    out.push(
      'MAILFERRY_SUPPORT_CONTACT is not set: users who doubt a credential request have nobody to ask; ' +
        'set MAILFERRY_SUPPORT_CONTACT to your helpdesk (or per project: project set NAME --support "…")',
    );
  return out;
}

/** Which surfaces are configured, for the start-up banner. */
export function surfaces(c: Config): { name: string; configured: boolean; why: string }[] {
  return [
    {
      name: 'Slack',
      configured: !!(c.slack.signingSecret && c.slack.botToken),
      why:
        c.slack.signingSecret && c.slack.botToken
          ? 'POST /slack/events'
          : 'set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN',
    },
    {
      name: 'Teams',
      configured: !!c.teams.appId || c.dev,
      why: c.teams.appId
        ? 'POST /api/messages'
        : c.dev
          ? 'POST /api/messages (MAILFERRY_DEV=1: no authentication!)'
          : 'set MicrosoftAppId and MicrosoftAppPassword',
    },
    { name: 'Email', configured: !!c.smtpUrl, why: c.smtpUrl ? `SMTP as ${c.mailFrom}` : 'set SMTP_URL and MAIL_FROM' },
  ];
}

/**
 * MAILFERRY_TRUST_PROXY: comma-separated addresses, CIDR ranges or Express's names
 * (`loopback`, `linklocal`, `uniquelocal`) of the proxies in front. Unset, empty or `none`:
 * trust none. A hop count is refused: it would believe whatever the nearest peer claims.
 */
function parseTrustProxy(raw: string | undefined): string[] {
  const list = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!list.length || (list.length === 1 && list[0]?.toLowerCase() === 'none')) return [];
  for (const v of list) {
    const [addr = '', bits, more] = v.split('/');
    const ok =
      ['loopback', 'linklocal', 'uniquelocal'].includes(v) ||
      (isIP(addr) !== 0 && more === undefined && (bits === undefined || /^\d{1,3}$/.test(bits)));
    if (!ok)
      throw new Error(
        `MAILFERRY_TRUST_PROXY: "${v}" is not an address, a CIDR range or ` +
          `loopback/linklocal/uniquelocal (the addresses of your reverse proxies, comma-separated)`,
      );
  }
  return list;
}

/** MAILFERRY_BIND: an IP address (127.0.0.1, ::1, 10.0.0.5…) or a host name of this machine; empty: every interface. */
function parseBind(raw: string | undefined): string | undefined {
  const v = raw?.trim().replace(/^\[(.*)\]$/, '$1');
  if (!v) return undefined;
  if (isIP(v) === 0 && !/^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?)*$/i.test(v))
    throw new Error(
      `MAILFERRY_BIND: "${raw}" is not an IP address or a host name (e.g. ` +
        `127.0.0.1 to listen only on this machine, behind a reverse proxy)`,
    );
  return v;
}

function parseLicenses(raw: string | undefined): number | null {
  if (raw === undefined || raw === '') return null;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`MAILFERRY_LICENSES must be a whole number, got "${raw}"`);
  return n;
}

/**
 * Passes a process runs at once (MAILFERRY_CONCURRENCY, default 2). 0 is allowed for
 * `mailferry serve` beside workers on other processes or hosts: it then copies nothing and
 * answers chat, the form and the schedule only.
 */
function parseConcurrency(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return 2;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`MAILFERRY_CONCURRENCY must be a whole number (0 for a serve that copies nothing), got "${raw}"`);
  return n;
}
