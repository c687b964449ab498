import type { Express } from 'express';
import {
  type CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  type ConfigurationBotFrameworkAuthenticationOptions,
} from 'botbuilder';
// botbuilder's own connector package (installed with it): authentication primitives.
import {
  AuthenticationConstants,
  AuthenticationError,
  PasswordServiceClientCredentialFactory,
  type BotFrameworkAuthentication,
  type ServiceClientCredentialsFactory,
} from 'botframework-connector';
import type { Dispatcher } from '../../bot/dispatch.ts';
import type { ThreadPoster } from '../../bot/notifier.ts';
import type { Sender } from '../../bot/outreach/outreach.ts';
import type { Logger } from '../../bot/log.ts';
import { MailFerryTeamsBot } from './teams-bot.ts';
import { makeTeamsPoster } from './teams-poster.ts';
import { makeTeamsDmSender } from './teams-dm-sender.ts';
import { SURFACE, type ReferenceStore } from './references.ts';
import { DEFAULT_RETRY, type RetryOptions } from './retry.ts';
import { MailFerryCloudAdapter, messagesRoute } from './messages-route.ts';
import { TeamsConfigError } from './unconfigured.ts';

/** The Teams settings (botbuilder's own environment names, read by bot/config.ts). */
export interface TeamsSettings {
  appId?: string;
  appPassword?: string;
  /** `MultiTenant` (default), `SingleTenant` or `UserAssignedMSI`. */
  appType?: string;
  tenantId?: string;
  /** MAILFERRY_DEV=1: an empty app id is then allowed (no authentication at all). */
  dev: boolean;
}

/** Knobs for tests and unusual clouds; none is needed in production. */
export interface TeamsOptions {
  /** OpenID metadata of the channel's token signer (default: the Bot Framework's). */
  openIdMetadataUrl?: string;
  /** Issuer of channel tokens (default: https://api.botframework.com). */
  tokenIssuer?: string;
  /** Credentials of outbound calls (default: app id + password through MSAL). */
  credentialsFactory?: ServiceClientCredentialsFactory;
  retry?: Partial<RetryOptions>;
  /** Downloads of attached files (tests). */
  download?: (url: string) => Promise<string>;
  /** Bulk forms up to this many lines are added within the invoke (default 100); larger ones in the background. */
  bulkInlineLines?: number;
}

/** What Teams needs from the core (the composition root passes these; no database here). */
export interface TeamsDeps {
  log: Logger;
  dispatcher: Pick<Dispatcher, 'dispatch' | 'run'>;
  admins: readonly string[];
  store: ReferenceStore;
  registerPoster(surface: string, poster: ThreadPoster): void;
  addSender(sender: Sender): void;
  /** The HTTP app to mount POST /api/messages on; absent in `worker` mode (posting only). */
  http?: Express;
  /** Example command lines for the welcome card. */
  examples: string[];
  /** Records request keys so a retried invoke runs once, across processes (absent: this process only). */
  claim?: (keys: readonly string[], ttlMs: number) => Promise<boolean>;
}

export { TeamsConfigError } from './unconfigured.ts';

/** The running Teams surface. */
export interface TeamsSurface {
  adapter: CloudAdapter;
  bot: MailFerryTeamsBot;
  authenticated: boolean;
}

/**
 * Turns a JWT library failure (bad signature, wrong audience, malformed token) into an
 * AuthenticationError, so CloudAdapter answers 401 rather than 500 for a forged request.
 */
