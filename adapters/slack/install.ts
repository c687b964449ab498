import { webApi } from '@slack/bolt';
import type { App } from '../../bot/app.ts';
import type { AnchorSummaryView } from '../../cards/anchor-slack.ts';
import { slackDmSender } from './dm-sender.ts';
import { DEFAULT_THREADS_OPTIONS, SlackThreads, type SlackThreadsOptions } from './slack-threads.ts';
import { SlackSurface, type SlackBotIdentity } from './slack-surface.ts';
import { requestLedger } from '../../bot/store/seen-requests.ts';

/** Web API retries: a few, quick; longer outages are the notifier outbox's to retry (it keeps posts in order). */
export const DEFAULT_RETRY: webApi.RetryOptions = { retries: 3, factor: 2, minTimeout: 1000, maxTimeout: 10_000 };

/** Options for tests and tuning. */
export interface InstallSlackOptions {
  /** `serve`: HTTP endpoint, poster and DM sender; `worker`: poster and DM sender only (passes run there). */
  mode?: 'serve' | 'worker';
  threads?: Partial<SlackThreadsOptions>;
  /** The Web API retry policy (default: a few quick retries; the notifier's outbox retries longer). */
  retryConfig?: webApi.RetryOptions;
  nowSeconds?: () => number;
  /** First wait before auth.test is tried again after a network failure or a 429 (doubles each time). Default 15 s. */
  authRetryMs?: number;
}

/** What was installed. */
export interface InstalledSlack {
  client: webApi.WebClient;
  threads: SlackThreads;
  surface?: SlackSurface;
}

/**
 * Wires Slack into an app when SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN are set: the
 * `slack` thread poster, the Slack DM sender for credential requests, and (serve) Bolt at
 * `POST /slack/events`. Returns null when Slack is not configured.
 */
export function installSlack(app: App, opts: InstallSlackOptions = {}): InstalledSlack | null {
  const { signingSecret, botToken, apiUrl } = app.config.slack;
  if (!signingSecret || !botToken) return null;
  const log = app.log.child({ surface: 'slack' });
  const client = new webApi.WebClient(botToken, {
    ...(apiUrl ? { slackApiUrl: apiUrl } : {}),
    // 429s wait Retry-After inside the client; beyond a few attempts the notifier's outbox takes over.
    retryConfig: opts.retryConfig ?? DEFAULT_RETRY,
    logLevel: webApi.LogLevel.ERROR,
  });
  const threads = new SlackThreads(client, log, {
    ...DEFAULT_THREADS_OPTIONS,
    summarize: (ref) => summarizeThread(app, ref),
    ...opts.threads,
  });
  app.notifier.register('slack', threads.poster);
  app.outreach.addSender(slackDmSender(client, log));
  let surface: SlackSurface | undefined;
  let identity: SlackBotIdentity | undefined;
  if ((opts.mode ?? 'serve') === 'serve') {
    surface = new SlackSurface({
      signingSecret,
      botToken,
      apiUrl,
      admins: app.config.admins,
      dispatcher: app.dispatcher,
      threads,
      client,
      log,
      http: app.http,
      retryConfig: opts.retryConfig ?? DEFAULT_RETRY,
      nowSeconds: opts.nowSeconds,
      claim: requestLedger(app.db).claim,
      identity: () => identity,
    });
  }
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  // One auth.test at start-up, off every request's path; a network failure or a 429 is tried again later.
  const check = async (attempt: number): Promise<void> => {
    const r = await checkToken(client, log);
    if (r.ok) identity = r.identity;
    else if (r.retry && !closed && attempt < 6)
      retry = setTimeout(
        () => void check(attempt + 1),
        Math.min(300_000, (opts.authRetryMs ?? 15_000) * 2 ** attempt),
      ).unref();
  };
  if (surface) void check(0);
  app.onClose(async () => {
    closed = true;
    clearTimeout(retry);
    await surface?.idle();
    await app.bus.idle();
    await threads.close();
  });
  return { client, threads, surface };
}

/**
 * Counts per status of the items whose posts go to a thread (the anchor's live summary).
 * Composition code, through the engine: the adapter itself never reads the database.
 */
async function summarizeThread(app: App, threadRef: string): Promise<AnchorSummaryView | null> {
  const items = await app.engine.itemsInThread(threadRef);
  if (!items.length) return null;
  const counts: Record<string, number> = {};
  for (const i of items) counts[i.status] = (counts[i.status] ?? 0) + 1;
  return { counts, items: items.map((i) => ({ address: i.sourceAddress, status: i.status })), at: new Date() };
}

const REFUSED_TOKEN = ['invalid_auth', 'not_authed', 'token_revoked', 'account_inactive', 'token_expired'];

/**
 * Checks the bot token once (auth.test) and learns the bot's ids; tells the operator how
 * to fix a bad token. `retry`: the answer says nothing about the token (network, 429, 5xx).
 */
async function checkToken(
  client: webApi.WebClient,
  log: App['log'],
): Promise<{ ok: true; identity?: SlackBotIdentity } | { ok: false; retry: boolean }> {
  try {
    const r = await client.auth.test();
    log.info('slack: connected', { team: r.team, bot: r.user });
    return { ok: true, identity: r.bot_id && r.user_id ? { botId: r.bot_id, botUserId: r.user_id } : undefined };
  } catch (e) {
    const code = (e as { data?: { error?: string } }).data?.error;
    const refused = !!code && REFUSED_TOKEN.includes(code);
    log.error(
      refused
        ? 'slack: the bot token was refused; set SLACK_BOT_TOKEN to the "Bot ' +
            'User OAuth Token" (xoxb-…) from the app\'s OAuth & Permissions page'
        : 'slack: could not check the bot token with the Slack Web API (auth.test); commands ' +
            'are answered meanwhile, posts may fail; check the network or SLACK_API_URL',
      { code, error: e instanceof Error ? e.message : String(e) },
    );
    return { ok: false, retry: !refused };
  }
}
