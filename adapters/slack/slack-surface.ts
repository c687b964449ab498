import express, { type Express } from 'express';
import { App as BoltApp, ExpressReceiver, LogLevel, type webApi, type Logger as BoltLogger } from '@slack/bolt';
import type { Dispatcher, DispatchResult, IncomingForm } from '../../bot/dispatch.ts';
import type { Attachment, InputOf } from '../../bot/commands/types.ts';
import { bulk } from '../../bot/commands/bulk.ts';
import { projectCreate } from '../../bot/commands/project-create.ts';
import { checkInput, formChoice } from '../../bot/parse/check-input.ts';
import { add, ASK_OPTION, NOTIFY_OPTION } from '../../bot/commands/add.ts';
import { NOTIFY_SETTING, SELF_SERVICE_SETTING } from '../../bot/commands/shared.ts';
import type { Logger } from '../../bot/log.ts';
import { isAdmin } from '../../bot/auth.ts';
import { parseFor } from '../../bot/parse/parse-command.ts';
import { parseBulkCsv } from '../../bot/parse/parse-csv.ts';
import type { Message } from '../../cards/model.ts';
import { errorMessage, notAdminMessage } from '../../cards/help.ts';
import { UserError } from '../../engine/errors.ts';
import { COMMAND_ACTION_PREFIX, LINK_ACTION_PREFIX, renderBlockKit } from '../../cards/render-block-kit.ts';
import {
  addMailboxesModal,
  blockOf,
  bulkModal,
  FIELD,
  MODAL,
  projectModal,
  VALUE_ACTION,
  type ModalInitial,
} from '../../cards/slack-modals.ts';
import { channelRef, unpackThreadRef } from './thread-ref.ts';
import { slackErrorCode, type SlackThreads } from './slack-threads.ts';
import { verifySlackRequest } from './verify-signature.ts';
import { dropRepeatedRequests, type ClaimRequest } from './dedupe.ts';

/** The Slack endpoint: one URL receives every Slack request (slash commands, interactivity, events). */
export const SLACK_EVENTS_PATH = '/slack/events';
/** `response_url` accepts at most five calls (Slack docs, "Handling user interaction"). */
const RESPONSE_URL_BUDGET = 5;
/** Time allowed for work done before a modal submission is acknowledged (Slack wants the answer within 3 s). */
const MODAL_DEADLINE_MS = 2300;
/** Largest CSV file read from a modal. */
const MAX_CSV_BYTES = 5_000_000;

/** What the Slack surface needs from the core. */
export interface SlackSurfaceDeps {
  signingSecret: string;
  botToken: string;
  /** Web API base (SLACK_API_URL); Slack's own when absent. */
  apiUrl?: string;
  admins: readonly string[];
  dispatcher: Dispatcher;
  threads: SlackThreads;
  client: webApi.WebClient;
  log: Logger;
  /** The HTTP app to mount `POST /slack/events` on. */
  http: Express;
  retryConfig?: webApi.RetryOptions;
  /** Clock for the signature window (tests). */
  nowSeconds?: () => number;
  /** Records each request's keys so retries and replays run once (shared by every process on the database). */
  claim: ClaimRequest;
  /** The bot's ids once `auth.test` answered at start-up (undefined until then); never awaited by a request. */
  identity?: () => SlackBotIdentity | undefined;
}

/** Who the bot is in its workspace (`auth.test`'s `bot_id` and `user_id`). */
export interface SlackBotIdentity {
  botId: string;
  botUserId: string;
}

/** Where an answer to the person goes: the command's response_url while it lasts, then chat.postEphemeral. */
interface ReplyTarget {
  channel: string;
  user: string;
  responseUrl?: string;
  threadTs?: string;
}

/** A value Bolt logs, as text: an error's message, a string as is, anything else as JSON. */
const logText = (x: unknown): string =>
  x instanceof Error ? x.message : typeof x === 'string' ? x : JSON.stringify(x);

/** Bolt's logger interface over ours (Bolt's own lines, with its name). */
function boltLogger(log: Logger): BoltLogger {
  let level = LogLevel.INFO;
  const line =
    (l: 'debug' | 'info' | 'warn' | 'error') =>
    (...m: unknown[]) =>
      log.log(l, `bolt: ${m.map(logText).join(' ')}`);
  return {
    debug: line('debug'),
    info: line('info'),
    warn: line('warn'),
    error: line('error'),
    setLevel: (l) => void (level = l),
    getLevel: () => level,
    setName: () => {},
  };
}

