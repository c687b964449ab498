import type { Action, Block, Message } from './model.ts';

/**
 * Slack Block Kit limits (Slack docs, "Block Kit" reference: blocks, composition objects,
 * elements). A message the renderer produces never exceeds them.
 */
export const BLOCK_KIT_LIMITS = {
  /** Blocks per message (modals and Home tabs allow 100). */
  blocks: 50,
  /** `section.text`. */
  sectionText: 3000,
  /** Each of `section.fields`, and at most 10 of them. */
  fieldText: 2000,
  fields: 10,
  /** `header.text` (plain_text). */
  headerText: 150,
  /** Elements of a `context` block. */
  contextElements: 10,
  /** Elements of an `actions` block. */
  actionsElements: 25,
  /** Button label, value and URL. */
  buttonText: 75,
  buttonValue: 2000,
  buttonUrl: 3000,
  /** `action_id` / `block_id`. */
  id: 255,
  /** Top-level `text` fallback we send (Slack truncates at 40,000; notifications show far less). */
  fallbackText: 3000,
  /**
   * All blocks of one message together, serialized: Slack refuses a message whose blocks
   * hold more than roughly 12–13K characters in all (`msg_blocks_too_long`), even when
   * every block is within its own limit.
   */
  blocksTotal: 11_000,
} as const;

/** A Block Kit text object. */
export type KitText = { type: 'plain_text'; text: string; emoji?: boolean } | { type: 'mrkdwn'; text: string };

/** A Block Kit button. */
export interface KitButton {
  type: 'button';
  text: { type: 'plain_text'; text: string; emoji?: boolean };
  action_id: string;
  url?: string;
  value?: string;
  style?: 'primary' | 'danger';
}

/** The Block Kit blocks this renderer emits. */
export type KitBlock =
  | { type: 'header'; text: { type: 'plain_text'; text: string; emoji?: boolean } }
  | { type: 'section'; text?: KitText; fields?: KitText[] }
  | { type: 'context'; elements: KitText[] }
  | { type: 'actions'; elements: KitButton[] }
  | { type: 'divider' };

/** A message ready for `chat.postMessage` / `chat.update` / `response_url`: blocks plus the plain-text fallback. */
export interface KitMessage {
  text: string;
  blocks: KitBlock[];
}

/** Prefix of action ids of URL buttons (acked and otherwise ignored). */
export const LINK_ACTION_PREFIX = 'mf_link_';
/** Prefix of action ids of buttons that run a command line as the person who clicks. */
export const COMMAND_ACTION_PREFIX = 'mf_cmd_';

/** Escapes the three characters Slack's mrkdwn reserves (Slack docs, "Formatting text": escaping). */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Cuts a string to `max` characters, marking the cut. */
export function truncate(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max - 1) + '…';
}

function mrkdwn(text: string, max: number): KitText {
  return { type: 'mrkdwn', text: truncate(escapeMrkdwn(text), max) };
}

function plainText(text: string, max: number): { type: 'plain_text'; text: string; emoji: true } {
  // plain_text shows its characters as they are: `*`, `_` and `` ` `` in an address or a
  // project name (john_doe@old.example) are data, not emphasis. It must not be empty.
  return { type: 'plain_text', text: truncate(text || ' ', max), emoji: true };
}

/** Splits lines into chunks whose joined length stays under `max`. */
function chunkLines(lines: string[], max: number): string[] {
  const out: string[] = [];
  let cur = '';
  for (const raw of lines) {
    const line = truncate(raw, max);
    if (cur && escapeMrkdwn(cur + '\n' + line).length > max) {
      out.push(cur);
      cur = line;
    } else cur = cur ? `${cur}\n${line}` : line;
  }
  if (cur) out.push(cur);
  return out;
}

