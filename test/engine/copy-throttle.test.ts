/**
 * Throttling (Office 365 "Request is throttled. Suggested Backoff Time: N milliseconds",
 * imapflow's ETHROTTLE) against the real Dovecot, through a proxy that answers chosen
 * commands with that reply (Dovecot cannot produce it).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifyCredentials } from '../../engine/connectors/index.ts';
import { createMemoryCheckpointStore, runPass } from '../../engine/copy/index.ts';
import { abortableSleep } from '../../engine/copy/pacer.ts';
import { makeMessage, seedImap, startDovecot, type DovecotInstance, type SeedMessage } from '../harness/dovecot.ts';
import { startImapProxy, type ImapProxy, type ProxyEvent } from '../harness/imap-proxy.ts';
import { expectExactCopy, userPair } from '../harness/copy-assert.ts';
import { defined } from '../harness/defined.ts';

let dv: DovecotInstance;
let proxy: ImapProxy;

/** A source and a destination user on the Dovecot; the endpoints go through the proxy. */
const pair = () => userPair(dv, proxy, 't');
const msgs = (count: number, size: number, from = 0): SeedMessage[] =>
  Array.from({ length: count }, (_, i) => ({
    raw: makeMessage({ size }),
    flags: ['\\Seen'],
    internalDate: new Date(Date.UTC(2022, 0, 1, 0, 0, from + i)),
  }));

const BODY_FETCH = /BODY\.PEEK\[\]/;
const isBodyFetch = (e: ProxyEvent) => e.command === 'UID FETCH' && BODY_FETCH.test(e.line);
/** The first event after `e` that `same` accepts. */
const nextAfter = (events: ProxyEvent[], e: ProxyEvent, same: (x: ProxyEvent) => boolean) =>
  events.slice(events.indexOf(e) + 1).find(same);

beforeAll(async () => {
  dv = await startDovecot();
  proxy = await startImapProxy({ port: dv.port });
});
afterEach(() => {
  proxy.clearRules();
  proxy.onThrottle = undefined;
});
afterAll(async () => {
  await proxy?.close();
  await dv?.dispose();
});

/**
 * Both copy paths: the default one (MULTIAPPEND; batches streamed from the source FETCH
 * where the destination offers LITERAL+) and single APPENDs of batches fetched by imapflow
 * (whose FETCH waits out a throttle hint and retries by itself).
 */
const PATHS = [
  { path: 'default', options: {} },
  { path: 'single APPEND, imapflow FETCH', options: { multiAppend: false } },
];

