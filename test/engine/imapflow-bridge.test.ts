/**
 * The imapflow bridge (engine/connectors/imap/imapflow-bridge.ts): the one module that
 * reads imapflow's private fields checks their shape on every connection. Against the
 * imapflow installed, the shape must match (this is the test that turns red in the CI step
 * against imapflow@latest when a release renames something). With a shape altered in the
 * test, on a real connection to the real Dovecot, the bridge refuses, says so once without
 * a secret, and a pass still copies everything exactly on imapflow's public path, and a
 * stop still ends a throttle wait.
 */
import { PassThrough } from 'node:stream';
import { ImapFlow } from 'imapflow';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectImap } from '../../engine/connectors/imap/open-imap.ts';
import { bridgeOf, setBridgeWarn, shapeProblems } from '../../engine/connectors/imap/imapflow-bridge.ts';
import { createMemoryCheckpointStore, runPass } from '../../engine/copy/index.ts';
import {
  makeMessage,
  openClient,
  readMailbox,
  seedImap,
  startDovecot,
  type DovecotInstance,
  type SeedMessage,
} from '../harness/dovecot.ts';
import { startImapProxy, type ImapProxy } from '../harness/imap-proxy.ts';
import { endpoint, hashCounts } from '../harness/copy-assert.ts';
import { defined } from '../harness/defined.ts';

let dv: DovecotInstance;
let proxy: ImapProxy;
let n = 0;
const warnings: { msg: string; fields: Record<string, unknown> }[] = [];

function pair() {
  n++;
  const s = { name: `bs${n}`, pw: `secret-src-${n}` };
  const d = { name: `bd${n}`, pw: `secret-dst-${n}` };
  dv.addUser(s.name, s.pw);
  dv.addUser(d.name, d.pw);
  return { s, d, source: endpoint(proxy, s.name, s.pw), destination: endpoint(proxy, d.name, d.pw) };
}
const msgs = (count: number, size: number, from = 0): SeedMessage[] =>
  Array.from({ length: count }, (_, i) => ({
    raw: makeMessage({ size }),
    flags: i % 2 ? ['\\Seen', 'Project'] : ['\\Flagged'],
    internalDate: new Date(Date.UTC(2022, 0, 1, 0, 0, from + i)),
  }));

async function expectExactCopy(p: ReturnType<typeof pair>) {
  const src = await readMailbox(dv, p.s.name, p.s.pw);
  const dst = await readMailbox(dv, p.d.name, p.d.pw);
  expect(hashCounts(dst)).toEqual(hashCounts(src));
  for (const count of hashCounts(dst).values()) expect(count).toBe(1);
}

type Flow = ImapFlow & Record<string, unknown>;
const originalConnect = ImapFlow.prototype.connect;
/** Every ImapFlow connected from now on (the engine's own included) gets `alter` applied right after login. */
function alterEveryConnection(alter: (c: Flow) => void) {
  ImapFlow.prototype.connect = async function (this: ImapFlow) {
    await originalConnect.call(this);
    alter(this as Flow);
  };
}

/**
 * imapflow reading its socket through a stage of its own (as it does under COMPRESS, and as
 * a transport rework could): imapflow works exactly as before, but unpiping the socket from
 * its parser would no longer take the bytes away from it, so a socket loan would corrupt both.
 */
function throughPassThrough(c: Flow) {
  const sock = c.socket as NodeJS.ReadWriteStream;
  const parser = c.streamer as NodeJS.WritableStream;
  sock.unpipe(parser);
  sock.pipe(new PassThrough()).pipe(parser);
}

beforeAll(async () => {
  dv = await startDovecot();
  proxy = await startImapProxy({ port: dv.port });
  setBridgeWarn((msg, fields) => warnings.push({ msg, fields }));
});
afterEach(() => {
  ImapFlow.prototype.connect = originalConnect;
  proxy.clearRules();
  proxy.onThrottle = undefined;
});
afterAll(async () => {
  await proxy?.close();
  await dv?.dispose();
});

describe('imapflow bridge: the installed imapflow', () => {
  it(
    'has the shape the bridge needs on a real connection, ' + 'so the streamed path and the throttle probe are used',
    async () => {
      const p = pair();
      const c = await connectImap(p.source);
      try {
        expect(shapeProblems(c)).toEqual([]);
        const b = bridgeOf(c);
        expect(b).not.toBeNull();
        expect(b!.idle).toBe(true);
        expect(b!.inThrottleWait).toBe(false);
      } finally {
        await c.logout();
      }
      expect(warnings).toEqual([]);
    },
  );

  it('a pass streams: one MULTIAPPEND per batch and our own FETCH on the lent source socket', async () => {
    const p = pair();
    await seedImap(dv, p.s.name, p.s.pw, { INBOX: msgs(12, 3000) });
    const from = proxy.events.length;
    const r = await runPass({
      itemId: 'bridge-normal',
      source: p.source,
      destination: p.destination,
      checkpoints: createMemoryCheckpointStore(),
      options: { connections: 1, batchMessages: 5 },
    });
    expect(r.outcome, r.detail).toBe('completed');
    const events = proxy.events.slice(from);
    expect(events.filter((e) => e.command === 'APPEND')).toHaveLength(3);
    // Tags of ours (imapflow's are hexadecimal): the planning FETCH and the streamed body FETCH.
    expect(events.filter((e) => e.command === 'UID FETCH' && /^MM/.test(e.tag))).not.toHaveLength(0);
    expect(events.filter((e) => e.command === 'UID FETCH' && /^MF/.test(e.tag))).toHaveLength(3);
    await expectExactCopy(p);
    expect(warnings).toEqual([]);
  });
});

