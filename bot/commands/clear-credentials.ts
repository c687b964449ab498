import { defineCommand } from './types.ts';
import { UserError } from '../../engine/errors.ts';
import { actionResultMessage } from '../../cards/replies.ts';
import { PROJECT_OPTION, resolveProject } from './shared.ts';

/** `clear-credentials`: forget stored credentials; a later `start` sends a new request. */
export const clearCredentials = defineCommand({
  name: 'clear-credentials',
  summary: 'Forget the stored source and/or destination credentials of a mailbox; a later start asks the user again.',
  args: [{ name: 'ADDRESS', required: true, kind: 'address' }],
  options: [
    { name: 'source', kind: 'flag', summary: 'Forget the source credentials.' },
    { name: 'destination', kind: 'flag', summary: 'Forget the destination credentials.' },
    { name: 'both', kind: 'flag', summary: 'Forget both.' },
    PROJECT_OPTION,
  ],
  examples: ['/migrate clear-credentials alice@old.example --source'],
  admin: true,
  async handler(ctx, { args, opts }) {
    const picked = (['source', 'destination', 'both'] as const).filter((s) => opts[s]);
    const which = picked[0];
    if (picked.length !== 1 || !which)
      throw new UserError(
        'CLEAR_WHICH',
        'Say which credentials to clear: exactly one of --source, --destination or --both.',
        'Usage: /migrate clear-credentials ADDRESS --source|--destination|--both',
      );
    const project = await resolveProject(ctx, opts.project);
    const item = await ctx.engine.getItem(project, args.ADDRESS);
    const sides = await ctx.engine.clearCredentials(ctx.actor, item, which);
    await ctx.reply(
      actionResultMessage(
        'credentials-cleared',
        [
          `${item.sourceAddress}: ${sides.join(' and ')} credentials forgotten. ` +
            `\`/migrate start ${item.sourceAddress}\` asks the user again.`,
        ],
        [],
        'Cleared credentials of',
      ),
    );
  },
});
