import { storedSide } from '../../engine/domain/types.ts';
import { findInvisible, showInvisible } from '../../engine/domain/invisible.ts';
import type { Engine, Item, Project } from '../../engine/engine.ts';
import { itemRef, readProjectOptions } from '../../engine/engine.ts';
import { isUserError, UserError } from '../../engine/errors.ts';
import { actorKey, sidesFrom, type Actor, type Side } from '../../engine/domain/types.ts';
import { ADMIN_RECIPIENT_PREFIX, isAdminLink, linkSides, type CredentialLinkRow } from '../../engine/links.ts';
import type { ConnectorSecret, ConnectorSide, VerifyResult } from '../../engine/connectors/index.ts';
import {
  renderFormPage,
  renderRefusedFinalPage,
  renderStalePage,
  renderStartedPage,
  renderUnavailablePage,
  type FieldError,
  type FormPageView,
} from '../../cards/form-page.ts';
import { formatTime } from '../../cards/format.ts';
import type { OrganisationView } from '../../cards/organisation.ts';
import { organisationOf } from '../organisation.ts';
import { serverUnreachableFromFormPost } from '../../cards/item-posts.ts';
import { formStartChoicePost } from '../../cards/user-choice.ts';
import { readStartChoice, startChoiceAt, startChoiceOffer, type FormStartChoice } from './start-choice.ts';
import type { ThreadPost } from '../notifier.ts';
import { checkCsrf, csrfToken } from './csrf.ts';
import { KeyedQueue } from '../keyed-queue.ts';
import type { Logger } from '../log.ts';
import type { AdminFormService } from './admin-form-service.ts';
import { randomUUID } from 'node:crypto';
import { parseConnectorUrl, type ConnectorUrl } from '../../engine/domain/connector-url.ts';
import { isTokenShaped, newToken } from '../../engine/links.ts';
import type { FormAnswer } from './form-answer.ts';
import { M365AuthError, type M365App } from '../../engine/connectors/index.ts';

/** "Sign in with Microsoft" on the form: the engine's sign-in calls and where users come back. */
export interface MicrosoftSignInOptions {
  /** Authorization URL with PKCE (the engine's `beginSignIn`, bound to the settings). */
  begin(args: {
    app: M365App;
    redirectUri: string;
    state: string;
    loginHint?: string;
  }): Promise<{ url: string; codeVerifier: string }>;
  /** Redeems the code (the engine's `completeSignIn`). */
  complete(args: {
    app: M365App;
    redirectUri: string;
    code: string;
    codeVerifier: string;
  }): Promise<{ refreshToken: string; accessToken: string; username: string }>;
  /** Logs in to the mailbox with the fresh access token (XOAUTH2). */
  verify(url: string, login: string, accessToken: string, side: Side): Promise<VerifyResult>;
  /** `PUBLIC_URL/oauth/microsoft/callback`, registered on the app. */
  redirectUri: string;
}

/** What the form says when a sign-in comes back from Microsoft without a verified mailbox. */
const SIGN_IN_NOTICES = {
  cancelled: {
    tone: 'warning',
    title: 'Sign-in cancelled',
    text:
      'You cancelled the sign-in at Microsoft. Nothing was changed and this ' +
      'does not count as an attempt. Sign in again whenever you are ready.',
  },
  failed: {
    tone: 'warning',
    title: 'The sign-in did not finish',
    text: 'Microsoft did not complete the sign-in. This does not count as an attempt. Please try again.',
  },
  refused: {
    tone: 'error',
    title: 'This account cannot open the mailbox',
    text:
      'Microsoft signed you in, but the mailbox could not be opened with ' +
      'that account. Sign in with the account of the mailbox shown below.',
  },
  unreachable: {
    tone: 'warning',
    title: 'We could not reach Microsoft',
    text:
      'Microsoft or the mail server could not be reached just now. This ' +
      'does not count as an attempt. Please try again in a few minutes.',
  },
} as const satisfies Record<string, NonNullable<FormPageView['notice']>>;

/** How long a sign-in may take at Microsoft before its state is refused. */
const SIGN_IN_MINUTES = 15;

/** Checks a login against a server (the engine's `verifyCredentials`; tests may pass their own). */
export type Verifier = (
  connectorUrl: string,
  login: string,
  secret: ConnectorSecret,
  side: ConnectorSide,
) => Promise<VerifyResult>;

