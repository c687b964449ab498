import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { makeFormApp, type FormTestApp } from './setup.ts';
import { loadConfig } from '../../bot/config.ts';

/** The form's per-client limit, and which X-Forwarded-* headers are believed. */
describe('trusted proxy setting (MAILFERRY_TRUST_PROXY)', () => {
  let t: FormTestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });
  const limits = { perClient: { max: 3, windowMs: 60_000 } };
  /** GETs an unknown link (it counts against the client's limit) claiming to come from `client`. */
  const hit = async (client?: string, extra: Record<string, string> = {}) => {
    const r = await fetch(`${t!.base}/c/${randomBytes(32).toString('base64url')}`, {
      headers: { ...(client ? { 'x-forwarded-for': client } : {}), ...extra },
    });
    await r.arrayBuffer();
    return r;
  };

  it('by default trusts no proxy: rotating X-Forwarded-For from loopback gives no extra tries', async () => {
    t = await makeFormApp({}, { limits });
    const statuses: number[] = [];
    for (let i = 1; i <= 5; i++) statuses.push((await hit(`203.0.113.${i}`)).status);
    expect(statuses).toEqual([404, 404, 404, 429, 429]);
  });

  it("behind a configured proxy each client gets its own bucket, and the proxy's own address is not one", async () => {
    t = await makeFormApp({ MAILFERRY_TRUST_PROXY: '127.0.0.1, ::1' }, { limits });
    for (let i = 1; i <= 6; i++) expect((await hit(`203.0.113.${i}`)).status).toBe(404);
    const same: number[] = [];
    for (let i = 0; i < 4; i++) same.push((await hit('198.51.100.7')).status);
    expect(same).toEqual([404, 404, 404, 429]);
    // Only the rightmost untrusted address counts: a client cannot prepend its own.
    const spoof: number[] = [];
    for (let i = 0; i < 4; i++) spoof.push((await hit(`10.9.9.${i}, 198.51.100.7`)).status);
    expect(spoof).toEqual([429, 429, 429, 429]);
  });

  it('believes X-Forwarded-Proto only from a trusted proxy (HSTS on the form)', async () => {
    t = await makeFormApp({}, { limits });
    expect(
      (await hit(undefined, { 'x-forwarded-proto': 'https' })).headers.get('strict-transport-security'),
    ).toBeNull();
    await t.close();
    t = await makeFormApp({ MAILFERRY_TRUST_PROXY: 'loopback' }, { limits });
    expect((await hit(undefined, { 'x-forwarded-proto': 'https' })).headers.get('strict-transport-security')).toMatch(
      /max-age=\d+/,
    );
  });

  it('reads the setting: empty or none trusts nobody; a hop count or a name is refused with a fix', () => {
    const base = { DATABASE_URL: 'file:/tmp/x.db' };
    expect(loadConfig(base, '/nonexistent').trustProxy).toEqual([]);
    expect(loadConfig({ ...base, MAILFERRY_TRUST_PROXY: 'none' }, '/nonexistent').trustProxy).toEqual([]);
    expect(loadConfig({ ...base, MAILFERRY_TRUST_PROXY: '10.0.0.0/8,loopback' }, '/nonexistent').trustProxy).toEqual([
      '10.0.0.0/8',
      'loopback',
    ]);
    expect(() => loadConfig({ ...base, MAILFERRY_TRUST_PROXY: 'true' }, '/nonexistent')).toThrow(
      /MAILFERRY_TRUST_PROXY: "true" is not an address/,
    );
    expect(() => loadConfig({ ...base, MAILFERRY_TRUST_PROXY: '2' }, '/nonexistent')).toThrow(/MAILFERRY_TRUST_PROXY/);
  });
});
