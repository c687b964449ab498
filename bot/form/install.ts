import type { App } from '../app.ts';
import { SYSTEM_ACTOR } from '../../engine/domain/types.ts';
import {
  appTokenSource,
  beginSignIn,
  completeSignIn,
  m365Settings,
  M365AuthError,
  verifyCredentials,
  type M365Settings,
} from '../../engine/connectors/index.ts';
import { deriveFormSecret } from './csrf.ts';
import { FormService, type Verifier } from './form-service.ts';
import { AdminFormService, MICROSOFT_CALLBACK_PATH, type AdminVerifiers } from './admin-form-service.ts';
import { createFormRouter, type FormLimits } from './routes.ts';
import { rateCounters } from '../store/rate-counters.ts';

/** Overrides for tests; production takes everything from the app's configuration. */
export interface SelfServiceOptions {
  /** Credentials check (default: the engine's `verifyCredentials`). */
  verify?: Verifier;
  limits?: Partial<FormLimits>;
  /**
   * Admin-credentials checks (default: an IMAP master login, or an app token and a login, with the engine's
   * `verifyCredentials`).
   */
  adminVerify?: Partial<AdminVerifiers>;
  /** Microsoft's identity platform (default: from the environment, MICROSOFT_AUTHORITY_HOST). */
  m365?: M365Settings;
  /** Attempts before the item fails (default `MAILFERRY_FORM_ATTEMPTS` or 3). */
  maxAttempts?: number;
  now?: () => Date;
}

/**
 * Wires the credential form into an app: the routes on `app.http`, `services.formLink`
 * for `/migrate form` and `services.connectLink` for `/migrate project connect` (the
 * admin-credentials form at the same routes). (The email channel that carries links is `adapters/email/`.)
 */
export function installSelfService(app: App, opts: SelfServiceOptions = {}): FormService {
  const { config, log } = app;
  const flog = log.child({ part: 'form' });
  const settings = () => opts.m365 ?? m365Settings();
  const tlsOf = (s: M365Settings) => (s.ca ? { options: { tls: { ca: s.ca } } } : {});
  const projectForms = new AdminFormService(app.engine, flog, {
    verify: {
      imap: (url, mailbox, master, password, side) => verifyCredentials(url, mailbox, { password }, side, { master }),
      m365: async (connector, app, mailbox, side) => {
        const source = appTokenSource({ ...app, tenantId: connector.tenantId }, settings());
        if (mailbox) return verifyCredentials(connector.url, mailbox, { oauth: source }, side, tlsOf(settings()));
        // For the users' own sign-in: a client-credentials token proves the tenant, client id and secret (or
        // certificate).
        try {
          await source.token();
          return { ok: true };
        } catch (e) {
          if (!(e instanceof M365AuthError)) throw e;
          return { ok: false, kind: e.kind === 'consent' ? 'refused' : e.kind, detail: e.detail };
        }
      },
      ...opts.adminVerify,
    },
    secret: deriveFormSecret(app.vault),
    publicUrl: config.publicUrl,
    now: opts.now,
  });
  const form = new FormService(app.engine, flog, {
    projectForms,
    microsoft: {
      redirectUri: `${config.publicUrl}${MICROSOFT_CALLBACK_PATH}`,
      begin: (a) => beginSignIn({ ...a, settings: settings() }),
      complete: (a) => completeSignIn({ ...a, settings: settings() }),
      verify: (url, login, accessToken, side) =>
        verifyCredentials(url, login, { accessToken }, side, tlsOf(settings())),
    },
    verify: opts.verify ?? ((url, login, secret, side) => verifyCredentials(url, login, secret, side)),
    secret: deriveFormSecret(app.vault),
    publicUrl: config.publicUrl,
    linkTtlHours: config.linkTtlHours,
    maxAttempts: opts.maxAttempts ?? config.formAttempts,
    organisation: config.organisation,
    postToThread: (p) => app.notifier.post(p),
    now: opts.now,
  });
  const now = opts.now ? () => opts.now!().getTime() : Date.now;
  const counters = rateCounters(app.db, now);
  app.http.use(
    createFormRouter(form, flog, {
      publicUrl: config.publicUrl,
      counters,
      now,
      limits: opts.limits,
      organisation: config.organisation,
    }),
  );
  // A user's Microsoft sign-in that stopped working (refresh token expired or revoked, consent
  // withdrawn) is asked for again, as a new request: the user signs in once more.
  app.bus.on(async (e) => {
    if (
      e.type !== 'item.status' ||
      e.to !== 'Failed' ||
      (e.reason !== 'SourceCredentials' && e.reason !== 'DestinationCredentials')
    )
      return;
    const side = e.reason === 'SourceCredentials' ? 'source' : 'destination';
    const cred = await app.engine.credentialOf(e.item.id, side).catch(() => undefined);
    if (!cred?.secret.refreshToken) return;
    const item = await app.engine.itemById(e.item.id);
    if (item?.status !== 'Failed') return;
    await app.engine.clearCredentials(SYSTEM_ACTOR, item, side);
    const fresh = await app.engine.itemById(item.id);
    if (fresh) await app.engine.startItem(SYSTEM_ACTOR, fresh);
    flog.info('a Microsoft sign-in stopped working; the user is asked to sign in again', { item: item.id, side });
  });
  app.services.formLink = (itemId, actor) => form.formLink(itemId, actor);
  app.services.connectLink = (projectId, side, actor) => projectForms.createLink(projectId, side, actor);
  return form;
}