/**
 * Which modal a bare command opens, if any: `add`, `bulk` (always: a slash command cannot carry a file), `project
 * create`.
 */
export function modalFor(text: string): { modal: 'add' | 'bulk' | 'project'; rest: string } | null {
  const t = text.replace(/^\s*\/?migrate\b/i, '').trim();
  if (/^add$/i.test(t)) return { modal: 'add', rest: '' };
  if (/^project\s+create$/i.test(t)) return { modal: 'project', rest: '' };
  const m = /^bulk(\s+--.*)?$/is.exec(t);
  if (m && !t.includes('\n') && !/--help\b/.test(t)) return { modal: 'bulk', rest: (m[1] ?? '').trim() };
  return null;
}

type StateValue = {
  type: string;
  value?: string | null;
  selected_option?: { value: string } | null;
  files?: SlackFile[];
};
type SlackFile = { id: string; name?: string; url_private_download?: string; url_private?: string; size?: number };
/** A view submission's ack: empty, or `response_action: errors`. */
type ViewAck = (r?: { response_action: 'errors'; errors: Record<string, string> }) => Promise<void>;
/** A modal's submission as each form's submit reads it: the ack, the fields, who sent it and from where. */
interface Submission {
  ack: ViewAck;
  v: ViewState;
  meta: ModalMeta;
  user: string;
  userName?: string;
}
type ViewState = Record<string, Record<string, StateValue>>;

/** What a Slack request runs: a command line, or a form's command with its typed input. */
type Work = { text: string } | { form: (who: IncomingForm) => Promise<DispatchResult> };

/** Metadata a modal carries from the command to its submission (Slack round-trips it in the signed payload). */
interface ModalMeta {
  c: string; // channel
  t: string; // team
  r?: string; // response_url of the command
  th?: string; // thread ts
}

/**
 * The Slack surface: Bolt on the shared Express app at `POST /slack/events`, behind our own
 * signature check. Translates slash commands, modal submissions, buttons and mentions into
 * `dispatcher.dispatch` calls, and replies back: ephemeral to the person, anchors and
 * thread posts through `SlackThreads`. Holds no business rule and touches no database.
 */
export class SlackSurface {
  readonly bolt: BoltApp;
  private receiver: ExpressReceiver;
  private inflight = new Set<Promise<unknown>>();

  constructor(private d: SlackSurfaceDeps) {
    const logger = boltLogger(d.log);
    this.receiver = new ExpressReceiver({
      signingSecret: d.signingSecret,
      // Our own check runs first (both directions of the 5-minute window); Bolt's would only look back.
      signatureVerification: false,
      endpoints: SLACK_EVENTS_PATH,
      processBeforeResponse: false,
      router: express.Router(),
      app: express(),
      logger,
    });
    this.bolt = new BoltApp({
      // Bolt's single-workspace authorization (a bare `token`) calls auth.test before every
      // listener when it has no bot ids: a slow or rate-limited auth.test would delay or drop
      // the 3-second ack. The token is checked once by installSlack at start-up (with a fix-it
      // message); each request gets the token and whatever ids that check learnt, at once.
      authorize: async () => ({ botToken: d.botToken, ...(d.identity?.() ?? {}) }),
      receiver: this.receiver,
      logger,
      clientOptions: {
        ...(d.apiUrl ? { slackApiUrl: d.apiUrl } : {}),
        ...(d.retryConfig ? { retryConfig: d.retryConfig } : {}),
      },
    });
    d.http.post(
      SLACK_EVENTS_PATH,
      verifySlackRequest(
        d.signingSecret,
        (code, req) => d.log.warn('slack: request refused', { code, ip: req.ip }),
        d.nowSeconds,
      ),
      dropRepeatedRequests(d.claim, d.log),
    );
    d.http.use(this.receiver.router);
    this.routes();
  }

  /** Waits for work started after an ack (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => {});
    return p;
  }

  /** Registers Bolt's listeners, in this order: the slash command, modal submits, buttons, mentions, errors. */
  private routes(): void {
    const b = this.bolt;
    this.routeSlashCommand(b);
    this.routeModalSubmits(b);
    this.routeButtons(b);
    this.routeMentions(b);
    b.error(async (e) => {
      this.d.log.error('slack: listener failed', { error: e instanceof Error ? e.message : String(e) });
    });
  }

