import type { Plugin } from '../app.ts';
import { installSelfService } from './install.ts';

/**
 * The credential form joins every process mode: its routes (serve) and the links `/migrate form` and outreach hand out.
 */
export const plugin: Plugin = (app) => {
  installSelfService(app);
};
