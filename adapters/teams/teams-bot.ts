import {
  ActivityTypes,
  TeamsActivityHandler,
  TurnContext,
  type Activity,
  type AdaptiveCardInvokeResponse,
  type AdaptiveCardInvokeValue,
} from 'botbuilder';
import type { Dispatcher, DispatchResult, IncomingForm } from '../../bot/dispatch.ts';
import type { Attachment } from '../../bot/commands/types.ts';
import { start } from '../../bot/commands/start.ts';
import { digest } from '../../bot/commands/digest.ts';
import { status as statusCommand } from '../../bot/commands/status.ts';
import type { Logger } from '../../bot/log.ts';
import { isAdmin } from '../../bot/auth.ts';
import type { Message } from '../../cards/model.ts';
import { renderAdaptiveCard, COMMAND_VERB, type AdaptiveCard } from '../../cards/render-adaptive-card.ts';
import {
  addMailboxesCard,
  bulkAddCard,
  newProjectCard,
  projectStatusCard,
  welcomeCard,
} from '../../cards/teams/teams-cards.ts';
import {
  conversationsOf,
  saveConversation,
  SURFACE,
  type ReferenceStore,
  type TeamsChannelData,
} from './references.ts';
import { cardActivity, renderActivity } from './render-activity.ts';
import {
  addCommand,
  bulkCommand,
  cardInputOf,
  field,
  formRun,
  projectCommand,
  projectOf,
  type FormCommand,
  type FormRun,
  type FormValues,
} from './form-actions.ts';
import { withRetry, type RetryOptions } from './retry.ts';
import type { ThreadPoster } from '../../bot/notifier.ts';
import { formatCount } from '../../cards/format.ts';

/** What the Teams bot needs from the core. */
export interface TeamsBotDeps {
  dispatcher: Pick<Dispatcher, 'dispatch' | 'run'>;
  store: ReferenceStore;
  admins: readonly string[];
  log: Logger;
  retry: RetryOptions;
  /** Example lines for the welcome card (from the command definitions). */
  examples: string[];
  /** Downloads an attached file (1:1 chats: `file.download.info`); tests may replace it. */
  download?: (url: string) => Promise<string>;
  /** Posts into a thread proactively (a bulk add's result, after its invoke was answered). */
  post?: ThreadPoster;
  /** Records request keys so a retried invoke runs once, across processes (absent: this process only). */
  claim?: (keys: readonly string[], ttlMs: number) => Promise<boolean>;
  /** Bulk forms up to this many lines are added within the invoke (default 100); larger ones in the background. */
  bulkInlineLines?: number;
}

/**
 * Bulk forms up to this many lines are added within the invoke (well under a second);
 * larger ones are answered at once and added in the background, since Teams gives an
 * invoke about 5 s before it retries it.
 */
const BULK_INLINE_LINES = 100;
/** How long the id of a bulk form's invoke is remembered (Teams retries within seconds). */
const BULK_RETRY_WINDOW_MS = 60 * 60_000;

/** Who and where a turn is, in the core's terms. */
interface TurnInfo {
  userId: string;
  userName?: string;
  channelId?: string;
  channelRef: string;
  threadRef: string;
}

const CARD_TYPE = 'application/vnd.microsoft.card.adaptive';

/** Decodes the few HTML entities Teams leaves in message text and drops tags. */
export function cleanText(s: string): string {
  return (
    s
      .replace(/<br\s*\/?>/gi, '\n')
      // Paragraphs and blocks are lines (a pasted CSV must keep its line breaks).
      .replace(/<\/(p|div)>\s*/gi, '\n')
      .replace(/<\/?(p|div|span|at)[^>]*>/gi, '')
      .replace(/&nbsp;/g, ' ')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&amp;/g, '&')
      .replace(/\u00a0/g, ' ')
      .replace(/\r\n?/g, '\n')
      .trim()
  );
}

/** Largest attached CSV read (bytes); bulk takes at most 20,000 lines anyway. */
const MAX_FILE_BYTES = 5_000_000;

