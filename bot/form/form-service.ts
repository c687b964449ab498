import { findInvisible, showInvisible } from '../../engine/domain/invisible.ts';
import type { Engine, Item, Project } from '../../engine/engine.ts';
import { projectOptions } from '../../engine/engine.ts';
import { isUserError, UserError } from '../../engine/errors.ts';
import { actorKey, sidesFrom, type Actor, type Side } from '../../engine/domain/types.ts';
import {
  ADMIN_RECIPIENT_PREFIX,
  consumeLink,
  countAttempt,
  createLink,
  findOpenLink,
  isAdminLink,
  linkSides,
  revokeLink,
  revokeOtherLinks,
  type CredentialLinkRow,
} from '../../engine/links.ts';
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
import { checkCsrf, csrfToken } from './csrf.ts';
import { KeyedLock } from './keyed-lock.ts';
import type { Logger } from '../log.ts';
import type { AdminFormService } from './admin-form-service.ts';

/** Checks a login against a server (the engine's `verifyCredentials`; tests may pass their own). */
export type Verifier = (connectorUrl: string, login: string, secret: ConnectorSecret, side: ConnectorSide) => Promise<VerifyResult>;

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
  now?: () => Date;
}

/** What the form answers: an HTTP status, the page, and the outcome (for tests and logs). */
export interface FormAnswer {
  outcome: 'form' | 'unavailable' | 'stale' | 'invalid' | 'refused' | 'unreachable' | 'failed' | 'started';
  status: number;
  html: string;
}

type ItemWithProject = Item & { project: Project };

