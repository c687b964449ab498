import type { Plugin } from '../app.ts';
import { installScheduler } from './install.ts';

/** Digests and reminders: serve (tick + outbox drain), console and worker (digest command, schedule checks). */
export const plugin: Plugin = (app, mode) => {
  installScheduler(app, mode);
};
