/**
 * A local OpenID provider over HTTPS that plays Microsoft's identity platform in tests:
 * `oidc-provider` (a certified OpenID provider) mounted at `/TENANT_ID/v2.0` on a free
 * loopback port, with a throwaway certificate authority. msal-node talks to it through its
 * normal HTTP client with `authority = https://127.0.0.1:PORT/TENANT_ID` (the
 * `MICROSOFT_AUTHORITY_HOST` setting is `https://127.0.0.1:PORT`), so the same code runs
 * as against login.microsoftonline.com.
 *
 * What it offers:
 * - client credentials (app-only), authorization code + PKCE with refresh tokens (rotated),
 *   opaque access tokens with a lifetime the test sets (e.g. 30 s);
 * - the development login and consent pages of oidc-provider (any login name, any
 *   password; a "[ Cancel ]" link), which a headless Chromium can fill in;
 * - an introspection endpoint for Dovecot's oauth2 passdb (`introspectionUrl`), so Dovecot
 *   accepts exactly the tokens this provider issued and still considers alive;
 * - failures in Microsoft's own words: a wrong client secret or an unknown client answers
 *   AADSTS7000215 / AADSTS700016, a withdrawn consent AADSTS65001 (and kills the client's
 *   tokens), an expired refresh token AADSTS700082, a cancelled sign-in AADSTS65004.
 *
 * The CA is trusted the standard ways: `caFile` for NODE_EXTRA_CA_CERTS in a child
 * process, `caPem` for in-process clients (the M365 settings' `ca`).
 */
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpsRequest, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import Provider, { type Adapter, type AdapterPayload, type KoaContextWithOIDC } from 'oidc-provider';
import { defined } from './defined.ts';

/** A client (app registration) the test registers. */
export interface OidcClient {
  clientId: string;
  /** The client secret (client_secret_post), or none when the client proves itself with `certificatePem`. */
  clientSecret?: string;
  /**
   * A certificate (PEM) whose key signs the client's assertions (private_key_jwt, RFC 7523), as Entra ID's certificate
   * credentials.
   */
  certificatePem?: string;
  /** Redirect URIs for the authorization code flow. */
  redirectUris?: string[];
}

/** A running provider. */
export interface OidcHarness {
  tenantId: string;
  port: number;
  /** `https://127.0.0.1:PORT`: the value of MICROSOFT_AUTHORITY_HOST for tests. */
  authorityHost: string;
  /** `https://127.0.0.1:PORT/TENANT_ID`: msal-node's authority. */
  authority: string;
  /** PEM of the throwaway CA that signed the server certificate. */
  caPem: string;
  /** Path of that PEM (for NODE_EXTRA_CA_CERTS, Dovecot's `tls_ca_cert_file`). */
  caFile: string;
  /** Server certificate and key signed by the CA, for other loopback TLS servers of a test (IMAP front). */
  serverCertPem: string;
  serverKeyPem: string;
  /**
   * Chromium flags that trust this provider's server certificate (its key's SPKI hash), for
   * `launchBrowser({ args })` in tests that go through the login and consent pages.
   */
  chromiumArgs: string[];
  /** Token introspection for Dovecot's oauth2 passdb: POST `token=…` → `{ active, username }`. */
  introspectionUrl: string;
  /** Registers (or replaces) a client. */
  addClient(c: OidcClient): Promise<void>;
  /** Lifetime of access tokens issued from now on (seconds). Default 3600. */
  setAccessTokenTtl(seconds: number): void;
  /**
   * Withdraws the client's consent: its tokens stop working and token requests answer AADSTS65001. `restore` undoes it.
   */
  withdrawConsent(clientId: string, restore?: boolean): Promise<void>;
  /**
   * Makes every access token already issued to the client inactive (introspection says `active: false`), as if it had
   * expired.
   */
  expireAccessTokens(clientId: string): Promise<void>;
  /**
   * Goes through the provider's login and consent pages over plain HTTPS requests (no
   * browser) as `login`, from the authorization URL to the redirect back; answers the
   * redirect URL (with `code` and `state`, or `error`). `cancel` takes the pages' Cancel link.
   */
  signIn(authUrl: string, login: string, opts?: { cancel?: boolean }): Promise<URL>;
  /** Makes every refresh token of the client expire: redeeming one answers AADSTS700082. */
  expireRefreshTokens(clientId: string): Promise<void>;
  /** How many tokens each grant type issued (counted by the token endpoint), e.g. `client_credentials`. */
  issued: Record<string, number>;
  /** Every access token issued so far (for tests that grep logs and databases for them). */
  accessTokens: string[];
  /** Every refresh token issued so far. */
  refreshTokens: string[];
  /** Introspection requests answered (Dovecot's token checks). */
  introspections: { active: boolean }[];
  close(): Promise<void>;
}

