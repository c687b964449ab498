import { escapeHtml } from './render-email.ts';
import { requesterText, supportSentence, type OrganisationView } from './organisation.ts';

/**
 * The credential form and its answer pages, server-rendered HTML with no script at all
 * (the page works with the strict CSP `script-src 'none'`). Every value is escaped. The
 * style sheet is one constant so the CSP can allow it by hash.
 */

/** The style of every form page (allowed by its SHA-256 in the Content-Security-Policy). */
export const FORM_PAGE_CSS =
  `
:root{color-scheme:light ` +
  `dark;--bg:#f1f5f9;--card:#fff;--ink:#0f172a;--muted:#475569;--line:#cbd5e1;--brand:#1d4ed8;--brand-ink:#fff;` +
  `--err:#b91c1c;--err-bg:#fef2f2;--warn:#92400e;--warn-bg:#fffbeb;--ok:#166534;--ok-bg:#f0fdf4;--focus:#f59e0b}
@media (prefers-color-scheme:dark){:root{--bg:#0b1220;--card:#111a2e;--ink:#e2e8f0;--muted:#94a3b8;--line:#334155;` +
  `--brand:#60a5fa;--brand-ink:#0b1220;--err:#fca5a5;--err-bg:#2a1215;--warn:#fcd34d;--warn-bg:#2a2110;` +
  `--ok:#86efac;--ok-bg:#0f2417}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);font:16px/1.5 -apple-system,BlinkMacSystemFont,"Segoe ` +
  `UI",Roboto,Helvetica,Arial,sans-serif}
.skip{position:absolute;left:-999px;top:0;background:var(--card);padding:8px 12px}
.skip:focus{left:8px;top:8px;z-index:2}
header.bar{padding:14px 20px;font-weight:700;color:var(--brand);letter-spacing:.01em}
header.bar span{color:var(--muted);font-weight:500}
main{max-width:34rem;margin:0 auto 40px;padding:0 12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:24px 20px}
@media (min-width:600px){.card{padding:32px 36px}}
h1{font-size:1.45rem;line-height:1.3;margin:0 0 12px}
h2{font-size:1.05rem;margin:0 0 8px}
p{margin:0 0 14px}
.lead{color:var(--muted)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:0 0 22px;padding:14px ` +
  `16px;border:1px solid var(--line);border-radius:8px;font-size:.95rem}
dl.facts dt{color:var(--muted);font-weight:600}
dl.facts dd{margin:0;overflow-wrap:anywhere}
fieldset{border:1px solid var(--line);border-radius:8px;margin:0 0 18px;padding:14px 16px 4px}
legend{font-weight:700;padding:0 6px}
.hint{display:block;color:var(--muted);font-size:.9rem;margin:-2px 0 6px}
label{display:block;font-weight:600;margin:0 0 4px}
.field{margin:0 0 14px}
textarea{display:block;width:100%;font:14px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;padding:10px ` +
  `12px;border:2px solid var(--line);border-radius:8px;background:var(--card);color:var(--ink);min-height:7rem}
textarea:focus{outline:3px solid var(--focus);outline-offset:1px}
.choice{display:flex;gap:10px;align-items:flex-start;font-weight:400;margin:0 0 10px}
.choice input{margin-top:5px;width:1.1rem;height:1.1rem;flex:none}
.or{text-align:center;color:var(--muted);font-weight:600;margin:4px 0 14px}
a.button{display:block;text-align:center;text-decoration:none;font-weight:700;font-size:1.05rem;padding:13px ` +
  `16px;border-radius:8px;background:var(--brand);color:var(--brand-ink)}
input[type=text],input[type=password],input[type=email]{display:block;width:100%;font:inherit;font-size:16px;` +
  `padding:11px 12px;border:2px solid var(--line);border-radius:8px;background:var(--card);color:var(--ink)}
input[aria-invalid=true]{border-color:var(--err)}
.field-error{display:block;color:var(--err);font-weight:600;margin:0 0 6px}
button{display:block;width:100%;font:inherit;font-weight:700;font-size:1.05rem;padding:13px ` +
  `16px;border:0;border-radius:8px;background:var(--brand);color:var(--brand-ink);cursor:pointer}
button:hover{filter:brightness(1.08)}
a{color:var(--brand)}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
input:focus{outline:3px solid var(--focus);outline-offset:1px}
.box{border-radius:8px;padding:14px 16px;margin:0 0 20px;border:2px solid}
.box h2{margin-bottom:6px}
.box ul{margin:0;padding-left:20px}
.box p:last-child{margin-bottom:0}
.error{border-color:var(--err);background:var(--err-bg)}
.error h2,.error a{color:var(--err)}
.warning{border-color:var(--warn);background:var(--warn-bg)}
.success{border-color:var(--ok);background:var(--ok-bg)}
.small{font-size:.9rem;color:var(--muted)}
.after{margin-top:16px}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
footer{max-width:34rem;margin:0 auto;padding:0 20px 32px;font-size:.85rem;color:var(--muted)}
`;

