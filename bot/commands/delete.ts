import { defineCommand } from './types.ts';
import { actionResultMessage } from '../../cards/replies.ts';
import { PROJECT_OPTION, resolveProject } from './shared.ts';

/**
 * `delete`: removes the mailbox and its statistics; mail already at the destination stays, a consumed license is not
 * returned.
 */
export const del = defineCommand({
  name: 'delete',
  summary:
    'Delete a mailbox and its statistics (mail already copied ' +
    'stays at the destination; a consumed license is not returned).',
  args: [{ name: 'ADDRESS', required: true, kind: 'address' }],
  options: [PROJECT_OPTION],
  examples: ['/migrate delete alice@old.example'],
  admin: true,
  async handler(ctx, { args, opts }) {
    const project = await resolveProject(ctx, opts.project);
    const item = await ctx.engine.getItem(project, args.ADDRESS);
    await ctx.engine.deleteItem(ctx.actor, item);
    const note = item.license === 'consumed' ? ' Its license was consumed by a pass and is not returned.' : '';
    await ctx.reply(
      actionResultMessage(
        'deleted',
        [`${item.sourceAddress}: deleted with its statistics; mail already at the destination is untouched.${note}`],
        [],
        'Deleted',
      ),
    );
  },
});
