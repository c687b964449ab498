import { defineCommand, type CommandContext, type OptionSpec, type OptsOf } from './types.ts';
import type { Item, Project, StartTarget } from '../../engine/engine.ts';
import type { PassKind } from '../../engine/domain/pass-kind.ts';
import type { Side } from '../../engine/domain/types.ts';
import { UserError } from '../../engine/errors.ts';
import { actionResultMessage } from '../../cards/replies.ts';
import { statusLabel } from '../../cards/status.ts';
import { PROJECT_OPTION, resolveProject } from './shared.ts';
import { PASS_KIND_OPTIONS, passKindOf } from './pass-kind-options.ts';
import { scheduleStart } from './schedule-start.ts';

/** Testing aids of the console: passwords read from files on the server. */
const PASSWORD_FILE_OPTIONS = [
  {
    name: 'source-password-file',
    kind: 'string',
    value: 'PATH',
    summary: 'Testing aid: read the source password from a file on the server.',
    surfaces: ['console'],
  },
  {
    name: 'destination-password-file',
    kind: 'string',
    value: 'PATH',
    summary: 'Testing aid: read the destination password from a file on the server.',
    surfaces: ['console'],
  },
] as const satisfies readonly OptionSpec[];

/** `start`: submit one mailbox, every waiting one, or all that are not running. */
export const start = defineCommand({
  name: 'start',
  summary:
    'Start (submit) a mailbox, every one waiting for its user (--waiting), ' +
    'or all (--all). Missing credentials are requested from the user.',
  args: [{ name: 'ADDRESS', required: false, kind: 'address' }],
  options: [
    { name: 'waiting', kind: 'flag', summary: 'Send a new request to every mailbox waiting for its user.' },
    { name: 'all', kind: 'flag', summary: 'Start every mailbox that is not started, stopped, failed or completed.' },
    ...PASS_KIND_OPTIONS,
    PROJECT_OPTION,
    {
      name: 'at',
      kind: 'string',
      value: '"YYYY-MM-DD HH:MM"',
      summary: "Start at that time instead of now (in the project's time zone, or --tz); `stop` cancels it.",
    },
    {
      name: 'tz',
      kind: 'string',
      value: 'ZONE',
      summary: "IANA time zone of --at, e.g. Europe/Berlin (default: the project's).",
    },
    ...PASSWORD_FILE_OPTIONS,
  ],
  examples: [
    '/migrate start alice@old.example',
    '/migrate start --all',
    '/migrate start --waiting',
    '/migrate start --all --prestage 30',
    '/migrate start --all --full',
    '/migrate start --all --at "2026-12-05 22:00"',
  ],
  admin: true,
  async handler(ctx, { args, opts }) {
    refuseUnclearTarget(args.ADDRESS, opts);
    const pass = passKindOf(opts);
    const project = await resolveProject(ctx, opts.project);
    if (opts.at !== undefined || opts.tz !== undefined) {
      await scheduleStart(ctx, project, opts, args.ADDRESS);
      return;
    }
    if (args.ADDRESS) {
      await startOne(ctx, project, args.ADDRESS, opts, pass);
      return;
    }
    const items = await ctx.engine.startTargets(
      project,
      opts.waiting ? ['WaitingForUser'] : ['NotStarted', 'Stopped', 'Failed', 'Completed'],
    );
    if (!items.length)
      throw new UserError(
        'NOTHING_TO_START',
        opts.waiting
          ? `No mailbox of ${project.name} is waiting for its user.`
          : `No mailbox of ${project.name} can be started (they are all waiting, queued or running).`,
      );
    const thread = await ctx.openThread(
      actionResultMessage(
        'started',
        items.map((i) => i.sourceAddress),
        [],
        opts.waiting ? 'Asking again for' : 'Starting',
      ),
    );
    const r = opts.waiting ? await askAgain(ctx, items, thread) : await startAll(ctx, items, thread, pass);
    await ctx.reply(actionResultMessage('started', r.done, r.refused, opts.waiting ? 'Asked again for' : 'Started'));
  },
});

type ItemWithProject = Item & { project: Project };

/** What a start of several mailboxes did: one line for each mailbox done, the refusals. */
interface StartReport {
  done: string[];
  refused: string[];
}

