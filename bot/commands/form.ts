import { defineCommand } from './types.ts';
import { UserError } from '../../engine/errors.ts';
import { formLinkMessage } from '../../cards/replies.ts';
import { formatTime } from '../../cards/format.ts';
import { PROJECT_OPTION, requirePrivateReply, resolveProject } from './shared.ts';

/** `form`: admin-assisted entry, a private single-use link to the same secure form. */
export const form = defineCommand({
  name: 'form',
  summary: 'Get a private link to the secure credential form for a mailbox (admin-assisted entry).',
  args: [{ name: 'ADDRESS', required: true, kind: 'address' }],
  options: [PROJECT_OPTION],
  examples: ['/migrate form alice@old.example'],
  admin: true,
  async handler(ctx, { args, opts }) {
    const project = await resolveProject(ctx, opts.project);
    const item = await ctx.engine.getItem(project, args.ADDRESS);
    await ctx.engine.checkFormAllowed(ctx.actor, item);
    requirePrivateReply(ctx, `migrate form ${item.sourceAddress}`);
    if (!ctx.services.formLink)
      throw new UserError(
        'FORM_UNAVAILABLE',
        'The credential form is not available on this server yet (PUBLIC_URL and the form service are needed).',
      );
    const { url, expiresAt } = await ctx.services.formLink(item.id, ctx.actor);
    await ctx.replyPrivately(formLinkMessage(item.sourceAddress, url, formatTime(expiresAt)));
  },
});
