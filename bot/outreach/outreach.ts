import type { Engine } from '../../engine/engine.ts';
import type { EngineEvent } from '../../engine/events.ts';
import { createLink } from '../../engine/links.ts';
import { readProjectOptions } from '../../engine/domain/project-options.ts';
import { SYSTEM_ACTOR, sidesFrom, sidesOf, type Side, type Sides } from '../../engine/domain/types.ts';
import { credentialsRequestedPost } from '../../cards/item-posts.ts';
import type { Notifier } from '../notifier.ts';
import type { Logger } from '../log.ts';
import type { OrganisationView } from '../../cards/organisation.ts';
import { organisationOf } from '../organisation.ts';

/** Everything a sender needs to ask one person for credentials. */
export interface CredentialRequest {
  itemId: string;
  projectName: string;
  sourceAddress: string;
  destinationAddress: string;
  /** Whom to ask: an end user's mail address. */
  recipient: string;
  /** Which credentials the form asks for. */
  sides: Side[];
  /** The secure form link (contains the token: never log it). */
  url: string;
  expiresAt: Date;
  /** Who asked (the admin's chat name); absent when no person's name is known (console, reminders). */
  requestedBy?: string;
  /** The organisation behind the request (name, support contact, time zone of the times shown). */
  organisation: OrganisationView;
  /** Whether this replaces an earlier request. */
  resend: boolean;
  /** A reminder of an unanswered request. */
  reminder?: boolean;
  /** The item's thread (chat senders use its surface to pick the workspace). */
  threadRef: string | null;
}

/** The result of one attempt to reach a person. */
export type SendResult = { ok: true; via: string } | { ok: false; via: string; why: string };

/** A way to reach an end user: email, or a chat DM on a surface. Pluggable. */
export interface Sender {
  /** `email`, or `chat` for DM senders. */
  kind: 'email' | 'chat';
  /** For chat senders: the surface whose threads it serves (`slack`, `teams`). */
  surface?: string;
  send(req: CredentialRequest): Promise<SendResult>;
}

/**
 * Sends credential requests when the engine says credentials are needed: one link per
 * recipient (source address, destination address, or both), through chat and/or email as
 * the item says, email always the fallback when chat cannot reach the person. The thread
 * says which channel reached whom; the history keeps every attempt.
 */
export class Outreach {
  private senders: Sender[] = [];
  constructor(
    private engine: Engine,
    private notifier: Notifier,
    private log: Logger,
    private opts: { publicUrl: string; linkTtlHours: number; organisation?: { name?: string; support?: string } },
  ) {}

  /** Adds a sender (email, or a chat surface's DM sender). */
  addSender(s: Sender): void {
    this.senders.push(s);
  }

  /** Handles engine events (subscribe with `bus.on`). */
  async onEvent(e: EngineEvent): Promise<void> {
    if (e.type !== 'item.credentials-needed') return;
    // A chat platform gives a person's name; a console login ("root"), the system or the form means nothing to a user.
    const nameless = ['console', 'system', 'form'].includes(e.actor.surface);
    await this.request(e.item.id, e.sides, e.resend, nameless ? undefined : (e.actor.name ?? e.actor.id));
  }

