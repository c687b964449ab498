// Self-service credentials join every process mode: the email channel of the outreach and
// the credential form its links open (on the HTTP server; `/migrate form` links too).
import { use } from '../../bot/cli.ts';
import { installSelfService } from '../../bot/form/install.ts';
import { installEmail } from './install.ts';

use((app) => {
  installEmail(app);
  installSelfService(app);
});