interface Loaded {
  link: CredentialLinkRow;
  item: ItemWithProject;
  /** The sides the form asks for now. */
  ask: Side[];
  admin: boolean;
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
  private locks = new KeyedLock();
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
    const link = await findOpenLink(this.engine.db, token, this.now());
    if (!link) return undefined;
    const item = await this.engine.itemById(link.itemId);
    if (!item) return undefined;
    const admin = isAdminLink(link);
    // A request link serves a waiting item only; an admin-assisted one any item not queued or running.
    if (admin ? item.status === 'Queued' || item.status === 'Running' : item.status !== 'WaitingForUser') return undefined;
    const missing = await this.engine.missingSides(item);
    const wanted = linkSides(link);
    let ask = wanted.filter((s) => missing.includes(s));
    if (!ask.length) {
      if (!admin) return undefined;
      ask = wanted;
    }
    return { link, item, ask, admin };
  }

  /** GET: the form, or the one calm page when the link cannot be used. Never consumes the link (mail scanners prefetch). */
  async show(token: string): Promise<FormAnswer> {
    const l = await this.load(token);
    if (!l) {
      const p = await this.o.projectForms?.load(token);
      return p ? this.o.projectForms!.show(p) : unavailable();
    }
    return { outcome: 'form', status: 200, html: renderFormPage(this.view(l, {})) };
  }

  /** POST: checks and keeps the credentials. One submission per link at a time. */
  async submit(token: string, body: Record<string, unknown>): Promise<FormAnswer> {
    const l0 = await this.load(token);
    if (!l0) return this.o.projectForms ? this.o.projectForms.submit(token, body) : unavailable();
    return this.locks.run(l0.link.id, async () => {
      const l = await this.load(token); // again, inside the lock: a parallel submit may have used it
      if (!l) return unavailable();
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
    const { token, expiresAt } = await createLink(this.engine.db, {
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

  private ttlOf(item: ItemWithProject): number {
    return projectOptions(item.project).linkTtlHours ?? this.o.linkTtlHours;
  }

  private maxAttemptsOf(item: ItemWithProject): number {
    return Math.max(1, projectOptions(item.project).maxAttempts ?? this.o.maxAttempts ?? 3);
  }

  private actorOf(l: Loaded): Actor {
    return l.admin
      ? { surface: 'form', id: l.link.recipient.slice(ADMIN_RECIPIENT_PREFIX.length), name: 'admin-assisted form' }
      : { surface: 'form', id: l.link.recipient };
  }

  private view(l: Loaded, extra: Partial<FormPageView> & { logins?: Partial<Record<Side, string>> }): FormPageView {
    const { item } = l;
    const max = this.maxAttemptsOf(item);
    return {
      projectName: item.project.name,
      sourceAddress: item.sourceAddress,
      destinationAddress: item.destinationAddress,
      sides: l.ask.map((side) => ({
        side,
        address: side === 'source' ? item.sourceAddress : item.destinationAddress,
        server: serverOf(side === 'source' ? item.project.sourceUrl : item.project.destinationUrl),
        login: extra.logins?.[side] ?? (side === 'source' ? item.sourceLogin : item.destinationLogin),
      })),
      csrf: csrfToken(this.o.secret, l.link.id),
      expires: formatTime(l.link.expiresAt),
      attemptsLeft: l.link.attempts > 0 ? Math.max(0, max - l.link.attempts) : undefined,
      adminAssisted: l.admin,
      errors: extra.errors,
      notice: extra.notice,
    };
  }

  private async handle(l: Loaded, body: Record<string, unknown>): Promise<FormAnswer> {
    const { item } = l;
    // 1. What was typed: both fields of every side asked, within sane sizes.
    const errors: FieldError[] = [];
    const input: { side: Side; login: string; password: string }[] = [];
    const logins: Partial<Record<Side, string>> = {};
    for (const side of l.ask) {
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
          message: `The username of your ${name} mailbox contains an invisible character (${invisible.code}${invisible.name ? ` ${invisible.name}` : ''}), shown here as <${invisible.code}>. Type the username again without it.`,
        });
      else if (login.length > MAX_LOGIN || /[\u0000-\u001f\u007f]/.test(login)) errors.push({ field: `${side}-login`, message: `The username of your ${name} mailbox is not valid.` });
      if (!password) errors.push({ field: `${side}-password`, message: `Enter the password of your ${name} mailbox.` });
      else if (password.length > MAX_PASSWORD) errors.push({ field: `${side}-password`, message: `The password of your ${name} mailbox is too long.` });
      input.push({ side, login, password });
    }
    if (errors.length) return { outcome: 'invalid', status: 422, html: renderFormPage(this.view(l, { errors, logins })) };

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
    const all = results.length === valid.length;

    // 3. Everything accepted: use the link up first (a racing stop or second submit wins or loses here), then keep.
    if (all && !(await consumeLink(this.engine.db, l.link.id, this.now()))) return unavailable();
    let current = item;
    for (const v of valid) current = await this.engine.setCredential(actor, current, v.side, v.login, { password: v.password });
    for (const v of valid) this.log.info('credential form: credentials verified and stored', { item: item.id, side: v.side });
    if (all) {
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
      if (submitted) await revokeOtherLinks(this.engine.db, item.id, l.link.id, this.now());
      return {
        outcome: 'started',
        status: 200,
        html: renderStartedPage({
          sourceAddress: item.sourceAddress,
          destinationAddress: item.destinationAddress,
          state: submitted ? 'started' : current.status === 'WaitingForUser' ? 'waiting-other' : 'stored',
        }),
      };
    }

    const ask = l.ask.filter((s) => !valid.some((v) => v.side === s));
    const after: Loaded = { ...l, ask, item: current };

    // 4. Refused: one attempt counts, whatever the number of sides refused.
    if (refused.length) {
      const attempt = await countAttempt(this.engine.db, l.link.id);
      if (attempt === undefined) return unavailable();
      const max = this.maxAttemptsOf(item);
      const final = attempt >= max;
      const detail = refused.map((x) => (x.r.ok ? '' : x.r.detail)).join('; ');
      await this.engine.note(item, actor, 'credentials.refused', { sides: refused.map((x) => x.side), attempt, of: max, final, detail });
      this.log.warn('credential form: credentials refused', { item: item.id, sides: refused.map((x) => x.side).join(','), attempt, max });
      for (const x of refused)
        this.engine.bus.emit({
          type: 'item.credentials-refused',
          item: { id: item.id, projectId: item.projectId, projectName: item.project.name, sourceAddress: item.sourceAddress, destinationAddress: item.destinationAddress, threadRef: item.threadRef },
          side: x.side,
          attempt,
          final,
          detail: x.r.ok ? undefined : x.r.detail,
        });
      if (final) {
        const side = refused[0].side;
        const fresh = await this.engine.itemById(item.id);
        if (fresh?.status === 'WaitingForUser') await this.engine.failCredentials(fresh, side, detail);
        else await revokeLink(this.engine.db, l.link.id, this.now());
        return { outcome: 'failed', status: 200, html: renderRefusedFinalPage({ side, address: side === 'source' ? item.sourceAddress : item.destinationAddress }) };
      }
      const errs: FieldError[] = refused.map((x) => ({
        field: `${x.side}-password`,
        message: `The server of your ${SIDE_NAME[x.side]} mailbox did not accept this username and password. Check them and try again.`,
      }));
      const notice = unverified.length ? unreachableNotice(unverified.map((x) => x.side), unverified.every((x) => !x.r.ok && x.r.kind === 'throttled')) : undefined;
      const html = renderFormPage(this.view({ ...after, link: { ...l.link, attempts: attempt } }, { errors: errs, logins, notice }));
      return { outcome: 'refused', status: 422, html };
    }

    // 5. A server could not be reached (or failed oddly): nothing counts against the user.
    await this.engine.note(item, actor, 'credentials.unverified', {
      sides: unverified.map((x) => x.side),
      detail: unverified.map((x) => (x.r.ok ? '' : `${x.r.kind}: ${x.r.detail}`)).join('; '),
    });
    this.log.warn('credential form: server could not check the credentials', { item: item.id, sides: unverified.map((x) => x.side).join(','), kinds: unverified.map((x) => (x.r.ok ? '' : x.r.kind)).join(',') });
    const busy = unverified.every((x) => !x.r.ok && x.r.kind === 'throttled');
    return { outcome: 'unreachable', status: 503, html: renderFormPage(this.view(after, { logins, notice: unreachableNotice(unverified.map((x) => x.side), busy) })) };
  }

}

function unavailable(): FormAnswer {
  return { outcome: 'unavailable', status: 404, html: renderUnavailablePage() };
}

function unreachableNotice(sides: Side[], busy = false): NonNullable<FormPageView['notice']> {
  const which = sides.length === 2 ? 'the mail servers' : `the server of your ${SIDE_NAME[sides[0]]} mailbox`;
  if (busy)
    return {
      tone: 'warning',
      title: 'The mail server is busy',
      text: `${which[0].toUpperCase()}${which.slice(1)} asked us to slow down before it would check your credentials. This does not count as an attempt. Please try again in a few minutes.`,
    };
  return {
    tone: 'warning',
    title: 'We could not reach the mail server',
    text: `We could not reach ${which} to check your credentials just now. This does not count as an attempt. Please try again in a few minutes.`,
  };
}
