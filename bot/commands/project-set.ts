import { defineCommand, type CommandContext, type OptionSpec, type OptsOf } from './types.ts';
import type { Engine, Project } from '../../engine/engine.ts';
import type { Side } from '../../engine/domain/types.ts';
import { UserError } from '../../engine/errors.ts';
import { refuseInvisible } from '../../engine/domain/invisible.ts';
import { projectUpdatedMessage } from '../../cards/replies.ts';
import { PROJECT_SETTINGS, checkServers } from './shared.ts';
import { isTimeZone, serverTimeZone, validateSchedule } from '../scheduler/cron.ts';
import { DATE_RANGE_OPTIONS, readDateRange } from './date-range-options.ts';
import { readProjectOptions, type ProjectOptions } from '../../engine/domain/project-options.ts';
import { parseWindow, windowText } from '../../engine/domain/window.ts';
import { projectZone } from '../../engine/domain/zone.ts';

/** `--digest` and `--tz`: when the project's digest is posted, in which time zone. */
const SCHEDULE_OPTIONS = [
  {
    name: 'digest',
    kind: 'string',
    value: '"CRON"|off',
    summary: 'When the digest is posted, as a cron expression (e.g. "0 9 * * 1-5"), or off.',
  },
  {
    name: 'tz',
    kind: 'string',
    value: 'ZONE',
    summary: 'IANA time zone of the digest schedule and of the times users see, e.g. Europe/Berlin.',
  },
] as const satisfies readonly OptionSpec[];

/**
 * Settings kept in the project's options: how end users are asked for their credentials, what
 * is copied and how fast, what end users are told.
 */
const STORED_OPTIONS = [
  {
    name: 'reminders',
    kind: 'list',
    value: '"DAYS"|off',
    parse: parseReminderDays,
    summary: 'Days after a credential request when unanswered users are reminded, e.g. "1,3" (default), or off.',
  },
  {
    name: 'attempts',
    kind: 'number',
    value: 'N',
    integer: { min: 1, max: 20 },
    summary: 'Attempts a user gets on the credential form before the mailbox fails (default 3).',
  },
  {
    name: 'link-hours',
    kind: 'number',
    value: 'N',
    integer: { min: 1, max: 720 },
    summary: 'Hours a credential link stays valid (default 72).',
  },
  {
    name: 'wipe-credentials',
    kind: 'enum',
    choices: ['on', 'off'],
    summary: 'Forget stored credentials once a mailbox completes.',
  },
  {
    name: 'include',
    kind: 'list',
    value: '"FOLDERS"|off',
    parse: (raw: string) => parseFolderList(raw, 'include'),
    summary: 'Copy only these folders (and their subfolders), e.g. "INBOX, Sent, Projects/*"; off copies all.',
  },
  {
    name: 'exclude',
    kind: 'list',
    value: '"FOLDERS"|off',
    parse: (raw: string) => parseFolderList(raw, 'exclude'),
    summary: 'Never copy these folders (and their subfolders), e.g. "Trash, Junk, Old/*"; off copies all.',
  },
  {
    name: 'rename',
    kind: 'string',
    value: '"FROM=TO, …"|off',
    summary: 'Copy a folder (and its subfolders) under another name, e.g. "Old Archive=Archive/Old".',
  },
  {
    name: 'rate',
    kind: 'string',
    value: 'N|off',
    summary:
      "At most N messages an hour per mailbox, a provider's limit " +
      '(e.g. 3600 for Office 365); off: as fast as the servers go.',
  },
  {
    name: 'org',
    kind: 'string',
    value: '"NAME"|off',
    summary: "The organisation's name users see in requests and on the form (off: the install's, MAILFERRY_ORG_NAME).",
  },
  {
    name: 'support',
    kind: 'string',
    value: '"CONTACT"|off',
    summary:
      'Whom users ask, e.g. "helpdesk@acme.example, +1 555 0100" (off: the install\'s, MAILFERRY_SUPPORT_CONTACT).',
  },
  {
    name: 'completion-notice',
    kind: 'enum',
    choices: ['on', 'off'],
    summary: 'Tell end users when their mailbox has been copied: what, where it now lives, whom to ask (default on).',
  },
] as const satisfies readonly OptionSpec[];

