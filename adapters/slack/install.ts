import { webApi } from '@slack/bolt';
import type { App } from '../../bot/app.ts';
import type { AnchorSummaryView } from '../../cards/anchor-slack.ts';
import { slackDmSender } from './dm-sender.ts';
import { DEFAULT_THREADS_OPTIONS, SlackThreads, type SlackThreadsOptions } from './slack-threads.ts';
import { SlackSurface } from './slack-surface.ts';
import { requestLedger } from '../../engine/store/seen-requests.ts';

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
  const threads = new SlackThreads(client, log, { ...DEFAULT_THREADS_OPTIONS, summarize: (ref) => summarizeThread(app, ref), ...opts.threads });
  app.notifier.register('slack', threads.poster);
  app.outreach.addSender(slackDmSender(client, log));
  let surface: SlackSurface | undefined;
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
    });
  }
  if (surface) void checkToken(client, log);
  app.onClose(async () => {
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

/** Checks the bot token once at start-up and tells the operator how to fix a bad one. */
async function checkToken(client: webApi.WebClient, log: App['log']): Promise<void> {
  try {
    const r = await client.auth.test();
    log.info('slack: connected', { team: r.team, bot: r.user });
  } catch (e) {
    const code = (e as { data?: { error?: string } }).data?.error;
    log.error(
      code === 'invalid_auth' || code === 'not_authed' || code === 'token_revoked'
        ? 'slack: the bot token was refused; set SLACK_BOT_TOKEN to the "Bot User OAuth Token" (xoxb-…) from the app\'s OAuth & Permissions page'
        : 'slack: could not reach the Slack Web API; check the network or SLACK_API_URL',
      { code, error: e instanceof Error ? e.message : String(e) },
    );
  }
}
