/** Shared set-up of the self-service tests: a test app with the form installed and served on a known port. */
import { freePort } from '../harness/dovecot.ts';
import { makeTestApp, type TestApp } from '../harness/app.ts';
import { serveHttp } from '../../bot/app.ts';
import { installSelfService, type SelfServiceOptions } from '../../bot/form/install.ts';
import { installEmail } from '../../adapters/email/install.ts';
import type { FormService } from '../../bot/form/form-service.ts';
import type { EmailSender } from '../../adapters/email/email-sender.ts';

/** A test app serving the credential form. */
export interface FormTestApp extends TestApp {
  base: string;
  form: FormService;
  email?: EmailSender;
  /** The item (with project) of an address in the only project. */
  item(address: string): Promise<NonNullable<Awaited<ReturnType<TestApp['app']['engine']['itemById']>>>>;
  /** History kinds of an item, in order. */
  historyKinds(address: string): Promise<string[]>;
}

/**
 * Builds the app, installs the email channel and the form (as the plugin does), listens on a free port that PUBLIC_URL
 * names.
 */
export async function makeFormApp(
  env: Record<string, string> = {},
  opts: SelfServiceOptions = {},
): Promise<FormTestApp> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const t = await makeTestApp({ PORT: String(port), PUBLIC_URL: base, ...env });
  const email = installEmail(t.app);
  const form = installSelfService(t.app, opts);
  await serveHttp(t.app);
  const item = async (address: string) => {
    const row = await t.app.db.item.findFirstOrThrow({ where: { sourceAddress: address } });
    return (await t.app.engine.itemById(row.id))!;
  };
  return {
    ...t,
    base,
    form,
    email,
    item,
    async historyKinds(address) {
      const i = await item(address);
      return (await t.app.engine.history(i.id)).map((h) => h.kind);
    },
  };
}

/** The anti-CSRF token in a rendered form. */
export function csrfOf(html: string): string {
  const token = html.match(/name="csrf" value="([^"]+)"/)?.[1];
  if (!token) throw new Error('no csrf field in the page');
  return token;
}

/** GETs a form page. */
export async function getForm(url: string): Promise<{ status: number; html: string; headers: Headers }> {
  const r = await fetch(url, { redirect: 'manual' });
  return { status: r.status, html: await r.text(), headers: r.headers };
}

/** POSTs the form (urlencoded, like a browser). */
export async function postForm(
  url: string,
  fields: Record<string, string>,
): Promise<{ status: number; html: string; headers: Headers }> {
  const r = await fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: r.status, html: await r.text(), headers: r.headers };
}

/** Loads the form then posts `fields` with its anti-CSRF token. */
export async function submitForm(url: string, fields: Record<string, string>) {
  const page = await getForm(url);
  if (page.status !== 200) return page;
  return postForm(url, { csrf: csrfOf(page.html), ...fields });
}

/**
 * Dovecot lines for tests that fail logins on purpose, all from loopback: no failure delay,
 * and no per-IP auth penalty (anvil's penalty socket closed), which otherwise delays every
 * later login from 127.0.0.1 by seconds.
 */
export const FAST_FAILURES =
  'auth_failure_delay = 0\nservice anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}';
