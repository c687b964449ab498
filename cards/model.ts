/**
 * The neutral message model: every message the product shows is a `Message`, built by a
 * pure function in this folder and rendered per surface (Block Kit, Adaptive Card, email,
 * plain text). `text` is the fallback every surface can show.
 */
export type Block =
  | { type: 'header'; text: string }
  | { type: 'text'; text: string }
  | { type: 'facts'; facts: { label: string; value: string }[] }
  | { type: 'list'; items: string[]; more?: string }
  | { type: 'code'; text: string }
  | { type: 'context'; text: string }
  | { type: 'actions'; actions: Action[] };

/** A button: opens a URL, or runs a command line as the person who clicks it. */
export type Action =
  | { label: string; url: string; style?: 'primary' | 'danger' }
  | { label: string; command: string; style?: 'primary' | 'danger' };

/** A message, whatever the surface. */
export interface Message {
  /** What kind of message it is (`help`, `status`, `item-failed`, …), for renderers and tests. */
  kind: string;
  /** Plain-text fallback: notifications, screen readers, surfaces without rich layout. */
  text: string;
  blocks: Block[];
  tone?: 'info' | 'success' | 'warning' | 'error';
  /** The figures of a bulk status summary, so several of them can be merged into one post. */
  bulk?: BulkStatusView;
}

/** Many items' status changes of one bulk command, summarised: counts per new status and the first addresses. */
export interface BulkStatusView {
  /** What happened to them, as a past participle (`started`). */
  verb: string;
  total: number;
  counts: Record<string, number>;
  first: { address: string; to: string }[];
}

/** A message of a single paragraph. */
export function plain(kind: string, text: string, tone: Message['tone'] = 'info'): Message {
  return { kind, text, blocks: [{ type: 'text', text }], tone };
}
