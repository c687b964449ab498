// Self-service credentials join every process mode: the email channel of the outreach,
// the credential form on the HTTP server, and `/migrate form` links.
import { use } from '../cli.ts';
import { installSelfService } from './install.ts';

use((app) => {
  installSelfService(app);
});
