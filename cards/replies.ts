import type { Message } from './model.ts';
import { formatCount, plural } from './format.ts';

/** Lines a list reply shows before "…and N more" (a chat message, not a report). */
export const REPLY_LIST_LIMIT = 20;
/** Projects `project list` shows (this channel's first). */
export const PROJECT_LIST_LIMIT = 50;

/** Reply to `project create`. */
export function projectCreatedMessage(p: {
  name: string;
  sourceUrl: string;
  destinationUrl: string;
  selfService: string;
  licenses: number | null;
  servers?: ServerCheckView[];
  /** The date range every pass copies (`--since`/`--until`), in words; absent: every date. */
  dates?: string;
}): Message {
  const text =
    `Project ${p.name} created: ${p.sourceUrl} → ${p.destinationUrl}. Users ` +
    `enter their ${p.selfService === 'both' ? 'source and destination' : p.selfService} ` +
    `credentials on the secure form when asked.${serversText(p.servers)}`;
  return {
    kind: 'project-created',
    text,
    tone: 'success',
    blocks: [
      { type: 'text', text: `📦 Project *${p.name}* created in this channel.` },
      {
        type: 'facts',
        facts: [
          { label: 'Source', value: p.sourceUrl },
          { label: 'Destination', value: p.destinationUrl },
          { label: 'Self-service', value: p.selfService },
          { label: 'Licenses', value: p.licenses == null ? 'no limit' : String(p.licenses) },
          ...(p.dates ? [{ label: 'Dates', value: p.dates }] : []),
        ],
      },
      ...serverBlocks(p.servers),
      {
        type: 'context',
        text:
          'Next: `/migrate add alice@old.example`, or `/migrate bulk` with ' +
          'a CSV (source,destination[,source_login,destination_login]).',
      },
    ],
    ...(p.servers?.some((s) => !s.ok) ? { tone: 'warning' as const } : {}),
  };
}

/** What a look at one side's server found (no login: connection, TLS, greeting, capabilities). */
export interface ServerCheckView {
  side: 'source' | 'destination';
  ok: boolean;
  /** `host:port`. */
  where: string;
  findings: string[];
}

/** One line per side: ✅ what answered, or ⚠️ what did not and what to check. */
function serverLines(servers: ServerCheckView[]): string[] {
  return servers.map(
    (s) =>
      `${s.ok ? '✅' : '⚠️'} ${s.side === 'source' ? 'Source' : 'Destination'} ${s.where}: ${s.findings.join('; ')}`,
  );
}

function serversText(servers: ServerCheckView[] | undefined): string {
  if (!servers?.length) return '';
  return `\nServers:\n${serverLines(servers).join('\n')}${servers.some((s) => !s.ok) ? `\n${SERVER_WARNING}` : ''}`;
}

const SERVER_WARNING =
  'The project is kept as it is. Until the server answers, users see "we could not reach the ' +
  'mail server" on the form and nothing counts against them; `project set NAME` looks again.';

function serverBlocks(servers: ServerCheckView[] | undefined): Message['blocks'] {
  if (!servers?.length) return [];
  return [
    { type: 'text', text: 'Servers (looked at without logging in):' },
    { type: 'list', items: serverLines(servers) },
    ...(servers.some((s) => !s.ok) ? [{ type: 'context' as const, text: SERVER_WARNING }] : []),
  ];
}

/** Reply to `project set`, with what a fresh look at both servers found. */
export function projectUpdatedMessage(name: string, changes: string[], servers?: ServerCheckView[]): Message {
  const text = `Project ${name} updated: ${changes.join('; ')}.`;
  return {
    kind: 'project-updated',
    text: text + serversText(servers),
    tone: servers?.some((s) => !s.ok) ? 'warning' : 'success',
    blocks: [{ type: 'text', text: `⚙️ ${text}` }, ...serverBlocks(servers)],
  };
}