/** Fetches a file Teams offers by a pre-authorised HTTPS URL (OneDrive/SharePoint), bounded in size. */
async function downloadText(url: string): Promise<string> {
  if (new URL(url).protocol !== 'https:') throw new Error('refused a non-HTTPS download URL');
  const r = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(30_000) });
  if (!r.ok) throw new Error(`download failed: HTTP ${r.status}`);
  if (Number(r.headers.get('content-length') ?? 0) > MAX_FILE_BYTES) throw new Error('the file is too large');
  const text = await r.text();
  if (text.length > MAX_FILE_BYTES) throw new Error('the file is too large');
  return text;
}

/** The id that carries the grant, among several ids of the same person or place (falls back to the first). */
function grantedId(admins: readonly string[], prefix: string, ids: (string | undefined)[]): string | undefined {
  const present = ids.filter((x): x is string => !!x);
  return present.find((id) => admins.includes(`${prefix}:${id}`)) ?? present[0];
}

/**
 * MailFerry's Teams bot: @mention commands in channels, group chats and 1:1 chats go to
 * the one dispatcher; replies land in the thread of the message that asked; card forms
 * and the status card's buttons are Universal Actions (`adaptiveCard/action` invokes)
 * answered with a card that replaces the one clicked, with `Action.Submit` fallbacks
 * arriving as messages that carry `value`.
 */
export class MailFerryTeamsBot extends TeamsActivityHandler {
  private inflight = new Set<Promise<unknown>>();
  /** The answers of bulk form invokes by invoke id: a retry reaching this process gets the first one's answer. */
  private bulkAnswers = new Map<string, Promise<AdaptiveCard>>();

  /** Waits for bulk adds still running after their invoke was answered (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }

  constructor(private deps: TeamsBotDeps) {
    super();
    this.onMessage(async (context, next) => {
      await this.handleMessage(context);
      await next();
    });
    this.onMembersAdded(async (context, next) => {
      const me = context.activity.recipient?.id;
      if ((context.activity.membersAdded ?? []).some((m) => m.id === me)) await this.welcome(context);
      await next();
    });
  }

  /**
   * Every turn needs the conversation it came from (replies, thread references and project
   * ownership hang on it). An activity without one is malformed: an invoke is answered 400
   * in the Universal Actions error shape, anything else is dropped with a warning; neither
   * runs a command or stores anything.
   */
  async run(context: TurnContext): Promise<void> {
    const a = context.activity;
    if (typeof a?.conversation?.id === 'string' && a.conversation.id) return super.run(context);
    this.deps.log.warn('Teams activity without a conversation ignored', { type: a?.type, name: a?.name });
    if (a?.type === ActivityTypes.Invoke)
      await context.sendActivity({
        type: 'invokeResponse',
        value: {
          status: 400,
          body: {
            statusCode: 400,
            type: 'application/vnd.microsoft.error',
            value: { code: 'BadRequest', message: 'The activity has no conversation.' },
          },
        },
      });
  }

  /** Stores the thread and channel of the activity and says who and where it is. */
  private async turnInfo(context: TurnContext): Promise<TurnInfo> {
    const a = context.activity;
    const { thread, channel } = conversationsOf(a);
    const [threadRef, channelRef] = await Promise.all([
      saveConversation(this.deps.store, thread),
      saveConversation(this.deps.store, channel),
    ]);
    const cd = (a.channelData ?? {}) as TeamsChannelData;
    // Admin grants: `teams:<AAD object id or Teams user id>`, `teams-channel:<channel, team or chat id>`.
    const userId = grantedId(this.deps.admins, SURFACE, [a.from?.aadObjectId, a.from?.id]) ?? 'unknown';
    const channelId = grantedId(this.deps.admins, `${SURFACE}-channel`, [
      cd.channel?.id,
      cd.team?.id,
      a.conversation.conversationType !== 'channel' ? a.conversation.id : undefined,
    ]);
    return { userId, userName: a.from?.name, channelId, channelRef, threadRef };
  }

