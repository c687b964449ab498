import { TeamsInfo, type CloudAdapter, type ConversationParameters, type TeamsChannelAccount } from 'botbuilder';
import type { CredentialRequest, Sender, SendResult, UserNotice } from '../../bot/outreach/outreach.ts';
import { renderAdaptiveCard, type AdaptiveCard } from '../../cards/render-adaptive-card.ts';
import type { Logger } from '../../bot/log.ts';
import { credentialRequestCard } from '../../cards/teams/teams-cards.ts';
import { loadConversation, SURFACE, type ReferenceStore, type TeamsConversation } from './references.ts';
import { cardActivity } from './render-activity.ts';
import { proactive, statusOf, withRetry, type RetryOptions } from './retry.ts';

/** What the DM sender needs. */
export interface TeamsDmDeps {
  adapter: CloudAdapter;
  appId: string;
  /** Audience of outbound tokens (the Bot Framework's, by default). */
  audience: string;
  store: ReferenceStore;
  log: Logger;
  retry: RetryOptions;
}

/** How the thread names this channel ("asked alice@… by Teams chat"). */
export const VIA = 'Teams chat';

function matches(m: TeamsChannelAccount, address: string): boolean {
  const a = address.toLowerCase();
  return [m.email, m.userPrincipalName].some((x) => typeof x === 'string' && x.toLowerCase() === a);
}

/** Pages through the members of the item's team (or chat) for the person with this address. */
async function findMember(
  deps: TeamsDmDeps,
  conv: TeamsConversation,
  address: string,
): Promise<TeamsChannelAccount | undefined> {
  let found: TeamsChannelAccount | undefined;
  await proactive(
    (logic) => deps.adapter.continueConversationAsync(deps.appId, conv.ref, logic),
    async (context) => {
      let token: string | undefined;
      do {
        const page = await withRetry(
          () =>
            conv.teamId
              ? TeamsInfo.getPagedTeamMembers(context, conv.teamId, 500, token)
              : TeamsInfo.getPagedMembers(context, 500, token),
          deps.retry,
        );
        found = page.members.find((m) => matches(m, address));
        token = page.continuationToken || undefined;
      } while (!found && token);
    },
  );
  return found;
}

/**
 * The Teams way to reach an end user: find the person by address among the members of
 * the team (or chat) where the item was asked for, open a 1:1 conversation
 * (`createConversationAsync`) and send the credential request card — mailbox, who asked,
 * expiry, and a button to the secure form, never a password field. When the person is not
 * found, Outreach falls back to email and the thread says so.
 */
export function makeTeamsDmSender(deps: TeamsDmDeps): Sender {
  return {
    kind: 'chat',
    surface: SURFACE,
    label: VIA,
    async send(req: CredentialRequest): Promise<SendResult> {
      try {
        return await sendRequest(deps, req);
      } catch (e) {
        return refused(e);
      }
    },
    async sendNotice(n: UserNotice): Promise<SendResult> {
      try {
        return await sendCard(deps, n.threadRef, n.recipient, () => renderAdaptiveCard(n.message));
      } catch (e) {
        return refused(e);
      }
    },
  };
}

/**
 * Teams refused a request or a notice. 403: Teams will not open a chat the bot is not installed in (an app setup
 * policy fixes that).
 */
function refused(e: unknown): SendResult {
  const why =
    statusOf(e) === 403
      ? `Teams refused the 1:1 chat, MailFerry is probably not installed for this user (${errorText(e)})`
      : `Teams refused the message (${errorText(e)})`;
  return { ok: false, via: VIA, why };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Finds the person, opens the 1:1 chat and sends the request card; errors of the connector are thrown. */
async function sendRequest(deps: TeamsDmDeps, req: CredentialRequest): Promise<SendResult> {
  const r = await sendCard(deps, req.threadRef, req.recipient, (member) =>
    credentialRequestCard({
      projectName: req.projectName,
      sourceAddress: req.sourceAddress,
      destinationAddress: req.destinationAddress,
      sides: req.sides,
      requestedBy: req.requestedBy,
      organisation: req.organisation,
      expiresAt: req.expiresAt,
      url: req.url,
      reminder: req.reminder,
      resend: req.resend,
      // The id a click arrives with (the bot's turn names a person by their AAD object id when Teams gives one).
      choiceId: req.choiceFor?.(SURFACE, member.aadObjectId || member.id),
      tonight: req.tonight,
    }),
  );
  if (r.ok) deps.log.info('Teams credential request sent', { item: req.itemId });
  return r;
}

/**
 * Finds the person among the members where the item was asked for, opens the 1:1 chat and sends the card built for
 * them.
 */
async function sendCard(
  deps: TeamsDmDeps,
  threadRef: string | null,
  recipient: string,
  build: (member: TeamsChannelAccount) => AdaptiveCard,
): Promise<SendResult> {
  const conv = threadRef ? await loadConversation(deps.store, threadRef) : undefined;
  if (!conv)
    return { ok: false, via: VIA, why: 'the item was not asked for in Teams, so there is no team to find the user in' };
  const member = await findMember(deps, conv, recipient);
  if (!member?.id)
    return { ok: false, via: VIA, why: `${recipient} is not a member of ${conv.teamId ? 'the team' : 'this chat'}` };
  const card = build(member);
  const params = {
    isGroup: false,
    bot: conv.ref.bot,
    members: [{ id: member.id, name: member.name }],
    tenantId: conv.tenantId,
    channelData: { tenant: { id: conv.tenantId } },
  } as unknown as ConversationParameters;
  await proactive(
    (logic) =>
      deps.adapter.createConversationAsync(deps.appId, 'msteams', conv.ref.serviceUrl!, deps.audience, params, logic),
    async (context) => {
      await withRetry(() => context.sendActivity(cardActivity(card, String(card.fallbackText))), deps.retry);
    },
  );
  return { ok: true, via: VIA };
}