/** Settings of the form service. */
export interface FormServiceOptions {
  verify: Verifier;
  /** Server secret for the anti-CSRF token. */
  secret: Buffer;
  /** Base of links (`PUBLIC_URL`). */
  publicUrl: string;
  /** Default validity of links in hours (a project's `linkTtlHours` wins). */
  linkTtlHours: number;
  /** Attempts before the item fails (a project's `maxAttempts` wins). Default 3. */
  maxAttempts?: number;
  /** Validity of admin-assisted links, hours (capped by the link TTL). Default 24. */
  adminLinkTtlHours?: number;
  /** The admin-credentials form (`project connect`), served at the same routes for project links. */
  projectForms?: AdminFormService;
  /** "Sign in with Microsoft" for m365:// sides; absent: those sides cannot be signed in. */
  microsoft?: MicrosoftSignInOptions;
  /** Posts into a thread (the notifier's `post`): an unreachable server is told to the admin once. */
  postToThread?: (post: ThreadPost) => Promise<unknown>;
  /** The install's organisation name and support contact (a project's own win). */
  organisation?: { name?: string; support?: string };
  now?: () => Date;
}

type ItemWithProject = Item & { project: Project };

interface Loaded {
  link: CredentialLinkRow;
  item: ItemWithProject;
  /** The sides the form asks for now. */
  ask: Side[];
  admin: boolean;
  /** The raw link token (for the Sign in with Microsoft link; never stored or logged). */
  token: string;
  /**
   * Asked sides on Microsoft 365 (signed in, not typed), with the app registration users sign in through when the admin
   * connected one.
   */
  microsoft: Partial<Record<Side, { connector: Extract<ConnectorUrl, { kind: 'm365' }>; app?: M365App }>>;
}

const MAX_LOGIN = 320;
const MAX_PASSWORD = 1024;

/** `host:port` of a connector URL, for the page (never credentials). */
function serverOf(url: string): string {
  try {
    const u = new URL(url);
    return u.port ? `${u.hostname}:${u.port}` : u.hostname;
  } catch {
    return url;
  }
}

const SIDE_NAME = { source: 'current', destination: 'new' } as const;

/**
 * The credential form's logic, without HTTP: loads a link, renders the form, checks the
 * posted credentials against the servers, stores what is valid (sealed by the vault),
 * counts refused attempts, and submits the item when nothing is missing any more.
 * Never logs a credential, a token or a link; the history and the thread see every
 * attempt.
 */
export class FormService {
  private locks = new KeyedQueue();
  private readonly now: () => Date;

  constructor(
    private engine: Engine,
    private log: Logger,
    private o: FormServiceOptions,
  ) {
    this.now = o.now ?? (() => new Date());
  }

  /** The open link of a token with its item, when the form may be shown for it. */
  async load(token: string): Promise<Loaded | undefined> {
    const link = await this.engine.links.findOpen(token, this.now());
    if (!link) return undefined;
    const item = await this.engine.itemById(link.itemId);
    if (!item) return undefined;
    const admin = isAdminLink(link);
    // A request link serves a waiting item only; an admin-assisted one any item not queued or running.
    if (admin ? item.status === 'Queued' || item.status === 'Running' : item.status !== 'WaitingForUser')
      return undefined;
    const missing = await this.engine.missingSides(item);
    const wanted = linkSides(link);
    let ask = wanted.filter((s) => missing.includes(s));
    if (!ask.length) {
      if (!admin) return undefined;
      ask = wanted;
    }
    const microsoft: Loaded['microsoft'] = {};
    for (const side of ask) {
      const connector = parseConnectorUrl(
        side === 'source' ? item.project.sourceUrl : item.project.destinationUrl,
        side,
      );
      if (connector.kind !== 'm365') continue;
      const secret = await this.engine.adminCredentialOf(item.projectId, side);
      microsoft[side] = {
        connector,
        app:
          secret?.kind === 'm365-app'
            ? {
                tenantId: connector.tenantId,
                clientId: secret.clientId,
                clientSecret: secret.clientSecret,
                certificate: secret.certificate,
              }
            : undefined,
      };
    }
    return { link, item, ask, admin, token, microsoft };
  }

