import { storedSide } from '../../engine/domain/types.ts';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { Engine, Project } from '../../engine/engine.ts';
import { findInvisible } from '../../engine/domain/invisible.ts';
import { UserError } from '../../engine/errors.ts';
import { actorKey, type Actor, type Side } from '../../engine/domain/types.ts';
import { parseConnectorUrl, type ConnectorUrl } from '../../engine/domain/connector-url.ts';
import type { ProjectLinkRow } from '../../engine/links.ts';
import type { MasterLogin, VerifyResult } from '../../engine/connectors/index.ts';
import type { AdminSecret } from '../../engine/vault/vault.ts';
import {
  renderAdminConnectedPage,
  renderAdminFormPage,
  renderAdminRefusedFinalPage,
  type AdminFormValues,
  type AdminFormView,
} from '../../cards/admin-form-page.ts';
import { renderStalePage, renderUnavailablePage, type FieldError } from '../../cards/form-page.ts';
import { formatTime } from '../../cards/format.ts';
import { checkCsrf, csrfToken } from './csrf.ts';
import { KeyedQueue } from '../keyed-queue.ts';
import type { FormAnswer } from './form-answer.ts';
import type { Logger } from '../log.ts';

/**
 * The Microsoft 365 app registration as typed on the admin form. `mailbox` absent: the app is for the users' own
 * sign-in, only a token is checked.
 */
export type M365App = Extract<AdminSecret, { kind: 'm365-app' }>;

/** Checks admin credentials against the server of a side by logging in to one mailbox. */
export interface AdminVerifiers {
  /** An IMAP admin (master) login acting as `mailbox`. */
  imap(url: string, mailbox: string, master: MasterLogin, password: string, side: Side): Promise<VerifyResult>;
  /**
   * A Microsoft 365 app registration: a token by client credentials, then an IMAP login as `mailbox`. Absent: M365
   * sides cannot be connected.
   */
  m365?(
    connector: Extract<ConnectorUrl, { kind: 'm365' }>,
    app: M365App,
    mailbox: string | undefined,
    side: Side,
  ): Promise<VerifyResult>;
}

/** Settings of the admin form. */
export interface AdminFormOptions {
  verify: AdminVerifiers;
  /** Server secret for the anti-CSRF token. */
  secret: Buffer;
  publicUrl: string;
  /** Hours an admin link stays valid. Default 24. */
  linkTtlHours?: number;
  /** Refused attempts before the link dies. Default 5. */
  maxAttempts?: number;
  now?: () => Date;
}

interface Loaded {
  link: ProjectLinkRow;
  project: Project;
  side: Side;
  connector: ConnectorUrl;
  replacing: boolean;
}

const MAX_LOGIN = 320;
const MAX_SECRET = 1024;
const MAX_PEM = 12_000;
const CONTROL = /[\u0000-\u001f\u007f]/;

/** The anti-CSRF label of an admin link (never valid on a user link, and the other way round). */
function csrfLabel(linkId: string): string {
  return `project:${linkId}`;
}

/**
 * The admin-credentials form (`project connect`), without HTTP: loads a project link,
 * renders the form for its side, checks what was typed against the server (an admin login
 * into one mailbox, or an app token then a login), and keeps it sealed in the vault only
 * once that worked. Never logs a credential, a token or a link.
 */
export class AdminFormService {
  private readonly now: () => Date;
  private locks = new KeyedQueue();

  constructor(
    private engine: Engine,
    private log: Logger,
    private o: AdminFormOptions,
  ) {
    this.now = o.now ?? (() => new Date());
  }

  /** Creates the private link for `project connect`: one open link per project side, single use. */
  async createLink(projectId: string, side: Side, actor: Actor): Promise<{ url: string; expiresAt: Date }> {
    const project = await this.engine.projectById(projectId);
    if (!project) throw new UserError('PROJECT_UNKNOWN', 'That project no longer exists.');
    const connector = parseConnectorUrl(side === 'source' ? project.sourceUrl : project.destinationUrl, side);
    if (connector.kind === 'm365' && !this.o.verify.m365)
      throw new UserError(
        'M365_UNAVAILABLE',
        `The ${side} of ${project.name} is Microsoft 365, which this MailFerry cannot connect yet.`,
      );
    const { token, expiresAt } = await this.engine.links.createForProject({
      projectId,
      side,
      recipient: actorKey(actor),
      ttlHours: this.o.linkTtlHours ?? 24,
      now: this.now(),
    });
    await this.engine.noteProject(projectId, actor, 'project.connect-link-created', {
      side,
      expiresAt: expiresAt.toISOString(),
    });
    return { url: `${this.o.publicUrl}/c/${token}`, expiresAt };
  }