  private send(context: TurnContext, activity: Partial<Activity>) {
    return withRetry(
      () => context.sendActivity(activity),
      this.deps.retry,
      (status, ms) => this.deps.log.warn('Teams connector throttled a reply; retrying', { status, waitMs: ms }),
    );
  }

  /** Runs a command line, or a form's command, as the turn's person; replies are collected or sent, as asked. */
  private async runCommand(
    context: TurnContext,
    info: TurnInfo,
    what: string | FormRun,
    collect: Message[] | null,
    attachments?: Attachment[],
  ): Promise<DispatchResult> {
    const reply = async (m: Message) => {
      if (collect) collect.push(m);
      else await this.send(context, renderActivity(m));
    };
    // Teams has no ephemeral reply: only a 1:1 chat with the bot is private.
    return this.dispatchAs(
      info,
      what,
      reply,
      context.activity.conversation?.conversationType !== 'personal',
      attachments,
    );
  }

  /**
   * Dispatches a command line, or runs a form's command, as the turn's person without touching the turn (usable after
   * it ended).
   */
  private dispatchAs(
    info: TurnInfo,
    what: string | FormRun,
    reply: (m: Message) => Promise<void>,
    repliesShared: boolean,
    attachments?: Attachment[],
  ): Promise<DispatchResult> {
    const who: IncomingForm = {
      surface: SURFACE,
      userId: info.userId,
      userName: info.userName,
      channelId: info.channelId,
      channelRef: info.channelRef,
      threadRef: info.threadRef,
      reply,
      repliesShared,
      // The command already sits in its thread: the summary is the reply there.
      openThread: async (summary) => {
        await reply(summary);
        return info.threadRef;
      },
      attachments,
    };
    return typeof what === 'string'
      ? this.deps.dispatcher.dispatch({ ...who, text: what })
      : what.run(this.deps.dispatcher, who);
  }

  private async handleMessage(context: TurnContext): Promise<void> {
    const a = context.activity;
    const info = await this.turnInfo(context);
    // Action.Submit fallback of a card: the values arrive as a message with `value`.
    const value = a.value as FormValues | undefined;
    if (value && typeof value === 'object' && typeof value.verb === 'string') {
      const card = await this.cardAction(context, info, value.verb, value);
      if (card && a.replyToId)
        await withRetry(
          () =>
            context.updateActivity({
              ...cardActivity(card, String(card.fallbackText ?? 'MailFerry')),
              id: a.replyToId,
            }),
          this.deps.retry,
        );
      else if (card) await this.send(context, cardActivity(card, String(card.fallbackText ?? 'MailFerry')));
      return;
    }
    const text = cleanText(TurnContext.removeRecipientMention(a) ?? a.text ?? '');
    const attachments = await this.files(a);
    // A bare `add`, `bulk` or `project create` from an admin opens its form.
    const bare = text
      .replace(/^\/?migrate\b\s*/i, '')
      .trim()
      .toLowerCase();
    const admin = isAdmin(this.deps.admins, SURFACE, info.userId, info.channelId);
    const form =
      !admin || attachments.length
        ? undefined
        : bare === 'add'
          ? addMailboxesCard()
          : bare === 'bulk'
            ? bulkAddCard()
            : bare === 'project create'
              ? newProjectCard()
              : undefined;
    if (form) {
      await this.send(context, cardActivity(form, String(form.fallbackText)));
      return;
    }
    await this.runCommand(context, info, text, null, attachments);
  }

  /** CSV files sent in a 1:1 chat (Teams hands the bot a download URL; channel files live in SharePoint). */
  private async files(a: Activity): Promise<Attachment[]> {
    const out: Attachment[] = [];
    for (const att of a.attachments ?? []) {
      if (att.contentType !== 'application/vnd.microsoft.teams.file.download.info') continue;
      const c = att.content as { downloadUrl?: string; fileType?: string } | undefined;
      if (!c?.downloadUrl || !/^(csv|txt)$/i.test(c.fileType ?? '')) continue;
      const download = this.deps.download ?? downloadText;
      try {
        out.push({ name: att.name ?? 'upload.csv', text: await download(c.downloadUrl) });
      } catch (e) {
        this.deps.log.warn('could not download a Teams attachment', {
          name: att.name,
          error: e instanceof Error ? e.message : String(e),
        });
      }
    }
    return out;
  }

