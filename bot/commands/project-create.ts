import { defineCommand } from './types.ts';
import { UserError } from '../../engine/errors.ts';
import { projectCreatedMessage } from '../../cards/replies.ts';
import { PROJECT_SETTINGS, checkServers } from './shared.ts';
import { DATE_RANGE_OPTIONS, readDateRange } from './date-range-options.ts';
import type { ProjectOptions } from '../../engine/domain/project-options.ts';

/** What the engine refuses about a new project's name. */
const NAME_REFUSALS = ['PROJECT_NAME', 'PROJECT_EXISTS', 'INVISIBLE_CHARACTER'];

/** `project create`: a project with its source and destination, owned by this channel. */
export const projectCreate = defineCommand({
  name: 'project create',
  summary: 'Create a migration project in this channel.',
  args: [{ name: 'NAME', required: true, kind: 'name' }],
  options: [
    {
      name: 'source',
      kind: 'string',
      value: 'URL',
      required: true,
      summary: 'Source server: imap://host:port, imaps://host:port or m365://TENANT_ID (required).',
    },
    {
      name: 'destination',
      kind: 'string',
      value: 'URL',
      required: true,
      summary: 'Destination server, same forms (required).',
    },
    ...PROJECT_SETTINGS,
    ...DATE_RANGE_OPTIONS,
  ],
  examples: [
    '/migrate project create acme --source imaps://mail.old.example:993 ' +
      '--destination imaps://mail.new.example:993 --self-service source',
  ],
  admin: true,
  async handler(ctx, { args, opts }) {
    // Checked before the project exists: a bad date creates nothing.
    const dates: ProjectOptions = {};
    const dateWords: string[] = [];
    readDateRange(opts, {}, dates, dateWords);
    let p = await ctx.engine
      .createProject(ctx.actor, {
        name: args.NAME,
        sourceUrl: opts.source,
        destinationUrl: opts.destination,
        selfService: opts['self-service'],
        notify: opts.notify,
        licenses: opts.licenses ?? ctx.services.defaultLicenses ?? null,
        channelRef: ctx.channelRef,
      })
      .catch((e: unknown) => {
        // The refusals about the name are the NAME argument's (the URLs' name their side).
        throw e instanceof UserError && NAME_REFUSALS.includes(e.code) ? e.at('NAME') : e;
      });
    if (dates.since || dates.until) p = await ctx.engine.updateProject(ctx.actor, p, { options: dates });
    // Kept whatever the servers say (the admin may be preparing them); the reply says what answered.
    const servers = await checkServers(ctx, p);
    await ctx.reply(
      projectCreatedMessage({
        name: p.name,
        sourceUrl: p.sourceUrl,
        destinationUrl: p.destinationUrl,
        selfService: p.selfService,
        licenses: p.licensesTotal,
        servers,
        ...(dateWords.length ? { dates: dateWords.join('; ') } : {}),
      }),
    );
  },
});