/** A list of projects. */
export function projectListMessage(
  projects: { name: string; sourceUrl: string; destinationUrl: string; here: boolean }[],
  limit = PROJECT_LIST_LIMIT,
): Message {
  const shown = [...projects.filter((p) => p.here), ...projects.filter((p) => !p.here)].slice(0, limit);
  const items = shown.map((p) => `${p.name}: ${p.sourceUrl} → ${p.destinationUrl}${p.here ? ' (this channel)' : ''}`);
  const more =
    projects.length > limit
      ? `…and ${formatCount(projects.length - limit)} more (${formatCount(projects.length)} projects in all).`
      : undefined;
  return {
    kind: 'project-list',
    text: items.length
      ? `Projects:\n${items.slice(0, REPLY_LIST_LIMIT).join('\n')}` +
        `${projects.length > REPLY_LIST_LIMIT ? `\n…and ${formatCount(projects.length - REPLY_LIST_LIMIT)} more` : ''}`
      : 'No projects yet.',
    tone: 'info',
    blocks: items.length
      ? [
          { type: 'header', text: 'Projects' },
          { type: 'list', items, more },
        ]
      : [
          {
            type: 'text',
            text: 'No projects yet. Create one with `/migrate project create NAME --source URL --destination URL`.',
          },
        ],
  };
}

/** The first `limit` lines, then "…and N more" when there are more. */
function firstLines(lines: string[], limit: number, what = 'more'): string[] {
  return lines.length > limit ? [...lines.slice(0, limit), `…and ${formatCount(lines.length - limit)} ${what}`] : lines;
}

/** Result of an admin action on one or several items. */
export function actionResultMessage(kind: string, done: string[], refused: string[], noun: string): Message {
  const head = done.length
    ? `${noun} ${plural(done.length, 'mailbox', 'mailboxes')}.`
    : `No mailbox was ${noun.toLowerCase()}.`;
  return {
    kind,
    text: [head, ...firstLines(done, REPLY_LIST_LIMIT), ...firstLines(refused, REPLY_LIST_LIMIT, 'more refused')].join(
      '\n',
    ),
    tone: refused.length ? 'warning' : 'success',
    blocks: [
      { type: 'text', text: head },
      ...(done.length > 1
        ? [
            {
              type: 'list' as const,
              items: done.slice(0, REPLY_LIST_LIMIT),
              more:
                done.length > REPLY_LIST_LIMIT ? `…and ${formatCount(done.length - REPLY_LIST_LIMIT)} more` : undefined,
            },
          ]
        : done[0] !== undefined
          ? [{ type: 'text' as const, text: done[0] }]
          : []),
      ...(refused.length
        ? [
            {
              type: 'list' as const,
              items: refused.slice(0, REPLY_LIST_LIMIT),
              more:
                refused.length > REPLY_LIST_LIMIT
                  ? `…and ${formatCount(refused.length - REPLY_LIST_LIMIT)} more refused`
                  : undefined,
            },
          ]
        : []),
    ],
  };
}

/** Reply to `form`: the private link for admin-assisted entry. */
export function formLinkMessage(address: string, url: string, expires: string): Message {
  const text =
    `Private link to the credential form for ${address} (single ` +
    `use, expires ${expires}). Do not paste it in a channel.`;
  return {
    kind: 'form-link',
    text: `${text}\n${url}`,
    tone: 'info',
    blocks: [
      { type: 'text', text: `🔐 ${text}` },
      { type: 'actions', actions: [{ label: 'Open the secure form', url, style: 'primary' }] },
    ],
  };
}

/** Reply to `project connect`: the private link to the admin-credentials form of one side. */
export function connectLinkMessage(p: {
  projectName: string;
  side: 'source' | 'destination';
  kind: 'imap' | 'm365';
  url: string;
  expires: string;
}): Message {
  const what = p.kind === 'm365' ? 'the Microsoft 365 app registration' : 'an admin login';
  const text =
    `Private link to connect the ${p.side} of ${p.projectName} with ${what} (single use, ` +
    `expires ${p.expires}). Do not paste it in a channel: whoever opens it can set the credentials.`;
  return {
    kind: 'connect-link',
    text: `${text}\n${p.url}`,
    tone: 'info',
    blocks: [
      { type: 'text', text: `🔐 ${text}` },
      { type: 'actions', actions: [{ label: 'Open the admin form', url: p.url, style: 'primary' }] },
      {
        type: 'context',
        text:
          'The credentials are verified by logging in to one ' +
          'mailbox before they are kept, and are never shown again.',
      },
    ],
  };
}