  /**
   * GET: the form, or the one calm page when the link cannot be used. Never consumes the link (mail scanners prefetch).
   */
  async show(token: string, signin?: unknown): Promise<FormAnswer> {
    const l = await this.load(token);
    if (!l) {
      const p = await this.o.projectForms?.load(token);
      return p ? this.o.projectForms!.show(p) : this.unavailable();
    }
    // Back from Microsoft: a calm word on what happened (none of these is a secret).
    const notice =
      typeof signin === 'string' && Object.hasOwn(SIGN_IN_NOTICES, signin)
        ? SIGN_IN_NOTICES[signin as keyof typeof SIGN_IN_NOTICES]
        : undefined;
    return { outcome: 'form', status: 200, html: renderFormPage(this.view(l, notice ? { notice } : {})) };
  }

  /** POST: checks and keeps the credentials. One submission per link at a time. */
  async submit(token: string, body: Record<string, unknown>): Promise<FormAnswer> {
    const l0 = await this.load(token);
    if (!l0) return this.o.projectForms ? this.o.projectForms.submit(token, body) : this.unavailable();
    return this.locks.run(l0.link.id, async () => {
      const l = await this.load(token); // again, inside the lock: a parallel submit may have used it
      if (!l) return this.unavailable();
      if (!checkCsrf(this.o.secret, l.link.id, body.csrf)) {
        this.log.warn('credential form: anti-CSRF check failed', { item: l.item.id });
        return { outcome: 'stale', status: 403, html: renderStalePage() };
      }
      return this.handle(l, body);
    });
  }

  /** Creates an admin-assisted link (`/migrate form`): same form, private, single use. */
  async formLink(itemId: string, actor: Actor): Promise<{ url: string; expiresAt: Date }> {
    const item = await this.engine.itemById(itemId);
    if (!item) throw new UserError('ITEM_UNKNOWN', 'That mailbox no longer exists.');
    const sides = await this.engine.checkFormAllowed(actor, item);
    const ttl = Math.min(this.ttlOf(item), this.o.adminLinkTtlHours ?? 24);
    const { token, expiresAt } = await this.engine.links.create({
      itemId,
      sides: sidesFrom(sides) ?? 'both',
      recipient: ADMIN_RECIPIENT_PREFIX + actorKey(actor),
      ttlHours: ttl,
      now: this.now(),
      // The end user's emailed link keeps working; whichever is used first wins.
      keepOthers: true,
    });
    await this.engine.note(item, actor, 'form.link-created', { sides, expiresAt: expiresAt.toISOString() });
    return { url: `${this.o.publicUrl}/c/${token}`, expiresAt };
  }

  /**
   * GET /c/:token/microsoft/:side: starts "Sign in with Microsoft" for one side (authorization
   * code + PKCE). A fresh `state` is bound to this link and usable once; the PKCE verifier and
   * the link token are sealed with it until Microsoft sends the user back. Consumes nothing.
   */
  async beginMicrosoft(token: string, sideRaw: string): Promise<FormAnswer | { redirect: string }> {
    const l = await this.load(token);
    if (!l) return this.unavailable();
    const side = l.ask.find((s) => s === sideRaw);
    const ms = side ? l.microsoft[side] : undefined;
    if (!side || !ms?.app || !this.o.microsoft)
      return l.ask.length
        ? { outcome: 'form', status: 200, html: renderFormPage(this.view(l, {})) }
        : this.unavailable();
    const state = newToken();
    let started: { url: string; codeVerifier: string };
    try {
      started = await this.o.microsoft.begin({
        app: ms.app,
        redirectUri: this.o.microsoft.redirectUri,
        state,
        loginHint: side === 'source' ? l.item.sourceLogin : l.item.destinationLogin,
      });
    } catch (e) {
      this.log.warn('sign in with Microsoft could not start', {
        item: l.item.id,
        side,
        error: e instanceof M365AuthError ? e.detail : e instanceof Error ? e.message : String(e),
      });
      return {
        outcome: 'unreachable',
        status: 503,
        html: renderFormPage(this.view(l, { notice: SIGN_IN_NOTICES.unreachable })),
      };
    }
    const id = randomUUID();
    const sealed = this.engine.vault.sealState(id, { codeVerifier: started.codeVerifier, linkToken: token });
    await this.engine.links.saveSignInState({
      id,
      state,
      linkId: l.link.id,
      side,
      sealed,
      expiresAt: new Date(this.now().getTime() + SIGN_IN_MINUTES * 60_000),
    });
    await this.engine.note(l.item, this.actorOf(l), 'signin.started', { side });
    return { redirect: started.url };
  }

