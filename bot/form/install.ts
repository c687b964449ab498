import type { App } from '../app.ts';
import { verifyCredentials } from '../../engine/connectors/index.ts';
import { deriveFormSecret } from './csrf.ts';
import { FormService, type Verifier } from './form-service.ts';
import { createFormRouter, type FormLimits } from './routes.ts';

/** Overrides for tests; production takes everything from the app's configuration. */
export interface SelfServiceOptions {
  /** Credentials check (default: the engine's `verifyCredentials`). */
  verify?: Verifier;
  limits?: Partial<FormLimits>;
  /** Attempts before the item fails (default `MAILFERRY_FORM_ATTEMPTS` or 3). */
  maxAttempts?: number;
  now?: () => Date;
}

/**
 * Wires the credential form into an app: the routes on `app.http` and `services.formLink`
 * for `/migrate form`. (The email channel that carries links is `adapters/email/`.)
 */
export function installSelfService(app: App, opts: SelfServiceOptions = {}): FormService {
  const { config, log } = app;
  const flog = log.child({ part: 'form' });
  const form = new FormService(app.engine, flog, {
    verify: opts.verify ?? ((url, login, secret, side) => verifyCredentials(url, login, secret, side)),
    secret: deriveFormSecret(app.vault),
    publicUrl: config.publicUrl,
    linkTtlHours: config.linkTtlHours,
    maxAttempts: opts.maxAttempts ?? config.formAttempts,
    now: opts.now,
  });
  app.http.use(createFormRouter(form, flog, { publicUrl: config.publicUrl, limits: opts.limits }));
  app.services.formLink = (itemId, actor) => form.formLink(itemId, actor);
  return form;
}
