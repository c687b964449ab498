import { UserError } from '../errors.ts';
import type { FailureReason, ItemStatus } from './types.ts';

/**
 * The item state machine: every rule of an item's life (its statuses, and which action may
 * move it from which status to which) in one table. Pure: it decides, the engine applies
 * the decision and emits the event.
 *
 * Actions:
 * - `submit`: an admin starts the item (a first pass or a new one).
 * - `credentials-received`: the end user (or admin) supplied what was missing.
 * - `credentials-refused`: the end user's last attempt was refused by the server.
 * - `claim`: the runner takes a queued item.
 * - `pass-completed` / `pass-failed` / `pass-stopped`: the runner's outcome.
 * - `pass-interrupted`: the pass ended without an outcome (shutdown, or its process died):
 *   back to the queue, to resume from its checkpoint.
 * - `stop`, `delete`, `clear-credentials`, `resend`, `form`: admin commands.
 */
export type ItemAction =
  | 'submit'
  | 'credentials-received'
  | 'credentials-refused'
  | 'claim'
  | 'pass-completed'
  | 'pass-failed'
  | 'pass-stopped'
  | 'pass-interrupted'
  | 'stop'
  | 'delete'
  | 'clear-credentials'
  | 'resend'
  | 'form';

/** What a state needs to know to decide `submit` and `credentials-received`. */
export interface DecisionInput {
  address: string;
  status: ItemStatus;
  /** Credentials still unknown after this action. */
  missingCredentials: boolean;
}

/** The outcome of a legal action: the next status (same as before for no-op transitions). */
export interface Decision {
  to: ItemStatus;
  /** For `stop` of a running item: the runner must end the pass at the next message boundary. */
  stopRequested?: boolean;
  /** For `delete`: the item row goes away. */
  deleted?: boolean;
}

const ACTIVE: ItemStatus[] = ['Queued', 'Running'];
const IDLE: ItemStatus[] = ['NotStarted', 'Stopped', 'Failed', 'Completed'];

function refuse(code: string, message: string, hint?: string): never {
  throw new UserError(code, message, hint);
}

/** The admin commands that hold, remove or ask again for an item. */
type CommandAction = 'stop' | 'delete' | 'clear-credentials' | 'resend' | 'form';

/** The actions that move an item along its life: its start, its credentials, the runner's. */
type ProgressAction = Exclude<ItemAction, CommandAction>;

/**
 * Decides an action on an item. Throws a `UserError` whose message an admin understands
 * when the action is not allowed in the item's status.
 */
export function decide(action: ItemAction, item: DecisionInput): Decision {
  switch (action) {
    case 'stop':
    case 'delete':
    case 'clear-credentials':
    case 'resend':
    case 'form':
      return decideCommand(action, item);
    default:
      return decideProgress(action, item);
  }
}

/** Decides a start, a credential answer, a claim or a pass's end. */
function decideProgress(action: ProgressAction, item: DecisionInput): Decision {
  const { address: a, status } = item;
  switch (action) {
    case 'submit':
      if (status === 'WaitingForUser')
        refuse(
          'ITEM_WAITING',
          `${a} is already waiting for its user.`,
          `Use \`resend ${a}\` to send a new link, or \`stop ${a}\` first.`,
        );
      if (ACTIVE.includes(status))
        refuse('ITEM_ACTIVE', `${a} is already ${status === 'Queued' ? 'queued' : 'running'}.`);
      return { to: item.missingCredentials ? 'WaitingForUser' : 'Queued' };

    case 'credentials-received':
      if (status !== 'WaitingForUser') refuse('ITEM_NOT_WAITING', `${a} is not waiting for credentials.`);
      return { to: item.missingCredentials ? 'WaitingForUser' : 'Queued' };

    case 'credentials-refused':
      if (status !== 'WaitingForUser') refuse('ITEM_NOT_WAITING', `${a} is not waiting for credentials.`);
      return { to: 'Failed' };

    case 'claim':
      if (status !== 'Queued') refuse('ITEM_NOT_QUEUED', `${a} is not queued.`);
      return { to: 'Running' };

    case 'pass-completed':
    case 'pass-failed':
    case 'pass-stopped':
      if (status !== 'Running') refuse('ITEM_NOT_RUNNING', `${a} is not running.`);
      return { to: action === 'pass-completed' ? 'Completed' : action === 'pass-failed' ? 'Failed' : 'Stopped' };

    case 'pass-interrupted':
      if (status !== 'Running') refuse('ITEM_NOT_RUNNING', `${a} is not running.`);
      return { to: 'Queued' };
  }
}

/** Decides an admin command: stop, delete, clear-credentials, resend, form. */
function decideCommand(action: CommandAction, item: DecisionInput): Decision {
  const { address: a, status } = item;
  switch (action) {
    case 'stop':
      // Seeds: stopping a waiting item returns its license and cancels the open link.
      if (status === 'WaitingForUser' || status === 'Queued') return { to: 'Stopped' };
      if (status === 'Running') return { to: 'Running', stopRequested: true };
      return refuse(
        'ITEM_NOT_ACTIVE',
        `${a} is not running or waiting (it is ${describe(status)}); there is nothing to stop.`,
      );

    case 'delete':
      // Seeds: "It is not possible to directly delete the mailbox while it is in the state
      // Waiting for User": stop first.
      if (status === 'WaitingForUser')
        refuse(
          'ITEM_WAITING',
          `${a} is waiting for its user; stop it before deleting it.`,
          `\`stop ${a}\` then \`delete ${a}\``,
        );
      if (ACTIVE.includes(status))
        refuse(
          'ITEM_ACTIVE',
          `${a} is ${status === 'Queued' ? 'queued' : 'running'}; stop it before deleting it.`,
          `\`stop ${a}\` then \`delete ${a}\``,
        );
      return { to: status, deleted: true };

    case 'clear-credentials':
      if (!IDLE.includes(status))
        refuse(
          'ITEM_ACTIVE',
          `${a} is ${describe(status)}; stop it before clearing its credentials.`,
          `\`stop ${a}\` first`,
        );
      return { to: status };

    case 'resend':
      if (status !== 'WaitingForUser')
        refuse(
          'ITEM_NOT_WAITING',
          `${a} is not waiting for its user (it is ${describe(status)}).`,
          `Use \`start ${a}\` to submit it; a request goes out when credentials are missing.`,
        );
      return { to: status };

    case 'form':
      if (ACTIVE.includes(status))
        refuse('ITEM_ACTIVE', `${a} is ${describe(status)}; its credentials are already known.`);
      return { to: status };
  }
}

function describe(s: ItemStatus): string {
  switch (s) {
    case 'NotStarted':
      return 'not started';
    case 'WaitingForUser':
      return 'waiting for its user';
    case 'Queued':
      return 'queued';
    case 'Running':
      return 'running';
    case 'Completed':
      return 'completed';
    case 'Failed':
      return 'failed';
    case 'Stopped':
      return 'stopped';
  }
}

/** Which failure reason an end user's refused credentials give, by side. */
export function credentialsFailure(side: 'source' | 'destination'): FailureReason {
  return side === 'source' ? 'SourceCredentials' : 'DestinationCredentials';
}

/** License bookkeeping on a transition; see `engine/licenses.ts` for the pool. */
export type LicenseState = 'none' | 'reserved' | 'consumed';