describe('imapflow bridge: a changed shape', () => {
  // Each alteration mimics a release renaming or reshaping one field; the original is put
  // back before logout, since imapflow itself still uses it under its old name here.
  const renames: { field: string; problem: RegExp }[] = [
    { field: '_throttleWaits', problem: /_throttleWaits is not a Set/ },
    { field: 'streamer', problem: /streamer is not a writable stream/ },
    { field: 'requestQueue', problem: /requestQueue is not an array/ },
    { field: 'writeSocket', problem: /writeSocket is not a writable stream/ },
  ];
  it.each(renames)('$field renamed: no bridge, and the mismatch is named', async ({ field, problem }) => {
    const p = pair();
    const c = (await openClient(dv, p.s.name, p.s.pw)) as Flow;
    const kept = c[field];
    c[field] = undefined;
    c[`${field}Renamed`] = kept;
    try {
      expect(shapeProblems(c).join('; ')).toMatch(problem);
      expect(bridgeOf(c)).toBeNull();
    } finally {
      c[field] = kept;
      await c.logout();
    }
  });

  it(
    "logs the mismatch once per process, with imapflow's " + 'version and field names only, never a credential',
    async () => {
      warnings.length = 0;
      const p = pair();
      alterEveryConnection(throughPassThrough);
      const a = await connectImap(p.source);
      const b = await connectImap(p.destination);
      try {
        expect(bridgeOf(a)).toBeNull();
        expect(bridgeOf(b)).toBeNull();
      } finally {
        await Promise.all([a.logout(), b.logout()]);
      }
      expect(warnings).toHaveLength(1);
      expect(defined(warnings[0]).fields).toEqual({
        imapflow: expect.stringMatching(/^\d+\.\d+\.\d+/),
        problems: 'socket is not piped into streamer',
      });
      const text = JSON.stringify(warnings);
      for (const s of [p.s.pw, p.d.pw, p.s.name, p.d.name]) expect(text).not.toContain(s);
    },
  );

  it("a pass copies everything exactly on imapflow's public path: its FETCH, one APPEND per message", async () => {
    const p = pair();
    await seedImap(dv, p.s.name, p.s.pw, { INBOX: msgs(12, 3000), Work: msgs(4, 40_000, 100) });
    alterEveryConnection(throughPassThrough);
    const from = proxy.events.length;
    const r = await runPass({
      itemId: 'bridge-off',
      source: p.source,
      destination: p.destination,
      checkpoints: createMemoryCheckpointStore(),
      options: { connections: 2, messagesPerLane: 1, batchMessages: 5 },
    });
    expect(r.outcome, r.detail).toBe('completed');
    expect(r.stats.messagesCopied).toBe(16);
    const events = proxy.events.slice(from);
    expect(events.filter((e) => e.command === 'APPEND')).toHaveLength(16);
    expect(events.filter((e) => /^M[FM]/.test(e.tag))).toEqual([]); // no command of ours on a socket we could not lend
    await expectExactCopy(p);
    // Flags, keywords and dates arrived too (imapflow's append keeps what PERMANENTFLAGS allows).
    const [src, dst] = [await readMailbox(dv, p.s.name, p.s.pw), await readMailbox(dv, p.d.name, p.d.pw)];
    const view = (m: { sha256: string; flags: string[]; keywords: string[]; internalDate: number }) =>
      `${m.sha256} ${m.flags} ${m.keywords} ${m.internalDate}`;
    for (const f of ['INBOX', 'Work'])
      expect(defined(dst.messages[f]).map(view).sort()).toEqual(defined(src.messages[f]).map(view).sort());
    expect(defined(dst.messages.INBOX).filter((m) => m.keywords.includes('Project'))).toHaveLength(6);
  });

  it('a stop during a throttle wait imapflow holds ends the pass, though the wait cannot be seen', async () => {
    const p = pair();
    await seedImap(dv, p.s.name, p.s.pw, { INBOX: msgs(10, 3000) });
    alterEveryConnection(throughPassThrough);
    // A hint far beyond the test's ceiling: only cutting the wait can end the pass in time.
    proxy.throttle({ command: 'UID FETCH', match: /BODY\.PEEK\[\]/, times: Infinity, backoffMs: 600_000 });
    const ac = new AbortController();
    proxy.onThrottle = () => ac.abort();
    const store = createMemoryCheckpointStore();
    const r = await runPass({
      itemId: 'bridge-off-stop',
      source: p.source,
      destination: p.destination,
      checkpoints: store,
      signal: ac.signal,
      options: { connections: 1, batchMessages: 5 },
    });
    expect(ac.signal.aborted).toBe(true);
    expect(r.outcome, r.detail).toBe('stopped');
    expect(r.stats.errors).toBe(0);
    expect(r.stats.messagesCopied).toBe(0);

    proxy.clearRules();
    const again = await runPass({
      itemId: 'bridge-off-stop',
      source: p.source,
      destination: p.destination,
      checkpoints: store,
    });
    expect(again.outcome, again.detail).toBe('completed');
    await expectExactCopy(p);
  });
});
