import type { Action, Block, Message } from './model.ts';

/** The Adaptive Card schema version Teams renders (Teams supports up to 1.5). */
export const ADAPTIVE_CARD_VERSION = '1.5';
/** The `$schema` every card carries. */
export const ADAPTIVE_CARD_SCHEMA = 'http://adaptivecards.io/schemas/adaptive-card.json';

/** An Adaptive Card as JSON (what the Bot Framework attachment carries). */
export interface AdaptiveCard {
  type: 'AdaptiveCard';
  $schema: string;
  version: string;
  body: Record<string, unknown>[];
  actions?: Record<string, unknown>[];
  fallbackText?: string;
  [key: string]: unknown;
}

/**
 * Teams refuses a message activity over about 28 KB (serialized). A card this module or
 * cards/teams builds stays under this many bytes, leaving room for the activity around it
 * (conversation, sender, recipient, service URL, summary).
 */
export const TEAMS_CARD_BUDGET = 24_000;
/** The `fallbackText` a card carries: clients without 1.5 show it; it is not a second copy of the card. */
export const FALLBACK_TEXT_MAX = 1_000;

/** The verb of a button that runs a command line (Universal Actions, `Action.Execute`). */
export const COMMAND_VERB = 'command';

const TONE_COLOR: Record<NonNullable<Message['tone']>, string> = {
  info: 'Default',
  success: 'Good',
  warning: 'Warning',
  error: 'Attention',
};

/**
 * Chat markdown of the neutral model (Slack-like `*bold*`, backtick code) into the
 * markdown subset Adaptive Card TextBlocks render (`**bold**`, no inline code).
 */
export function toCardMarkdown(s: string): string {
  return s.replace(/(^|[\s(])\*([^*\n]+)\*(?=[\s.,;:!?)]|$)/g, '$1**$2**').replace(/`([^`\n]+)`/g, '"$1"');
}

/**
 * A button of the neutral model as an Adaptive Card action: a URL opens with
 * `Action.OpenUrl`; a command is a Universal Action (`Action.Execute`, verb `command`)
 * with an `Action.Submit` fallback for hosts without Universal Actions.
 */
export function renderAction(a: Action): Record<string, unknown> {
  const style = a.style === 'primary' ? 'positive' : a.style === 'danger' ? 'destructive' : undefined;
  if ('url' in a) return { type: 'Action.OpenUrl', title: a.label, url: a.url, ...(style ? { style } : {}) };
  return executeAction(a.label, COMMAND_VERB, { command: a.command }, style);
}

/** An `Action.Execute` with the same action as `Action.Submit` fallback (data carries the verb). */
export function executeAction(
  title: string,
  verb: string,
  data: Record<string, unknown>,
  style?: string,
): Record<string, unknown> {
  return {
    type: 'Action.Execute',
    title,
    verb,
    data,
    ...(style ? { style } : {}),
    fallback: { type: 'Action.Submit', title, data: { ...data, verb }, ...(style ? { style } : {}) },
  };
}

function renderBlock(b: Block, tone: Message['tone']): Record<string, unknown>[] {
  switch (b.type) {
    case 'header':
      return [
        {
          type: 'TextBlock',
          text: b.text,
          size: 'Medium',
          weight: 'Bolder',
          wrap: true,
          style: 'heading',
          color: TONE_COLOR[tone ?? 'info'],
        },
      ];
    case 'text':
      return [{ type: 'TextBlock', text: toCardMarkdown(b.text), wrap: true }];
    case 'facts':
      return [{ type: 'FactSet', facts: b.facts.map((f) => ({ title: f.label, value: toCardMarkdown(f.value) })) }];
    case 'list':
      return [
        {
          type: 'TextBlock',
          text: b.items.map((i) => `- ${toCardMarkdown(i)}`).join('\n'),
          wrap: true,
          spacing: 'Small',
        },
        ...(b.more
          ? [{ type: 'TextBlock', text: toCardMarkdown(b.more), wrap: true, isSubtle: true, size: 'Small' }]
          : []),
      ];
    case 'code':
      return [{ type: 'TextBlock', text: b.text, wrap: true, fontType: 'Monospace' }];
    case 'context':
      return [{ type: 'TextBlock', text: toCardMarkdown(b.text), wrap: true, isSubtle: true, size: 'Small' }];
    case 'actions':
      return [{ type: 'ActionSet', actions: b.actions.map(renderAction) }];
  }
}

/** Wraps a body (and actions) as an Adaptive Card 1.5 with a text fallback (first lines only). */
export function adaptiveCard(
  body: Record<string, unknown>[],
  actions: Record<string, unknown>[] = [],
  fallbackText?: string,
): AdaptiveCard {
  return {
    type: 'AdaptiveCard',
    $schema: ADAPTIVE_CARD_SCHEMA,
    version: ADAPTIVE_CARD_VERSION,
    body,
    ...(actions.length ? { actions } : {}),
    ...(fallbackText ? { fallbackText: shortenLines(fallbackText, FALLBACK_TEXT_MAX) } : {}),
  };
}

/** Keeps whole lines of `s` within `max` characters and says how many were left out. */
export function shortenLines(s: string, max: number): string {
  if (s.length <= max) return s;
  const lines = s.split('\n');
  const kept: string[] = [];
  let len = 0;
  for (const line of lines) {
    if (len + line.length + 1 > max - 40) break;
    kept.push(line);
    len += line.length + 1;
  }
  if (kept.length === 0) return `${s.slice(0, max - 1)}…`;
  const left = lines.length - kept.length;
  return `${kept.join('\n')}\n…and ${left.toLocaleString('en-US')} more ${left === 1 ? 'line' : 'lines'}`;
}

function byteSize(v: unknown): number {
  return new TextEncoder().encode(JSON.stringify(v)).length;
}

/**
 * Keeps a card under `budget` bytes serialized: the longest TextBlocks (lists, mostly) lose
 * their last lines, with a count of what was left out, until the card fits. A card already
 * within the budget is returned as is.
 */
export function fitCard<T extends AdaptiveCard>(card: T, budget = TEAMS_CARD_BUDGET): T {
  let size = byteSize(card);
  if (size <= budget) return card;
  const blocks: Record<string, unknown>[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    if (o.type === 'TextBlock' && typeof o.text === 'string') blocks.push(o);
    for (const k of ['body', 'items', 'columns']) if (k in o) walk(o[k]);
  };
  walk(card.body);
  blocks.sort((a, b) => (b.text as string).length - (a.text as string).length);
  for (const b of blocks) {
    if (size <= budget) break;
    const text = b.text as string;
    // Bytes over the budget, as characters (multi-byte text shrinks faster than this assumes).
    const target = Math.max(200, text.length - (size - budget) - 100);
    b.text = shortenLines(text, target);
    size = byteSize(card);
  }
  return card;
}

/**
 * Renders a neutral message as an Adaptive Card (schema 1.5). Errors and warnings start
 * with a coloured first line so the tone shows without reading; `text` is the fallback.
 */
export function renderAdaptiveCard(m: Message): AdaptiveCard {
  const body = m.blocks.flatMap((b) => renderBlock(b, m.tone));
  if ((m.tone === 'error' || m.tone === 'warning') && body[0]?.type === 'TextBlock' && !body[0].color)
    body[0] = { ...body[0], color: TONE_COLOR[m.tone] };
  return fitCard(
    adaptiveCard(body.length ? body : [{ type: 'TextBlock', text: toCardMarkdown(m.text), wrap: true }], [], m.text),
  );
}