  /** The slash command: acked at once, then a modal opened or the command run. */
  private routeSlashCommand(b: BoltApp): void {
    // Slash command: ack at once (Slack's 3 s), then run. Bare add/bulk/project create open a modal.
    // The work is tracked from before the ack: once Slack (or a test) has its 200, idle() waits for it.
    b.command(/.*/, ({ command, ack, client }) =>
      this.track(
        (async () => {
          await ack();
          const target: ReplyTarget = {
            channel: command.channel_id,
            user: command.user_id,
            responseUrl: command.response_url,
          };
          const modal = modalFor(command.text ?? '');
          if (modal) await this.openModal(client, modal, command.trigger_id, command.team_id, target);
          else await this.run({ text: command.text ?? '', team: command.team_id, userName: command.user_name, target });
        })(),
      ),
    );
  }

  /** Each modal's submission goes to its own submit. */
  private routeModalSubmits(b: BoltApp): void {
    // Modal submissions: each form's fields go to its own submit, tracked from before its ack.
    const submits = [
      [MODAL.add, this.submitAdd],
      [MODAL.bulk, this.submitBulk],
      [MODAL.project, this.submitProject],
    ] as const;
    for (const [id, submit] of submits) {
      b.view(id, async ({ ack, view, body }) => {
        const values = view.state.values as unknown as ViewState;
        await this.track(
          (async () => {
            const meta = this.meta(view.private_metadata);
            const user = body.user.id;
            await submit.call(this, { ack: ack as ViewAck, v: values, meta, user, userName: body.user.name });
          })(),
        );
      });
    }
  }

  /** Button clicks: link buttons are only acknowledged, command buttons run their command line. */
  private routeButtons(b: BoltApp): void {
    // URL buttons (the secure form) still send an action: acknowledge, nothing else.
    b.action(new RegExp(`^${LINK_ACTION_PREFIX}`), async ({ ack }) => {
      await ack();
    });
    // Command buttons run their command line as the person who clicks (admin rules apply).
    b.action(new RegExp(`^${COMMAND_ACTION_PREFIX}`), ({ ack, body, action }) =>
      this.track(
        (async () => {
          await ack();
          const a = body as unknown as {
            user: { id: string; name?: string };
            team?: { id: string };
            channel?: { id: string };
            response_url?: string;
            container?: { thread_ts?: string; message_ts?: string };
          };
          const value = (action as { value?: string }).value;
          if (!value || !a.channel?.id) return;
          const threadTs = a.container?.thread_ts;
          await this.run({
            text: value,
            team: a.team?.id ?? '',
            userName: a.user.name,
            target: { channel: a.channel.id, user: a.user.id, responseUrl: a.response_url, threadTs },
          });
        })(),
      ),
    );
  }

  /** A mention: a pointer to the slash command, once per event. */
  private routeMentions(b: BoltApp): void {
    // A mention gets a pointer to the slash command (commands are not run from messages).
    b.event('app_mention', async ({ event, client, context }) => {
      // Slack redelivers an event it thinks was not acknowledged in time (X-Slack-Retry-Num): answer once.
      if (context.retryNum) return;
      const text =
        'I work with the `/migrate` command: type `/migrate help` in a channel. Passwords are never typed in Slack.';
      await this.track(
        client.chat
          .postEphemeral({
            channel: event.channel,
            user: event.user ?? '',
            text,
            ...(event.thread_ts ? { thread_ts: event.thread_ts } : {}),
          })
          .catch((e) => this.d.log.warn('slack: mention answer failed', { code: slackErrorCode(e) })),
      );
    });
  }

  // ------------------------------------------------------------------ commands

