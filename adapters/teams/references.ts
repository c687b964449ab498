import { createHash } from 'node:crypto';
import { TurnContext, type Activity, type ConversationReference } from 'botbuilder';

/** The prefix of every Teams thread and channel reference (the notifier routes by it). */
export const SURFACE = 'teams';

/** What the core's opaque `teams:<id>` reference points to (stored as JSON). */
export interface TeamsConversation {
  /** The Bot Framework reference; `conversation.id` already names the thread when there is one. */
  ref: Partial<ConversationReference>;
  /** `thread` (a channel post and its replies), `channel` (new posts in a channel), `chat` (1:1 or group chat). */
  kind: 'thread' | 'channel' | 'chat';
  teamId?: string;
  tenantId?: string;
  channelName?: string;
}

/** Where the core keeps Teams references (the composition root passes the database store). */
export interface ReferenceStore {
  put(id: string, surface: string, reference: string): Promise<void>;
  load(id: string): Promise<string | undefined>;
}

/** Teams' channel data on incoming activities (only what we read). */
export interface TeamsChannelData {
  team?: { id?: string; name?: string };
  channel?: { id?: string; name?: string };
  tenant?: { id?: string };
  eventType?: string;
}

/**
 * A deterministic short id for a conversation id, so the same thread or channel always
 * gets the same `teams:` reference (projects are looked up by their channel reference).
 */
export function referenceId(conversationId: string): string {
  return createHash('sha256').update(conversationId).digest('base64url').slice(0, 22);
}

/** `teams:<id>` → `<id>` (undefined for other surfaces). */
export function parseRef(threadRef: string): string | undefined {
  return threadRef.startsWith(`${SURFACE}:`) ? threadRef.slice(SURFACE.length + 1) : undefined;
}

/** The conversation id without Teams' `;messageid=` thread suffix. */
export function baseConversationId(id: string): string {
  const at = id.indexOf(';messageid=');
  return at < 0 ? id : id.slice(0, at);
}

/**
 * The conversations an incoming activity belongs to: its thread (where replies and later
 * status posts go) and its channel (which owns projects; posting there starts a new post).
 * Teams channel messages carry `19:…@thread.tacv2;messageid=<root>` as conversation id, so
 * a reference with that id lands in the thread, not as a new post. A new top-level
 * post may arrive without the suffix: its own id is then the root.
 */
export function conversationsOf(activity: Activity): { thread: TeamsConversation; channel: TeamsConversation } {
  const cd = (activity.channelData ?? {}) as TeamsChannelData;
  const ref = TurnContext.getConversationReference(activity);
  const convId = activity.conversation.id;
  const tenantId = cd.tenant?.id ?? activity.conversation.tenantId;
  const common = { teamId: cd.team?.id, tenantId, channelName: cd.channel?.name };
  const strip = (r: Partial<ConversationReference>, id: string): Partial<ConversationReference> => ({
    ...r,
    // activityId points at the message that asked; later posts do not reply to it.
    activityId: undefined,
    conversation: { ...r.conversation!, id },
  });
  if (activity.conversation.conversationType === 'channel') {
    const base = baseConversationId(convId);
    const root = convId.includes(';messageid=')
      ? convId
      : activity.type === 'message' && activity.id
        ? `${base};messageid=${activity.id}`
        : base;
    return {
      thread: { ref: strip(ref, root), kind: root === base ? 'channel' : 'thread', ...common },
      channel: { ref: strip(ref, base), kind: 'channel', ...common },
    };
  }
  const chat: TeamsConversation = { ref: strip(ref, convId), kind: 'chat', ...common };
  return { thread: chat, channel: chat };
}

/** Saves a conversation and returns its `teams:<id>` reference. */
export async function saveConversation(store: ReferenceStore, c: TeamsConversation): Promise<string> {
  const id = referenceId(c.ref.conversation!.id);
  await store.put(id, SURFACE, JSON.stringify(c));
  return `${SURFACE}:${id}`;
}

/** Loads the conversation behind a `teams:<id>` reference. */
export async function loadConversation(
  store: ReferenceStore,
  threadRef: string,
): Promise<TeamsConversation | undefined> {
  const id = parseRef(threadRef);
  if (!id) return undefined;
  const raw = await store.load(id);
  return raw ? (JSON.parse(raw) as TeamsConversation) : undefined;
}
