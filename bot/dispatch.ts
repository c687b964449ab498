import { randomBytes } from 'node:crypto';
import { isUserError } from '../engine/errors.ts';
import type { Engine } from '../engine/engine.ts';
import type { Message } from '../cards/model.ts';
import { databaseFaultMessage, errorMessage, internalErrorMessage, notAdminMessage } from '../cards/help.ts';
import { dbFaultOf } from '../engine/store/db-faults.ts';
import { COMMANDS } from './commands/index.ts';
import type { Attachment, BotServices, Command, CommandContext, CommandDef, CommandInput } from './commands/types.ts';
import { parseCommand, usage, type ParsedLine } from './parse/parse-command.ts';
import { checkInput } from './parse/check-input.ts';
import { isAdmin } from './auth.ts';
import type { Logger } from './log.ts';

/** A command as an adapter hands it over: plain text plus who, where, and how to answer. */
export interface IncomingCommand {
  text: string;
  surface: string;
  userId: string;
  userName?: string;
  /** Platform channel id, for channel-level admin grants. */
  channelId?: string;
  /** Opaque channel reference (projects belong to it). */
  channelRef: string;
  /** Opaque thread reference, when the command itself sits in a thread (Teams). */
  threadRef: string | null;
  reply(m: Message): Promise<void>;
  /** Replies where only the person can read it, when `reply` is seen by others (Teams channels); default `reply`. */
  replyPrivately?(m: Message): Promise<void>;
  /** True when `reply` is seen by others and there is no `replyPrivately` here (a Teams channel or group chat). */
  repliesShared?: boolean;
  /** Creates the anchor of a thread for the command's items; returns its reference. */
  openThread?(summary: Message): Promise<string | null>;
  attachments?: Attachment[];
}

/** Who runs a command that comes from a form (typed input, no command line), and how to answer. */
export type IncomingForm = Omit<IncomingCommand, 'text'>;

/** Outcome of a dispatch, for adapters that need it (Slack modals, Teams forms) and tests. */
export interface DispatchResult {
  ok: boolean;
  command?: string;
  code?: string;
  /** The option or argument a refusal is about (`UserError.field`), for a form to show it at that field. */
  field?: string;
}

/**
 * Runs commands for any surface: a command line (parsed once) or a form's typed input
 * (checked by the same rules); checks the actor may run it, calls the handler with a
 * context bound to its conversation. A known refusal is shown as is; any other error is
 * logged with a reference the user gets.
 */
export class Dispatcher {
  constructor(
    private engine: Engine,
    private log: Logger,
    private admins: readonly string[],
    readonly services: BotServices = {},
    readonly commands: readonly CommandDef[] = COMMANDS,
  ) {}

  /** Runs one command line as typed (console, slash command, chat message, command button). */
  dispatch(cmd: IncomingCommand): Promise<DispatchResult> {
    return this.execute(cmd, () => parseCommand(cmd.text, this.commands, cmd.surface));
  }

  /**
   * Runs a command with the typed input of a form (Slack modal, Teams card): no command
   * line is written or parsed; the input is checked by the rules the parser applies.
   */
  run<const As extends Command['args'], const Os extends Command['options']>(
    def: Command<As, Os>,
    input: NoInfer<CommandInput<As, Os>>,
    cmd: IncomingForm,
  ): Promise<DispatchResult> {
    const command: Command = def;
    // Widened to any command's input, as the parser's is: the handler of `def` is the one that gets it.
    return this.execute(cmd, () => ({
      def: command,
      input: checkInput(def, input, cmd.surface, `Usage: ${usage(command, cmd.surface)}`) as CommandInput,
    }));
  }

  private async execute(cmd: IncomingForm, resolve: () => ParsedLine): Promise<DispatchResult> {
    const admin = isAdmin(this.admins, cmd.surface, cmd.userId, cmd.channelId);
    let name: string | undefined;
    try {
      const { def, input } = resolve();
      name = def.name;
      if (def.admin && !admin) {
        this.log.warn('command refused: not an admin', { surface: cmd.surface, user: cmd.userId, command: def.name });
        await cmd.reply(notAdminMessage(def.name));
        return { ok: false, command: def.name, code: 'NOT_ADMIN' };
      }
      let thread = cmd.threadRef;
      const ctx: CommandContext = {
        engine: this.engine,
        actor: { surface: cmd.surface, id: cmd.userId, name: cmd.userName, isAdmin: admin },
        channelRef: cmd.channelRef,
        threadRef: cmd.threadRef,
        openThread: async (summary) => {
          if (thread && thread !== cmd.threadRef) return thread;
          thread = cmd.openThread ? await cmd.openThread(summary) : cmd.threadRef;
          return thread;
        },
        reply: (m) => cmd.reply(m),
        replyPrivately: (m) => (cmd.replyPrivately ? cmd.replyPrivately(m) : cmd.reply(m)),
        canReplyPrivately: !!cmd.replyPrivately || !cmd.repliesShared,
        attachments: cmd.attachments ?? [],
        services: this.services,
      };
      this.log.info('command', { surface: cmd.surface, user: cmd.userId, command: def.name });
      await def.handler(ctx, input);
      return { ok: true, command: def.name };
    } catch (e) {
      if (isUserError(e)) {
        await cmd.reply(errorMessage(e.message, e.hint));
        return { ok: false, command: name, code: e.code, ...(e.field ? { field: e.field } : {}) };
      }
      const ref = randomBytes(4).toString('hex');
      const fault = dbFaultOf(e);
      if (fault) {
        // Not a bug: the disk is full (or failing). Say so, rather than "something went wrong".
        this.log.error('command failed: the database cannot be written', {
          ref,
          surface: cmd.surface,
          command: name,
          fault,
          error: e instanceof Error ? e.message : String(e),
        });
        await cmd.reply(databaseFaultMessage(fault, ref)).catch(() => {});
        return { ok: false, command: name, code: fault === 'full' ? 'DATABASE_FULL' : 'DATABASE_UNWRITABLE' };
      }
      this.log.error('command failed', {
        ref,
        surface: cmd.surface,
        command: name,
        error: e instanceof Error ? (e.stack ?? e.message) : String(e),
      });
      await cmd.reply(internalErrorMessage(ref)).catch(() => {});
      return { ok: false, command: name, code: 'INTERNAL' };
    }
  }
}
