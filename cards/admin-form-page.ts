import { escapeHtml } from './render-email.ts';
import { errorSummary, noticeBox, page, type FieldError } from './form-page.ts';

/**
 * The admin-credentials form (`project connect`) and its answer pages: server-rendered,
 * no script (the same strict CSP as the user form), every value escaped. An IMAP side asks
 * for an admin (master) login; a Microsoft 365 side for the app registration. Both ask for
 * one mailbox to test with: the credentials are kept only once that login worked.
 */

const ADMIN_FOOTER =
  'This page was opened from a private link MailFerry gave you in chat. What you enter is checked ' +
  'with the mail server, then stored encrypted and used only to copy mail for this project.';

/** Values typed on the admin form, given back when it is shown again (never the secrets). */
export interface AdminFormValues {
  adminUser?: string;
  style?: 'separator' | 'authzid';
  separator?: string;
  clientId?: string;
  /** Microsoft 365: the app opens every mailbox (`app`), or each user signs in through it (`signin`). */
  use?: 'app' | 'signin';
  testMailbox?: string;
}

/** The admin form of one side of a project. */
export interface AdminFormView {
  projectName: string;
  side: 'source' | 'destination';
  /** `imap`: an admin login; `m365`: an app registration. */
  kind: 'imap' | 'm365';
  /** `host:port` of the side's IMAP server. */
  server: string;
  /** The tenant of an m365:// side. */
  tenantId?: string;
  /**
   * Where Microsoft sends users back after their sign-in (PUBLIC_URL/oauth/microsoft/callback), to register on the app.
   */
  redirectUri?: string;
  /** Whether the side already has admin credentials (they are replaced). */
  replacing?: boolean;
  csrf: string;
  expires: string;
  values: AdminFormValues;
  attemptsLeft?: number;
  errors?: FieldError[];
  notice?: { tone: 'warning' | 'error'; title: string; text: string };
}

const SIDE_NAME = { source: 'source', destination: 'destination' } as const;

function field(
  errors: FieldError[],
  o: {
    id: string;
    name: string;
    label: string;
    type?: string;
    value?: string;
    hint?: string;
    attrs?: string;
    required?: boolean;
    textarea?: boolean;
  },
): string {
  const err = errors.find((e) => e.field === o.id);
  const described = [o.hint ? `${o.id}-hint` : '', err ? `${o.id}-error` : ''].filter(Boolean).join(' ');
  const common =
    `id="${o.id}" name="${o.name}"${described ? ` aria-describedby="${described}"` : ''}` +
    `${err ? ' aria-invalid="true"' : ''}${o.required ? ' required' : ''} ${o.attrs ?? ''}`;
  const control = o.textarea
    ? `<textarea ${common} spellcheck="false" autocapitalize="none">${escapeHtml(o.value ?? '')}</textarea>`
    : `<input ${common} type="${o.type ?? 'text'}"${o.value !== undefined ? ` value="${escapeHtml(o.value)}"` : ''}>`;
  return (
    `<div class="field"><label for="${o.id}">${escapeHtml(o.label)}</label>` +
    (o.hint ? `<span class="hint" id="${o.id}-hint">${escapeHtml(o.hint)}</span>` : '') +
    (err
      ? `<span class="field-error" id="${o.id}-error"><span ` +
        `class="visually-hidden">Error: </span>${escapeHtml(err.message)}</span>`
      : '') +
    control +
    `</div>`
  );
}

