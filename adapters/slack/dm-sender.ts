import type { webApi } from '@slack/bolt';
import type { CredentialRequest, Sender, SendResult, UserNotice } from '../../bot/outreach/outreach.ts';
import type { Logger } from '../../bot/log.ts';
import { credentialRequestDm } from '../../cards/dm-request-slack.ts';
import { renderBlockKit, type KitMessage } from '../../cards/render-block-kit.ts';
import { slackErrorCode } from './slack-threads.ts';

const VIA = 'Slack DM';

/**
 * The Slack direct-message sender for credential requests (outreach `Sender`, kind
 * `chat`, surface `slack`). Finds the person by email (`users.lookupByEmail`: the address
 * asked first, then the item's other address), opens a DM (`conversations.open`) and sends
 * one message: the button to the secure form and the answer buttons bound to that person. When the person is not in the
 * workspace it reports so, and the outreach falls back to email.
 */
export function slackDmSender(client: webApi.WebClient, log: Logger): Sender {
  return {
    kind: 'chat',
    surface: 'slack',
    label: VIA,
    async send(req: CredentialRequest): Promise<SendResult> {
      const other = req.recipient === req.sourceAddress ? req.destinationAddress : req.sourceAddress;
      const found = await findUser(client, log, req.recipient, other);
      if ('why' in found) return { ok: false, via: VIA, why: found.why };
      const kit = renderBlockKit(
        credentialRequestDm({
          projectName: req.projectName,
          sourceAddress: req.sourceAddress,
          destinationAddress: req.destinationAddress,
          sides: req.sides,
          url: req.url,
          expiresAt: req.expiresAt,
          requestedBy: req.requestedBy,
          organisation: req.organisation,
          resend: req.resend,
          reminder: req.reminder,
          choiceId: req.choiceFor?.('slack', found.id),
          tonight: req.tonight,
        }),
      );
      return postDm(client, found, req.recipient, kit);
    },
    async sendNotice(n: UserNotice): Promise<SendResult> {
      const found = await findUser(client, log, n.recipient, n.otherAddress);
      if ('why' in found) return { ok: false, via: VIA, why: found.why };
      return postDm(client, found, n.recipient, renderBlockKit(n.message));
    },
  };
}

type FoundUser = { id: string; name: string; email: string };

/** The workspace member with one of these addresses (the one asked first), or why there is none. */
async function findUser(
  client: webApi.WebClient,
  log: Logger,
  recipient: string,
  other: string,
): Promise<FoundUser | { why: string }> {
  for (const email of [...new Set([recipient, other])]) {
    try {
      const r = await client.users.lookupByEmail({ email });
      const u = r.user;
      if (u?.id && !u.deleted && !u.is_bot) return { id: u.id, name: u.profile?.display_name || u.name || u.id, email };
    } catch (e) {
      if (slackErrorCode(e) === 'users_not_found') continue;
      log.warn('slack: user lookup failed', {
        code: slackErrorCode(e),
        error: e instanceof Error ? e.message : String(e),
      });
      return { why: `Slack refused the user lookup (${slackErrorCode(e) ?? 'network error'})` };
    }
  }
  return { why: `${recipient} is not a member of this Slack workspace` };
}

/** Opens the DM with the person and posts one message. */
async function postDm(
  client: webApi.WebClient,
  found: FoundUser,
  recipient: string,
  kit: KitMessage,
): Promise<SendResult> {
  const im = await client.conversations.open({ users: found.id });
  const channel = im.channel?.id;
  if (!channel) return { ok: false, via: VIA, why: 'Slack did not open a direct message' };
  // No unfurl: the link is single use and must not be fetched by a preview crawler.
  await client.chat.postMessage({
    channel,
    text: kit.text,
    blocks: kit.blocks,
    unfurl_links: false,
    unfurl_media: false,
  } as unknown as webApi.ChatPostMessageArguments);
  return { ok: true, via: `${VIA} to @${found.name}${found.email !== recipient ? ` (found as ${found.email})` : ''}` };
}