/** Microsoft's words for the failures the harness plays (from Entra ID's AADSTS error reference). */
export const AADSTS = {
  invalidSecret: (clientId: string) =>
    `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is ` +
    `the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
  unknownClient: (clientId: string, tenantId: string) =>
    `AADSTS700016: Application with identifier '${clientId}' was not found in the ` +
    `directory '${tenantId}'. This can happen if the application has not been installed ` +
    `by the administrator of the tenant or consented to by any user in the tenant.`,
  noConsent: (clientId: string) =>
    `AADSTS65001: The user or administrator has not consented to use the application with ` +
    `ID '${clientId}'. Send an interactive authorization request for this user and resource.`,
  refreshExpired: () =>
    `AADSTS700082: The refresh token has expired due to inactivity. The token was ` +
    `issued on a date before the last sign-in and was inactive for longer than allowed.`,
  declined: () => `AADSTS65004: User declined to consent to access the app.`,
  badCertificate: (clientId: string) =>
    `AADSTS700027: The certificate with identifier used to sign the client assertion is not ` +
    `registered on application. [Reason - The key was not found., Please visit the Azure Portal, ` +
    `Graph Explorer or directly use MS Graph to see configured keys for app Id '${clientId}'.]`,
};

/** Makes a CA and a server certificate for 127.0.0.1/localhost signed by it (openssl). */
function makeCertificates(dir: string): { caPem: string; caFile: string; certPem: string; keyPem: string } {
  const f = (n: string) => join(dir, n);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=MailFerry test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  run([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    f('server.key'),
    '-out',
    f('server.csr'),
    '-subj',
    '/CN=127.0.0.1',
  ]);
  writeFileSync(
    f('ext.cnf'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
  );
  run([
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('server.pem'),
    '-days',
    '2',
    '-extfile',
    f('ext.cnf'),
  ]);
  return {
    caPem: readFileSync(f('ca.pem'), 'utf8'),
    caFile: f('ca.pem'),
    certPem: readFileSync(f('server.pem'), 'utf8'),
    keyPem: readFileSync(f('server.key'), 'utf8'),
  };
}

type Stored = { payload: AdapterPayload; expiresAt?: number };

/**
 * Starts the provider for one tenant. `tenantId` defaults to a random GUID-like string;
 * `domain` (default contoso.test) is the tenant's mail domain, the one app-only tokens answer for.
 */
export async function startOidc(
  opts: { tenantId?: string; accessTokenTtl?: number; domain?: string } = {},
): Promise<OidcHarness> {
  const domain = opts.domain ?? 'contoso.test';
  const tenantId =
    opts.tenantId ?? `${randomBytes(4).toString('hex')}-0000-4000-8000-${randomBytes(6).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'mf-oidc-'));
  const certs = makeCertificates(dir);
  // Dovecot's auth process (another user) reads the CA file; the keys stay 0600.
  chmodSync(dir, 0o755);
  chmodSync(certs.caFile, 0o644);
  let ttl = opts.accessTokenTtl ?? 3600;
  const withdrawn = new Set<string>();
  const refreshExpired = new Set<string>();
  const issued: Record<string, number> = {};
  const accessTokens: string[] = [];
  const refreshTokens: string[] = [];
  const introspections: { active: boolean }[] = [];

  // One in-memory store for every model, so the harness can find a client's tokens.
  const stores = new Map<string, Map<string, Stored>>();
  const storeOf = (model: string) => {
    let s = stores.get(model);
    if (!s) stores.set(model, (s = new Map()));
    return s;
  };
  const live = (x: Stored | undefined) => (x && (!x.expiresAt || x.expiresAt > Date.now()) ? x : undefined);
  class MemoryAdapter implements Adapter {
    constructor(private model: string) {}
    async upsert(id: string, payload: AdapterPayload, expiresIn: number) {
      storeOf(this.model).set(id, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined });
    }
    async find(id: string) {
      return live(storeOf(this.model).get(id))?.payload;
    }
    async findByUserCode(code: string) {
      return [...storeOf(this.model).values()].find((x) => x.payload.userCode === code)?.payload;
    }
    async findByUid(uid: string) {
      return [...storeOf(this.model).values()].find((x) => x.payload.uid === uid)?.payload;
    }
    async consume(id: string) {
      const x = storeOf(this.model).get(id);
      if (x) x.payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string) {
      storeOf(this.model).delete(id);
    }
    async revokeByGrantId(grantId: string) {
      for (const [id, x] of storeOf(this.model)) if (x.payload.grantId === grantId) storeOf(this.model).delete(id);
    }
  }

  const port = await new Promise<number>((resolve, reject) => {
    const probe = createServer({ key: certs.keyPem, cert: certs.certPem });
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const a = probe.address();
      const p = typeof a === 'object' && a ? a.port : 0;
      probe.close(() => resolve(p));
    });
  });
  const authorityHost = `https://127.0.0.1:${port}`;
  const mount = `/${tenantId}/v2.0`;
  const issuer = `${authorityHost}${mount}`;

  const provider = new Provider(issuer, {
    adapter: MemoryAdapter,
    // Real clients are added through the adapter by addClient.
    clients: [],
    cookies: { keys: [randomBytes(32).toString('hex')] },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
    },
    scopes: [
      'openid',
      'offline_access',
      'profile',
      'email',
      'https://outlook.office.com/IMAP.AccessAsUser.All',
      'https://outlook.office365.com/.default',
    ],
    // Microsoft's ID tokens carry preferred_username (the UPN); msal-node's account reads it from there.
    conformIdTokenClaims: false,
    claims: { openid: ['sub'], profile: ['name', 'preferred_username', 'tid', 'oid'], email: ['email'] },
    findAccount: async (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: async () => ({ sub: id, name: id, preferred_username: id, email: id, tid: tenantId, oid: id }),
    }),
    // Refresh tokens for the authorization code flow whenever offline_access is granted, rotated on use.
    rotateRefreshToken: true,
    pkce: { required: () => true },
    ttl: {
      AccessToken: () => ttl,
      ClientCredentials: () => ttl,
      AuthorizationCode: 600,
      IdToken: 3600,
      RefreshToken: 90 * 24 * 3600,
      Interaction: 3600,
      Session: 3600,
      Grant: 90 * 24 * 3600,
    },
    // msal-node reads the refresh and access tokens from the JSON body; Microsoft's bodies
    // carry expires_in, token_type and scope, as does oidc-provider's.
    renderError: async (ctx: KoaContextWithOIDC, out: Record<string, unknown>) => {
      ctx.type = 'html';
      ctx.body =
        `<!DOCTYPE html><title>Error</title><p>${String(out.error)}` + `: ${String(out.error_description ?? '')}</p>`;
    },
  });
  provider.on('server_error', () => undefined);

  // Koa middleware of the provider: Microsoft's words on the token endpoint's errors, and counts.
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route !== 'token') return;
    const body = ctx.body as Record<string, unknown> | undefined;
    const clientId = String(ctx.oidc?.client?.clientId ?? ctx.oidc?.params?.client_id ?? '');
    if (body && typeof body.error === 'string') {
      if (body.error === 'invalid_client') {
        const known = clientId
          ? ((await provider.Client.find(clientId).catch(() => undefined)) as
              | { tokenEndpointAuthMethod?: string }
              | undefined)
          : undefined;
        const byCert = known?.tokenEndpointAuthMethod === 'private_key_jwt';
        ctx.body = {
          ...body,
          error_description: !known
            ? AADSTS.unknownClient(clientId, tenantId)
            : byCert
              ? AADSTS.badCertificate(clientId)
              : AADSTS.invalidSecret(clientId),
          error_codes: [!known ? 700016 : byCert ? 700027 : 7000215],
        };
      } else if (body.error === 'invalid_grant' && ctx.oidc?.params?.grant_type === 'refresh_token') {
        ctx.body = { ...body, error_description: AADSTS.refreshExpired(), error_codes: [700082] };
      }
    } else if (body && typeof body.access_token === 'string') {
      const gt = String(ctx.oidc?.params?.grant_type ?? '');
      issued[gt] = (issued[gt] ?? 0) + 1;
      accessTokens.push(body.access_token);
      if (typeof body.refresh_token === 'string') refreshTokens.push(body.refresh_token);
    }
  });

  const app = express();
  // Consent withdrawn / refresh tokens expired: answered before the provider sees the request.
  app.post(`${mount}/token`, express.urlencoded({ extended: false }), (req, res, next) => {
    const body = (req.body ?? {}) as Record<string, string>;
    let clientId = body.client_id ?? '';
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    if (!clientId && basic)
      clientId = decodeURIComponent(defined(Buffer.from(defined(basic[1]), 'base64').toString().split(':')[0]));
    if (withdrawn.has(clientId)) {
      res.status(400).json({
        error: body.grant_type === 'client_credentials' ? 'unauthorized_client' : 'invalid_grant',
        error_description: AADSTS.noConsent(clientId),
        error_codes: [65001],
      });
      return;
    }
    if (body.grant_type === 'refresh_token' && refreshExpired.has(clientId)) {
      res
        .status(400)
        .json({ error: 'invalid_grant', error_description: AADSTS.refreshExpired(), error_codes: [700082] });
      return;
    }
    next();
  });
  // Dovecot's oauth2 passdb: is this token one we issued, still alive, and whose is it?
  // App-only tokens carry no user: they answer as `app@<any domain>`; the Dovecot side
  // compares domains only (its username_format %d), and the test refuses mailboxes the app
  // may not open through the IMAP front, as Exchange does ("User is authenticated but not connected").
  app.post(`/${tenantId}/introspect`, express.urlencoded({ extended: false }), async (req, res) => {
    const token = String((req.body as Record<string, string>)?.token ?? '');
    const at =
      (await provider.AccessToken.find(token).catch(() => undefined)) ??
      (await provider.ClientCredentials.find(token).catch(() => undefined));
    const active = !!at && !at.isExpired && !withdrawn.has(String(at.clientId));
    introspections.push({ active });
    if (!active || !at) {
      res.json({ active: false });
      return;
    }
    const account = (at as { accountId?: string }).accountId;
    res.json({ active: true, username: account ?? `app@${domain}`, client_id: at.clientId, scope: at.scope });
  });
  // Microsoft grants offline_access on a plain authorization request; OpenID Connect Core
  // (§11), which oidc-provider follows, only with prompt=consent. Add it as Microsoft would behave.
  app.get(`${mount}/auth`, (req, _res, next) => {
    const u = new URL(req.url, authorityHost);
    if ((u.searchParams.get('scope') ?? '').split(' ').includes('offline_access') && !u.searchParams.get('prompt')) {
      u.searchParams.set('prompt', 'consent');
      req.url = u.pathname + u.search;
    }
    next();
  });
  app.use(mount, provider.callback());

  // A cancelled sign-in comes back as Microsoft sends it: the provider's own abort redirects
  // with `error=access_denied` and its own description; Microsoft's is AADSTS65004.
  const server: Server = createServer({ key: certs.keyPem, cert: certs.certPem }, (req, res) => {
    const writeHead = res.writeHead.bind(res);
    res.writeHead = ((status: number, ...rest: unknown[]) => {
      const loc = res.getHeader('location');
      if (typeof loc === 'string' && loc.includes('error=access_denied')) {
        const u = new URL(loc);
        u.searchParams.set('error_description', AADSTS.declined());
        res.setHeader('location', u.toString());
      }
      return (writeHead as (...a: unknown[]) => typeof res)(status, ...rest);
    }) as typeof res.writeHead;
    app(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });

  const clientStore = () => storeOf('Client');
  const tokenModels = ['AccessToken', 'ClientCredentials'];

  return {
    tenantId,
    port,
    authorityHost,
    authority: `${authorityHost}/${tenantId}`,
    caPem: certs.caPem,
    caFile: certs.caFile,
    serverCertPem: certs.certPem,
    serverKeyPem: certs.keyPem,
    introspectionUrl: `${authorityHost}/${tenantId}/introspect`,
    chromiumArgs: [
      `--ignore-certificate-errors-spki-list=${createHash('sha256')
        .update(createPublicKey(certs.keyPem).export({ type: 'spki', format: 'der' }))
        .digest('base64')}`,
    ],
    issued,
    accessTokens,
    refreshTokens,
    introspections,
    async addClient(c) {
      clientStore().set(c.clientId, {
        payload: {
          client_id: c.clientId,
          ...(c.certificatePem
            ? {
                jwks: { keys: [{ ...createPublicKey(c.certificatePem).export({ format: 'jwk' }), use: 'sig' }] },
                token_endpoint_auth_method: 'private_key_jwt',
              }
            : { client_secret: c.clientSecret, token_endpoint_auth_method: 'client_secret_post' }),
          redirect_uris: c.redirectUris ?? [],
          response_types: c.redirectUris?.length ? ['code'] : [],
          grant_types: c.redirectUris?.length
            ? ['authorization_code', 'refresh_token', 'client_credentials']
            : ['client_credentials'],
        },
      });
    },
    setAccessTokenTtl(seconds) {
      ttl = seconds;
    },
    async withdrawConsent(clientId, restore = false) {
      if (restore) {
        withdrawn.delete(clientId);
        return;
      }
      withdrawn.add(clientId);
      for (const m of [...tokenModels, 'RefreshToken', 'Grant'])
        for (const [id, x] of storeOf(m)) if (x.payload.clientId === clientId) storeOf(m).delete(id);
    },
    async expireAccessTokens(clientId) {
      for (const m of tokenModels)
        for (const [id, x] of storeOf(m)) if (x.payload.clientId === clientId) storeOf(m).delete(id);
    },
    async expireRefreshTokens(clientId) {
      refreshExpired.add(clientId);
      for (const [id, x] of storeOf('RefreshToken'))
        if (x.payload.clientId === clientId) storeOf('RefreshToken').delete(id);
    },
    async signIn(authUrl, login, o = {}) {
      const jar = new Map<string, string>();
      const call = (url: string, form?: Record<string, string>) =>
        new Promise<{ status: number; location?: string; body: string }>((resolve, reject) => {
          const body = form ? new URLSearchParams(form).toString() : undefined;
          const req = httpsRequest(
            url,
            {
              method: form ? 'POST' : 'GET',
              ca: certs.caPem,
              headers: {
                cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
                ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
              },
            },
            (res) => {
              for (const c of res.headers['set-cookie'] ?? []) {
                const [kv] = c.split(';');
                const i = defined(kv).indexOf('=');
                jar.set(defined(kv).slice(0, i), defined(kv).slice(i + 1));
              }
              let text = '';
              res.on('data', (d) => (text += d));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body: text }));
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      let url = authUrl;
      let form: Record<string, string> | undefined;
      for (let hop = 0; hop < 20; hop++) {
        const r = await call(url, form);
        form = undefined;
        if (r.location) {
          const next = new URL(r.location, url);
          if (!next.href.startsWith(authorityHost)) return next;
          url = next.href;
          continue;
        }
        const uid = /\/interaction\/([^/"]+)/.exec(r.body)?.[1];
        if (r.status !== 200 || !uid) throw new Error(`sign-in stopped at ${r.status}: ${r.body.slice(0, 300)}`);
        if (o.cancel) {
          url = `${issuer}/interaction/${uid}/abort`;
          continue;
        }
        url = `${issuer}/interaction/${uid}`;
        form = r.body.includes('name="login"') ? { prompt: 'login', login, password: 'any' } : { prompt: 'consent' };
      }
      throw new Error('sign-in did not come back');
    },
    async close() {
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
