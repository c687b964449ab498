import { storedStatus } from '../../engine/domain/types.ts';
import type { CommandContext } from './types.ts';
import type { Project } from '../../engine/engine.ts';
import { UserError } from '../../engine/errors.ts';
import { decide } from '../../engine/domain/state-machine.ts';
import type { ItemStatus } from '../../engine/domain/types.ts';
import { isTimeZone, parseLocalDateTime, projectZone } from '../../engine/domain/zone.ts';
import { projectWindowState } from '../../engine/domain/window.ts';
import { readProjectOptions } from '../../engine/domain/project-options.ts';
import { formatTime } from '../../cards/format.ts';
import { scheduledStartMessage } from '../../cards/schedule.ts';

/** The statuses `start --all` submits, and so schedules. */
const STARTABLE: ItemStatus[] = ['NotStarted', 'Stopped', 'Failed', 'Completed'];

/**
 * `start ADDRESS|--all --at "YYYY-MM-DD HH:MM" [--tz ZONE]`: the mailboxes start at that
 * time (read in the zone given, else the project's), when the scheduler submits them as
 * `start` would. The thread where their start will be posted is opened now.
 */
export async function scheduleStart(
  ctx: CommandContext,
  project: Project,
  opts: { at?: string; tz?: string; waiting?: boolean; prestage?: number },
  address?: string,
): Promise<void> {
  if (opts.at === undefined)
    throw new UserError(
      'START_AT',
      '--tz says the zone of --at: give the time too.',
      'Example: /migrate start --all --at "2026-12-05 22:00" --tz Europe/Berlin',
    );
  if (opts.waiting)
    throw new UserError(
      'START_TARGET',
      '--waiting sends requests now; it cannot be scheduled.',
      'Schedule a mailbox (ADDRESS) or --all.',
    );
  // A scheduled start runs the default pass; which kind of pass it runs is not kept with it.
  if (opts.prestage !== undefined)
    throw new UserError(
      'START_AT',
      '--at starts the full pass; a pre-stage (--prestage) cannot be scheduled yet.',
      'Start the pre-stage now, or schedule the full pass without --prestage.',
    );
  const timeZone = opts.tz ?? projectZone(project);
  if (!isTimeZone(timeZone))
    throw new UserError(
      'BAD_TIMEZONE',
      `"${timeZone}" is not a time zone I know. Use an IANA name such as Europe/Berlin or America/New_York.`,
    );
  const at = parseLocalDateTime(opts.at, timeZone);
  if (!at)
    throw new UserError(
      'BAD_TIME',
      `"${opts.at}" is not a date and time: expected "YYYY-MM-DD HH:MM" (24-hour clock), e.g. --at "2026-12-05 22:00".`,
    );
  if (at.getTime() <= ctx.engine.now().getTime())
    throw new UserError(
      'TIME_PAST',
      `${formatTime(at, timeZone)} is already past: give a later time, or start now without --at.`,
    );
  let items: Awaited<ReturnType<typeof ctx.engine.itemsWithStatus>>;
  if (address) {
    const item = await ctx.engine.getItem(project, address);
    // Refused as `start` would refuse it (waiting, queued or running), before a thread is opened.
    decide('submit', { address: item.sourceAddress, status: storedStatus(item.status), missingCredentials: false });
    items = [item];
  } else {
    items = await ctx.engine.itemsWithStatus(project, STARTABLE);
    if (!items.length)
      throw new UserError(
        'NOTHING_TO_START',
        `No mailbox of ${project.name} can be scheduled (they are all waiting, queued or running).`,
      );
  }
  const window = projectWindowState(project, at);
  const view = {
    at,
    timeZone,
    ...(window && !window.open
      ? { windowClosed: { window: readProjectOptions(project.options).options.window ?? '', opensAt: window.next } }
      : {}),
  };
  const thread = await ctx.openThread(scheduledStartMessage({ ...view, addresses: items.map((i) => i.sourceAddress) }));
  const r = await ctx.engine.scheduleStart(ctx.actor, items, at, { threadRef: thread ?? ctx.threadRef });
  await ctx.reply(
    scheduledStartMessage({
      ...view,
      addresses: r.scheduled.map((i) => i.sourceAddress),
      refused: r.refused.map((e) => e.message),
    }),
  );
}
