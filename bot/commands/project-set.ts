import type { CommandDef } from './types.ts';
import type { NotifyVia, Sides } from '../../engine/domain/types.ts';
import { UserError } from '../../engine/errors.ts';
import { projectUpdatedMessage } from '../../cards/replies.ts';
import { PROJECT_SETTINGS } from './shared.ts';
import { isTimeZone, serverTimeZone, validateSchedule } from '../scheduler/cron.ts';

/** `project set`: digest schedule, time zone, self-service default, license pool. */
export const projectSet: CommandDef = {
  name: 'project set',
  summary: 'Change a project\'s settings (digest, time zone, self-service, licenses, reminders, form attempts, link validity).',
  args: [{ name: 'NAME', required: true, kind: 'name' }],
  options: [
    { name: 'digest', value: '"CRON"|off', summary: 'When the digest is posted, as a cron expression (e.g. "0 9 * * 1-5"), or off.' },
    { name: 'tz', value: 'ZONE', summary: 'IANA time zone of the digest schedule, e.g. Europe/Berlin.' },
    ...PROJECT_SETTINGS,
    { name: 'reminders', value: '"DAYS"|off', summary: 'Days after a credential request when unanswered users are reminded, e.g. "1,3" (default), or off.' },
    { name: 'attempts', value: 'N', integer: { min: 1, max: 20 }, summary: 'Attempts a user gets on the credential form before the mailbox fails (default 3).' },
    { name: 'link-hours', value: 'N', integer: { min: 1, max: 720 }, summary: 'Hours a credential link stays valid (default 72).' },
    { name: 'wipe-credentials', value: 'on|off', choices: ['on', 'off'], summary: 'Forget stored credentials once a mailbox completes.' },
  ],
  examples: ['/migrate project set acme --digest "0 9 * * 1-5" --tz Europe/Berlin', '/migrate project set acme --licenses 250', '/migrate project set acme --reminders "1,3,7" --attempts 5'],
  admin: true,
  async handler(ctx, { args, opts }) {
    const project = await ctx.engine.getProject(args.NAME);
    const changes: string[] = [];
    const update: Parameters<typeof ctx.engine.updateProject>[2] = {};
    if (typeof opts.digest === 'string') {
      if (opts.digest.toLowerCase() === 'off') {
        update.digestCron = null;
        changes.push('digest off');
      } else {
        const tz = typeof opts.tz === 'string' ? opts.tz : (project.digestTz ?? serverTimeZone());
        const problem = validateSchedule(opts.digest, tz);
        if (problem) throw new UserError('BAD_SCHEDULE', problem, 'Example: --digest "0 9 * * 1-5" --tz Europe/Berlin');
        update.digestCron = opts.digest;
        changes.push(`digest "${opts.digest}"`);
      }
    }
    if (typeof opts.tz === 'string') {
      if (!isTimeZone(opts.tz)) throw new UserError('BAD_TIMEZONE', `"${opts.tz}" is not a time zone I know. Use an IANA name such as Europe/Berlin or America/New_York.`);
      update.digestTz = opts.tz;
      changes.push(`time zone ${opts.tz}`);
    }
    if (typeof opts['self-service'] === 'string') {
      update.selfService = opts['self-service'] as Sides;
      changes.push(`self-service ${opts['self-service']}`);
    }
    if (typeof opts.notify === 'string') {
      update.notify = opts.notify as NotifyVia;
      changes.push(`notify by ${opts.notify}`);
    }
    if (typeof opts.licenses === 'string') {
      update.licenses = Number(opts.licenses);
      changes.push(`license pool ${opts.licenses}`);
    }
    const options: NonNullable<typeof update.options> = {};
    if (typeof opts.reminders === 'string') {
      options.reminderDays = parseReminderDays(opts.reminders);
      changes.push(options.reminderDays.length ? `reminders after ${options.reminderDays.join(', ')} day(s)` : 'reminders off');
    }
    if (typeof opts.attempts === 'string') {
      options.maxAttempts = Number(opts.attempts);
      changes.push(`${opts.attempts} form attempts`);
    }
    if (typeof opts['link-hours'] === 'string') {
      options.linkTtlHours = Number(opts['link-hours']);
      changes.push(`links valid ${opts['link-hours']} h`);
    }
    if (typeof opts['wipe-credentials'] === 'string') {
      options.wipeCredentialsOnComplete = opts['wipe-credentials'] === 'on';
      changes.push(`credentials ${options.wipeCredentialsOnComplete ? 'wiped' : 'kept'} after completion`);
    }
    if (Object.keys(options).length) update.options = options;
    if (!changes.length) throw new UserError('NOTHING_TO_SET', 'Nothing to change.', 'Usage: /migrate project set NAME [--digest "CRON"|off] [--tz ZONE] [--self-service …] [--licenses N]');
    await ctx.engine.updateProject(ctx.actor, project, update);
    await ctx.reply(projectUpdatedMessage(project.name, changes));
  },
};

/** `"1,3"` → [1, 3]; `off` → []. Refuses anything else with the expected form. */
export function parseReminderDays(raw: string): number[] {
  if (raw.trim().toLowerCase() === 'off') return [];
  const days = raw.split(/[,\s]+/).filter(Boolean).map(Number);
  if (!days.length || days.some((d) => !Number.isInteger(d) || d < 1 || d > 60))
    throw new UserError('BAD_REMINDERS', `"${raw}" is not a list of days: expected whole days from 1 to 60 separated by commas, e.g. "1,3", or off.`);
  return [...new Set(days)].sort((a, b) => a - b);
}