/** `--window`: the hours of the day a pass may copy. */
const WINDOW_OPTION = {
  name: 'window',
  kind: 'string',
  value: '"HH:MM-HH:MM"|off',
  summary:
    'Copy only inside these hours of the project\'s time zone, e.g. "22:00-06:00": a pass ' +
    'pauses when the window closes and resumes when it opens; off copies at any time.',
} as const satisfies OptionSpec;

/** `project set`: digest schedule, time zone, self-service default, license pool. */
export const projectSet = defineCommand({
  name: 'project set',
  summary:
    "Change a project's settings (digest, time zone, self-service, licenses, reminders, form attempts, " +
    'link validity, folder rules, organisation and support contact, completion notice, admin credentials).',
  args: [{ name: 'NAME', required: true, kind: 'name' }],
  options: [
    ...SCHEDULE_OPTIONS,
    ...PROJECT_SETTINGS,
    ...STORED_OPTIONS,
    ...DATE_RANGE_OPTIONS,
    WINDOW_OPTION,
    {
      name: 'clear-admin',
      kind: 'enum',
      choices: ['source', 'destination'],
      summary:
        'Forget the admin credentials of that side (`project connect`); ' +
        'its mailboxes then need their own credentials again.',
    },
  ],
  examples: [
    '/migrate project set acme --digest "0 9 * * 1-5" --tz Europe/Berlin',
    '/migrate project set acme --licenses 250',
    '/migrate project set acme --reminders "1,3,7" --attempts 5',
    '/migrate project set acme --exclude "Trash, Junk" --rename "Old Archive=Archive/Old"',
    '/migrate project set acme --org "ACME Corp" --support "helpdesk@acme.example"',
    '/migrate project set acme --clear-admin source',
    '/migrate project set acme --since 2019-01-01 --until 2024-12-31',
    '/migrate project set acme --window "22:00-06:00"',
  ],
  admin: true,
  async handler(ctx, { args, opts }) {
    const project = await ctx.engine.getProject(args.NAME);
    const changes: string[] = [];
    const update: ProjectUpdate = {};
    readSchedule(opts, project, update, changes);
    readSettings(opts, update, changes);
    const options: ProjectOptions = {};
    readRequestOptions(opts, options, changes);
    readCopyOptions(opts, options, changes);
    readUserFacingOptions(opts, options, changes);
    readDateRange(opts, readProjectOptions(project.options).options, options, changes);
    readWindowOption(opts, project, options, changes);
    if (Object.keys(options).length) update.options = options;
    const side = opts['clear-admin'];
    const cleared = side === undefined ? undefined : await clearAdmin(ctx, project, side);
    if (!changes.length && cleared) {
      await ctx.reply(projectUpdatedMessage(project.name, [cleared]));
      return;
    }
    if (cleared) changes.push(cleared);
    if (!changes.length)
      throw new UserError(
        'NOTHING_TO_SET',
        'Nothing to change.',
        'Usage: /migrate project set NAME [--digest "CRON"|off] [--tz ZONE] [--self-service …] [--licenses N]',
      );
    // Re-read after a clear: the side's authentication mode changed.
    await ctx.engine.updateProject(ctx.actor, cleared ? await ctx.engine.getProject(project.name) : project, update);
    await ctx.reply(projectUpdatedMessage(project.name, changes, await checkServers(ctx, project)));
  },
});

/** The changes `Engine.updateProject` takes. */
type ProjectUpdate = Parameters<Engine['updateProject']>[2];

/** `--digest` and `--tz` into `update`; a schedule is checked in the zone it will run in. */
function readSchedule(
  opts: OptsOf<typeof SCHEDULE_OPTIONS>,
  project: Project,
  update: ProjectUpdate,
  changes: string[],
): void {
  if (opts.digest !== undefined) {
    if (opts.digest.toLowerCase() === 'off') {
      update.digestCron = null;
      changes.push('digest off');
    } else {
      const tz = opts.tz ?? project.digestTz ?? serverTimeZone();
      const problem = validateSchedule(opts.digest, tz);
      if (problem) throw new UserError('BAD_SCHEDULE', problem, 'Example: --digest "0 9 * * 1-5" --tz Europe/Berlin');
      update.digestCron = opts.digest;
      changes.push(`digest "${opts.digest}"`);
    }
  }
  if (opts.tz !== undefined) {
    if (!isTimeZone(opts.tz))
      throw new UserError(
        'BAD_TIMEZONE',
        `"${opts.tz}" is not a time zone I know. Use an IANA name such as Europe/Berlin or America/New_York.`,
      );
    update.digestTz = opts.tz;
    changes.push(`time zone ${opts.tz}`);
  }
}