function renderButton(a: Action, i: number): KitButton {
  const base = {
    type: 'button' as const,
    text: plainText(a.label, BLOCK_KIT_LIMITS.buttonText),
    ...(a.style ? { style: a.style } : {}),
  };
  // A URL button carries nothing but the link: no value, a neutral action id.
  if ('url' in a)
    return { ...base, action_id: `${LINK_ACTION_PREFIX}${i}`, url: a.url.slice(0, BLOCK_KIT_LIMITS.buttonUrl) };
  return {
    ...base,
    action_id: `${COMMAND_ACTION_PREFIX}${i}`,
    value: a.command.slice(0, BLOCK_KIT_LIMITS.buttonValue),
  };
}

function renderBlock(b: Block): KitBlock[] {
  const L = BLOCK_KIT_LIMITS;
  switch (b.type) {
    case 'header':
      return [{ type: 'header', text: plainText(b.text, L.headerText) }];
    case 'text':
      return chunkLines(b.text.split('\n'), L.sectionText).map((t) => ({
        type: 'section',
        text: mrkdwn(t, L.sectionText),
      }));
    case 'facts': {
      const out: KitBlock[] = [];
      for (let i = 0; i < b.facts.length; i += L.fields) {
        const fields = b.facts.slice(i, i + L.fields).map((f) => ({
          type: 'mrkdwn' as const,
          text: truncate(`*${escapeMrkdwn(f.label)}*\n${escapeMrkdwn(f.value || '—')}`, L.fieldText),
        }));
        out.push({ type: 'section', fields });
      }
      return out;
    }
    case 'list': {
      const out: KitBlock[] = chunkLines(
        b.items.map((i) => `• ${i}`),
        L.sectionText,
      ).map((t) => ({ type: 'section', text: mrkdwn(t, L.sectionText) }));
      if (b.more) out.push({ type: 'context', elements: [mrkdwn(b.more, L.sectionText)] });
      return out;
    }
    case 'code':
      return chunkLines(b.text.split('\n'), L.sectionText - 8).map((t) => ({
        type: 'section',
        text: { type: 'mrkdwn', text: '```' + escapeMrkdwn(t) + '```' },
      }));
    case 'context':
      return [{ type: 'context', elements: [mrkdwn(b.text, L.sectionText)] }];
    case 'actions': {
      const out: KitBlock[] = [];
      for (let i = 0; i < b.actions.length; i += L.actionsElements)
        out.push({
          type: 'actions',
          elements: b.actions.slice(i, i + L.actionsElements).map((a, j) => renderButton(a, i + j)),
        });
      return out;
    }
  }
}

/**
 * Renders a neutral message as Block Kit with its plain-text fallback. Long texts are split
 * across sections and cut at Slack's limits; a message that would pass 50 blocks keeps the
 * first 49 and says it was shortened.
 */
export function renderBlockKit(m: Message): KitMessage {
  let blocks = m.blocks.flatMap(renderBlock);
  const size = (bs: KitBlock[]) => JSON.stringify(bs).length;
  if (blocks.length > BLOCK_KIT_LIMITS.blocks || size(blocks) > BLOCK_KIT_LIMITS.blocksTotal) {
    // Buttons matter more than the tail of a list: keep the trailing actions block, then
    // as many blocks from the top as fit both the count and the total size.
    const actions = blocks.filter((b) => b.type === 'actions').slice(-1);
    const note: KitBlock = {
      type: 'context',
      elements: [{ type: 'mrkdwn', text: 'This message was shortened. Type `/migrate status` for everything.' }],
    };
    const kept: KitBlock[] = [];
    let used = size([note, ...actions]);
    for (const b of blocks) {
      if (b.type === 'actions') continue;
      const n = JSON.stringify(b).length + 1;
      if (kept.length + 2 + actions.length > BLOCK_KIT_LIMITS.blocks || used + n > BLOCK_KIT_LIMITS.blocksTotal) break;
      kept.push(b);
      used += n;
    }
    blocks = [...kept, note, ...actions];
  }
  // The fallback is parsed as mrkdwn too (notifications, clients without blocks): escaped like
  // the blocks, so `<!channel>` or `<https://evil|…>` typed by anyone stays text.
  const text = truncate(escapeMrkdwn(m.text || ' '), BLOCK_KIT_LIMITS.fallbackText);
  return { text, blocks };
}