  private async welcome(context: TurnContext): Promise<void> {
    await this.turnInfo(context);
    const card = welcomeCard(this.deps.examples);
    await this.send(context, cardActivity(card, String(card.fallbackText)));
  }

  /**
   * Universal Actions (`Action.Execute`): the card returned by the invoke replaces the one clicked, for everyone who
   * sees it.
   */
  protected async onAdaptiveCardInvoke(
    context: TurnContext,
    invokeValue: AdaptiveCardInvokeValue,
  ): Promise<AdaptiveCardInvokeResponse> {
    const info = await this.turnInfo(context);
    const verb = invokeValue.action?.verb ?? '';
    const card = await this.cardAction(context, info, verb, (invokeValue.action?.data ?? {}) as FormValues);
    if (!card)
      return {
        statusCode: 200,
        type: 'application/vnd.microsoft.activity.message',
        value: 'Done.',
      } as unknown as AdaptiveCardInvokeResponse;
    return { statusCode: 200, type: CARD_TYPE, value: card } as unknown as AdaptiveCardInvokeResponse;
  }

  /** One card action: the card to show in place of the clicked one, or null to keep it. */
  private async cardAction(
    context: TurnContext,
    info: TurnInfo,
    verb: string,
    v: FormValues,
  ): Promise<AdaptiveCard | null> {
    const values = {
      project: field(v, 'project'),
      addresses: field(v, 'addresses'),
      csv: field(v, 'csv'),
      ask: field(v, 'ask'),
      notify: field(v, 'notify'),
    };
    const project = projectOf(v);
    switch (verb) {
      case 'open.add':
        return addMailboxesCard({ project: values.project });
      case 'open.bulk':
        return bulkAddCard({ project: values.project });
      case 'open.project':
        return newProjectCard();
      case 'form.add':
        return this.submitForm(context, info, addCommand(v), (error, errorAt) =>
          addMailboxesCard({ ...values, error, errorAt }),
        );
      case 'form.bulk': {
        const cmd = bulkCommand(v);
        if ('error' in cmd) return bulkAddCard({ ...values, error: cmd.error, errorAt: cmd.field });
        return this.bulkForm(context, info, cmd, values);
      }
      case 'form.project': {
        const p = newProjectValues(v);
        return this.submitForm(context, info, projectCommand(v), (error, errorAt) =>
          newProjectCard({ ...p, error, errorAt }),
        );
      }
      case 'status.refresh':
        return this.statusCard(context, info, v);
      case 'status.start-waiting': {
        const started = await this.runCollected(
          context,
          info,
          formRun(start, { args: {}, opts: { waiting: true, project } }),
        );
        return this.statusCard(context, info, v, started.replies, started.ok);
      }
      case 'status.digest':
        return this.postDigestCard(context, info, v, project);
      case COMMAND_VERB:
        await this.runCommand(context, info, field(v, 'command'), null);
        return null;
      default:
        this.deps.log.warn('unknown Teams card action', { verb });
        return olderButtonCard();
    }
  }

  /**
   * A submitted form: its command's result in place of the form, or the form again (`again`)
   * with what was wrong, at the input it concerns.
   */
  private async submitForm(
    context: TurnContext,
    info: TurnInfo,
    cmd: FormCommand,
    again: (error: string, errorAt?: string) => AdaptiveCard,
  ): Promise<AdaptiveCard> {
    if ('error' in cmd) return again(cmd.error, cmd.field);
    const replies: Message[] = [];
    const r = await this.runCommand(context, info, cmd, replies);
    if (!r.ok) return again(replies.map((m) => m.text).join('\n') || 'That did not work.', cardInputOf(r.field));
    return resultCard(replies);
  }

