import { UserError } from '../../engine/errors.ts';
import { FAILURE_REASONS, isFailureReason } from '../../engine/domain/types.ts';
import type { Item, Project } from '../../engine/engine.ts';
import type { ItemView } from '../../cards/status.ts';
import type { ItemTimingView, WindowView } from '../../cards/schedule.ts';
import { projectWindowState } from '../../engine/domain/window.ts';
import { projectZone } from '../../engine/domain/zone.ts';
import { readProjectOptions } from '../../engine/domain/project-options.ts';
import type { ServerCheckView } from '../../cards/replies.ts';
import type { CommandContext, OptionSpec } from './types.ts';

/** `--project NAME`, on every command that works on items. */
export const PROJECT_OPTION = {
  name: 'project',
  kind: 'string',
  value: 'NAME',
  summary: "The project to use when the channel has several (default: the channel's project).",
} as const satisfies OptionSpec;

/** Whose address is asked for credentials: `--ask`, `--self-service`. */
export const ASK_CHOICES = ['source', 'destination', 'both'] as const;
/** How a user is asked: `--notify`. */
export const NOTIFY_CHOICES = ['email', 'chat', 'both'] as const;

/** `--self-service`: whose address is asked by default. */
export const SELF_SERVICE_SETTING = {
  name: 'self-service',
  kind: 'enum',
  choices: ASK_CHOICES,
  summary: 'Whose address is asked for credentials by default (default: source).',
} as const satisfies OptionSpec;
/** `--notify`: how users are asked by default. */
export const NOTIFY_SETTING = {
  name: 'notify',
  kind: 'enum',
  choices: NOTIFY_CHOICES,
  summary: 'How users are asked for credentials by default (default: email).',
} as const satisfies OptionSpec;
/** The project settings `project create` and `project set` share (defaults named where they apply). */
export const PROJECT_SETTINGS = [
  SELF_SERVICE_SETTING,
  NOTIFY_SETTING,
  {
    name: 'licenses',
    kind: 'number',
    value: 'N',
    integer: { min: 0, max: 1_000_000 },
    summary: 'Size of the license pool (default for new projects: MAILFERRY_LICENSES, or no limit).',
  },
] as const satisfies readonly OptionSpec[];

/**
 * The project a command works on: the one named with --project, or the channel's own
 * (a project belongs to the channel it was created in).
 */
export async function resolveProject(ctx: CommandContext, name?: string): Promise<Project> {
  if (name !== undefined) return ctx.engine.getProject(name);
  const here = await ctx.engine.projectsInChannel(ctx.channelRef);
  const [only] = here;
  if (only && here.length === 1) return only;
  if (!only)
    throw new UserError(
      'NO_PROJECT_HERE',
      'There is no migration project in this channel.',
      'Create one with `/migrate project create NAME --source imaps://old.example:993 ' +
        '--destination imaps://new.example:993`, or name one with `--project NAME`.',
    );
  throw new UserError(
    'SEVERAL_PROJECTS',
    `This channel has several projects (${here.map((p) => p.name).join(', ')}).`,
    'Say which with `--project NAME`.',
  );
}

/**
 * Looks at both servers of a project (at once) for the reply of `project create` and
 * `project set`; nothing when the install has no probe.
 */
export async function checkServers(
  ctx: CommandContext,
  p: { sourceUrl: string; destinationUrl: string },
): Promise<ServerCheckView[] | undefined> {
  const probe = ctx.services.probeServer;
  if (!probe) return undefined;
  const sides = [
    ['source', p.sourceUrl],
    ['destination', p.destinationUrl],
  ] as const;
  return Promise.all(sides.map(async ([side, url]) => ({ side, ...(await probe(url)) })));
}

/** The sentence of an item's failure reason. */
export function reasonText(reason: string | null | undefined): string | undefined {
  return reason && isFailureReason(reason) ? FAILURE_REASONS[reason] : (reason ?? undefined);
}

/** An item row as the cards see it. */
export function itemView(i: Item): ItemView {
  return {
    sourceAddress: i.sourceAddress,
    destinationAddress: i.destinationAddress,
    status: i.status,
    failureReason: i.failureReason,
    reasonText: reasonText(i.failureReason),
    failureDetail: i.failureDetail,
    messagesCopied: i.messagesCopied,
    bytesCopied: Number(i.bytesCopied),
    messagesSkipped: i.messagesSkipped,
    license: i.license,
  };
}

/**
 * Refuses, before any link is made, a command whose answer is a private link when the
 * conversation has no private reply (a Teams channel: everyone there would see the link,
 * and whoever opens it first can use it).
 */
export function requirePrivateReply(ctx: CommandContext, command: string): void {
  if (ctx.canReplyPrivately) return;
  throw new UserError(
    'PRIVATE_CHAT_NEEDED',
    'This answer is a private link, and everyone in this conversation would see it.',
    `Send \`${command}\` in your 1:1 chat with MailFerry instead.`,
  );
}

/**
 * What an item waits for in time, as status shows it: its scheduled start, or (queued) the
 * project's copy window while it is closed; a queued item that already had a pass reads as
 * paused by the window.
 */
export function itemTiming(i: Item, project: Project, now: Date): ItemTimingView | undefined {
  const timeZone = projectZone(project);
  if (i.startAt) return { timeZone, startAt: i.startAt };
  if (i.status !== 'Queued') return undefined;
  const w = projectWindowState(project, now);
  return w && !w.open ? { timeZone, window: { opensAt: w.next, paused: i.passCount > 0 } } : undefined;
}

/** The project's copy window and where `now` falls in it; undefined without one. */
export function windowView(project: Project, now: Date): WindowView | undefined {
  const window = readProjectOptions(project.options).options.window;
  const state = projectWindowState(project, now);
  return window && state ? { window, timeZone: projectZone(project), ...state } : undefined;
}