/** One side the form asks for. */
export interface FormSideView {
  side: 'source' | 'destination';
  /** The mailbox of that side. */
  address: string;
  /** The server of that side, as `host:port`. */
  server: string;
  /** Username prefilled (what the admin gave, or what the user typed last). */
  login: string;
  /**
   * A Microsoft 365 mailbox: no password field, a "Sign in with Microsoft" link instead
   * (`href`), or why it cannot be offered yet (`unavailable`).
   */
  microsoft?: { href: string } | { unavailable: string };
}

/** A field error, for the error summary and the field itself. */
export interface FieldError {
  /** The field id, e.g. `source-password`. */
  field: string;
  message: string;
}

/** The credential form. */
export interface FormPageView {
  projectName: string;
  sourceAddress: string;
  destinationAddress: string;
  sides: FormSideView[];
  csrf: string;
  expires: string;
  /** Attempts the user has left before the item fails (shown when fewer than the maximum). */
  attemptsLeft?: number;
  errors?: FieldError[];
  /** A notice above the form (a server could not be reached). */
  notice?: { tone: 'warning' | 'error'; title: string; text: string };
  /** Opened by an admin (`/migrate form`), not by the mailbox owner. */
  adminAssisted?: boolean;
  /** The organisation behind the migration (name and support contact shown). */
  organisation?: OrganisationView;
  /**
   * When copying begins, chosen by the mailbox owner with the credentials (applied once they
   * are verified): now, tonight (when the project has a copy window: its opening, shown), or
   * tomorrow. Absent: no choice (admin-assisted entry).
   */
  when?: { tonight?: string; chosen?: string };
}

/** The mailbox owner's answer to "when should copying begin?" on the form. */
export const FORM_START_CHOICES = ['now', 'tonight', 'tomorrow'] as const;

/** The choice of when copying begins: radio buttons, "now" unless another was chosen. */
function whenFieldset(w: NonNullable<FormPageView['when']>): string {
  const chosen = w.chosen ?? 'now';
  const option = (value: string, text: string) =>
    `<label class="choice"><input type="radio" name="when" ` +
    `value="${value}"${chosen === value ? ' checked' : ''}><span>${escapeHtml(text)}</span></label>`;
  return (
    `<fieldset><legend>When should copying begin?</legend>` +
    option('now', 'Now, as soon as your credentials are verified') +
    (w.tonight ? option('tonight', `Tonight, from ${w.tonight}`) : '') +
    option('tomorrow', 'Tomorrow, at this time') +
    `</fieldset>`
  );
}

const USER_FOOTER =
  'This page was sent to you by your IT administrator through MailFerry. Your credentials ' +
  'are checked with your mail server, then stored encrypted and used only to copy your mail.';

/** The end users' footer, naming the organisation and its support contact when they are set. */
function userFooter(org: OrganisationView | undefined): string {
  if (!org?.name && !org?.support) return USER_FOOTER;
  return (
    `This page was sent to you by ${requesterText(undefined, org)} through MailFerry. Your credentials are ` +
    `checked with your mail server, then stored encrypted and used only to copy your mail. ${supportSentence(org)}`
  );
}

/**
 * The frame of every form page: head with the one style sheet, header (with the
 * organisation's name when set), the card, the footer.
 */