describe('throttling (ETHROTTLE)', () => {
  it.each(PATHS)(
    'a pass throttled once on APPEND and once on FETCH waits the ' +
      'hint, resumes and copies every message exactly once ($path)',
    async ({ path, options }) => {
      const p = pair();
      await seedImap(dv, p.s.name, p.s.pw, { INBOX: msgs(40, 4000), Work: msgs(10, 3000, 100) });
      const from = proxy.events.length;
      const hint = 1500;
      proxy.throttle({ command: 'UID FETCH', match: BODY_FETCH, nth: 2, backoffMs: hint });
      proxy.throttle({ command: 'APPEND', nth: 4, backoffMs: hint });
      const store = createMemoryCheckpointStore();
      const r = await runPass({
        itemId: `thr-${path}`,
        source: p.source,
        destination: p.destination,
        checkpoints: store,
        options: { connections: 1, batchMessages: 5, ...options },
      });
      expect(r.outcome, r.detail).toBe('completed');
      expect(r.stats.messagesSkipped).toBe(0);
      expect(await store.listSkipped(`thr-${path}`)).toEqual([]);
      // Throttling is waited out, not counted as an error.
      expect(r.stats.errors).toBe(0);

      const events = proxy.events.slice(from);
      const throttled = events.filter((e) => e.throttled);
      expect(throttled.map((e) => e.command).sort()).toEqual(['APPEND', 'UID FETCH']);
      // A throttled command leaves its connection in order: no second login for either side.
      expect(events.filter((e) => e.command === 'LOGIN' || e.command === 'AUTHENTICATE')).toHaveLength(2);
      const append = throttled.find((e) => e.command === 'APPEND')!;
      const fetch = throttled.find((e) => e.command === 'UID FETCH')!;
      // The same kind of command is sent again only after the suggested backoff.
      const appendAgain = nextAfter(events, append, (e) => e.command === 'APPEND');
      const fetchAgain = nextAfter(events, fetch, isBodyFetch);
      expect(appendAgain).toBeDefined();
      expect(fetchAgain).toBeDefined();
      expect(appendAgain!.at - append.at).toBeGreaterThanOrEqual(hint);
      expect(fetchAgain!.at - fetch.at).toBeGreaterThanOrEqual(hint);
      await expectExactCopy(dv, p);
    },
  );

  it('a throttled single APPEND (no MULTIAPPEND) is retried, never recorded as refused', async () => {
    const p = pair();
    await seedImap(dv, p.s.name, p.s.pw, { INBOX: msgs(12, 3000) });
    const from = proxy.events.length;
    proxy.throttle({ command: 'APPEND', nth: 3, backoffMs: 400 });
    const store = createMemoryCheckpointStore();
    const r = await runPass({
      itemId: 'thr-single',
      source: p.source,
      destination: p.destination,
      checkpoints: store,
      options: { connections: 1, batchMessages: 4, multiAppend: false },
    });
    expect(r.outcome, r.detail).toBe('completed');
    expect(r.stats.messagesSkipped).toBe(0);
    expect(await store.listSkipped('thr-single')).toEqual([]);
    const events = proxy.events.slice(from);
    const append = events.find((e) => e.throttled)!;
    expect(append.command).toBe('APPEND');
    expect(nextAfter(events, append, (e) => e.command === 'APPEND')!.at - append.at).toBeGreaterThanOrEqual(400);
    await expectExactCopy(dv, p);
  });

  it('a throttled login is waited out, not taken for refused credentials', async () => {
    const p = pair();
    await seedImap(dv, p.s.name, p.s.pw, { INBOX: msgs(3, 2000) });
    proxy.throttle({ command: 'AUTHENTICATE', nth: 1, backoffMs: 300 });
    const v = await verifyCredentials(proxy.url, p.s.name, { password: p.s.pw }, 'source');
    expect(v).toMatchObject({ ok: false });
    // the form says "busy, try again", and it costs the user no attempt
    expect(v.ok === false && v.kind).toBe('throttled');

    proxy.throttle({ command: 'AUTHENTICATE', nth: 1, backoffMs: 300 });
    const r = await runPass({
      itemId: 'thr-login',
      source: p.source,
      destination: p.destination,
      checkpoints: createMemoryCheckpointStore(),
    });
    expect(r.outcome, r.detail).toBe('completed');
    await expectExactCopy(dv, p);
  });

  it.each(PATHS)(
    'a throttle repeated forever does not spin, and a stop ends the pass at once without waiting out the hint ($path)',
    async ({ path, options }) => {
      const p = pair();
      await seedImap(dv, p.s.name, p.s.pw, { INBOX: msgs(20, 3000) });
      const from = proxy.events.length;
      const hint = 3000;
      // The first throttle asks for 3 s; every later one for ten minutes, far past the test's
      // ceiling: only a stop that cuts the wait short lets the test end.
      proxy.throttle({ command: 'UID FETCH', match: BODY_FETCH, nth: 1, backoffMs: hint });
      proxy.throttle({ command: 'UID FETCH', match: BODY_FETCH, nth: 2, times: Infinity, backoffMs: 600_000 });
      const ac = new AbortController();
      let abortedAt = 0;
      let seen = 0;
      proxy.onThrottle = () => {
        // Stop during the wait after the second throttle (imapflow's own FETCH retry wait, or the engine's).
        if (++seen === 2) {
          setTimeout(() => {
            abortedAt = Date.now();
            ac.abort();
          }, 100);
        }
      };
      const store = createMemoryCheckpointStore();
      const id = `thr-forever-${path}`;
      const r = await runPass({
        itemId: id,
        source: p.source,
        destination: p.destination,
        checkpoints: store,
        signal: ac.signal,
        options: { connections: 1, batchMessages: 5, ...options },
      });
      expect(abortedAt).toBeGreaterThan(0);
      expect(r.outcome, r.detail).toBe('stopped');
      expect(r.stats.errors).toBe(0);
      expect(r.stats.messagesCopied).toBe(0);
      // The stop did not wait for the hint to run out (ten minutes: the test would have timed
      // out), and nothing was sent after it.
      const throttled = proxy.events.slice(from).filter((e) => e.throttled);
      expect(throttled).toHaveLength(2);
      // Not a spin: each retry came only after the suggested backoff.
      expect(defined(throttled[1]).at - defined(throttled[0]).at).toBeGreaterThanOrEqual(hint);
      expect(proxy.events.slice(from).filter((e) => e.at > abortedAt && isBodyFetch(e))).toEqual([]);

      // Once the server stops throttling, the next pass copies everything exactly once.
      proxy.clearRules();
      const r2 = await runPass({
        itemId: id,
        source: p.source,
        destination: p.destination,
        checkpoints: store,
        options,
      });
      expect(r2.outcome, r2.detail).toBe('completed');
      expect(r2.stats.messagesCopied).toBe(20);
      await expectExactCopy(dv, p);
    },
  );
});

