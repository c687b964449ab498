import type { App } from '../app.ts';
import { verifyCredentials } from '../../engine/connectors/index.ts';
import { deriveFormSecret } from './csrf.ts';
import { FormService, type Verifier } from './form-service.ts';
import { AdminFormService, type AdminVerifiers } from './admin-form-service.ts';
import { createFormRouter, type FormLimits } from './routes.ts';

/** Overrides for tests; production takes everything from the app's configuration. */
export interface SelfServiceOptions {
  /** Credentials check (default: the engine's `verifyCredentials`). */
  verify?: Verifier;
  limits?: Partial<FormLimits>;
  /** Admin-credentials checks (default: an IMAP master login with the engine's `verifyCredentials`). */
  adminVerify?: Partial<AdminVerifiers>;
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
  const projectForms = new AdminFormService(app.engine, flog, {
    verify: {
      imap: (url, mailbox, master, password, side) => verifyCredentials(url, mailbox, { password }, side, { master }),
      ...opts.adminVerify,
    },
    secret: deriveFormSecret(app.vault),
    publicUrl: config.publicUrl,
    now: opts.now,
  });
  const form = new FormService(app.engine, flog, {
    projectForms,
    verify: opts.verify ?? ((url, login, secret, side) => verifyCredentials(url, login, secret, side)),
    secret: deriveFormSecret(app.vault),
    publicUrl: config.publicUrl,
    linkTtlHours: config.linkTtlHours,
    maxAttempts: opts.maxAttempts ?? config.formAttempts,
    now: opts.now,
  });
  app.http.use(createFormRouter(form, flog, { publicUrl: config.publicUrl, limits: opts.limits }));
  app.services.formLink = (itemId, actor) => form.formLink(itemId, actor);
  app.services.connectLink = (projectId, side, actor) => projectForms.createLink(projectId, side, actor);
  return form;
}
