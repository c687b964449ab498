import { defineCommand } from './types.ts';
import { projectListMessage } from '../../cards/replies.ts';

/** `project list`: every project, marking this channel's. */
export const projectList = defineCommand({
  name: 'project list',
  summary: 'List the migration projects.',
  args: [],
  options: [],
  examples: ['/migrate project list'],
  admin: true,
  async handler(ctx) {
    const all = await ctx.engine.listProjects();
    await ctx.reply(
      projectListMessage(
        all.map((p) => ({
          name: p.name,
          sourceUrl: p.sourceUrl,
          destinationUrl: p.destinationUrl,
          here: p.channelRef === ctx.channelRef,
        })),
      ),
    );
  },
});