  /** The open project link of a token, with its project; undefined when it cannot be used. */
  async load(token: string): Promise<Loaded | undefined> {
    const link = await this.engine.links.findOpenForProject(token, this.now());
    if (!link) return undefined;
    const project = await this.engine.projectById(link.projectId);
    if (!project) return undefined;
    const side = storedSide(link.side);
    const connector = parseConnectorUrl(side === 'source' ? project.sourceUrl : project.destinationUrl, side);
    const replacing = await this.engine.hasAdminCredential(project.id, side);
    return { link, project, side, connector, replacing };
  }

  /** GET: the admin form. Never consumes the link. */
  async show(l: Loaded): Promise<FormAnswer> {
    const first = await this.engine.firstItemLogins(l.project.id);
    const testMailbox = first ? (l.side === 'source' ? first.sourceLogin : first.destinationLogin) : '';
    return { outcome: 'form', status: 200, html: renderAdminFormPage(this.view(l, { values: { testMailbox } })) };
  }

  /** POST: checks and keeps the admin credentials. One submission per link at a time. */
  async submit(token: string, body: Record<string, unknown>): Promise<FormAnswer> {
    const l0 = await this.load(token);
    if (!l0) return unavailable();
    return this.locks.run(l0.link.id, async () => {
      const l = await this.load(token);
      if (!l) return unavailable();
      if (!checkCsrf(this.o.secret, csrfLabel(l.link.id), body.csrf)) {
        this.log.warn('admin form: anti-CSRF check failed', { project: l.project.id });
        return { outcome: 'stale', status: 403, html: renderStalePage() };
      }
      return this.handle(l, body);
    });
  }

  private view(l: Loaded, extra: Partial<AdminFormView> & { values: AdminFormValues }): AdminFormView {
    const max = this.o.maxAttempts ?? 5;
    const c = l.connector;
    return {
      projectName: l.project.name,
      side: l.side,
      kind: c.kind,
      server: c.kind === 'imap' ? `${c.host}:${c.port}` : `Microsoft 365 (${serverOfM365(c)})`,
      tenantId: c.kind === 'm365' ? c.tenantId : undefined,
      redirectUri: `${this.o.publicUrl}${MICROSOFT_CALLBACK_PATH}`,
      replacing: l.replacing,
      csrf: csrfToken(this.o.secret, csrfLabel(l.link.id)),
      expires: formatTime(l.link.expiresAt),
      attemptsLeft: l.link.attempts > 0 ? Math.max(0, max - l.link.attempts) : undefined,
      ...extra,
    };
  }

  private async handle(l: Loaded, body: Record<string, unknown>): Promise<FormAnswer> {
    const typed = readAdminForm(l.connector, body);
    const { secret, values, testMailbox, signin } = typed;
    if (!secret)
      return {
        outcome: 'invalid',
        status: 422,
        html: renderAdminFormPage(this.view(l, { values, errors: typed.errors })),
      };

    // Ask the server: log in to the test mailbox with these credentials.
    const r = await this.verifyAdmin(l, secret, testMailbox, signin);
    const actor: Actor = { surface: 'form', id: l.link.recipient, name: 'admin form' };

    if (r.ok) {
      if (!(await this.engine.links.consumeForProject(l.link.id, this.now()))) return unavailable();
      const { queued } = await this.engine.setAdminCredential(actor, l.project, l.side, secret);
      this.log.info('admin form: admin credentials verified and stored', {
        project: l.project.id,
        side: l.side,
        kind: secret.kind,
        queued,
      });
      return {
        outcome: 'started',
        status: 200,
        html: renderAdminConnectedPage({ projectName: l.project.name, side: l.side, testMailbox, queued, signin }),
      };
    }
    if (r.kind === 'refused') return this.refused(l, actor, { ...typed, secret }, r.detail);

    this.log.warn('admin form: the server could not check the admin credentials', {
      project: l.project.id,
      side: l.side,
      kind: r.kind,
    });
    const busy = r.kind === 'throttled';
    const notice = {
      tone: 'warning' as const,
      title: busy ? 'The mail server is busy' : 'We could not check these credentials',
      text:
        `${busy ? 'The server asked us to slow down' : `The server could not be asked (${r.detail})`}. ` +
        `This does not count as an attempt; nothing was stored. Try again in a few minutes.`,
    };
    return { outcome: 'unreachable', status: 503, html: renderAdminFormPage(this.view(l, { values, notice })) };
  }