describe("pacing under a provider's rate (maxMessagesPerHour)", () => {
  // The pacer runs on a clock the test gives it (PassInput.paceClock), so what is checked is
  // the schedule the pass keeps, not how promptly a loaded machine happens to run it.
  it(
    "sends batches no faster than the rate allows, a minute's " + 'worth at most each, and copies every message once',
    async () => {
      const p = pair();
      await seedImap(dv, p.s.name, p.s.pw, { INBOX: msgs(15, 3000) });
      const from = proxy.events.length;
      // A clock that moves only when the pass waits: each wait is recorded, with how many
      // APPENDs the proxy had seen when it began and when it ended.
      let now = 1_000_000;
      const waits: { ms: number; appendsBefore: number }[] = [];
      const appendsSoFar = () => proxy.events.slice(from).filter((e) => e.command === 'APPEND').length;
      const paceClock = {
        now: () => now,
        sleep: async (ms: number) => {
          waits.push({ ms, appendsBefore: appendsSoFar() });
          now += ms;
        },
      };
      // 36,000 an hour = 10 a second: 15 messages in batches of 5 go at 0, 0.5 and 1 s.
      const r = await runPass({
        itemId: 'paced',
        source: p.source,
        destination: p.destination,
        checkpoints: createMemoryCheckpointStore(),
        paceClock,
        options: { connections: 1, batchMessages: 5, maxMessagesPerHour: 36_000 },
      });
      expect(r.outcome, r.detail).toBe('completed');
      // The first batch went at once; each later one waited its 500 ms, before its APPEND.
      expect(waits).toEqual([
        { ms: 500, appendsBefore: 1 },
        { ms: 500, appendsBefore: 2 },
      ]);
      expect(appendsSoFar()).toBe(3);
      await expectExactCopy(dv, p);
    },
  );

  it("a minute's worth at most per batch: at 120 an hour, batches of 2 a minute apart", async () => {
    const p = pair();
    await seedImap(dv, p.s.name, p.s.pw, { INBOX: msgs(5, 2000) });
    const from = proxy.events.length;
    let now = 0;
    const waits: number[] = [];
    const paceClock = { now: () => now, sleep: async (ms: number) => void (waits.push(ms), (now += ms)) };
    const r = await runPass({
      itemId: 'paced-minute',
      source: p.source,
      destination: p.destination,
      checkpoints: createMemoryCheckpointStore(),
      paceClock,
      options: { connections: 1, maxMessagesPerHour: 120 },
    });
    expect(r.outcome, r.detail).toBe('completed');
    expect(proxy.events.slice(from).filter((e) => e.command === 'APPEND')).toHaveLength(3); // 2 + 2 + 1
    expect(waits).toEqual([60_000, 60_000]);
    await expectExactCopy(dv, p);
  });

  it('a stop during the wait ends the pass at once, and the next pass finishes the copy', async () => {
    const p = pair();
    await seedImap(dv, p.s.name, p.s.pw, { INBOX: msgs(4, 3000) });
    const store = createMemoryCheckpointStore();
    const ctl = new AbortController();
    // The wall clock, with the stop given once the pass is inside its wait.
    const waits: number[] = [];
    const paceClock = {
      now: () => Date.now(),
      sleep: (ms: number, signal: AbortSignal) => {
        waits.push(ms);
        const waiting = abortableSleep(ms, signal);
        setImmediate(() => ctl.abort());
        return waiting;
      },
    };
    // 6 an hour: the second message would wait ten minutes, far past the test's ceiling.
    const r = await runPass({
      itemId: 'paced-stop',
      source: p.source,
      destination: p.destination,
      checkpoints: store,
      signal: ctl.signal,
      paceClock,
      options: { connections: 1, maxMessagesPerHour: 6 },
    });
    expect(r.outcome).toBe('stopped');
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThan(60_000);
    expect(r.stats.messagesCopied).toBe(1); // a minute's worth (one) went before the wait
    const again = await runPass({
      itemId: 'paced-stop',
      source: p.source,
      destination: p.destination,
      checkpoints: store,
      options: { connections: 1 },
    });
    expect(again.outcome).toBe('completed');
    await expectExactCopy(dv, p);
  });
});
