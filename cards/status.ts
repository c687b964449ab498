import type { Block, Message } from './model.ts';
import { formatBytes, formatCount, formatDuration, formatTime, plural } from './format.ts';
import { alteredLine, verificationLine, type AlteredView, type VerificationView } from './verification.ts';
import { passLine, type PassView } from './passes.ts';
import { timingText, windowLine, type ItemTimingView, type WindowView } from './schedule.ts';

const LABEL: Record<string, string> = {
  NotStarted: 'Not started',
  WaitingForUser: 'Waiting for user',
  Queued: 'Queued',
  Running: 'Running',
  Completed: 'Completed',
  Failed: 'Failed',
  Stopped: 'Stopped',
};
const ICON: Record<string, string> = {
  NotStarted: '⚪',
  WaitingForUser: '⏳',
  Queued: '🕒',
  Running: '🔄',
  Completed: '✅',
  Failed: '❌',
  Stopped: '⏹️',
};

/** The status label an admin reads. */
export function statusLabel(s: string): string {
  return LABEL[s] ?? s;
}

/** An item as status cards show it. */
export interface ItemView {
  sourceAddress: string;
  destinationAddress: string;
  status: string;
  /** Human sentence of the failure reason. */
  reasonText?: string | null;
  failureReason?: string | null;
  failureDetail?: string | null;
  messagesCopied: number;
  bytesCopied: number;
  messagesSkipped: number;
  license: string;
  /** A scheduled start, or the copy window it waits for. */
  timing?: ItemTimingView;
}

/** A project as status cards show it. */
export interface ProjectView {
  name: string;
  sourceUrl: string;
  destinationUrl: string;
  selfService: string;
  counts: Record<string, number>;
  licenses: { total: number | null; used: number; left: number | null };
  /** The items listed (the first ones; at most `limit` are shown). */
  items: ItemView[];
  /** Items in the project when `items` lists only the first of them. */
  total?: number;
  /** Sides with admin credentials (`project connect`) and their kind; never the credentials. */
  admin?: Partial<Record<'source' | 'destination', 'imap-master' | 'm365-app' | 'm365-signin'>>;
  /** The project's copy window, when it has one. */
  window?: WindowView;
  /** Mailboxes with a scheduled start, and the earliest. */
  scheduled?: { count: number; next: Date; timeZone: string };
}

const ADMIN_KIND: Record<string, string> = { 'imap-master': 'admin login', 'm365-app': 'Microsoft 365 app' };

/** `source: admin credentials (admin login) · destination: asked from users`. */
export function credentialsLine(p: Pick<ProjectView, 'admin' | 'selfService'>): string {
  const asked = p.selfService === 'both' ? ['source', 'destination'] : [p.selfService];
  return (['source', 'destination'] as const)
    .map((side) => {
      const kind = p.admin?.[side];
      if (kind === 'm365-signin') return `${side}: users sign in with Microsoft`;
      if (kind) return `${side}: admin credentials (${ADMIN_KIND[kind] ?? kind})`;
      return `${side}: ${asked.includes(side) ? 'asked from users' : 'per mailbox'}`;
    })
    .join(' · ');
}

/**
 * The server's own words when they add something to the reason's sentence; undefined when
 * they only repeat it (the reason is then said once).
 */