  /**
   * GET /oauth/microsoft/callback: Microsoft sends the user back with `code` and `state`
   * (or `error`). The state is used up at once; a cancelled sign-in (access_denied) goes back
   * to the form with a calm notice and counts no attempt; a code is redeemed, the mailbox
   * logged in to with the new token, and only then the refresh token kept in the vault.
   */
  async microsoftCallback(query: Record<string, unknown>): Promise<FormAnswer | { redirect: string }> {
    const state = typeof query.state === 'string' ? query.state : '';
    if (!isTokenShaped(state) || !this.o.microsoft) return this.unavailable();
    const ms = this.o.microsoft;
    const row = await this.engine.links.takeSignInState(state, this.now());
    if (!row) return this.unavailable();
    const { codeVerifier, linkToken } = this.engine.vault.openState(row.id, row);
    return this.locks.run(row.linkId, async () => {
      const l = await this.load(linkToken);
      if (!l || l.link.id !== row.linkId) return this.unavailable();
      const back = (signin: keyof typeof SIGN_IN_NOTICES) => ({ redirect: `/c/${linkToken}?signin=${signin}` });
      const side = storedSide(row.side);
      const app = l.microsoft[side]?.app;
      if (!l.ask.includes(side) || !app) return { redirect: `/c/${linkToken}` };
      const actor = this.actorOf(l);
      if (typeof query.error === 'string') return back(await this.signInErrored(l, actor, side, query.error, query));
      const code = typeof query.code === 'string' ? query.code : '';
      if (!code) return back('failed');
      let signed: { refreshToken: string; accessToken: string; username: string };
      let r: VerifyResult;
      const login = side === 'source' ? l.item.sourceLogin : l.item.destinationLogin;
      try {
        signed = await ms.complete({ app, redirectUri: ms.redirectUri, code, codeVerifier });
        r = await ms.verify(l.microsoft[side]!.connector.url, login, signed.accessToken, side);
      } catch (e) {
        if (!(e instanceof M365AuthError)) throw e;
        signed = { refreshToken: '', accessToken: '', username: '' };
        r = { ok: false, kind: e.kind === 'consent' ? 'refused' : e.kind, detail: e.detail };
      }
      if (!r.ok && r.kind !== 'refused') {
        await this.engine.note(l.item, actor, 'credentials.unverified', {
          sides: [side],
          detail: `${r.kind}: ${r.detail}`,
        });
        this.log.warn('sign in with Microsoft: the mailbox could not be checked', {
          item: l.item.id,
          side,
          kind: r.kind,
        });
        return back('unreachable');
      }
      if (!r.ok) {
        const counted = await this.countRefusal(l, actor, [{ side, detail: r.detail }], {
          log: 'sign in with Microsoft: the mailbox refused the account',
          signedInAs: signed.username || undefined,
        });
        if (!counted) return this.unavailable();
        if (counted.final) return this.lastAttemptRefused(l, l.item, side, r.detail);
        return back('refused');
      }
      const rest = l.ask.filter((s) => s !== side);
      if (!rest.length && !(await this.engine.links.consume(l.link.id, this.now()))) return this.unavailable();
      const current = await this.engine.setCredential(actor, l.item, side, login, {
        refreshToken: signed.refreshToken,
      });
      this.log.info('sign in with Microsoft: verified and stored', { item: l.item.id, side });
      if (rest.length) return { redirect: `/c/${linkToken}` };
      return this.finish(l, actor, current);
    });
  }

  /**
   * Microsoft sent the user back with an error instead of a code: cancelled by the user (access_denied, no attempt
   * counted) or failed at Microsoft. Noted and logged; which notice the form shows.
   */
  private async signInErrored(
    l: Loaded,
    actor: Actor,
    side: Side,
    error: string,
    query: Record<string, unknown>,
  ): Promise<'cancelled' | 'failed'> {
    const cancelled = error === 'access_denied';
    const description = typeof query.error_description === 'string' ? query.error_description.slice(0, 300) : undefined;
    await this.engine.note(l.item, actor, cancelled ? 'signin.cancelled' : 'signin.failed', {
      side,
      error: error.slice(0, 60),
      ...(description ? { detail: description } : {}),
    });
    this.log.info(
      cancelled ? 'sign in with Microsoft cancelled by the user' : 'sign in with Microsoft failed at Microsoft',
      { item: l.item.id, side },
    );
    return cancelled ? 'cancelled' : 'failed';
  }