function guardAuthentication(auth: BotFrameworkAuthentication, log: Logger): BotFrameworkAuthentication {
  return new Proxy(auth, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'authenticateRequest' || prop === 'authenticateStreamingRequest')
        return async (...args: unknown[]) => {
          try {
            return await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          } catch (e) {
            // The reason only (never the token): operators see why Teams requests bounce.
            log.warn('Teams request refused: not authenticated', {
              reason: e instanceof Error ? e.message : String(e),
            });
            if (e instanceof AuthenticationError) throw e;
            throw new AuthenticationError(`Unauthorized: ${e instanceof Error ? e.message : String(e)}`, 401);
          }
        };
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/**
 * Checks the settings: with an app id, every request must carry a valid Bot Framework JWT
 * (botbuilder's checks: issuer, audience = app id, signing key from the OpenID metadata,
 * serviceurl claim); an empty app id is refused unless MAILFERRY_DEV=1.
 */
export function checkTeamsSettings(s: TeamsSettings): void {
  if (!s.appId && !s.dev)
    throw new TeamsConfigError(
      'MicrosoftAppId is empty, so Teams requests could not be authenticated. Set ' +
        'MicrosoftAppId and MicrosoftAppPassword from the Azure Bot resource (see ' +
        'adapters/teams/README.md), or set MAILFERRY_DEV=1 for local development only.',
    );
  if (s.appId && !s.appPassword && s.appType !== 'UserAssignedMSI')
    throw new TeamsConfigError(
      'MicrosoftAppId is set but MicrosoftAppPassword is empty: the bot could not answer. ' +
        "Copy the client secret of the Azure Bot's app registration into MicrosoftAppPassword.",
    );
}

/**
 * Builds the Teams surface on botbuilder's CloudAdapter and wires it into the core: the
 * route POST /api/messages (with its own JSON body parser: Slack needs raw bodies), the
 * thread poster for `teams:` references, and the 1:1 credential request sender.
 * Everything botbuilder-specific stays in this folder.
 */
export function installTeams(deps: TeamsDeps, settings: TeamsSettings, opts: TeamsOptions = {}): TeamsSurface {
  checkTeamsSettings(settings);
  const appId = settings.appId ?? '';
  const authConfig: Partial<ConfigurationBotFrameworkAuthenticationOptions> = {
    MicrosoftAppId: appId,
    MicrosoftAppPassword: settings.appPassword ?? '',
    MicrosoftAppType: settings.appType ?? (settings.tenantId ? 'SingleTenant' : 'MultiTenant'),
    MicrosoftAppTenantId: settings.tenantId ?? '',
    ...(opts.openIdMetadataUrl ? { ToBotFromChannelOpenIdMetadataUrl: opts.openIdMetadataUrl } : {}),
    ...(opts.tokenIssuer || opts.openIdMetadataUrl
      ? { ToBotFromChannelTokenIssuer: opts.tokenIssuer ?? AuthenticationConstants.ToBotFromChannelTokenIssuer }
      : {}),
  };
  const credentials =
    opts.credentialsFactory ??
    new PasswordServiceClientCredentialFactory(appId, settings.appPassword ?? '', settings.tenantId ?? '');
  const log = deps.log.child({ surface: SURFACE });
  const auth = guardAuthentication(
    new ConfigurationBotFrameworkAuthentication(
      authConfig as ConfigurationBotFrameworkAuthenticationOptions,
      credentials,
    ),
    log,
  );
  const adapter = new MailFerryCloudAdapter(auth);
  adapter.onTurnError = async (context, error) => {
    log.error('Teams turn failed', {
      type: context.activity.type,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
  };
  const retry = { ...DEFAULT_RETRY, ...opts.retry };
  const poster = makeTeamsPoster({ adapter, appId, store: deps.store, log, retry });
  const bot = new MailFerryTeamsBot({
    dispatcher: deps.dispatcher,
    store: deps.store,
    admins: deps.admins,
    log,
    retry,
    examples: deps.examples,
    download: opts.download,
    post: poster,
    claim: deps.claim,
    bulkInlineLines: opts.bulkInlineLines,
  });
  deps.registerPoster(SURFACE, poster);
  deps.addSender(
    makeTeamsDmSender({
      adapter,
      appId,
      audience: AuthenticationConstants.ToChannelFromBotOAuthScope,
      store: deps.store,
      log,
      retry,
    }),
  );
  if (deps.http) {
    // JSON body parser on this route only (Slack's signature needs the raw body elsewhere).
    deps.http.use(messagesRoute(adapter, !!appId, log, (context) => bot.run(context)));
  }
  if (!appId && deps.http)
    log.warn(
      '!!! Teams runs WITHOUT AUTHENTICATION (MAILFERRY_DEV=1 and MicrosoftAppId empty): anyone ' +
        'who can reach POST /api/messages can act as any Teams user. Local development only. !!!',
    );
  else if (deps.http) log.info('Teams ready: POST /api/messages requires a Bot Framework token', { appId });
  return { adapter, bot, authenticated: !!appId };
}