  /** Runs a form's command as the turn's person; its replies, and whether it worked. */
  private async runCollected(
    context: TurnContext,
    info: TurnInfo,
    cmd: FormRun,
  ): Promise<{ replies: Message[]; ok: boolean }> {
    const replies: Message[] = [];
    const r = await this.runCommand(context, info, cmd, replies);
    return { replies, ok: r.ok };
  }

  /** The status card's digest button: the digest posted here, then the status card saying it went out. */
  private async postDigestCard(
    context: TurnContext,
    info: TurnInfo,
    v: FormValues,
    project: string | undefined,
  ): Promise<AdaptiveCard> {
    const { replies, ok } = await this.runCollected(context, info, formRun(digest, { args: {}, opts: { project } }));
    // The digest itself is a post in the thread; the card says it went out.
    if (ok) for (const m of replies) await this.send(context, renderActivity(m));
    return this.statusCard(
      context,
      info,
      v,
      ok ? [{ kind: 'notice', text: 'Digest posted in this conversation.', blocks: [], tone: 'success' }] : replies,
      ok,
    );
  }

  /**
   * The bulk form: a small one is added within the invoke; a large one is answered "Adding N
   * mailboxes…" at once and its result posted to the conversation when done. A retried
   * invoke (same activity id) starts nothing: in this process it gets the first answer, in
   * another the "Adding…" card.
   */
  private async bulkForm(
    context: TurnContext,
    info: TurnInfo,
    cmd: FormRun,
    values: { project: string; csv: string; ask: string; notify: string },
  ): Promise<AdaptiveCard> {
    const a = context.activity;
    const lines = (cmd.body ?? '').split('\n').filter((l) => l.trim() && !/^\s*source\b[^@]*$/i.test(l)).length;
    const adding = renderAdaptiveCard({
      kind: 'bulk-adding',
      text:
        `Adding ${formatCount(lines)} ${lines === 1 ? 'mailbox' : 'mailboxes'}` +
        `${values.project ? ` to ${values.project}` : ''}… The result will be posted in this conversation.`,
      tone: 'info',
      blocks: [
        {
          type: 'text',
          text:
            `⏳ Adding ${formatCount(lines)} ${lines === 1 ? 'mailbox' : 'mailboxes'}` +
            `${values.project ? ` to ${values.project}` : ''}…`,
        },
        {
          type: 'context',
          text:
            'Every line is checked as if it were typed. The result ' +
            'will be posted in this conversation when it is done.',
        },
      ],
    });
    const key = a.id ? `teams-bulk:${a.conversation?.id ?? ''}:${a.id}` : undefined;
    const known = key ? this.bulkAnswers.get(key) : undefined;
    if (known) {
      this.deps.log.info('Teams bulk form received again (a retry); answered as the first, not run twice', { lines });
      return known;
    }
    // Another process may have taken the first delivery: the shared ledger says so.
    if (key && this.deps.claim && !(await this.deps.claim([key], BULK_RETRY_WINDOW_MS))) {
      this.deps.log.info('Teams bulk form received again (a retry); not run twice', { lines });
      return adding;
    }
    const answer = this.runBulk(context, info, cmd, lines, values, adding);
    if (key) {
      this.bulkAnswers.set(key, answer);
      setTimeout(() => this.bulkAnswers.delete(key), BULK_RETRY_WINDOW_MS).unref();
    }
    return answer;
  }