  /** `projectId:side` of the servers already told unreachable to the admin (until they answer again). */
  private toldUnreachable = new Set<string>();

  /**
   * Tells the item's thread (or the project's channel) that a server could not be reached
   * from the form, once per project and side until the server answers again: every user
   * who tries meanwhile would otherwise repeat it.
   */
  private async tellUnreachable(item: ItemWithProject, unverified: { side: Side; r: VerifyResult }[]): Promise<void> {
    const threadRef = item.threadRef ?? item.project.channelRef;
    if (!this.o.postToThread || !threadRef) return;
    for (const x of unverified) {
      if (x.r.ok || x.r.kind !== 'unreachable') continue;
      const key = `${item.projectId}:${x.side}`;
      if (this.toldUnreachable.has(key)) continue;
      this.toldUnreachable.add(key);
      const url = x.side === 'source' ? item.project.sourceUrl : item.project.destinationUrl;
      const message = serverUnreachableFromFormPost(
        item.sourceAddress,
        item.project.name,
        x.side,
        serverOf(url),
        x.r.detail,
      );
      await this.o.postToThread({ threadRef, address: item.sourceAddress, itemId: item.id, message }).catch((e) => {
        this.toldUnreachable.delete(key);
        this.log.warn('could not tell the thread that a server is unreachable', {
          item: item.id,
          error: e instanceof Error ? e.message : String(e),
        });
      });
    }
  }

  /** The one page of every link that cannot be used, with the install's organisation and contact. */
  private unavailable(): FormAnswer {
    return { outcome: 'unavailable', status: 404, html: renderUnavailablePage(this.o.organisation) };
  }

  private orgOf(item: ItemWithProject): OrganisationView {
    return organisationOf(item.project, this.o.organisation ?? {});
  }

  private ttlOf(item: ItemWithProject): number {
    return readProjectOptions(item.project.options).options.linkTtlHours ?? this.o.linkTtlHours;
  }

  private maxAttemptsOf(item: ItemWithProject): number {
    return Math.max(1, readProjectOptions(item.project.options).options.maxAttempts ?? this.o.maxAttempts ?? 3);
  }

  private actorOf(l: Loaded): Actor {
    return l.admin
      ? { surface: 'form', id: l.link.recipient.slice(ADMIN_RECIPIENT_PREFIX.length), name: 'admin-assisted form' }
      : { surface: 'form', id: l.link.recipient };
  }

  private view(l: Loaded, extra: Partial<FormPageView> & { logins?: Partial<Record<Side, string>> }): FormPageView {
    const { item } = l;
    const max = this.maxAttemptsOf(item);
    const organisation = this.orgOf(item);
    return {
      projectName: item.project.name,
      sourceAddress: item.sourceAddress,
      destinationAddress: item.destinationAddress,
      sides: l.ask.map((side) => ({
        side,
        address: side === 'source' ? item.sourceAddress : item.destinationAddress,
        server: serverOf(side === 'source' ? item.project.sourceUrl : item.project.destinationUrl),
        login: extra.logins?.[side] ?? (side === 'source' ? item.sourceLogin : item.destinationLogin),
        ...(l.microsoft[side]
          ? {
              microsoft:
                l.microsoft[side]!.app && this.o.microsoft
                  ? { href: `/c/${l.token}/microsoft/${side}` }
                  : {
                      unavailable:
                        `Sign-in with Microsoft is not set up for this project yet: your administrator has to ` +
                        `connect the Microsoft 365 app registration first. Nothing is needed from you until then.`,
                    },
            }
          : {}),
      })),
      csrf: csrfToken(this.o.secret, l.link.id),
      expires: formatTime(l.link.expiresAt, organisation.timeZone),
      organisation,
      attemptsLeft: l.link.attempts > 0 ? Math.max(0, max - l.link.attempts) : undefined,
      adminAssisted: l.admin,
      errors: extra.errors,
      notice: extra.notice,
      // The mailbox owner chooses when copying begins; an admin's entry starts as the admin said.
      ...(l.admin
        ? {}
        : { when: startChoiceOffer(item.project, this.now(), extra.when?.chosen as FormStartChoice | undefined) }),
    };
  }