  /** Runs one command line, or a form's command, as a Slack user; replies are ephemeral, anchors go to the channel. */
  private async run(
    r: Work & {
      team: string;
      userName?: string;
      target: ReplyTarget;
      attachments?: Attachment[];
      reply?: (m: Message) => Promise<void>;
    },
  ): Promise<DispatchResult> {
    const { target } = r;
    const reply = r.reply ?? this.replier(target);
    const existing = target.threadTs ? `slack:${r.team || '-'}/${target.channel}/${target.threadTs}` : null;
    const inc: IncomingForm = {
      surface: 'slack',
      userId: target.user,
      userName: r.userName,
      channelId: target.channel,
      channelRef: channelRef(target.channel),
      threadRef: existing && unpackThreadRef(existing) ? existing : null,
      reply,
      openThread: async (summary) => {
        if (inc.threadRef) {
          await this.d.threads.postInThread(inc.threadRef, summary);
          return inc.threadRef;
        }
        try {
          return await this.d.threads.openAnchor(r.team, target.channel, summary, target.user);
        } catch (e) {
          const code = slackErrorCode(e);
          this.d.log.warn('slack: anchor not posted', { code, error: e instanceof Error ? e.message : String(e) });
          await reply(
            errorMessage(
              `I could not post in this channel${code ? ` (${code})` : ''}, ` +
                `so status updates will not have a thread here.`,
              code === 'not_in_channel' || code === 'channel_not_found'
                ? 'Invite me with `/invite @MailFerry`, then follow progress with `/migrate status`.'
                : 'Follow progress with `/migrate status`.',
            ),
          );
          return null;
        }
      },
      attachments: r.attachments,
    };
    return 'text' in r ? this.d.dispatcher.dispatch({ ...inc, text: r.text }) : r.form(inc);
  }

