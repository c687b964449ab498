import { defineCommand, type CommandContext, type OptionSpec, type OptsOf } from './types.ts';
import type { AddRow, RefusedRow } from '../../engine/engine.ts';
import { UserError } from '../../engine/errors.ts';
import { addedMessage } from '../../cards/item-posts.ts';
import { ASK_CHOICES, NOTIFY_CHOICES, PROJECT_OPTION, resolveProject } from './shared.ts';

/** `--ask`: whose address is asked for credentials. */
export const ASK_OPTION = {
  name: 'ask',
  kind: 'enum',
  choices: ASK_CHOICES,
  summary:
    'Which address receives the credential request when credentials ' +
    "are unknown (default: the project's self-service setting).",
} as const satisfies OptionSpec;
/** `--notify`: how the user is asked. */
export const NOTIFY_OPTION = {
  name: 'notify',
  kind: 'enum',
  choices: NOTIFY_CHOICES,
  summary: "How the user is asked: email, chat DM, or both (default: the project's).",
} as const satisfies OptionSpec;

/** Options shared by `add` and `bulk`. */
export const ASK_OPTIONS = [ASK_OPTION, NOTIFY_OPTION, PROJECT_OPTION] as const satisfies readonly OptionSpec[];

/** The options `add` and `bulk` share, as their handlers get them. */
export type AddOptions = OptsOf<typeof ASK_OPTIONS>;

/** Adds rows to the channel's project and posts the result as the thread anchor. */
export async function addRows(
  ctx: CommandContext,
  rows: AddRow[],
  preRefused: RefusedRow[],
  opts: AddOptions,
): Promise<void> {
  const project = await resolveProject(ctx, opts.project);
  const { added, refused } = await ctx.engine.addItems(ctx.actor, project, rows, {
    ask: opts.ask,
    notify: opts.notify,
    threadRef: ctx.threadRef,
  });
  const all = [...preRefused, ...refused].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  // A single mailbox that cannot be added is an error, not a report.
  if (!added.length && rows.length + preRefused.length === 1)
    throw new UserError('NOT_ADDED', all[0]?.reason ?? 'Nothing was added.');
  const msg = addedMessage(project.name, added, all);
  if (!added.length) return ctx.reply(msg);
  // The anchor of the thread where every later status change of these items is posted.
  const thread = await ctx.openThread(msg);
  if (thread && thread !== ctx.threadRef)
    await ctx.engine.assignThread(
      added.map((i) => i.id),
      thread,
    );
  if (!thread) await ctx.reply(msg);
}

/** `add`: one mailbox. */
export const add = defineCommand({
  name: 'add',
  summary: 'Add a mailbox to the project (destination defaults to the same address).',
  args: [
    { name: 'SOURCE_ADDRESS', required: true, kind: 'address' },
    { name: 'DESTINATION_ADDRESS', required: false, kind: 'address' },
  ],
  options: [
    ...ASK_OPTIONS,
    {
      name: 'source-login',
      kind: 'string',
      value: 'LOGIN',
      summary: 'Source username when it differs from the address.',
    },
    {
      name: 'destination-login',
      kind: 'string',
      value: 'LOGIN',
      summary: 'Destination username when it differs from the address.',
    },
  ],
  examples: [
    '/migrate add alice@old.example',
    '/migrate add alice@old.example alice@new.example --ask both --notify both',
  ],
  admin: true,
  async handler(ctx, { args, opts }) {
    const row: AddRow = {
      source: args.SOURCE_ADDRESS,
      destination: args.DESTINATION_ADDRESS,
      sourceLogin: opts['source-login'],
      destinationLogin: opts['destination-login'],
    };
    await addRows(ctx, [row], [], opts);
  },
});