export function page(title: string, body: string, footer?: string, org?: OrganisationView): string {
  const brand = org?.name
    ? `${escapeHtml(org.name)} <span>· secure mailbox migration with MailFerry</span>`
    : 'MailFerry <span>· secure mailbox migration</span>';
  return (
    `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<meta name="robots" content="noindex,nofollow"><meta name="referrer" content="no-referrer">` +
    `<title>${escapeHtml(title)} · MailFerry</title><style>${FORM_PAGE_CSS}</style></head>` +
    `<body><a class="skip" href="#main">Skip to content</a>` +
    `<header class="bar" role="banner">${brand}</header>` +
    `<main id="main" tabindex="-1"><div class="card">${body}</div></main>` +
    `<footer role="contentinfo">${escapeHtml(footer ?? userFooter(org))}</footer>` +
    `</body></html>`
  );
}

const SIDE_TITLE = { source: 'Your current mailbox', destination: 'Your new mailbox' } as const;

function sideFieldset(s: FormSideView, errors: FieldError[]): string {
  const loginId = `${s.side}-login`;
  const passId = `${s.side}-password`;
  const errOf = (id: string) => errors.find((e) => e.field === id);
  const input = (
    id: string,
    name: string,
    type: string,
    label: string,
    extra: string,
    hint?: string,
    also: string[] = [],
  ) => {
    const err = errOf(id);
    const described = [...also, hint ? `${id}-hint` : '', err ? `${id}-error` : ''].filter(Boolean).join(' ');
    return (
      `<div class="field"><label for="${id}">${escapeHtml(label)}</label>` +
      (hint ? `<span class="hint" id="${id}-hint">${escapeHtml(hint)}</span>` : '') +
      (err
        ? `<span class="field-error" id="${id}-error"><span ` +
          `class="visually-hidden">Error: </span>${escapeHtml(err.message)}</span>`
        : '') +
      `<input id="${id}" name="${name}" type="${type}" ${extra}` +
      `${described ? ` aria-describedby="${described}"` : ''}${err ? ' aria-invalid="true"' : ''} required></div>`
    );
  };
  return (
    `<fieldset><legend>${escapeHtml(SIDE_TITLE[s.side])}: ${escapeHtml(s.address)}</legend>` +
    `<span class="hint" id="${s.side}-server">Server: ${escapeHtml(s.server)}</span>` +
    input(
      loginId,
      `${s.side}_login`,
      'text',
      'Username',
      `value="${escapeHtml(s.login)}" autocomplete="username" autocapitalize="none" spellcheck="false" maxlength="320"`,
      'Usually your full email address.',
      [`${s.side}-server`],
    ) +
    input(passId, `${s.side}_password`, 'password', 'Password', `autocomplete="current-password" maxlength="1024"`) +
    `</fieldset>`
  );
}

/** The error summary at the top of a form: one link per field in error (focus lands on it). */
export function errorSummary(errors: FieldError[]): string {
  return errors.length
    ? `<div class="box error" role="alert" aria-labelledby="error-title" tabindex="-1" ` +
        `autofocus id="error-summary"><h2 id="error-title">There is a problem</h2><ul>` +
        errors.map((e) => `<li><a href="#${escapeHtml(e.field)}">${escapeHtml(e.message)}</a></li>`).join('') +
        `</ul></div>`
    : '';
}

/** A notice above a form; it takes the focus unless an error summary does. */
export function noticeBox(
  notice: { tone: 'warning' | 'error'; title: string; text: string } | undefined,
  hasErrors: boolean,
): string {
  return notice
    ? `<div class="box ${notice.tone}" role="${notice.tone === 'error' ? 'alert' : 'status'}"` +
        `${hasErrors ? '' : ' tabindex="-1" autofocus'}><h2>` +
        `${escapeHtml(notice.title)}</h2><p>${escapeHtml(notice.text)}</p></div>`
    : '';
}

