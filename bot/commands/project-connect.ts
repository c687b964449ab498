import { defineCommand } from './types.ts';
import { UserError } from '../../engine/errors.ts';
import { parseConnectorUrl } from '../../engine/domain/connector-url.ts';
import { connectLinkMessage } from '../../cards/replies.ts';
import { formatTime } from '../../cards/format.ts';
import { requirePrivateReply } from './shared.ts';

/**
 * `project connect`: admin credentials for one side of a project (an IMAP admin login, or a
 * Microsoft 365 app registration), entered on a private single-use form, never in chat.
 * With them, mailboxes of that side never wait for their user.
 */
export const projectConnect = defineCommand({
  name: 'project connect',
  summary:
    'Get a private link to enter admin credentials for one side of a project (an IMAP ' +
    'admin login or a Microsoft 365 app); its mailboxes then start without asking users.',
  args: [{ name: 'NAME', required: true, kind: 'name' }],
  options: [
    { name: 'source', kind: 'flag', summary: 'Connect the source side.' },
    { name: 'destination', kind: 'flag', summary: 'Connect the destination side.' },
  ],
  examples: ['/migrate project connect acme --source', '/migrate project connect acme --destination'],
  admin: true,
  async handler(ctx, { args, opts }) {
    const project = await ctx.engine.getProject(args.NAME);
    const sides = (['source', 'destination'] as const).filter((s) => opts[s]);
    const side = sides[0];
    if (sides.length !== 1 || !side)
      throw new UserError(
        'CONNECT_SIDE',
        sides.length ? 'Connect one side at a time.' : 'Say which side to connect.',
        `Usage: /migrate project connect ${project.name} --source|--destination`,
      );
    requirePrivateReply(ctx, `migrate project connect ${project.name} --${side}`);
    if (!ctx.services.connectLink)
      throw new UserError(
        'FORM_UNAVAILABLE',
        'The secure form is not available on this server yet (PUBLIC_URL and the form service are needed).',
      );
    const kind = parseConnectorUrl(side === 'source' ? project.sourceUrl : project.destinationUrl, side).kind;
    const { url, expiresAt } = await ctx.services.connectLink(project.id, side, ctx.actor);
    await ctx.replyPrivately(
      connectLinkMessage({ projectName: project.name, side, kind, url, expires: formatTime(expiresAt) }),
    );
  },
});
