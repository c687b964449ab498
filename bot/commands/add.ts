import type { CommandDef, CommandContext } from './types.ts';
import type { AddRow, RefusedRow } from '../../engine/engine.ts';
import type { NotifyVia, Sides } from '../../engine/domain/types.ts';
import { UserError } from '../../engine/errors.ts';
import { addedMessage } from '../../cards/item-posts.ts';
import { PROJECT_OPTION, resolveProject } from './shared.ts';

/** Options shared by `add` and `bulk`. */
export const ASK_OPTIONS = [
  { name: 'ask', value: 'source|destination|both', choices: ['source', 'destination', 'both'] as const, summary: 'Which address receives the credential request when credentials are unknown (default: the project\'s self-service setting).' },
  { name: 'notify', value: 'email|chat|both', choices: ['email', 'chat', 'both'] as const, summary: 'How the user is asked: email, chat DM, or both (default: the project\'s).' },
  PROJECT_OPTION,
];

/** Adds rows to the channel's project and posts the result as the thread anchor. */
export async function addRows(ctx: CommandContext, rows: AddRow[], preRefused: RefusedRow[], opts: Record<string, string | true>): Promise<void> {
  const project = await resolveProject(ctx, opts.project);
  const { added, refused } = await ctx.engine.addItems(ctx.actor, project, rows, {
    ask: opts.ask as Sides | undefined,
    notify: opts.notify as NotifyVia | undefined,
    threadRef: ctx.threadRef,
  });
  const all = [...preRefused, ...refused].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  // A single mailbox that cannot be added is an error, not a report.
  if (!added.length && rows.length + preRefused.length === 1) throw new UserError('NOT_ADDED', all[0]?.reason ?? 'Nothing was added.');
  const msg = addedMessage(project.name, added, all);
  if (!added.length) return ctx.reply(msg);
  // The anchor of the thread where every later status change of these items is posted.
  const thread = await ctx.openThread(msg);
  if (thread && thread !== ctx.threadRef) await ctx.engine.assignThread(added.map((i) => i.id), thread);
  if (!thread) await ctx.reply(msg);
}

/** `add`: one mailbox. */
export const add: CommandDef = {
  name: 'add',
  summary: 'Add a mailbox to the project (destination defaults to the same address).',
  args: [
    { name: 'SOURCE_ADDRESS', required: true, kind: 'address' },
    { name: 'DESTINATION_ADDRESS', required: false, kind: 'address' },
  ],
  options: [
    ...ASK_OPTIONS,
    { name: 'source-login', value: 'LOGIN', summary: 'Source username when it differs from the address.' },
    { name: 'destination-login', value: 'LOGIN', summary: 'Destination username when it differs from the address.' },
  ],
  examples: ['/migrate add alice@old.example', '/migrate add alice@old.example alice@new.example --ask both --notify both'],
  admin: true,
  async handler(ctx, { args, opts }) {
    const row: AddRow = {
      source: args.SOURCE_ADDRESS,
      destination: args.DESTINATION_ADDRESS,
      sourceLogin: typeof opts['source-login'] === 'string' ? opts['source-login'] : undefined,
      destinationLogin: typeof opts['destination-login'] === 'string' ? opts['destination-login'] : undefined,
    };
    await addRows(ctx, [row], [], opts);
  },
};