  /**
   * Logs in to the test mailbox with the typed credentials (an app token first for Microsoft 365); a throw is an error
   * result.
   */
  private async verifyAdmin(
    l: Loaded,
    secret: AdminSecret,
    testMailbox: string,
    signin: boolean,
  ): Promise<VerifyResult> {
    const c = l.connector;
    try {
      if (c.kind === 'imap' && secret.kind === 'imap-master') {
        const master = {
          user: secret.user,
          style: secret.style,
          ...(secret.separator ? { separator: secret.separator } : {}),
        };
        return await this.o.verify.imap(c.url, testMailbox, master, secret.password, l.side);
      }
      if (c.kind === 'm365' && secret.kind === 'm365-app' && this.o.verify.m365)
        return await this.o.verify.m365(c, secret, signin ? undefined : testMailbox, l.side);
      return { ok: false, kind: 'error', detail: 'Microsoft 365 is not available in this MailFerry' };
    } catch (e) {
      return { ok: false, kind: 'error', detail: e instanceof Error ? e.message : String(e) };
    }
  }

  /** The server refused the credentials: one attempt counts; the last one closes the link. */
  private async refused(
    l: Loaded,
    actor: Actor,
    typed: AdminTyped & { secret: AdminSecret },
    detail: string,
  ): Promise<FormAnswer> {
    const attempt = await this.engine.links.countProjectAttempt(l.link.id);
    if (attempt === undefined) return unavailable();
    const max = this.o.maxAttempts ?? 5;
    const final = attempt >= max;
    await this.engine.noteProject(l.project.id, actor, 'project.admin-refused', {
      side: l.side,
      attempt,
      of: max,
      final,
      detail,
    });
    this.log.warn('admin form: admin credentials refused', { project: l.project.id, side: l.side, attempt, max });
    if (final) {
      await this.engine.links.revokeForProject(l.link.id, this.now());
      return {
        outcome: 'failed',
        status: 200,
        html: renderAdminRefusedFinalPage({ projectName: l.project.name, side: l.side }),
      };
    }
    const { secret, testMailbox, signin, values } = typed;
    const field =
      secret.kind === 'imap-master' ? 'admin-password' : secret.clientSecret ? 'client-secret' : 'certificate';
    const message =
      secret.kind === 'imap-master'
        ? `The server did not accept this admin login for ${testMailbox}: ${detail}`
        : `Microsoft 365 did not accept this app registration${signin ? '' : ` for ${testMailbox}`}: ${detail}`;
    const html = renderAdminFormPage(
      this.view({ ...l, link: { ...l.link, attempts: attempt } }, { values, errors: [{ field, message }] }),
    );
    return { outcome: 'refused', status: 422, html };
  }
}

/** What the admin typed, read and checked; `secret` only when every field is valid. */
interface AdminTyped {
  testMailbox: string;
  /** A Microsoft 365 app for the users' own sign-in (no mailbox to test with). */
  signin: boolean;
  /** Shown back on the form. */
  values: AdminFormValues;
  errors: FieldError[];
  secret?: AdminSecret;
}

/** A typed text field, trimmed, cut one past `max` (so an over-long value is seen as such). */
function textField(body: Record<string, unknown>, name: string, max: number): string {
  const v = body[name];
  return typeof v === 'string' ? v.trim().slice(0, max + 1) : '';
}

/** A login-like field: present, without an invisible character or a control, within `MAX_LOGIN`. */
function checkLogin(value: string, field: string, what: string, errors: FieldError[], missing: string): void {
  const invisible = findInvisible(value);
  if (!value) errors.push({ field, message: missing });
  else if (invisible)
    errors.push({
      field,
      message: `${what} contains an invisible character (${invisible.code}). Type it again without it.`,
    });
  else if (value.length > MAX_LOGIN || CONTROL.test(value)) errors.push({ field, message: `${what} is not valid.` });
}

/** The IMAP admin (master) login fields. */
function readImapAdmin(
  body: Record<string, unknown>,
  values: AdminFormValues,
  errors: FieldError[],
): AdminSecret | undefined {
  const user = textField(body, 'admin_user', MAX_LOGIN);
  const password = typeof body.admin_password === 'string' ? body.admin_password : '';
  const style = body.style === 'authzid' ? 'authzid' : 'separator';
  const separator = textField(body, 'separator', 4) || '*';
  Object.assign(values, { adminUser: user.slice(0, MAX_LOGIN), style, separator: separator.slice(0, 4) });
  checkLogin(user, 'admin-user', 'The admin user', errors, 'Enter the admin user.');
  if (!password) errors.push({ field: 'admin-password', message: 'Enter the admin password.' });
  else if (password.length > MAX_SECRET)
    errors.push({ field: 'admin-password', message: 'The admin password is too long.' });
  if (style === 'separator' && (separator.length > 4 || /[\s\u0000-\u001f\u007f]/.test(separator)))
    errors.push({ field: 'separator', message: 'The separator is one to four visible characters, usually *.' });
  if (errors.length) return undefined;
  return { kind: 'imap-master', user, password, style, ...(style === 'separator' ? { separator } : {}) };
}

