// Composition-root wiring of the email channel (listed in bot/plugins.ts).
import type { Plugin } from '../../bot/app.ts';
import { installEmail } from './install.ts';

/** The email channel of the outreach, in every process mode (any process may ask a user). */
export const plugin: Plugin = (app) => {
  installEmail(app);
};