function imapFields(v: AdminFormView, errors: FieldError[]): string {
  const style = v.values.style ?? 'separator';
  return (
    `<fieldset><legend>Admin login</legend>` +
    field(errors, {
      id: 'admin-user',
      name: 'admin_user',
      label: 'Admin user',
      value: v.values.adminUser ?? '',
      hint: 'A user allowed to log in as any mailbox: a Dovecot master user, a Zimbra or Cyrus admin.',
      attrs: 'autocomplete="username" autocapitalize="none" spellcheck="false" maxlength="320"',
      required: true,
    }) +
    field(errors, {
      id: 'admin-password',
      name: 'admin_password',
      label: 'Password',
      type: 'password',
      attrs: 'autocomplete="current-password" maxlength="1024"',
      required: true,
    }) +
    `</fieldset>` +
    `<fieldset><legend>How the server takes it</legend>` +
    `<label class="choice"><input type="radio" name="style" ` +
    `value="separator"${style === 'separator' ? ' checked' : ''}` +
    `><span>Master user login, <code>mailbox*admin</code> (Dovecot)</span></label>` +
    `<label class="choice"><input type="radio" name="style" value="authzid"${style === 'authzid' ? ' checked' : ''}` +
    `><span>SASL authorization identity (Zimbra, Cyrus, Dovecot)</span></label>` +
    field(errors, {
      id: 'separator',
      name: 'separator',
      label: 'Separator of a master user login',
      value: v.values.separator ?? '*',
      hint: "Dovecot's auth_master_user_separator; only used with the first choice.",
      attrs: 'maxlength="4" autocapitalize="none" spellcheck="false"',
    }) +
    `</fieldset>`
  );
}

function m365Fields(v: AdminFormView, errors: FieldError[]): string {
  const use = v.values.use ?? 'app';
  return (
    `<fieldset><legend>App registration</legend>` +
    `<span class="hint">Tenant: ${escapeHtml(v.tenantId ?? '')} (from the project).</span>` +
    field(errors, {
      id: 'client-id',
      name: 'client_id',
      label: 'Application (client) ID',
      value: v.values.clientId ?? '',
      attrs: 'autocomplete="off" autocapitalize="none" spellcheck="false" maxlength="100"',
      required: true,
    }) +
    field(errors, {
      id: 'client-secret',
      name: 'client_secret',
      label: 'Client secret',
      type: 'password',
      hint: "The secret's value, not its ID. Or leave it empty and give a certificate below.",
      attrs: 'autocomplete="off" maxlength="1024"',
    }) +
    `<p class="or">or</p>` +
    field(errors, {
      id: 'certificate',
      name: 'certificate',
      label: 'Certificate (PEM)',
      hint: 'The certificate uploaded to the app registration, -----BEGIN CERTIFICATE-----…',
      textarea: true,
      attrs: 'maxlength="12000"',
    }) +
    field(errors, {
      id: 'private-key',
      name: 'private_key',
      label: 'Its private key (PEM)',
      hint: '-----BEGIN PRIVATE KEY-----… (unencrypted PKCS#8 or RSA).',
      textarea: true,
      attrs: 'maxlength="12000"',
    }) +
    `</fieldset>` +
    `<fieldset><legend>How mailboxes are opened</legend>` +
    `<label class="choice"><input type="radio" name="use" value="app"${use === 'app' ? ' checked' : ''}><span>The ` +
    `app opens every mailbox: application permission IMAP.AccessAsApp ` +
    `with admin consent, and FullAccess on the mailboxes. No user is asked.</span></label>` +
    `<label class="choice"><input type="radio" name="use" value="signin"${use === 'signin' ? ' checked' : ''}` +
    `><span>Each user signs in with Microsoft on the form: delegated permission ` +
    `IMAP.AccessAsUser.All, redirect URI ${escapeHtml(v.redirectUri ?? '')}.</span></label>` +
    `</fieldset>`
  );
}

