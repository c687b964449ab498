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
export function executeAction(title: string, verb: string, data: Record<string, unknown>, style?: string): Record<string, unknown> {
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
      return [{ type: 'TextBlock', text: b.text, size: 'Medium', weight: 'Bolder', wrap: true, style: 'heading', color: TONE_COLOR[tone ?? 'info'] }];
    case 'text':
      return [{ type: 'TextBlock', text: toCardMarkdown(b.text), wrap: true }];
    case 'facts':
      return [{ type: 'FactSet', facts: b.facts.map((f) => ({ title: f.label, value: toCardMarkdown(f.value) })) }];
    case 'list':
      return [
        { type: 'TextBlock', text: b.items.map((i) => `- ${toCardMarkdown(i)}`).join('\n'), wrap: true, spacing: 'Small' },
        ...(b.more ? [{ type: 'TextBlock', text: toCardMarkdown(b.more), wrap: true, isSubtle: true, size: 'Small' }] : []),
      ];
    case 'code':
      return [{ type: 'TextBlock', text: b.text, wrap: true, fontType: 'Monospace' }];
    case 'context':
      return [{ type: 'TextBlock', text: toCardMarkdown(b.text), wrap: true, isSubtle: true, size: 'Small' }];
    case 'actions':
      return [{ type: 'ActionSet', actions: b.actions.map(renderAction) }];
  }
}

/** Wraps a body (and actions) as an Adaptive Card 1.5 with a text fallback. */
export function adaptiveCard(body: Record<string, unknown>[], actions: Record<string, unknown>[] = [], fallbackText?: string): AdaptiveCard {
  return {
    type: 'AdaptiveCard',
    $schema: ADAPTIVE_CARD_SCHEMA,
    version: ADAPTIVE_CARD_VERSION,
    body,
    ...(actions.length ? { actions } : {}),
    ...(fallbackText ? { fallbackText } : {}),
  };
}

/**
 * Renders a neutral message as an Adaptive Card (schema 1.5). Errors and warnings start
 * with a coloured first line so the tone shows without reading; `text` is the fallback.
 */
export function renderAdaptiveCard(m: Message): AdaptiveCard {
  const body = m.blocks.flatMap((b) => renderBlock(b, m.tone));
  if ((m.tone === 'error' || m.tone === 'warning') && body[0]?.type === 'TextBlock' && !body[0].color) body[0] = { ...body[0], color: TONE_COLOR[m.tone] };
  return adaptiveCard(body.length ? body : [{ type: 'TextBlock', text: toCardMarkdown(m.text), wrap: true }], [], m.text);
}
