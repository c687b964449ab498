import { dayStart } from './pass-kind.ts';
import { parseWindow } from './window.ts';

/** Per-project settings kept as JSON in `Project.options`. */
export interface ProjectOptions {
  include?: string[];
  exclude?: string[];
  rename?: Record<string, string>;
  /** Hours a credential link stays valid (default 72). */
  linkTtlHours?: number;
  /** Attempts a user gets on the form before the item fails (default 3). */
  maxAttempts?: number;
  /** Days after a request when reminders go out (default [1, 3]). */
  reminderDays?: number[];
  /** Forget stored credentials once an item completes. */
  wipeCredentialsOnComplete?: boolean;
  /** At most this many messages an hour per mailbox (a provider's limit); 0 or absent: no limit. */
  maxMessagesPerHour?: number;
  /** The organisation's name end users see (absent: the install's). */
  orgName?: string;
  /** Whom end users ask (absent: the install's). */
  supportContact?: string;
  /** Whether end users are told when their mailbox has been copied (absent: yes). */
  completionNotice?: boolean;
  /** Copy only mail received on or after this day (`YYYY-MM-DD`, UTC; by INTERNALDATE), on every pass. */
  since?: string;
  /** Copy only mail received on or before this day (`YYYY-MM-DD`, UTC, the day included), on every pass. */
  until?: string;
  /** Daily copy window in the project's time zone (`22:00-06:00`); absent: copy at any time. */
  window?: string;
}

/** The project's stored settings cannot be read: a pass, a link or a reminder would otherwise run without them. */
export class ProjectOptionsError extends Error {
  readonly code = 'PROJECT_OPTIONS';
  constructor(
    readonly projectName: string,
    readonly problems: string[],
  ) {
    super(
      `The stored settings of project ${projectName} cannot be read ` +
        `(${problems.join('; ')}). Set them again with "project set ${projectName} …".`,
    );
  }
}

const isDay = (v: unknown) => typeof v === 'string' && dayStart(v) !== undefined;
const isStringList = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string');
const isCount = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** What each known field must hold. Unknown fields are kept: a newer version may have written them. */
const CHECKS: { [K in keyof Required<ProjectOptions>]: [(v: unknown) => boolean, string] } = {
  include: [isStringList, 'a list of folder names'],
  exclude: [isStringList, 'a list of folder names'],
  rename: [
    (v) =>
      typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((s) => typeof s === 'string'),
    'a map of folder names',
  ],
  linkTtlHours: [(v) => isCount(v) && (v as number) >= 1, 'a whole number of hours (1 or more)'],
  maxAttempts: [(v) => isCount(v) && (v as number) >= 1, 'a whole number (1 or more)'],
  reminderDays: [(v) => Array.isArray(v) && v.every(isCount), 'a list of whole days'],
  wipeCredentialsOnComplete: [(v) => typeof v === 'boolean', 'true or false'],
  maxMessagesPerHour: [isCount, 'a whole number'],
  orgName: [(v) => typeof v === 'string', 'a text'],
  supportContact: [(v) => typeof v === 'string', 'a text'],
  completionNotice: [(v) => typeof v === 'boolean', 'true or false'],
  since: [isDay, 'a day as YYYY-MM-DD'],
  until: [isDay, 'a day as YYYY-MM-DD'],
  window: [(v) => typeof v === 'string' && typeof parseWindow(v) !== 'string', 'a window such as "22:00-06:00"'],
};

/**
 * Reads a project's settings JSON and checks every known field (a pass refuses to run with problems; links and
 * reminders fall back to defaults). Returns the valid fields
 * and a line per field (or for the whole text) that could not be read: a field that is
 * silently dropped would silently change a migration (folder rules, the provider's rate).
 */
export function readProjectOptions(json: string): { options: ProjectOptions; problems: string[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(json || '{}');
  } catch (e) {
    return { options: {}, problems: [`not JSON: ${e instanceof Error ? e.message : String(e)}`] };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return { options: {}, problems: ['not a JSON object'] };
  const options: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    const check = CHECKS[key as keyof ProjectOptions];
    if (check && value !== undefined && value !== null && !check[0](value))
      problems.push(`${key} must be ${check[1]}, found ${JSON.stringify(value)?.slice(0, 60)}`);
    else if (value !== null) options[key] = value;
  }
  const o = options as ProjectOptions;
  // A range that selects nothing would silently copy nothing.
  if (o.since && o.until && o.since > o.until) problems.push(`since (${o.since}) is after until (${o.until})`);
  return { options: o, problems };
}
