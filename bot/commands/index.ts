import type { CommandDef } from './types.ts';
import { projectCreate } from './project-create.ts';
import { projectSet } from './project-set.ts';
import { projectConnect } from './project-connect.ts';
import { projectList } from './project-list.ts';
import { add } from './add.ts';
import { bulk } from './bulk.ts';
import { status } from './status.ts';
import { start } from './start.ts';
import { stop } from './stop.ts';
import { clearCredentials } from './clear-credentials.ts';
import { resend } from './resend.ts';
import { del } from './delete.ts';
import { form } from './form.ts';
import { digest } from './digest.ts';
import { makeHelp } from './help.ts';
import { answer } from './answer.ts';

/** Every command, explicitly listed, in the order help shows them. */
export const COMMANDS: readonly CommandDef[] = [
  projectCreate,
  projectSet,
  projectList,
  projectConnect,
  add,
  bulk,
  status,
  start,
  stop,
  clearCredentials,
  resend,
  del,
  form,
  digest,
  answer,
  makeHelp(() => COMMANDS),
];