  private async handle(l: Loaded, body: Record<string, unknown>): Promise<FormAnswer> {
    const { item } = l;
    // 1. What was typed: both fields of every side asked, within sane sizes.
    // Microsoft 365 sides are signed in at Microsoft, never typed here.
    const typed = l.ask.filter((side) => !l.microsoft[side]);
    if (!typed.length) return { outcome: 'form', status: 200, html: renderFormPage(this.view(l, {})) };
    const { errors, input, logins } = readTyped(typed, body);
    const when = readStartChoice(body.when);
    if (errors.length)
      return {
        outcome: 'invalid',
        status: 422,
        html: renderFormPage(this.view(l, { errors, logins, ...(when ? { when: { chosen: when } } : {}) })),
      };

    // 2. Ask the servers (both sides at once).
    const results = await Promise.all(
      input.map(async (i) => {
        const url = i.side === 'source' ? item.project.sourceUrl : item.project.destinationUrl;
        let r: VerifyResult;
        try {
          r = await this.o.verify(url, i.login, { password: i.password }, i.side);
        } catch (e) {
          r = { ok: false, kind: 'error', detail: e instanceof Error ? e.message : String(e) };
        }
        return { ...i, r };
      }),
    );
    const refused = results.filter((x) => !x.r.ok && x.r.kind === 'refused');
    const unverified = results.filter((x) => !x.r.ok && x.r.kind !== 'refused');
    const valid = results.filter((x) => x.r.ok);
    const actor = this.actorOf(l);
    const all = results.length === valid.length && typed.length === l.ask.length;

    // 3. Everything accepted: use the link up first (a racing stop or second submit wins or loses here), then keep.
    if (all && !(await this.engine.links.consume(l.link.id, this.now()))) return this.unavailable();
    let current = item;
    for (const v of valid)
      current = await this.engine.setCredential(actor, current, v.side, v.login, { password: v.password });
    for (const v of valid)
      this.log.info('credential form: credentials verified and stored', { item: item.id, side: v.side });
    // The server answered again: a later outage is told anew.
    for (const r of results)
      if (r.r.ok || r.r.kind === 'refused') this.toldUnreachable.delete(`${item.projectId}:${r.side}`);
    if (all) return this.finish(l, actor, current, when);
    if (!refused.length && !unverified.length) {
      // Typed sides accepted; the Microsoft 365 side is still to be signed in.
      const left = l.ask.filter((s) => !valid.some((v) => v.side === s));
      return {
        outcome: 'form',
        status: 200,
        html: renderFormPage(
          this.view(
            { ...l, ask: left, item: current },
            {
              notice: {
                tone: 'warning',
                title: 'One more step',
                text: 'Your password was verified and stored. Now sign in with Microsoft for your other mailbox.',
              },
            },
          ),
        ),
      };
    }
    return this.afterRefusal(l, actor, current, valid, refused, unverified, logins);
  }

  /** Every credential of the link is known now: submit the item when it is idle, close the other links, say so. */
  private async finish(l: Loaded, actor: Actor, item: ItemWithProject, when?: FormStartChoice): Promise<FormAnswer> {
    let current = item;
    if (current.status !== 'Queued' && current.status !== 'Running' && current.status !== 'WaitingForUser') {
      // Admin-assisted entry on an idle item: submit it now.
      try {
        current = await this.engine.startItem(actor, current);
      } catch (e) {
        if (!isUserError(e)) throw e;
      }
    }
    const submitted = current.status === 'Queued' || current.status === 'Running';
    // Submitted: any other open link (the other recipient's, an admin's) has nothing left to ask.
    if (submitted) await this.engine.links.revokeOthers(item.id, l.link.id, this.now());
    const startsAt = submitted && !l.admin ? await this.holdUntilChosen(actor, current, when) : undefined;
    return {
      outcome: 'started',
      status: 200,
      html: renderStartedPage({
        sourceAddress: item.sourceAddress,
        destinationAddress: item.destinationAddress,
        state: submitted ? 'started' : current.status === 'WaitingForUser' ? 'waiting-other' : 'stored',
        organisation: this.orgOf(item),
        ...(startsAt ? { startsAt: formatTime(startsAt, this.orgOf(item).timeZone) } : {}),
      }),
    };
  }