/** `--self-service`, `--notify` and `--licenses` into `update`. */
function readSettings(opts: OptsOf<typeof PROJECT_SETTINGS>, update: ProjectUpdate, changes: string[]): void {
  if (opts['self-service'] !== undefined) {
    update.selfService = opts['self-service'];
    changes.push(`self-service ${opts['self-service']}`);
  }
  if (opts.notify !== undefined) {
    update.notify = opts.notify;
    changes.push(`notify by ${opts.notify}`);
  }
  if (opts.licenses !== undefined) {
    update.licenses = opts.licenses;
    changes.push(`license pool ${opts.licenses}`);
  }
}

/** Reminders, form attempts, link validity and wiping into the project's options. */
function readRequestOptions(opts: OptsOf<typeof STORED_OPTIONS>, options: ProjectOptions, changes: string[]): void {
  if (opts.reminders !== undefined) {
    options.reminderDays = opts.reminders;
    changes.push(
      options.reminderDays.length ? `reminders after ${options.reminderDays.join(', ')} day(s)` : 'reminders off',
    );
  }
  if (opts.attempts !== undefined) {
    options.maxAttempts = opts.attempts;
    changes.push(`${opts.attempts} form attempts`);
  }
  if (opts['link-hours'] !== undefined) {
    options.linkTtlHours = opts['link-hours'];
    changes.push(`links valid ${opts['link-hours']} h`);
  }
  if (opts['wipe-credentials'] !== undefined) {
    options.wipeCredentialsOnComplete = opts['wipe-credentials'] === 'on';
    changes.push(`credentials ${options.wipeCredentialsOnComplete ? 'wiped' : 'kept'} after completion`);
  }
}

/** Folder rules and the rate limit into the project's options. */
function readCopyOptions(opts: OptsOf<typeof STORED_OPTIONS>, options: ProjectOptions, changes: string[]): void {
  // Folder rules (engine/copy/map-folders.ts): names with `/` between levels, without a
  // server's namespace prefix (INBOX.); `*` matches any run of characters.
  for (const kind of ['include', 'exclude'] as const) {
    const names = opts[kind];
    if (names === undefined) continue;
    options[kind] = names;
    changes.push(names.length ? `${kind === 'include' ? 'only' : 'never'} ${names.join(', ')}` : `${kind} rule off`);
  }
  if (opts.rename !== undefined) {
    options.rename = parseRenames(opts.rename);
    const pairs = Object.entries(options.rename);
    changes.push(
      pairs.length ? `folders renamed: ${pairs.map(([a, b]) => `${a} → ${b}`).join(', ')}` : 'rename rules off',
    );
  }
  if (opts.rate !== undefined) {
    const off = opts.rate.trim().toLowerCase() === 'off';
    const n = Number(opts.rate);
    if (!off && (!Number.isInteger(n) || n < 60 || n > 10_000_000))
      throw new UserError(
        'BAD_RATE',
        `"${opts.rate}" is not a rate: expected messages per hour, a whole number from 60 up (e.g. 3600), or off.`,
      );
    options.maxMessagesPerHour = off ? 0 : n;
    changes.push(off ? 'no rate limit' : `at most ${n} messages an hour per mailbox`);
  }
}

/** The organisation, the support contact and the completion notice into the project's options. */
function readUserFacingOptions(opts: OptsOf<typeof STORED_OPTIONS>, options: ProjectOptions, changes: string[]): void {
  if (opts.org !== undefined) {
    options.orgName = parseShownText(opts.org, 'organisation name', 100);
    changes.push(options.orgName ? `organisation "${options.orgName}"` : "organisation: the install's");
  }
  if (opts.support !== undefined) {
    options.supportContact = parseShownText(opts.support, 'support contact', 200);
    changes.push(
      options.supportContact ? `support contact "${options.supportContact}"` : "support contact: the install's",
    );
  }
  if (opts['completion-notice'] !== undefined) {
    options.completionNotice = opts['completion-notice'] === 'on';
    changes.push(
      options.completionNotice ? 'users told when their mailbox is copied' : 'no completion notice to users',
    );
  }
}

