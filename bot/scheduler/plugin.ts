// Digests and reminders join serve (tick + outbox drain), console and worker (digest command, schedule checks).
import { use } from '../cli.ts';
import { installScheduler } from './install.ts';

use((app, mode) => {
  installScheduler(app, mode);
});