  /**
   * The owner chose to begin later (tonight, tomorrow): the queued item is held until then
   * and the choice is posted in the admin's thread. Returns when copying begins, if later.
   */
  private async holdUntilChosen(
    actor: Actor,
    item: ItemWithProject,
    when: FormStartChoice | undefined,
  ): Promise<Date | undefined> {
    const at = startChoiceAt(when, item.project, this.now());
    if (!at || (when !== 'tonight' && when !== 'tomorrow') || !(await this.engine.deferQueued(actor, item, at)))
      return undefined;
    this.log.info('credential form: copying begins later, as the owner chose', { item: item.id, choice: when });
    if (item.threadRef)
      await this.o.postToThread?.({
        threadRef: item.threadRef,
        itemId: item.id,
        address: item.sourceAddress,
        message: formStartChoicePost(item.sourceAddress, when, at, this.orgOf(item).timeZone),
      });
    return at;
  }

  /**
   * A refused attempt (a password, or a Microsoft account), whatever the number of sides refused: it counts once
   * against the link, goes into the item's history and the log, and each side is told to listeners. Undefined when
   * the link died meanwhile.
   */
  private async countRefusal(
    l: Loaded,
    actor: Actor,
    refused: { side: Side; detail: string | undefined }[],
    how: { log: string; signedInAs?: string },
  ): Promise<{ attempt: number; final: boolean; detail: string } | undefined> {
    const attempt = await this.engine.links.countAttempt(l.link.id);
    if (attempt === undefined) return undefined;
    const max = this.maxAttemptsOf(l.item);
    const final = attempt >= max;
    const sides = refused.map((x) => x.side);
    const detail = refused.map((x) => x.detail ?? '').join('; ');
    await this.engine.note(l.item, actor, 'credentials.refused', {
      sides,
      attempt,
      of: max,
      final,
      detail,
      ...(how.signedInAs ? { signedInAs: how.signedInAs } : {}),
    });
    this.log.warn(how.log, { item: l.item.id, sides: sides.join(','), attempt, max });
    for (const x of refused)
      this.engine.bus.emit({
        type: 'item.credentials-refused',
        item: itemRef(l.item),
        side: x.side,
        attempt,
        final,
        detail: x.detail,
      });
    return { attempt, final, detail };
  }

  /**
   * The last attempt a link allows was refused (a password, or a Microsoft account): the
   * item fails with the server's reason while it still waits for its user (which kills the
   * link), else only the link dies; the user sees the final page.
   */
  private async lastAttemptRefused(l: Loaded, item: ItemWithProject, side: Side, detail: string): Promise<FormAnswer> {
    const fresh = await this.engine.itemById(item.id);
    if (fresh?.status === 'WaitingForUser') await this.engine.failCredentials(fresh, side, detail);
    else await this.engine.links.revoke(l.link.id, this.now());
    return {
      outcome: 'failed',
      status: 200,
      html: renderRefusedFinalPage({
        side,
        address: side === 'source' ? item.sourceAddress : item.destinationAddress,
        organisation: this.orgOf(item),
      }),
    };
  }