/** The admin-credentials form of one side of a project. */
export function renderAdminFormPage(v: AdminFormView): string {
  const errors = v.errors ?? [];
  const summary = errorSummary(errors);
  const notice = noticeBox(v.notice, errors.length > 0);
  const what =
    v.kind === 'm365' ? 'the app registration of the Microsoft 365 tenant' : 'an admin login of the mail server';
  const attempts =
    v.attemptsLeft != null
      ? '<p class="small">' +
        `${v.attemptsLeft === 1 ? 'This is the last attempt' : `${v.attemptsLeft} attempts left`} on this link.</p>`
      : '';
  const body =
    summary +
    notice +
    `<h1>Connect the ${SIDE_NAME[v.side]} of project ${escapeHtml(v.projectName)}</h1>` +
    `<p class="lead">Enter ${what}. With it, MailFerry logs in to ` +
    `every ${SIDE_NAME[v.side]} mailbox of this project itself: no user is asked for a ` +
    `password. We check it by logging in to one mailbox before keeping it.</p>` +
    `<dl class="facts"><dt>Project</dt><dd>${escapeHtml(v.projectName)}` +
    `</dd><dt>Side</dt><dd>${escapeHtml(SIDE_NAME[v.side])}</dd>` +
    `<dt>Server</dt><dd>${escapeHtml(v.server)}</dd><dt>Link expires</dt><dd>${escapeHtml(v.expires)}</dd></dl>` +
    (v.replacing
      ? `<p class="small">This side already has admin credentials; what you enter here replaces them once verified.</p>`
      : '') +
    `<form method="post" novalidate autocomplete="off">` +
    `<input type="hidden" name="csrf" value="${escapeHtml(v.csrf)}">` +
    (v.kind === 'm365' ? m365Fields(v, errors) : imapFields(v, errors)) +
    `<fieldset><legend>Test</legend>` +
    field(errors, {
      id: 'test-mailbox',
      name: 'test_mailbox',
      label: 'A mailbox to test with',
      value: v.values.testMailbox ?? '',
      hint:
        v.kind === 'm365'
          ? 'We log in to this mailbox with the app (nothing is read or changed). Not needed ' +
            'when users sign in themselves: then we only check that the app gets a token.'
          : 'We log in to this mailbox with the credentials above (nothing is read or changed).',
      attrs: 'autocapitalize="none" spellcheck="false" maxlength="320"',
      required: v.kind !== 'm365',
    }) +
    `</fieldset>` +
    attempts +
    `<button type="submit">Verify and connect</button>` +
    `</form>`;
  return page(`Connect ${v.projectName}`, body, ADMIN_FOOTER);
}

/** The admin credentials were verified and kept. */
export function renderAdminConnectedPage(v: {
  projectName: string;
  side: 'source' | 'destination';
  testMailbox?: string;
  queued: number;
  signin?: boolean;
}): string {
  const title = `The ${SIDE_NAME[v.side]} of ${v.projectName} is connected`;
  if (v.signin)
    return page(
      title,
      `<div class="box success" role="status" tabindex="-1" autofocus><h1>${escapeHtml(title)}</h1>` +
        `<p>The app registration got a token from Microsoft; it is stored ` +
        `encrypted. Users asked for their ${SIDE_NAME[v.side]} mailbox now see a ` +
        `Sign in with Microsoft button instead of a password field.</p></div>` +
        `<p class="small">This link has now been used and no longer works.</p>`,
      ADMIN_FOOTER,
    );
  const queued = v.queued
    ? v.queued === 1
      ? ' One mailbox that was waiting for its user is now queued.'
      : ` ${v.queued} mailboxes that were waiting for their users are now queued.`
    : '';
  return page(
    title,
    `<div class="box success" role="status" tabindex="-1" autofocus><h1>${escapeHtml(title)}</h1>` +
      `<p>The login to ${escapeHtml(v.testMailbox ?? '')} worked; the credentials ` +
      `are stored encrypted. From now on, ${SIDE_NAME[v.side]} mailboxes of this ` +
      `project start without asking their users.${escapeHtml(queued)}</p></div>` +
      `<p>You can close this page. <code>/migrate status</code> shows which ` +
      `sides use admin credentials; <code>/migrate project set ${escapeHtml(v.projectName)} ` +
      `--clear-admin ${SIDE_NAME[v.side]}</code> forgets them.</p>` +
      `<p class="small">This link has now been used and no longer works.</p>`,
    ADMIN_FOOTER,
  );
}

/** The last attempt on an admin link was refused: the link is dead. */
export function renderAdminRefusedFinalPage(v: { projectName: string; side: 'source' | 'destination' }): string {
  return page(
    'The credentials were not accepted',
    `<div class="box error" role="alert" tabindex="-1" autofocus><h1>The credentials were not accepted</h1>` +
      `<p>The server did not accept them, and this was the last attempt on this link. Nothing was stored.</p></div>` +
      `<p>Ask for a new link in chat with <code>/migrate project ` +
      `connect ${escapeHtml(v.projectName)} --${SIDE_NAME[v.side]}</code>.</p>`,
    ADMIN_FOOTER,
  );
}
