import { defineCommand } from './types.ts';
import { actionResultMessage } from '../../cards/replies.ts';
import { PROJECT_OPTION, resolveProject } from './shared.ts';

/** `resend`: a new credential request; the old link dies. */
export const resend = defineCommand({
  name: 'resend',
  summary: 'Send the credential request again with a new link (the old link stops working).',
  args: [{ name: 'ADDRESS', required: true, kind: 'address' }],
  options: [PROJECT_OPTION],
  examples: ['/migrate resend alice@old.example'],
  admin: true,
  async handler(ctx, { args, opts }) {
    const project = await resolveProject(ctx, opts.project);
    const item = await ctx.engine.getItem(project, args.ADDRESS);
    await ctx.engine.resend(ctx.actor, item);
    await ctx.reply(
      actionResultMessage(
        'resent',
        [`${item.sourceAddress}: a new request is on its way; the previous link no longer works`],
        [],
        'Asked again',
      ),
    );
  },
});