  private async afterRefusal(
    l: Loaded,
    actor: Actor,
    current: ItemWithProject,
    valid: { side: Side }[],
    refused: { side: Side; r: VerifyResult }[],
    unverified: { side: Side; r: VerifyResult }[],
    logins: Partial<Record<Side, string>>,
  ): Promise<FormAnswer> {
    const { item } = l;
    const ask = l.ask.filter((s) => !valid.some((v) => v.side === s));
    const after: Loaded = { ...l, ask, item: current };

    // 4. Refused: one attempt counts, whatever the number of sides refused.
    const [firstRefused] = refused;
    if (firstRefused) {
      const sides = refused.map((x) => ({ side: x.side, detail: x.r.ok ? undefined : x.r.detail }));
      const counted = await this.countRefusal(l, actor, sides, { log: 'credential form: credentials refused' });
      if (!counted) return this.unavailable();
      const { attempt, final, detail } = counted;
      if (final) return this.lastAttemptRefused(l, item, firstRefused.side, detail);
      const errs: FieldError[] = refused.map((x) => ({
        field: `${x.side}-password`,
        message:
          `The server of your ${SIDE_NAME[x.side]} mailbox did not ` +
          `accept this username and password. Check them and try again.`,
      }));
      const notice = unverified.length
        ? unreachableNotice(
            unverified.map((x) => x.side),
            unverified.every((x) => !x.r.ok && x.r.kind === 'throttled'),
          )
        : undefined;
      const html = renderFormPage(
        this.view({ ...after, link: { ...l.link, attempts: attempt } }, { errors: errs, logins, notice }),
      );
      return { outcome: 'refused', status: 422, html };
    }

    // 5. A server could not be reached (or failed oddly): nothing counts against the user.
    await this.engine.note(item, actor, 'credentials.unverified', {
      sides: unverified.map((x) => x.side),
      detail: unverified.map((x) => (x.r.ok ? '' : `${x.r.kind}: ${x.r.detail}`)).join('; '),
    });
    this.log.warn('credential form: server could not check the credentials', {
      item: item.id,
      sides: unverified.map((x) => x.side).join(','),
      kinds: unverified.map((x) => (x.r.ok ? '' : x.r.kind)).join(','),
    });
    await this.tellUnreachable(item, unverified);
    const busy = unverified.every((x) => !x.r.ok && x.r.kind === 'throttled');
    return {
      outcome: 'unreachable',
      status: 503,
      html: renderFormPage(
        this.view(after, {
          logins,
          notice: unreachableNotice(
            unverified.map((x) => x.side),
            busy,
          ),
        }),
      ),
    };
  }
}

function unreachableNotice(sides: Side[], busy = false): NonNullable<FormPageView['notice']> {
  const [side] = sides;
  const which = side && sides.length === 1 ? `the server of your ${SIDE_NAME[side]} mailbox` : 'the mail servers';
  if (busy)
    return {
      tone: 'warning',
      title: 'The mail server is busy',
      text:
        `${which.charAt(0).toUpperCase()}${which.slice(1)} asked us to slow down before it would ` +
        `check your credentials. This does not count as an attempt. Please try again in a few minutes.`,
    };
  return {
    tone: 'warning',
    title: 'We could not reach the mail server',
    text:
      `We could not reach ${which} to check your credentials just now. This ` +
      `does not count as an attempt. Please try again in a few minutes.`,
  };
}

/**
 * The username and password typed for each side, within sane sizes: what to verify, the field errors, and the
 * usernames to show back (a hidden character spelled out, so the page shows what was typed).
 */
function readTyped(typed: Side[], body: Record<string, unknown>) {
  const errors: FieldError[] = [];
  const input: { side: Side; login: string; password: string }[] = [];
  const logins: Partial<Record<Side, string>> = {};
  for (const side of typed) {
    const rawLogin = body[`${side}_login`];
    const rawPassword = body[`${side}_password`];
    const login = typeof rawLogin === 'string' ? rawLogin.trim() : '';
    const password = typeof rawPassword === 'string' ? rawPassword : '';
    const invisible = findInvisible(login);
    // Shown back with the hidden character spelled out, so the page shows what was typed.
    logins[side] = (invisible ? showInvisible(login) : login).slice(0, MAX_LOGIN);
    const name = SIDE_NAME[side];
    if (!login) errors.push({ field: `${side}-login`, message: `Enter the username of your ${name} mailbox.` });
    else if (invisible)
      errors.push({
        field: `${side}-login`,
        message:
          `The username of your ${name} mailbox contains an invisible character ` +
          `(${invisible.code}${invisible.name ? ` ${invisible.name}` : ''}), ` +
          `shown here as <${invisible.code}>. Type the username again without it.`,
      });
    else if (login.length > MAX_LOGIN || /[\u0000-\u001f\u007f]/.test(login))
      errors.push({ field: `${side}-login`, message: `The username of your ${name} mailbox is not valid.` });
    if (!password) errors.push({ field: `${side}-password`, message: `Enter the password of your ${name} mailbox.` });
    else if (password.length > MAX_PASSWORD)
      errors.push({ field: `${side}-password`, message: `The password of your ${name} mailbox is too long.` });
    input.push({ side, login, password });
  }
  return { errors, input, logins };
}