function microsoftFieldset(s: FormSideView): string {
  const ms = s.microsoft!;
  return (
    `<fieldset><legend>${escapeHtml(SIDE_TITLE[s.side])}: ${escapeHtml(s.address)}</legend>` +
    `<span class="hint">Microsoft 365 (${escapeHtml(s.server)}). You ` +
    `sign in at Microsoft; MailFerry never sees your password.</span>` +
    ('href' in ms
      ? `<p><a class="button" id="${s.side}-microsoft" href="${escapeHtml(ms.href)}">Sign in with Microsoft</a></p>`
      : `<div class="box warning" role="status"><p>${escapeHtml(ms.unavailable)}</p></div>`) +
    `</fieldset>`
  );
}

/** The credential form: which mailbox, which server, only the unknown credentials, username prefilled. */
export function renderFormPage(v: FormPageView): string {
  const errors = v.errors ?? [];
  const moving =
    v.sourceAddress === v.destinationAddress
      ? escapeHtml(v.sourceAddress)
      : `${escapeHtml(v.sourceAddress)} → ${escapeHtml(v.destinationAddress)}`;
  const summary = errorSummary(errors);
  const notice = noticeBox(v.notice, errors.length > 0);
  const passwordSides = v.sides.filter((s) => !s.microsoft);
  const what = !passwordSides.length
    ? 'sign in with Microsoft'
    : v.sides.length === 2
      ? passwordSides.length === 2
        ? 'enter the username and password of both mailboxes'
        : `sign in with Microsoft and enter the username and password of ` +
          `your ${passwordSides[0]?.side === 'destination' ? 'new' : 'current'} mailbox`
      : v.sides[0]?.side === 'destination'
        ? 'enter the username and password of your new mailbox'
        : 'enter the username and password of your current mailbox';
  const heading = v.adminAssisted
    ? 'Enter the credentials for this migration'
    : passwordSides.length
      ? 'Enter your credentials to start your migration'
      : 'Sign in to start your migration';
  const attempts =
    v.attemptsLeft != null
      ? '<p class="small">' +
        `${v.attemptsLeft === 1 ? 'This is your last attempt' : `You have ${v.attemptsLeft} attempts left`}.</p>`
      : '';
  const body =
    summary +
    notice +
    `<h1>${heading}</h1>` +
    `<p class="lead">Migration of ${moving}. Please ${what}; we check ${passwordSides.length ? 'them' : 'it'} ` +
    `with the mail server before keeping ${passwordSides.length ? 'them' : 'anything'}.</p>` +
    `<dl class="facts"><dt>Mailbox</dt><dd>${escapeHtml(v.sourceAddress)}</dd>` +
    (v.destinationAddress !== v.sourceAddress ? `<dt>Moving to</dt><dd>${escapeHtml(v.destinationAddress)}</dd>` : '') +
    (v.organisation?.name ? `<dt>Organisation</dt><dd>${escapeHtml(v.organisation.name)}</dd>` : '') +
    `<dt>Project</dt><dd>${escapeHtml(v.projectName)}</dd><dt>Link expires</dt><dd>${escapeHtml(v.expires)}</dd>` +
    (v.organisation?.support ? `<dt>Help</dt><dd>${escapeHtml(v.organisation.support)}</dd>` : '') +
    `</dl>` +
    v.sides
      .filter((s) => s.microsoft)
      .map(microsoftFieldset)
      .join('') +
    (passwordSides.length
      ? `<form method="post" novalidate autocomplete="on">` +
        `<input type="hidden" name="csrf" value="${escapeHtml(v.csrf)}">` +
        passwordSides.map((s) => sideFieldset(s, errors)).join('') +
        (v.when && passwordSides.length === v.sides.length ? whenFieldset(v.when) : '') +
        attempts +
        `<button type="submit">${passwordSides.length < v.sides.length ? 'Verify' : 'Verify and start the migration'}` +
        '</button>' +
        `</form>`
      : attempts) +
    `<p class="small after">Only enter your password on this page. MailFerry never asks for it by email or chat.</p>`;
  return page('Credentials for your migration', body, undefined, v.organisation);
}

/**
 * After the credentials were accepted: the migration has started (`started`), waits for
 * the other mailbox's credentials from someone else (`waiting-other`), or the admin will
 * start it (`stored`).
 */