  /**
   * Runs a bulk add. Up to `bulkInlineLines` lines it runs within the invoke and the card
   * shows its result; a larger one is answered `adding` at once and runs after the answer
   * went out (the database work does not yield, so no deadline could cut it short), its
   * result posted to the conversation when it is done.
   */
  private async runBulk(
    context: TurnContext,
    info: TurnInfo,
    cmd: FormRun,
    lines: number,
    values: { project: string; csv: string; ask: string; notify: string },
    adding: AdaptiveCard,
  ): Promise<AdaptiveCard> {
    const replies: Message[] = [];
    if (lines <= (this.deps.bulkInlineLines ?? BULK_INLINE_LINES)) {
      const r = await this.runCommand(context, info, cmd, replies);
      if (!r.ok)
        return bulkAddCard({
          ...values,
          error: replies.map((m) => m.text).join('\n') || 'That did not work.',
          errorAt: cardInputOf(r.field),
        });
      return resultCard(replies);
    }
    const shared = context.activity.conversation?.conversationType !== 'personal';
    const post = async (message: Message) => {
      if (this.deps.post) await this.deps.post({ threadRef: info.threadRef, message });
    };
    const work = new Promise<void>((res) => setTimeout(res, 0))
      .then(() => this.dispatchAs(info, cmd, async (m) => void replies.push(m), shared))
      .then(
        (r) => post(resultMessage(replies, r.ok)),
        async (e) => {
          this.deps.log.error('Teams bulk form failed', { error: e instanceof Error ? e.message : String(e) });
          await post({
            kind: 'error',
            text: 'The bulk add failed; see the server log.',
            tone: 'error',
            blocks: [{ type: 'text', text: '❌ The bulk add failed; see the server log.' }],
          });
        },
      )
      .catch((e) =>
        this.deps.log.error('could not post the result of a Teams bulk form', {
          error: e instanceof Error ? e.message : String(e),
        }),
      );
    this.inflight.add(work);
    void work.finally(() => this.inflight.delete(work));
    return adding;
  }

  /** The project status card, refreshed, with the outcome of the action that preceded it. */
  private async statusCard(
    context: TurnContext,
    info: TurnInfo,
    v: FormValues,
    notices: Message[] = [],
    ok = true,
  ): Promise<AdaptiveCard> {
    const replies: Message[] = [];
    const r = await this.runCommand(
      context,
      info,
      formRun(statusCommand, { args: {}, opts: { project: projectOf(v) } }),
      replies,
    );
    const status = replies.find((m) => m.kind === 'project-status');
    if (!r.ok || !status) return resultCard(replies);
    const notice = notices.map((m) => m.text).join('\n');
    return projectStatusCard(status, {
      notice,
      noticeTone: ok ? (notices.some((m) => m.tone === 'warning') ? 'warning' : 'success') : 'error',
    });
  }
}

/** What the new-project form was given, to show it again with an error. */
function newProjectValues(v: FormValues) {
  return {
    name: field(v, 'name'),
    source: field(v, 'source'),
    destination: field(v, 'destination'),
    selfService: field(v, 'selfService'),
    notify: field(v, 'notify'),
    licenses: field(v, 'licenses'),
  };
}

/** The card for a button this version does not know. */
function olderButtonCard(): AdaptiveCard {
  return renderAdaptiveCard({
    kind: 'error',
    text: 'This button is from an older version of MailFerry. Type "help" for the commands.',
    tone: 'error',
    blocks: [
      {
        type: 'text',
        text: 'This button is from an older version of MailFerry. Mention me with "help" for the commands.',
      },
    ],
  });
}

/** The replies of a command as one message ("Done." when there were none). */
function resultMessage(replies: Message[], ok = true): Message {
  const [only] = replies;
  if (only && replies.length === 1) return only;
  const merged: Message = {
    kind: 'result',
    text: replies.map((m) => m.text).join('\n'),
    tone: !ok || replies.some((m) => m.tone === 'error') ? 'error' : replies[0]?.tone,
    blocks: replies.flatMap((m) => m.blocks),
  };
  return merged.blocks.length
    ? merged
    : {
        kind: 'result',
        text: ok ? 'Done.' : 'That did not work.',
        blocks: [{ type: 'text', text: ok ? 'Done.' : 'That did not work.' }],
      };
}

/** The replies of a form's command as one card (the form is replaced by what happened). */
function resultCard(replies: Message[]): AdaptiveCard {
  return renderAdaptiveCard(resultMessage(replies));
}