/** `--window` into the project's options; the change names the zone the hours are in. */
function readWindowOption(
  opts: OptsOf<readonly [typeof WINDOW_OPTION, ...typeof SCHEDULE_OPTIONS]>,
  project: Project,
  options: ProjectOptions,
  changes: string[],
): void {
  if (opts.window === undefined) return;
  options.window = parseWindowOption(opts.window);
  changes.push(
    options.window
      ? `copy window ${options.window} (${opts.tz ?? projectZone(project)})`
      : 'no copy window: copying at any time',
  );
}

/** Forgets the admin credentials of one side; says what that did. */
async function clearAdmin(ctx: CommandContext, project: Project, side: Side): Promise<string> {
  return (await ctx.engine.clearAdminCredential(ctx.actor, project, side))
    ? `admin credentials of the ${side} forgotten: ${side} mailboxes need their own credentials again`
    : `the ${side} had no admin credentials`;
}

/**
 * A text end users will read (organisation name, support contact): trimmed, one line, no
 * invisible character, at most `max` characters; `off` → undefined (the install's applies).
 */
export function parseShownText(raw: string, what: string, max: number): string | undefined {
  const v = raw.trim();
  if (v.toLowerCase() === 'off') return undefined;
  if (!v) throw new UserError('BAD_TEXT', `The ${what} is empty: give it in quotes, or off.`);
  if (/[\r\n]/.test(v)) throw new UserError('BAD_TEXT', `The ${what} must be one line.`);
  if (v.length > max)
    throw new UserError('BAD_TEXT', `The ${what} is ${v.length} characters long; at most ${max} are shown.`);
  refuseInvisible(v, what);
  return v;
}

/** `"1,3"` → [1, 3]; `off` → []. Refuses anything else with the expected form. */
export function parseReminderDays(raw: string): number[] {
  if (raw.trim().toLowerCase() === 'off') return [];
  const days = raw
    .split(/[,\s]+/)
    .filter(Boolean)
    .map(Number);
  if (!days.length || days.some((d) => !Number.isInteger(d) || d < 1 || d > 60))
    throw new UserError(
      'BAD_REMINDERS',
      `"${raw}" is not a list of days: expected whole days from 1 to 60 separated by commas, e.g. "1,3", or off.`,
    );
  return [...new Set(days)].sort((a, b) => a - b);
}

/** Normalises a folder name as rules use it: levels separated by `/`, no empty level. */
function folderName(raw: string): string {
  return raw
    .split('/')
    .map((l) => l.trim())
    .filter(Boolean)
    .join('/');
}

/** `"Trash, Junk, Old/*"` → ['Trash', 'Junk', 'Old/*']; `off` → []. */
export function parseFolderList(raw: string, what: 'include' | 'exclude'): string[] {
  if (raw.trim().toLowerCase() === 'off') return [];
  const names = raw.split(',').map(folderName).filter(Boolean);
  if (!names.length)
    throw new UserError(
      'BAD_FOLDERS',
      `"${raw}" names no folder: expected folder names separated by commas, e.g. --${what} "Trash, Junk", or off.`,
    );
  return [...new Set(names)];
}

/** `"Old Archive=Archive/Old, Sent Items=Sent"` → { 'Old Archive': 'Archive/Old', … }; `off` → {}. */
export function parseRenames(raw: string): Record<string, string> {
  if (raw.trim().toLowerCase() === 'off') return {};
  const out: Record<string, string> = {};
  for (const part of raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const i = part.indexOf('=');
    const from = i > 0 ? folderName(part.slice(0, i)) : '';
    const to = i > 0 ? folderName(part.slice(i + 1)) : '';
    if (!from || !to)
      throw new UserError(
        'BAD_RENAME',
        `"${part}" is not a rename: expected FROM=TO, e.g. --rename "Old Archive=Archive/Old".`,
      );
    if (/[*]/.test(from + to)) throw new UserError('BAD_RENAME', `"${part}": a rename names folders, without *.`);
    out[from] = to;
  }
  if (!Object.keys(out).length)
    throw new UserError('BAD_RENAME', `"${raw}" names no rename: expected FROM=TO pairs separated by commas, or off.`);
  return out;
}

/** `"22:00-06:00"` → `22:00-06:00` as stored; `off` → undefined (no window). */
export function parseWindowOption(raw: string): string | undefined {
  if (raw.trim().toLowerCase() === 'off') return undefined;
  const w = parseWindow(raw);
  if (typeof w === 'string')
    throw new UserError(
      'BAD_WINDOW',
      w,
      'Example: --window "22:00-06:00" (in the project\'s time zone, --tz), or --window off.',
    );
  return windowText(w);
}
