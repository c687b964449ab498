import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Vault } from '../../engine/vault/vault.ts';
import { checkCsrf, csrfToken, deriveFormSecret } from '../../bot/form/csrf.ts';
import { FORM_CSP } from '../../bot/form/headers.ts';
import { planRecipients } from '../../bot/outreach/outreach.ts';
import { hashToken, isTokenShaped, newToken } from '../../engine/links.ts';
import { describeSmtpError } from '../../adapters/email/email-sender.ts';

describe('form building blocks', () => {
  it('anti-CSRF token: bound to the link and the server secret', () => {
    const s1 = deriveFormSecret(new Vault(randomBytes(32)));
    const s2 = deriveFormSecret(new Vault(randomBytes(32)));
    const tok = csrfToken(s1, 'link-1');
    expect(checkCsrf(s1, 'link-1', tok)).toBe(true);
    expect(checkCsrf(s1, 'link-2', tok)).toBe(false);
    expect(checkCsrf(s2, 'link-1', tok)).toBe(false);
    expect(checkCsrf(s1, 'link-1', undefined)).toBe(false);
    expect(checkCsrf(s1, 'link-1', ['x'])).toBe(false);
  });

  it('tokens: 32 random bytes, only a SHA-256 stored', () => {
    const t = newToken();
    expect(Buffer.from(t, 'base64url')).toHaveLength(32);
    expect(isTokenShaped(t)).toBe(true);
    expect(isTokenShaped(t + 'x')).toBe(false);
    expect(hashToken(t)).toMatch(/^[0-9a-f]{64}$/);
    expect(newToken()).not.toBe(t);
  });

  it('the CSP lets no script run and nothing load', () => {
    expect(FORM_CSP).toMatch(/default-src 'none'/);
    expect(FORM_CSP).toMatch(/script-src 'none'/);
    expect(FORM_CSP).not.toMatch(/unsafe/);
  });

  it('who is asked for what', () => {
    const item = { sourceAddress: 'a@old.example', destinationAddress: 'a@new.example' };
    expect([...planRecipients({ ...item, ask: 'source' }, ['source', 'destination'])]).toEqual([
      ['a@old.example', ['source', 'destination']],
    ]);
    expect([...planRecipients({ ...item, ask: 'both' }, ['source', 'destination'])]).toEqual([
      ['a@old.example', ['source']],
      ['a@new.example', ['destination']],
    ]);
    expect([...planRecipients({ ...item, ask: 'both' }, ['destination'])]).toEqual([
      ['a@new.example', ['destination']],
    ]);
    expect([...planRecipients({ ...item, ask: 'destination' }, ['source'])]).toEqual([['a@new.example', ['source']]]);
    expect([
      ...planRecipients({ sourceAddress: 'x@y.example', destinationAddress: 'x@y.example', ask: 'both' }, [
        'source',
        'destination',
      ]),
    ]).toEqual([['x@y.example', ['source', 'destination']]]);
  });

  it('an SMTP failure reason never carries the link', () => {
    const url = 'https://f.example/c/' + 'B'.repeat(43);
    const why = describeSmtpError(
      Object.assign(new Error(`550 rejected: ${url}`), { responseCode: 550, response: `550 rejected ${url}` }),
      url,
    );
    expect(why).not.toContain('B'.repeat(43));
    expect(why).toMatch(/550/);
    expect(
      describeSmtpError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:25'), { code: 'ECONNECTION' }), url),
    ).toMatch(/check SMTP_URL/);
  });
});