  /** Ephemeral answers to one person: the response_url while it lasts (5 calls), then chat.postEphemeral. */
  private replier(t: ReplyTarget): (m: Message) => Promise<void> {
    let used = 0;
    return async (m) => {
      const kit = renderBlockKit(m);
      if (t.responseUrl && used < RESPONSE_URL_BUDGET) {
        used++;
        try {
          const res = await fetch(t.responseUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              response_type: 'ephemeral',
              replace_original: false,
              text: kit.text,
              blocks: kit.blocks,
            }),
            signal: AbortSignal.timeout(10_000),
          });
          if (res.ok) return;
          this.d.log.warn('slack: response_url refused the reply', { status: res.status });
        } catch (e) {
          this.d.log.warn('slack: response_url failed', { error: e instanceof Error ? e.message : String(e) });
        }
      }
      await this.d.client.chat.postEphemeral({
        channel: t.channel,
        user: t.user,
        text: kit.text,
        blocks: kit.blocks,
        ...(t.threadTs ? { thread_ts: t.threadTs } : {}),
      } as unknown as webApi.ChatPostEphemeralArguments);
    };
  }

  // ------------------------------------------------------------------ modals

  private async openModal(
    client: webApi.WebClient,
    m: { modal: 'add' | 'bulk' | 'project'; rest: string },
    triggerId: string,
    team: string,
    target: ReplyTarget,
  ): Promise<void> {
    const reply = this.replier(target);
    // Modals start admin commands: refuse before showing a form.
    const name = m.modal === 'project' ? 'project create' : m.modal;
    if (!isAdmin(this.d.admins, 'slack', target.user, target.channel)) {
      this.d.log.warn('command refused: not an admin', { surface: 'slack', user: target.user, command: name });
      return reply(notAdminMessage(name));
    }
    let initial: ModalInitial = {};
    if (m.rest) {
      try {
        const { opts } = parseFor(bulk, m.rest, 'slack');
        initial = { ask: opts.ask, notify: opts.notify, project: opts.project };
      } catch {
        // Let the dispatcher explain the mistake.
        await this.run({ text: `bulk ${m.rest}`, team, target, reply });
        return;
      }
    }
    const meta: ModalMeta = { c: target.channel, t: team, ...(target.responseUrl ? { r: target.responseUrl } : {}) };
    const metadata = JSON.stringify(meta);
    const view =
      m.modal === 'add'
        ? addMailboxesModal(metadata, initial)
        : m.modal === 'bulk'
          ? bulkModal(metadata, initial)
          : projectModal(metadata);
    try {
      await client.views.open({ trigger_id: triggerId, view: view as unknown as webApi.ViewsOpenArguments['view'] });
    } catch (e) {
      this.d.log.warn('slack: modal not opened', { code: slackErrorCode(e) });
      await reply(
        errorMessage(
          `The form could not be opened (${slackErrorCode(e) ?? 'Slack did not answer in time'}).`,
          `Type the command with its arguments instead: \`/migrate help ${name}\`.`,
        ),
      );
    }
  }

  private meta(raw: string): ModalMeta {
    const m = JSON.parse(raw || '{}') as ModalMeta;
    if (!m.c) throw new Error('modal without channel metadata');
    return m;
  }

  private targetOf(meta: ModalMeta, user: string): ReplyTarget {
    return { channel: meta.c, user, responseUrl: meta.r };
  }

  /**
   * The options the add and bulk modals share, as `add` and `bulk` take them (a radio value that is not a choice is
   * refused at its field).
   */
  private addOptions(v: ViewState): InputOf<typeof add>['opts'] {
    const project = v[FIELD.project]?.[VALUE_ACTION]?.value?.trim();
    return {
      ask: formChoice(ASK_OPTION, picked(v, FIELD.ask)),
      notify: formChoice(NOTIFY_OPTION, picked(v, FIELD.notify)),
      project: project || undefined,
    };
  }

  private async submitAdd({ ack, v, meta, user, userName }: Submission): Promise<void> {
    const raw = v[FIELD.addresses]?.[VALUE_ACTION]?.value ?? '';
    let opts: InputOf<typeof add>['opts'];
    try {
      opts = this.addOptions(v);
    } catch (e) {
      return ack(refusal(e, FIELD.addresses));
    }
    const rows: InputOf<typeof add>[] = [];
    const problems: string[] = [];
    const lines = raw.split('\n').map((l) => l.trim());
    lines.forEach((line, i) => {
      if (!line || line.startsWith('#')) return;
      const words = line.split(/[\s,;]+|→|->/).filter(Boolean);
      if (words.length > 2)
        return void problems.push(`Line ${i + 1}: a source address and at most one destination address.`);
      try {
        // The command's own rules (Google consumer accounts refused, etc.).
        rows.push(
          checkInput(add, { args: { SOURCE_ADDRESS: words[0] ?? '', DESTINATION_ADDRESS: words[1] }, opts }, 'slack'),
        );
      } catch (e) {
        problems.push(
          `${lines.filter(Boolean).length > 1 ? `Line ${i + 1}: ` : ''}${e instanceof Error ? e.message : String(e)}`,
        );
      }
    });
    if (!rows.length && !problems.length) problems.push('Enter at least one address.');
    if (problems.length) {
      await ack({ response_action: 'errors', errors: { [FIELD.addresses]: fieldError(problems) } });
      return;
    }
    await ack();
    const target = this.targetOf(meta, user);
    const [one] = rows;
    if (one && rows.length === 1)
      await this.run({ form: (who) => this.d.dispatcher.run(add, one, who), team: meta.t, userName, target });
    // Several addresses are one batch: one anchor for all of them.
    else {
      const csv = rows
        .map((r) => [r.args.SOURCE_ADDRESS, r.args.DESTINATION_ADDRESS].filter(Boolean).join(','))
        .join('\n');
      await this.run({
        form: (who) => this.d.dispatcher.run(bulk, { args: {}, opts }, who),
        team: meta.t,
        userName,
        target,
        attachments: [{ name: 'Add mailboxes', text: csv }],
      });
    }
  }

  private async submitBulk({ ack, v, meta, user, userName }: Submission): Promise<void> {
    const files = v[FIELD.file]?.[VALUE_ACTION]?.files ?? [];
    const pasted = (v[FIELD.paste]?.[VALUE_ACTION]?.value ?? '').trim();
    if (!files.length && !pasted) {
      await ack({
        response_action: 'errors',
        errors: { [FIELD.paste]: 'Attach a CSV file above, or paste the lines here.' },
      });
      return;
    }
    const attachments: Attachment[] = [];
    for (const f of files) {
      try {
        attachments.push({ name: f.name ?? 'upload.csv', text: await this.download(f) });
      } catch (e) {
        await ack({
          response_action: 'errors',
          errors: { [FIELD.file]: `The file could not be read: ${e instanceof Error ? e.message : String(e)}` },
        });
        return;
      }
    }
    if (pasted) attachments.push({ name: 'pasted lines', text: pasted });
    for (const a of attachments) {
      const { rows, refused } = parseBulkCsv(a.text);
      if (!rows.length) {
        const why = refused[0] ? ` Line ${refused[0].line}: ${refused[0].reason}.` : '';
        await ack({
          response_action: 'errors',
          errors: {
            [a.name === 'pasted lines' ? FIELD.paste : FIELD.file]:
              `No mailbox line found: expected source,destination[,source_login,destination_login].${why}`,
          },
        });
        return;
      }
    }
    let input: InputOf<typeof bulk>;
    try {
      input = checkInput(bulk, { args: {}, opts: this.addOptions(v) }, 'slack');
    } catch (e) {
      return ack(refusal(e, FIELD.project));
    }
    await ack();
    await this.run({
      form: (who) => this.d.dispatcher.run(bulk, input, who),
      team: meta.t,
      userName,
      target: this.targetOf(meta, user),
      attachments,
    });
  }

  /** Downloads an uploaded file with the bot token (`files:read`), only from Slack's own hosts. */
  private async download(f: SlackFile): Promise<string> {
    let url = f.url_private_download ?? f.url_private;
    if (!url) {
      const info = await this.d.client.files.info({ file: f.id });
      url = info.file?.url_private_download ?? info.file?.url_private;
    }
    if (!url) throw new Error('Slack gave no download link');
    const host = new URL(url).host;
    const allowed = ['files.slack.com', ...(this.d.apiUrl ? [new URL(this.d.apiUrl).host] : [])];
    // The bot token goes to Slack and nowhere else.
    if (!allowed.includes(host)) throw new Error(`unexpected file host ${host}`);
    const res = await fetch(url, {
      headers: { authorization: `Bearer ${this.d.botToken}` },
      signal: AbortSignal.timeout(MODAL_DEADLINE_MS - 300),
    });
    if (!res.ok) throw new Error(`Slack answered ${res.status}`);
    const buf = Buffer.from(await res.arrayBuffer());
    if (buf.length > MAX_CSV_BYTES) throw new Error(`it is larger than ${MAX_CSV_BYTES / 1_000_000} MB`);
    // Slack serves an HTML login page when the token may not read the file.
    if ((res.headers.get('content-type') ?? '').includes('text/html'))
      throw new Error('Slack did not give access to it (is the files:read scope granted?)');
    return buf.toString('utf8');
  }

  private async submitProject({ ack, v, meta, user, userName }: Submission): Promise<void> {
    const val = (f: string) => v[f]?.[VALUE_ACTION]?.value?.trim() ?? '';
    let input: InputOf<typeof projectCreate>;
    try {
      input = checkInput(
        projectCreate,
        {
          args: { NAME: val(FIELD.name) },
          opts: {
            source: val(FIELD.source),
            destination: val(FIELD.destination),
            'self-service': formChoice(SELF_SERVICE_SETTING, picked(v, FIELD.selfService)),
            notify: formChoice(NOTIFY_SETTING, picked(v, FIELD.notify)),
            licenses: val(FIELD.licenses) ? Number(val(FIELD.licenses)) : undefined,
          },
        },
        'slack',
      );
    } catch (e) {
      return ack(refusal(e, FIELD.name));
    }
    // Run before answering, within Slack's 3 s, so refusals show on the field; late answers go ephemeral.
    const target = this.targetOf(meta, user);
    const later = this.replier(target);
    const held: Message[] = [];
    let acked = false;
    const reply = async (m: Message) => {
      if (acked) await later(m);
      else held.push(m);
    };
    const running = this.run({
      form: (who) => this.d.dispatcher.run(projectCreate, input, who),
      team: meta.t,
      userName,
      target,
      reply,
    });
    const first = await Promise.race([
      running,
      new Promise<'late'>((r) => setTimeout(() => r('late'), MODAL_DEADLINE_MS)),
    ]);
    if (first !== 'late' && !first.ok && first.code !== 'INTERNAL' && first.code !== 'NOT_ADMIN') {
      acked = true;
      const msg = held
        .map((m) => m.blocks.find((b) => b.type === 'text')?.text ?? m.text)
        .join(' ')
        .replace(/^⚠️\s*/, '');
      await ack({ response_action: 'errors', errors: { [blockOf(first.field, FIELD.name)]: fieldError([msg]) } });
      return;
    }
    acked = true;
    await ack();
    for (const m of held) await later(m);
    await running;
  }
}

/** The value of a modal's radio buttons. */
function picked(v: ViewState, block: string): string | undefined {
  return v[block]?.[VALUE_ACTION]?.selected_option?.value;
}

/** A modal's answer to a refusal: shown at the field it is about (`UserError.field`), or at `fallback`. */
function refusal(e: unknown, fallback: string): { response_action: 'errors'; errors: Record<string, string> } {
  if (!(e instanceof UserError)) throw e;
  return { response_action: 'errors', errors: { [blockOf(e.field, fallback)]: fieldError([e.message]) } };
}

/** One field error text (Slack shows it under the field; keep it short). */
function fieldError(problems: string[]): string {
  const head = problems.slice(0, 3).join(' ');
  return (problems.length > 3 ? `${head} …and ${problems.length - 3} more.` : head).slice(0, 1000);
}
