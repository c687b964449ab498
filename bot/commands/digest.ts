import { defineCommand } from './types.ts';
import { UserError } from '../../engine/errors.ts';
import { PROJECT_OPTION, resolveProject } from './shared.ts';

/** `digest`: post the project's digest now. */
export const digest = defineCommand({
  name: 'digest',
  summary: 'Post the project digest in this channel now.',
  args: [],
  options: [PROJECT_OPTION],
  examples: ['/migrate digest'],
  admin: true,
  async handler(ctx, { opts }) {
    const project = await resolveProject(ctx, opts.project);
    if (!ctx.services.postDigest)
      throw new UserError(
        'DIGEST_UNAVAILABLE',
        'Digests are not available on this server yet; `/migrate status` shows the project now.',
      );
    await ctx.reply(await ctx.services.postDigest(project.id, ctx.actor));
  },
});
