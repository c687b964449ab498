import { defineCommand } from './types.ts';
import { actionResultMessage } from '../../cards/replies.ts';
import { startCancelledMessage } from '../../cards/schedule.ts';
import { projectZone } from '../../engine/domain/zone.ts';
import { PROJECT_OPTION, resolveProject } from './shared.ts';

/** `stop`: a waiting or queued mailbox stops at once (license back, link dead); a running one at the next message. */
export const stop = defineCommand({
  name: 'stop',
  summary: 'Stop a mailbox: returns its license if no data moved and cancels its open link.',
  args: [{ name: 'ADDRESS', required: true, kind: 'address' }],
  options: [PROJECT_OPTION],
  examples: ['/migrate stop alice@old.example'],
  admin: true,
  async handler(ctx, { args, opts }) {
    const project = await resolveProject(ctx, opts.project);
    const item = await ctx.engine.getItem(project, args.ADDRESS);
    const { pending, cancelledStart, item: after } = await ctx.engine.stopItem(ctx.actor, item);
    if (cancelledStart) {
      const also = pending
        ? 'It stops at the next message too.'
        : after.status === 'Stopped' && item.status !== 'Stopped'
          ? 'It is stopped too; its open link no longer works.'
          : undefined;
      await ctx.reply(startCancelledMessage(item.sourceAddress, cancelledStart, projectZone(project), also));
      return;
    }
    await ctx.reply(
      actionResultMessage(
        'stopped',
        [
          pending
            ? `${item.sourceAddress}: stopping at the next message (the pass saves its progress)`
            : `${item.sourceAddress}: stopped; its open link no longer works`,
        ],
        [],
        pending ? 'Stopping' : 'Stopped',
      ),
    );
  },
});
