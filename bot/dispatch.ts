import { randomBytes } from 'node:crypto';
import { isUserError } from '../engine/errors.ts';
import type { Engine } from '../engine/engine.ts';
import type { Message } from '../cards/model.ts';
import { databaseFaultMessage, errorMessage, internalErrorMessage, notAdminMessage } from '../cards/help.ts';
import { dbFaultOf } from '../engine/store/db-faults.ts';
import { COMMANDS } from './commands/index.ts';
import type { Attachment, BotServices, CommandContext, CommandDef } from './commands/types.ts';
import { parseCommand } from './parse/parse-command.ts';
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

/** Outcome of a dispatch, for adapters that need it (Slack modals) and tests. */
export interface DispatchResult {
  ok: boolean;
  command?: string;
  code?: string;
}

/**
 * Runs one command line for any surface: parse once, check the actor may run it, call the
 * handler with a context bound to its conversation. A known refusal is shown as is; any
 * other error is logged with a reference the user gets.
 */
export class Dispatcher {
  constructor(
    private engine: Engine,
    private log: Logger,
    private admins: readonly string[],
    readonly services: BotServices = {},
    readonly commands: readonly CommandDef[] = COMMANDS,
  ) {}

  async dispatch(cmd: IncomingCommand): Promise<DispatchResult> {
    const admin = isAdmin(this.admins, cmd.surface, cmd.userId, cmd.channelId);
    let name: string | undefined;
    try {
      const { def, input } = parseCommand(cmd.text, this.commands, cmd.surface);
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
        return { ok: false, command: name, code: e.code };
      }
      const ref = randomBytes(4).toString('hex');
      const fault = dbFaultOf(e);
      if (fault) {
        // Not a bug: the disk is full (or failing). Say so, rather than "something went wrong".
        this.log.error('command failed: the database cannot be written', { ref, surface: cmd.surface, command: name, fault, error: e instanceof Error ? e.message : String(e) });
        await cmd.reply(databaseFaultMessage(fault, ref)).catch(() => {});
        return { ok: false, command: name, code: fault === 'full' ? 'DATABASE_FULL' : 'DATABASE_UNWRITABLE' };
      }
      this.log.error('command failed', { ref, surface: cmd.surface, command: name, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
      await cmd.reply(internalErrorMessage(ref)).catch(() => {});
      return { ok: false, command: name, code: 'INTERNAL' };
    }
  }
}
