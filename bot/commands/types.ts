import type { ServerProbe } from '../../engine/connectors/probe-server.ts';
import type { Engine } from '../../engine/engine.ts';
import type { Message } from '../../cards/model.ts';
import type { UserChoice } from '../../cards/user-choice.ts';
import type { Actor, Side } from '../../engine/domain/types.ts';

/** An argument in a command definition. */
export interface ArgDef {
  /** Name as shown in usage, e.g. `SOURCE_ADDRESS`. */
  name: string;
  required: boolean;
  /** `address` values are validated as addresses (Google consumer refused) by the parser. */
  kind?: 'address' | 'name' | 'text';
}

/** An option in a command definition. */
export interface OptionDef {
  /** Without dashes, e.g. `ask`. */
  name: string;
  /** Placeholder for the value (`source|destination|both`); absent for a flag. */
  value?: string;
  /** Allowed values, checked by the parser. */
  choices?: readonly string[];
  summary: string;
  /** Options that only make sense on some surfaces (e.g. reading a file on the server: console only). */
  surfaces?: readonly string[];
  /** Number validation. */
  integer?: { min: number; max: number };
}

/** The parsed, validated input of a command. */
export interface ParsedArgs {
  args: Record<string, string>;
  opts: Record<string, string | true>;
  /** Lines after the first (bulk CSV pasted under the command). */
  body?: string;
}

/** An attached file (Slack file_input, console `--file`). */
export interface Attachment {
  name: string;
  text: string;
}

/**
 * What a handler gets: the engine and a context bound to its conversation and actor.
 * Handlers never see a platform.
 */
export interface CommandContext {
  engine: Engine;
  actor: Actor & { isAdmin: boolean };
  /** Opaque reference of the channel the command came from (a project belongs to it). */
  channelRef: string;
  /**
   * Opaque thread reference for posts about the items this command touches. Adapters that
   * create an anchor lazily (Slack) provide `openThread` instead.
   */
  threadRef: string | null;
  /** Creates (once) the thread where status posts about this command's items go. */
  openThread(summary: Message): Promise<string | null>;
  /** Replies to the person who typed the command (ephemeral where the surface can). */
  reply(m: Message): Promise<void>;
  /**
   * Replies where only that person can read it, for messages that carry a private link:
   * ephemeral on Slack, a 1:1 chat on Teams (whose replies the channel sees), the terminal on the console.
   */
  replyPrivately(m: Message): Promise<void>;
  /**
   * False where every reply is seen by others and there is no private way back to the
   * person (a Teams channel or group chat): commands that answer with a private link refuse
   * there before they make one (see `requirePrivateReply`).
   */
  canReplyPrivately: boolean;
  /** Files that came with the command. */
  attachments: Attachment[];
  /** Services outside the engine that commands use (outreach links, digests); filled by the composition root. */
  services: BotServices;
}

/** Seams for capabilities that live outside the command core (filled when they exist). */
export interface BotServices {
  /** Creates an admin-assisted private link to the credential form. */
  formLink?: (itemId: string, actor: Actor) => Promise<{ url: string; expiresAt: Date }>;
  /** Creates a private link to the admin-credentials form of one side of a project (`project connect`). */
  connectLink?: (projectId: string, side: Side, actor: Actor) => Promise<{ url: string; expiresAt: Date }>;
  /** Posts a digest of a project now. */
  postDigest?: (projectId: string, actor: Actor) => Promise<Message>;
  /** License pool of new projects when `--licenses` is not given (MAILFERRY_LICENSES). */
  defaultLicenses?: number | null;
  /** Reads a file on the server (console only, for test credentials and bulk files). */
  readLocalFile?: (path: string) => Promise<string>;
  /** Takes an end user's answer to a credential request DM (a choice button); returns what to tell them. */
  answerChoice?: (actor: Actor, choiceId: string, choice: UserChoice) => Promise<Message>;
  /** Looks at a connector URL's server without logging in (TCP, TLS, IMAP greeting and capabilities; the authority for m365://). */
  probeServer?: (url: string) => Promise<ServerProbe>;
}

/** One command: its grammar, help and handler, in one place. */
export interface CommandDef {
  /** One or two words: `add`, `project create`. */
  name: string;
  summary: string;
  args: ArgDef[];
  options: OptionDef[];
  examples: string[];
  /** Only admins may run it (everything but `help` and `answer`). */
  admin: boolean;
  /** Run by buttons, not typed: left out of help and the platforms' command lists. */
  hidden?: boolean;
  /** Whether text lines after the command are allowed (bulk). */
  body?: boolean;
  handler(ctx: CommandContext, input: ParsedArgs): Promise<void>;
}