  /** Asks the end user(s) of an item for the given sides; returns what happened per recipient. */
  async request(itemId: string, sides: Side[], resend: boolean, requestedBy: string | undefined, reminder = false): Promise<{ recipient: string; via: string; ok: boolean; why?: string }[]> {
    const item = await this.engine.itemById(itemId);
    if (!item || item.status !== 'WaitingForUser') return [];
    const ttl = readProjectOptions(item.project.options).options.linkTtlHours ?? this.opts.linkTtlHours;
    const organisation = organisationOf(item.project, this.opts.organisation ?? {});
    const reached: { recipient: string; via: string; ok: boolean; why?: string }[] = [];
    let first = true;
    for (const [recipient, mine] of planRecipients(item, sides)) {
      const { token, expiresAt } = await createLink(this.engine.db, { itemId, sides: sidesFrom(mine) ?? 'both', recipient, ttlHours: ttl, keepOthers: !first });
      first = false;
      const req: CredentialRequest = {
        itemId,
        projectName: item.project.name,
        sourceAddress: item.sourceAddress,
        destinationAddress: item.destinationAddress,
        recipient,
        sides: mine,
        url: `${this.opts.publicUrl}/c/${token}`,
        expiresAt,
        requestedBy,
        organisation,
        resend,
        reminder,
        threadRef: item.threadRef,
      };
      reached.push(...(await this.deliver(req, item.notify)));
    }
    for (const r of reached) {
      await this.engine.note(item, SYSTEM_ACTOR, r.ok ? 'request.sent' : 'request.failed', { recipient: r.recipient, via: r.via, ...(r.why ? { why: r.why } : {}), reminder });
      this.log.info(r.ok ? 'credential request sent' : 'credential request not delivered', { item: itemId, via: r.via, why: r.why });
    }
    if (item.threadRef)
      await this.notifier.post({ threadRef: item.threadRef, address: item.sourceAddress, itemId, message: credentialsRequestedPost(item.sourceAddress, sides, reached, resend || reminder) });
    return reached;
  }

  private async deliver(req: CredentialRequest, notify: string): Promise<{ recipient: string; via: string; ok: boolean; why?: string }[]> {
    const out: { recipient: string; via: string; ok: boolean; why?: string }[] = [];
    const surface = req.threadRef?.split(':', 1)[0];
    let chatOk = false;
    if (notify === 'chat' || notify === 'both') {
      const chat = this.senders.find((s) => s.kind === 'chat' && s.surface === surface) ?? this.senders.find((s) => s.kind === 'chat');
      if (chat) {
        const r = await safeSend(chat, req);
        chatOk = r.ok;
        out.push({ recipient: req.recipient, via: r.via, ok: r.ok, why: r.ok ? undefined : r.why });
      } else out.push({ recipient: req.recipient, via: 'chat', ok: false, why: 'no chat surface can send direct messages here' });
    }
    // Email is always the fallback when chat did not reach the person.
    if (notify === 'email' || notify === 'both' || !chatOk) {
      const email = this.senders.find((s) => s.kind === 'email');
      if (email) {
        const r = await safeSend(email, req);
        out.push({ recipient: req.recipient, via: r.via, ok: r.ok, why: r.ok ? undefined : r.why });
      } else out.push({ recipient: req.recipient, via: 'email', ok: false, why: 'email is not configured (set SMTP_URL and MAIL_FROM)' });
    }
    return out;
  }
}

/**
 * Who is asked for what: each missing side goes to the owner of that side's mailbox when
 * the item asks that address, otherwise to the (first) address it asks. So with `--ask
 * both` the source address is asked for the source credentials and the destination
 * address for the destination ones; with one address asked, that person gets every
 * missing side. The same address on both sides gets one request.
 */
export function planRecipients(item: { ask: string; sourceAddress: string; destinationAddress: string }, missing: Side[]): Map<string, Side[]> {
  const asked = sidesOf(item.ask as Sides);
  const addressOf = (s: Side) => (s === 'source' ? item.sourceAddress : item.destinationAddress);
  const plan = new Map<string, Side[]>();
  for (const side of missing) {
    const who = addressOf(asked.includes(side) ? side : asked[0]);
    plan.set(who, [...(plan.get(who) ?? []), side]);
  }
  return plan;
}

async function safeSend(s: Sender, req: CredentialRequest): Promise<SendResult> {
  try {
    return await s.send(req);
  } catch (e) {
    return { ok: false, via: s.kind === 'chat' ? `${s.surface ?? 'chat'} DM` : 'email', why: e instanceof Error ? e.message : String(e) };
  }
}