/** The Microsoft 365 app registration fields: a client ID and either a client secret or a certificate with its key. */
function readM365App(
  body: Record<string, unknown>,
  values: AdminFormValues,
  errors: FieldError[],
  signin: boolean,
): AdminSecret | undefined {
  const clientId = textField(body, 'client_id', 100);
  const clientSecret = typeof body.client_secret === 'string' ? body.client_secret.trim() : '';
  const certPem = textField(body, 'certificate', MAX_PEM);
  const keyPem = textField(body, 'private_key', MAX_PEM);
  values.clientId = clientId.slice(0, 100);
  values.use = signin ? 'signin' : 'app';
  if (!clientId)
    errors.push({ field: 'client-id', message: 'Enter the application (client) ID of the app registration.' });
  else if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(clientId))
    errors.push({
      field: 'client-id',
      message: 'The application (client) ID is a GUID, like 00000000-0000-0000-0000-000000000000.',
    });
  let certificate: M365App['certificate'];
  if (clientSecret && (certPem || keyPem))
    errors.push({ field: 'client-secret', message: 'Give either a client secret or a certificate, not both.' });
  else if (clientSecret) {
    if (clientSecret.length > MAX_SECRET)
      errors.push({ field: 'client-secret', message: 'The client secret is too long.' });
  } else if (certPem || keyPem) {
    const c = readCertificate(certPem, keyPem);
    if ('error' in c) errors.push(c.error);
    else certificate = c.certificate;
  } else
    errors.push({ field: 'client-secret', message: 'Enter a client secret, or a certificate and its private key.' });
  if (errors.length) return undefined;
  return {
    kind: 'm365-app',
    use: signin ? 'signin' : 'app',
    clientId,
    ...(clientSecret ? { clientSecret } : { certificate }),
  };
}

/** Reads the admin form as typed for a side's connector. */
function readAdminForm(connector: ConnectorUrl, body: Record<string, unknown>): AdminTyped {
  const errors: FieldError[] = [];
  const testMailbox = textField(body, 'test_mailbox', MAX_LOGIN);
  const signin = connector.kind === 'm365' && body.use === 'signin';
  // Users who sign in themselves need no mailbox to test with.
  if (testMailbox || !signin)
    checkLogin(testMailbox, 'test-mailbox', 'The mailbox to test with', errors, 'Enter a mailbox to test with.');
  const values: AdminFormValues = { testMailbox: testMailbox.slice(0, MAX_LOGIN) };
  const secret =
    connector.kind === 'imap' ? readImapAdmin(body, values, errors) : readM365App(body, values, errors, signin);
  return { testMailbox, signin, values, errors, secret };
}

function serverOfM365(c: Extract<ConnectorUrl, { kind: 'm365' }>): string {
  return `${c.imapHost}:${c.imapPort}`;
}

/** Where Microsoft sends a user back after "Sign in with Microsoft" (registered on the app as PUBLIC_URL + this). */
export const MICROSOFT_CALLBACK_PATH = '/oauth/microsoft/callback';

/**
 * Reads a certificate and its private key: they must parse and belong together; the thumbprint (SHA-256, hex) is what
 * Entra ID identifies it by.
 */
function readCertificate(
  certPem: string,
  keyPem: string,
): { certificate: NonNullable<M365App['certificate']> } | { error: FieldError } {
  if (!certPem)
    return { error: { field: 'certificate', message: 'Paste the certificate (PEM) that belongs to the private key.' } };
  if (!keyPem) return { error: { field: 'private-key', message: 'Paste the private key (PEM) of the certificate.' } };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    return {
      error: { field: 'certificate', message: 'This is not a PEM certificate (-----BEGIN CERTIFICATE-----…).' },
    };
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    return {
      error: {
        field: 'private-key',
        message: 'This is not an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----…).',
      },
    };
  }
  if (!cert.checkPrivateKey(key))
    return { error: { field: 'private-key', message: 'This private key does not belong to the certificate.' } };
  return {
    certificate: {
      privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
      thumbprint: cert.fingerprint256.replace(/:/g, ''),
    },
  };
}

function unavailable(): FormAnswer {
  return { outcome: 'unavailable', status: 404, html: renderUnavailablePage() };
}
