import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { makeTestApp } from '../harness/app.ts';
import { instantOf, testDbRows, testDbUrl, testDialect } from '../harness/test-db.ts';
import { defined } from '../harness/defined.ts';

// Two `mailferry worker` processes on two "hosts" (MAILFERRY_HOST_ID) share one PostgreSQL
// database (MAILFERRY_TEST_DB=postgresql; SQLite is one host's database, and its
// same-host takeover is runner-restart.test.ts). Each pass is claimed
// by exactly one of them; a worker killed with -9 leaves its passes Running, and the other,
// which cannot see a process on another host, resumes them from their checkpoints once
// their lease has run out. The "source server" greets and then never answers, so passes
// stay Running (waiting on their login) for as long as the test needs. The project is set
// up in the test's own process, which runs no passes.

const LEASE_SECONDS = 12;
const ADDRESSES = ['ann', 'ben', 'cat', 'dan'].map((n) => `${n}@old.example`);
let dir: string;
let silent: Server;
let silentPort: number;
const sockets: Socket[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  silent = createServer((s) => {
    sockets.push(s);
    s.on('error', () => {}); // a killed worker's connection resets
    s.write('* OK IMAP4rev1 ready\r\n'); // and not a word more
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  silentPort = (silent.address() as { port: number }).port;
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await Promise.all(children.map(exited));
  for (const s of sockets) s.destroy();
  await new Promise((r) => silent.close(r));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function run(args: string[], env: Record<string, string> = {}, input?: string): ChildProcess {
  const p = spawn(process.execPath, [resolve('bin/mailferry.mjs'), ...args], {
    env: {
      ...process.env,
      DATABASE_URL: testDbUrl(dir),
      MAILFERRY_DATA_DIR: dir,
      LOG_LEVEL: 'info',
      MAILFERRY_LEASE_SECONDS: String(LEASE_SECONDS),
      MAILFERRY_CONCURRENCY: String(ADDRESSES.length),
      ...env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  p.stdout!.resume();
  p.stderr!.resume();
  if (input !== undefined) p.stdin!.end(input);
  children.push(p);
  return p;
}
function exited(p: ChildProcess): Promise<void> {
  return new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.on('exit', () => r())));
}

interface Row {
  address: string;
  status: string;
  owner: string | null;
  leaseUntil: unknown;
}
const items = () =>
  testDbRows<Row>(
    dir,
    'SELECT "sourceAddress" AS "address", "status", "leaseOwner" ' +
      'AS "owner", "leaseUntil" FROM "Item" ORDER BY "sourceAddress"',
  );
const events = (kind: string) =>
  testDbRows<{ address: string; at: unknown }>(
    dir,
    `SELECT "address", "at" FROM "ItemEvent" WHERE "kind" = '${kind}' ORDER BY "id"`,
  );
const hostOf = (owner: string | null) => owner?.split(':')[0];

async function waitUntil<T>(what: string, read: () => T | undefined, ms: number): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    try {
      const v = read();
      if (v !== undefined) return v;
    } catch {
      /* the database is being created */
    }
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const onPg = testDialect() === 'postgresql';
if (!onPg)
  console.warn(
    'SKIPPED on SQLite: test/engine/multi-worker.test.ts (workers on ' +
      'several hosts need PostgreSQL; run with MAILFERRY_TEST_DB=postgresql)',
  );

describe.skipIf(!onPg)('two workers on two hosts sharing one PostgreSQL database', () => {
  it('claim each pass exactly once; after a kill -9 the other ' +
    "resumes the dead one's passes when their lease runs out", async () => {
    // The project, its mailboxes with their credentials, all started: in this process, on the
    // database and key the workers are given.
    const t = await makeTestApp();
    dir = t.dir;
    const url = `imap://127.0.0.1:${silentPort}`;
    await t.run(`project create acme --source ${url} --destination ${url}`);
    await t.run(`bulk\n${ADDRESSES.map((a) => `${a},${a.replace('old', 'new')}`).join('\n')}`);
    const project = await t.app.db.project.findFirstOrThrow();
    for (const a of ADDRESSES) {
      let item = await t.app.engine.getItem(project, a);
      for (const side of ['source', 'destination'] as const)
        item = await t.app.engine.setCredential({ surface: 'form', id: a }, item, side, defined(a.split('@')[0]), {
          password: 'x',
        });
    }
    await t.run('start --all');
    await t.app.close();
    expect(items().map((i) => i.status)).toEqual(['Queued', 'Queued', 'Queued', 'Queued']);

    // Both start at once and race for the four queued passes.
    const a = run(['worker'], { MAILFERRY_HOST_ID: 'host-a' });
    const b = run(['worker'], { MAILFERRY_HOST_ID: 'host-b' });
    const running = await waitUntil(
      'every pass to run',
      () => {
        const r = items();
        return r.every((i) => i.status === 'Running') ? r : undefined;
      },
      240_000,
    );
    expect(running.every((i) => ['host-a', 'host-b'].includes(hostOf(i.owner)!))).toBe(true);
    // Exactly one claim per pass, whoever won it.
    expect(
      events('claim')
        .map((e) => e.address)
        .sort(),
    ).toEqual(ADDRESSES);
    expect(new Set(running.map((i) => i.owner)).size).toBeLessThanOrEqual(2);

    // Kill -9 a worker that holds a pass; the other must not take its passes before their lease ends.
    const victimHost = hostOf(defined(running[0]).owner)!;
    const [victim, survivorHost] = victimHost === 'host-a' ? [a, 'host-b'] : [b, 'host-a'];
    victim.kill('SIGKILL');
    await exited(victim);
    const orphaned = items().filter((i) => hostOf(i.owner) === victimHost);
    expect(orphaned.length).toBeGreaterThan(0);
    const leaseEnds = new Map(orphaned.map((i) => [i.address, instantOf(i.leaseUntil)!]));

    const resumed = await waitUntil(
      "the survivor to resume the dead worker's passes",
      () => {
        const r = items();
        return r.every((i) => i.status === 'Running' && hostOf(i.owner) === survivorHost) ? r : undefined;
      },
      240_000,
    );
    expect(resumed.map((i) => i.address)).toEqual(ADDRESSES);
    const recovered = events('recovered');
    // Each orphan recovered once, and only once its lease had run out (the database's own instants).
    expect(recovered.map((e) => e.address).sort()).toEqual(orphaned.map((i) => i.address).sort());
    for (const e of recovered) expect(instantOf(e.at)!, e.address).toBeGreaterThanOrEqual(leaseEnds.get(e.address)!);
    // Claimed again by the survivor alone: one more claim per orphan, none for the others.
    expect(events('claim').length).toBe(ADDRESSES.length + orphaned.length);
  }, 600_000);
});
