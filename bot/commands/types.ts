import type { ServerProbe } from '../../engine/connectors/probe-server.ts';
import type { Engine } from '../../engine/engine.ts';
import type { Message } from '../../cards/model.ts';
import type { UserChoice } from '../../cards/user-choice.ts';
import type { Actor, Side } from '../../engine/domain/types.ts';

/** How a positional argument is checked: `address` values are validated as addresses (Google consumer refused). */
export type ArgKind = 'address' | 'name' | 'text';

/** A positional argument in a command definition. */
export interface ArgSpec {
  /** Name as shown in usage, e.g. `SOURCE_ADDRESS`; the key of the handler's `args`. */
  readonly name: string;
  readonly required: boolean;
  readonly kind?: ArgKind;
}

interface OptionBase {
  /** Without dashes, e.g. `ask`; the key of the handler's `opts`. */
  readonly name: string;
  readonly summary: string;
  /** Options that only make sense on some surfaces (e.g. reading a file on the server: console only). */
  readonly surfaces?: readonly string[];
  /** The command cannot run without it. */
  readonly required?: boolean;
}

/** `--waiting`: present or not (a boolean). */
export interface FlagOption extends OptionBase {
  readonly kind: 'flag';
}

/** `--project NAME`: a string, as typed. */
export interface StringOption extends OptionBase {
  readonly kind: 'string';
  /** Placeholder for the value in usage, e.g. `NAME`. */
  readonly value: string;
}

/** `--ask source|destination|both`: one of the literals (case-insensitive when typed). */
export interface EnumOption<C extends string = string> extends OptionBase {
  readonly kind: 'enum';
  readonly choices: readonly C[];
}

/** `--licenses N`: a whole number within bounds. */
export interface NumberOption extends OptionBase {
  readonly kind: 'number';
  readonly value: string;
  readonly integer: { readonly min: number; readonly max: number };
}

/** `--include "A, B"`: a list; split at commas unless the option parses it itself (and refuses what it cannot read). */
export interface ListOption<T = unknown> extends OptionBase {
  readonly kind: 'list';
  readonly value: string;
  readonly parse?: (raw: string) => readonly T[];
}

/** An option in a command definition. */
export type OptionSpec = FlagOption | StringOption | EnumOption | NumberOption | ListOption;

/** The placeholder an option shows in usage and help; none for a flag. */
export function placeholder(o: OptionSpec): string | undefined {
  return o.kind === 'flag' ? undefined : o.kind === 'enum' ? o.choices.join('|') : o.value;
}

/** The value an option gives its handler. */
export type OptionValue<O> = O extends { kind: 'flag' }
  ? boolean
  : O extends { kind: 'number' }
    ? number
    : O extends { kind: 'enum'; choices: readonly (infer C)[] }
      ? C
      : O extends { kind: 'list'; parse: (raw: string) => readonly (infer T)[] }
        ? T[]
        : O extends { kind: 'list' }
          ? string[]
          : string;

type Flatten<T> = { [K in keyof T]: T[K] } & {};
type RequiredName<S> = S extends { name: infer N extends string; required: true } ? N : never;
type OptionalName<S> = S extends { name: infer N extends string } ? (S extends { required: true } ? never : N) : never;

/** The handler's `args`, from the argument specs: required ones are strings, others may be absent. */
export type ArgsOf<As extends readonly ArgSpec[]> = Flatten<
  { [A in As[number] as RequiredName<A>]: string } & { [A in As[number] as OptionalName<A>]?: string }
>;

/** The handler's `opts`, from the option specs. */
export type OptsOf<Os extends readonly OptionSpec[]> = Flatten<
  { [O in Os[number] as RequiredName<O>]: OptionValue<O> } & { [O in Os[number] as OptionalName<O>]?: OptionValue<O> }
>;

/** The validated input of a command: what the text grammar parses into, and what forms give directly. */
export interface CommandInput<
  As extends readonly ArgSpec[] = readonly ArgSpec[],
  Os extends readonly OptionSpec[] = readonly OptionSpec[],
> {
  args: ArgsOf<As>;
  opts: OptsOf<Os>;
  /** Lines after the first (bulk CSV pasted under the command). */
  body?: string;
}

/** The input type of a defined command. */
export type InputOf<C> = C extends Command<infer As, infer Os> ? CommandInput<As, Os> : never;

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
  /**
   * Looks at a connector URL's server without logging in (TCP, TLS, IMAP greeting and capabilities; the authority for
   * m365://).
   */
  probeServer?: (url: string) => Promise<ServerProbe>;
}

/** One command: its grammar, help and handler, in one place. */
export interface Command<
  As extends readonly ArgSpec[] = readonly ArgSpec[],
  Os extends readonly OptionSpec[] = readonly OptionSpec[],
> {
  /** One or two words: `add`, `project create`. */
  name: string;
  summary: string;
  args: As;
  options: Os;
  examples: string[];
  /** Only admins may run it (everything but `help` and `answer`). */
  admin: boolean;
  /** Run by buttons, not typed: left out of help and the platforms' command lists. */
  hidden?: boolean;
  /** Whether text lines after the command are allowed (bulk). */
  body?: boolean;
  handler(ctx: CommandContext, input: CommandInput<As, Os>): Promise<void>;
}

/** Any command, as lists of commands hold them. */
export type CommandDef = Command;

/**
 * Defines a command; the handler's input type is inferred from the argument and option specs
 * (a flag is a boolean, a number option a number, an enum its literals, a list an array;
 * required ones are always there), so handlers need no casts.
 */
export function defineCommand<const As extends readonly ArgSpec[], const Os extends readonly OptionSpec[]>(
  def: Command<As, Os>,
): Command<As, Os> {
  return def;
}