export function extraDetail(
  reasonText: string | null | undefined,
  detail: string | null | undefined,
): string | undefined {
  if (!detail) return undefined;
  const norm = (x: string) =>
    x
      .toLowerCase()
      .replace(/[\s.:;,!"'()[\]-]+/g, ' ')
      .trim();
  if (!reasonText) return detail;
  const r = norm(reasonText),
    d = norm(detail);
  return !d || r.includes(d) ? undefined : detail;
}

const SURFACE_NAME: Record<string, string> = {
  slack: 'Slack',
  teams: 'Teams',
  console: 'console',
  form: 'secure form',
};

/**
 * Who did something, as a person reads it, from the history's `surface:id (name)`:
 * "Ada Admin (Slack)", "root (console)", "MailFerry" for the system.
 */
export function actorText(stored: string): string {
  const m = /^([a-z][\w-]*):(.*?)(?: \((.+)\))?$/.exec(stored);
  if (!m) return stored;
  const [, surface, id, name] = m;
  if (surface === 'system') return 'MailFerry';
  if (surface === 'form') return 'the mailbox owner (secure form)';
  const where = (surface && SURFACE_NAME[surface]) ?? surface;
  if (name) return `${name} (${where})`;
  return surface === 'console' ? `${id} (console)` : `${where} user ${id}`;
}

/** One line about an item: icon, addresses, status, reason. */
export function itemLine(i: ItemView): string {
  const dest = i.destinationAddress !== i.sourceAddress ? ` → ${i.destinationAddress}` : '';
  const said = extraDetail(i.reasonText, i.failureDetail);
  const why = i.status === 'Failed' && i.reasonText ? `: ${i.reasonText}${said ? ` (${said})` : ''}` : '';
  const figures = i.messagesCopied ? ` — ${formatCount(i.messagesCopied)} messages, ${formatBytes(i.bytesCopied)}` : '';
  const timing = i.timing ? timingText(i.timing) : undefined;
  return (
    `${ICON[i.status] ?? ''} ${i.sourceAddress}${dest} ` +
    `— ${statusLabel(i.status)}${why}${timing ? ` — ${timing}` : ''}${figures}`
  );
}

/** `Completed 3 · Failed 1 · …`, only non-zero counts. */
export function countsLine(counts: Record<string, number>): string {
  const parts = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${statusLabel(s)} ${formatCount(n)}`);
  return parts.length ? parts.join(' · ') : 'No mailboxes yet';
}

/** `3 used, 7 left of 10` or `3 used (no limit)`. */
export function licensesLine(l: ProjectView['licenses']): string {
  return l.total == null
    ? `${formatCount(l.used)} used (no limit set)`
    : `${formatCount(l.used)} used, ${formatCount(l.left ?? 0)} left of ${formatCount(l.total)}`;
}

/** The status of a project: counts per status, licenses, each item with its status and reason. */
export function projectStatusMessage(p: ProjectView, limit = 40): Message {
  const total = p.total ?? p.items.length;
  const lines = p.items.slice(0, limit).map(itemLine);
  const more =
    total > lines.length
      ? `…and ${formatCount(total - lines.length)} more. Type \`/migrate status ADDRESS\` for one mailbox.`
      : undefined;
  const blocks: Block[] = [
    { type: 'header', text: `Project ${p.name}` },
    {
      type: 'facts',
      facts: [
        { label: 'Source', value: p.sourceUrl },
        { label: 'Destination', value: p.destinationUrl },
        { label: 'Credentials', value: credentialsLine(p) },
        { label: 'Mailboxes', value: total ? `${formatCount(total)}: ${countsLine(p.counts)}` : 'none yet' },
        { label: 'Licenses', value: licensesLine(p.licenses) },
        ...(p.window ? [{ label: 'Copy window', value: windowLine(p.window) }] : []),
        ...(p.scheduled?.count
          ? [
              {
                label: 'Scheduled',
                value:
                  `${plural(p.scheduled.count, 'mailbox', 'mailboxes')}, the ` +
                  `next ${formatTime(p.scheduled.next, p.scheduled.timeZone)}`,
              },
            ]
          : []),
      ],
    },
    total
      ? { type: 'list', items: lines, more }
      : { type: 'text', text: 'No mailboxes yet. Add one with `/migrate add ADDRESS`.' },
  ];
  return {
    kind: 'project-status',
    text:
      `Project ${p.name}: ${plural(total, 'mailbox', 'mailboxes')} (${countsLine(p.counts)}); ` +
      `licenses ${licensesLine(p.licenses)}; credentials ${credentialsLine(p)}.`,
    tone: 'info',
    blocks,
  };
}

/** One project of a channel's overview. */
export interface ProjectOverviewView {
  name: string;
  sourceUrl: string;
  destinationUrl: string;
  total: number;
  counts: Record<string, number>;
  licenses: ProjectView['licenses'];
}

/** Projects whose buttons an overview carries (the rest are named in the list). */
const OVERVIEW_BUTTONS = 5;

/**
 * `status` in a channel with several projects: a short overview of each (mailboxes per
 * status, licenses), and how to see one project's mailboxes.
 */
export function projectsOverviewMessage(projects: ProjectOverviewView[]): Message {
  const line = (p: ProjectOverviewView) =>
    `*${p.name}* (${p.sourceUrl} → ${p.destinationUrl}): ${plural(p.total, 'mailbox', 'mailboxes')}` +
    `${p.total ? ` — ${countsLine(p.counts)}` : ''}; licenses ${licensesLine(p.licenses)}`;
  const lines = projects.map(line);
  return {
    kind: 'projects-overview',
    text: `${projects.length} projects in this channel:\n${lines.map((l) => l.replace(/\*/g, '')).join('\n')}`,
    tone: 'info',
    blocks: [
      { type: 'header', text: `${projects.length} projects in this channel` },
      { type: 'list', items: lines },
      { type: 'context', text: "For one project's mailboxes: `/migrate status --project NAME`." },
      {
        type: 'actions',
        actions: projects.slice(0, OVERVIEW_BUTTONS).map((p) => ({
          label: `Status of ${p.name}`.slice(0, 60),
          command: `status --project ${/\s/.test(p.name) ? `"${p.name}"` : p.name}`,
        })),
      },
    ],
  };
}

/** One entry of an item's history. */
export interface HistoryView {
  at: Date;
  actor: string;
  kind: string;
  fromStatus: string | null;
  toStatus: string | null;
  summary: string;
}

/** Copy figures of one folder of a mailbox (all passes). */
export interface FolderView {
  sourceFolder: string;
  destFolder: string;
  messagesFound: number;
  messagesCopied: number;
  bytesCopied: number;
  messagesPresent: number;
  messagesSkipped: number;
}

/** A message the destination refused, with the server's reason. */
export interface SkippedView {
  sourceFolder: string;
  uid: number;
  size: number;
  reason: string;
}

/** Lines shown per list before "…and N more". */
const LIST_LIMIT = 25;
/** History events `status ADDRESS` shows: the latest ones, with the count of the others. */
export const HISTORY_LIMIT = 20;

function folderLine(f: FolderView): string {
  const where = f.sourceFolder === f.destFolder ? f.sourceFolder : `${f.sourceFolder} → ${f.destFolder}`;
  const parts = [
    `${formatCount(f.messagesFound)} found`,
    `${formatCount(f.messagesCopied)} copied (${formatBytes(f.bytesCopied)})`,
  ];
  if (f.messagesPresent) parts.push(`${formatCount(f.messagesPresent)} already there`);
  if (f.messagesSkipped) parts.push(`${formatCount(f.messagesSkipped)} skipped`);
  return `${where}: ${parts.join(', ')}`;
}

function limited(lines: string[]): { items: string[]; more?: string } {
  return lines.length > LIST_LIMIT
    ? { items: lines.slice(0, LIST_LIMIT), more: `…and ${formatCount(lines.length - LIST_LIMIT)} more` }
    : { items: lines };
}

/** One mailbox as its status shows it: the item's view with the figures of its passes. */
type ItemStatusView = ItemView & { passCount: number; lastPassMs: number; messagesPresent: number };

/** What was copied of one mailbox: its folders, refused and altered messages, verification, passes. */
interface ItemCopyView {
  folders: FolderView[];
  skipped: SkippedView[];
  altered?: AlteredView[];
  verification?: VerificationView | null;
  passes?: PassView[];
}

/** The status of one mailbox with its history (and, once copied, its folders and refused messages). */
export function itemStatusMessage(
  projectName: string,
  i: ItemStatusView,
  history: HistoryView[],
  copy: ItemCopyView = { folders: [], skipped: [] },
  /** Events in all, when `history` holds only the latest ones. */
  historyTotal = history.length,
  /** IANA zone of the project: history times are shown in it as well as in UTC. */
  timeZone?: string,
): Message {
  const timing = i.timing ? timingText(i.timing) : undefined;
  return {
    kind: 'item-status',
    text:
      `${i.sourceAddress}: ${statusLabel(i.status)}` +
      `${i.reasonText && i.status === 'Failed' ? ` — ${i.reasonText}` : ''}${timing ? ` — ${timing}` : ''}`,
    tone: i.status === 'Failed' ? 'error' : 'info',
    blocks: [
      { type: 'header', text: i.sourceAddress },
      { type: 'facts', facts: itemFacts(projectName, i, timing, copy.verification) },
      ...copyBlocks(copy, timeZone),
      ...historyBlocks(history, historyTotal, timeZone),
    ],
  };
}

/** The facts of one mailbox: project, destination, status, timing, the server's words, figures, license. */
function itemFacts(
  projectName: string,
  i: ItemStatusView,
  timing: string | undefined,
  verification: VerificationView | null | undefined,
): { label: string; value: string }[] {
  const facts = [
    { label: 'Project', value: projectName },
    { label: 'Destination', value: i.destinationAddress },
    {
      label: 'Status',
      value: statusLabel(i.status) + (i.status === 'Failed' && i.reasonText ? ` — ${i.reasonText}` : ''),
    },
  ];
  if (timing)
    facts.push({
      label: i.timing?.startAt ? 'Scheduled' : 'Window',
      value: timing.replace(/^scheduled to start /, ''),
    });
  const said = i.status === 'Failed' ? extraDetail(i.reasonText, i.failureDetail) : undefined;
  // An internal failure (our database, our bug) is no server's word.
  if (said) facts.push({ label: i.failureReason === 'Internal' ? 'Error' : 'Server said', value: said });
  if (i.passCount)
    facts.push({
      label: 'Copied',
      value:
        `${formatCount(i.messagesCopied)} messages, ${formatBytes(i.bytesCopied)} ` +
        `in ${plural(i.passCount, 'pass', 'passes')}` +
        `${i.messagesPresent ? `; ${formatCount(i.messagesPresent)} already there` : ''}` +
        `${i.messagesSkipped ? `; ${formatCount(i.messagesSkipped)} skipped` : ''}` +
        `${i.lastPassMs ? `; last pass ${formatDuration(i.lastPassMs)}` : ''}`,
    });
  // What the last pass's verification found, never left out once there is one.
  if (verification) facts.push({ label: 'Verified (last pass)', value: verificationLine(verification) });
  facts.push({
    label: 'License',
    value: i.license === 'consumed' ? 'consumed' : i.license === 'reserved' ? 'reserved' : 'none',
  });
  return facts;
}

/** The lists of what was copied, each under its title and only when it has lines: passes, folders, skipped, altered. */
function copyBlocks(copy: ItemCopyView, timeZone: string | undefined): Block[] {
  const blocks: Block[] = [];
  if (copy.passes?.length)
    blocks.push(
      { type: 'text', text: 'Passes (kind, outcome, what each copied):' },
      { type: 'list', items: copy.passes.map((p) => passLine(p, statusLabel, timeZone)) },
    );
  if (copy.folders.length)
    blocks.push({ type: 'text', text: 'Folders:' }, { type: 'list', ...limited(copy.folders.map(folderLine)) });
  if (copy.skipped.length)
    blocks.push(
      { type: 'text', text: 'Skipped (the destination refused them):' },
      {
        type: 'list',
        ...limited(copy.skipped.map((s) => `${s.sourceFolder} UID ${s.uid} (${formatBytes(s.size)}): ${s.reason}`)),
      },
    );
  if (copy.altered?.length)
    blocks.push(
      {
        type: 'text',
        text:
          `Altered by the destination (stored differently from the ` +
          `source; ${plural(copy.altered.length, 'message')}, all passes):`,
      },
      { type: 'list', ...limited(copy.altered.map(alteredLine)) },
    );
  return blocks;
}

/** The latest history events, with how many earlier ones are not shown. */
function historyBlocks(history: HistoryView[], historyTotal: number, timeZone: string | undefined): Block[] {
  const hist = history
    .slice(-HISTORY_LIMIT)
    .map((h) => `${formatTime(h.at, timeZone)} — ${h.summary} — ${actorText(h.actor)}`);
  const total = Math.max(historyTotal, history.length);
  const earlier = total - hist.length;
  return [
    {
      type: 'text',
      text: earlier
        ? `History (the latest ${hist.length} of ${formatCount(total)} ` +
          `events; ${formatCount(earlier)} earlier not shown):`
        : 'History:',
    },
    { type: 'list', items: hist.length ? hist : ['(none)'] },
  ];
}