export function renderStartedPage(v: {
  sourceAddress: string;
  destinationAddress: string;
  state: 'started' | 'waiting-other' | 'stored';
  organisation?: OrganisationView;
  startsAt?: string;
}): string {
  const title =
    v.state === 'started'
      ? v.startsAt
        ? 'Thank you: your migration is scheduled'
        : 'Thank you: your migration has started'
      : 'Thank you: your credentials were accepted';
  const text =
    v.state === 'started' && v.startsAt
      ? `Your credentials were verified and stored. Copying ${escapeHtml(v.sourceAddress)} ` +
        `to ${escapeHtml(v.destinationAddress)} begins ${escapeHtml(v.startsAt)}, in the background.`
      : v.state === 'started'
        ? `The migration of ${escapeHtml(v.sourceAddress)} has started. Your mail ` +
          `is copied to ${escapeHtml(v.destinationAddress)} in the background.`
        : v.state === 'waiting-other'
          ? `Your credentials were verified and stored. The migration of ${escapeHtml(v.sourceAddress)} ` +
            `starts as soon as the credentials of the other mailbox have been entered.`
          : `Your credentials for ${escapeHtml(v.sourceAddress)} were ` +
            `verified and stored. Your administrator will start the migration.`;
  return page(
    title,
    `<div class="box success" role="status" tabindex="-1" autofocus><h1>${escapeHtml(title)}</h1><p>${text}</p></div>` +
      `<p>You can keep using your mailbox as usual and close this page. Your ` +
      `administrator follows the progress and will tell you when it is done.</p>` +
      `<p class="small">This link has now been used and no longer works.</p>`,
    undefined,
    v.organisation,
  );
}

/** The last attempt was refused: the item failed and the admin was told. */
export function renderRefusedFinalPage(v: {
  side: 'source' | 'destination';
  address: string;
  organisation?: OrganisationView;
}): string {
  const which = v.side === 'source' ? 'current' : 'new';
  return page(
    'We could not verify your credentials',
    `<div class="box error" role="alert" tabindex="-1" autofocus><h1>We could not verify your credentials</h1>` +
      `<p>The server of your ${which} mailbox (${escapeHtml(v.address)}) did not accept ` +
      `the username and password entered, and this was the last attempt.</p></div>` +
      `<p>Your administrator has been told and will contact you. Nothing was changed in your mailbox.</p>` +
      `<p class="small">This link no longer works.</p>`,
    undefined,
    v.organisation,
  );
}

/**
 * The one page for every link that cannot be used: unknown, used, expired, revoked. It
 * says nothing about which, so a link cannot be probed.
 */
export function renderUnavailablePage(org?: OrganisationView): string {
  return page(
    'This link cannot be used',
    `<h1 tabindex="-1" autofocus>This link cannot be used</h1>` +
      `<p>Links to this form work once and for a limited time. Nothing more is needed from you on this page.</p>` +
      `<p>If you still need to migrate your mailbox, ask ` +
      `${org?.support ? escapeHtml(org.support) : 'your IT administrator'} to send you a new link.</p>`,
    undefined,
    org,
  );
}

/** Too many requests from this address or on this link. */
export function renderRateLimitedPage(minutes: number): string {
  return page(
    'Please wait a moment',
    `<h1 tabindex="-1" autofocus>Please wait a moment</h1><p>There were too many attempts ` +
      `in a short time. Try again in ${minutes <= 1 ? 'a minute' : `${minutes} minutes`}.</p>`,
  );
}

/** The form was too old or not ours (anti-CSRF check failed). */
export function renderStalePage(): string {
  return page(
    'Please reload the form',
    `<h1 tabindex="-1" autofocus>Please reload the form</h1><p>This page was ` +
      `open for too long or did not come from us, so nothing was sent. Open the ` +
      `link from your message again and enter your credentials once more.</p>`,
  );
}

/** Something went wrong on our side; the reference helps the administrator find the log line. */
export function renderErrorPage(ref: string): string {
  return page(
    'Something went wrong',
    `<h1 tabindex="-1" autofocus>Something went wrong</h1><p>Nothing was counted ` +
      `against you. Please try again in a few minutes. If it keeps happening, give ` +
      `your administrator this reference: <strong>${escapeHtml(ref)}</strong>.</p>`,
  );
}