/** Refuses a `start` that names no target, or more than one of ADDRESS, --waiting and --all. */
function refuseUnclearTarget(address: string | undefined, opts: { waiting?: boolean; all?: boolean }): void {
  const chosen = [address ? 'ADDRESS' : '', opts.waiting ? '--waiting' : '', opts.all ? '--all' : ''].filter(Boolean);
  if (chosen.length !== 1)
    throw new UserError(
      'START_TARGET',
      chosen.length ? `Give only one of ${chosen.join(', ')}.` : 'Say what to start.',
      'Usage: /migrate start ADDRESS | --waiting | --all',
    );
}

/**
 * Starts one mailbox, its test passwords set first; a queued one is only reported. Refused
 * credentials are forgotten, so the user is asked again.
 */
async function startOne(
  ctx: CommandContext,
  project: Project,
  address: string,
  opts: OptsOf<typeof PASSWORD_FILE_OPTIONS>,
  pass: PassKind,
): Promise<void> {
  const item = await setPasswordsFromFiles(ctx, await ctx.engine.getItem(project, address), opts);
  if (item.status === 'Queued') {
    await ctx.reply(actionResultMessage('started', [`${item.sourceAddress}: queued`], [], 'Started'));
    return;
  }
  const forgot = await ctx.engine.forgetRefusedCredentials(ctx.actor, item);
  const note = forgot ? ` (${refusedNote(forgot)})` : '';
  const thread = await ctx.openThread(actionResultMessage('started', [`${item.sourceAddress}${note}`], [], 'Starting'));
  const after = await ctx.engine.startItem(
    ctx.actor,
    forgot ? await ctx.engine.getItem(project, item.sourceAddress) : item,
    { threadRef: thread ?? ctx.threadRef, pass },
  );
  if (!thread)
    await ctx.reply(
      actionResultMessage('started', [`${after.sourceAddress}: ${statusLabel(after.status)}${note}`], [], 'Started'),
    );
}

/** Sets the passwords `--source-password-file` and `--destination-password-file` name (console only). */
async function setPasswordsFromFiles(
  ctx: CommandContext,
  item: ItemWithProject,
  opts: OptsOf<typeof PASSWORD_FILE_OPTIONS>,
): Promise<ItemWithProject> {
  for (const side of ['source', 'destination'] as const) {
    const file = opts[`${side}-password-file`];
    if (typeof file === 'string') {
      const password = (await ctx.services.readLocalFile!(file)).replace(/\r?\n$/, '');
      item = await ctx.engine.setCredential(
        ctx.actor,
        item,
        side,
        side === 'source' ? item.sourceLogin : item.destinationLogin,
        { password },
      );
    }
  }
  return item;
}

/** `--waiting`: a new request to each mailbox waiting for its user. */
async function askAgain(ctx: CommandContext, items: StartTarget[], thread: string | null): Promise<StartReport> {
  // Batched like --all: a few transactions for thousands of items; the outreach reports the requests as one
  // summary.
  const r = await ctx.engine.resendItems(ctx.actor, items, { threadRef: thread });
  return {
    done: r.asked.map((item) => `${item.sourceAddress}: a new request goes out`),
    refused: r.refused.map((e) => e.message),
  };
}

/** `--all`: starts every mailbox given, the credentials a server refused forgotten first. */
async function startAll(
  ctx: CommandContext,
  items: StartTarget[],
  thread: string | null,
  pass: PassKind,
): Promise<StartReport> {
  const refused: string[] = [];
  // Credentials a server refused are forgotten first (only failed items can have them), so the user is asked again.
  const forgotten = new Map<string, Side>();
  const ready = [];
  for (const item of items) {
    try {
      const side = await ctx.engine.forgetRefusedCredentials(ctx.actor, item);
      if (side) forgotten.set(item.id, side);
      ready.push(item);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      refused.push(e.message);
    }
  }
  // Batched: a few transactions for thousands of items, one summary post per batch in the thread.
  const r = await ctx.engine.startItems(ctx.actor, ready, { threadRef: thread ?? ctx.threadRef, pass });
  const done = r.changed.map((c) => {
    const side = forgotten.get(c.item.id);
    return `${c.item.sourceAddress}: ${statusLabel(c.to)}${side ? ` (${refusedNote(side)})` : ''}`;
  });
  for (const e of r.refused) refused.push(e.message);
  return { done, refused };
}

/** What `start` did with credentials a server refused: they are not tried again. */
function refusedNote(side: Side): string {
  return `its ${side} password was refused last time, so it was forgotten and the user is asked again`;
}
