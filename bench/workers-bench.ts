/**
 * Scale-out benchmark: M mailboxes copied by N `mailferry worker` processes sharing one
 * PostgreSQL database, from and to one private Dovecot on loopback.
 *
 *   ./scripts/start-postgres.sh
 *   npm run bench -- --workers 1,2,4 [--mailboxes 200] [--messages 50] [--folders 5]
 *                    [--concurrency K] [--acks N] [--skip-acks]
 *
 * For each N: a fresh database (MAILFERRY_TEST_PG_URL names the server), a project whose
 * M mailboxes have their credentials stored and are started (`start --all`), then N
 * workers (each MAILFERRY_CONCURRENCY=K passes at once, default 2) are started with the
 * production node flags and work the queue until every mailbox is done. Prints msg/s
 * (from the first claim to the last completion, the database's own instants), each
 * worker's peak RSS, and checks that each mailbox was claimed once and copied in one pass,
 * and that every destination holds every source message exactly once (bytes, flags,
 * keywords, internal date).
 *
 * Then the Slack acknowledgement while 4 workers copy: a fresh run as above with a
 * `mailferry serve` beside the workers (Slack wired to a local stand-in of Slack's Web API;
 * MAILFERRY_CONCURRENCY=0: it runs no passes of its own), and signed `/migrate help`
 * slash commands sent one after the other until the copy ends: p50, p99 and max of the
 * time to the HTTP answer. Figures only; nothing here asserts on a time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createApp, type RootApp } from '../bot/app.ts';
import { loadConfig } from '../bot/config.ts';
import { Logger } from '../bot/log.ts';
import { pgAdmin, testPgAdminUrl } from '../test/harness/test-db.ts';
import { readMailbox, startDovecot, type DovecotInstance, type ReadMailbox } from '../test/harness/dovecot.ts';
import { FakeSlack } from '../test/adapters/slack/fake-slack.ts';
import {
  compareMailboxes,
  describeFidelity,
  loadavg,
  pool,
  PRODUCTION_NODE_FLAGS,
  seedCorpus,
  type Comparison,
} from './bench-lib.ts';
import { SLACK_BENCH_SECRET, ackSummary, slashCommand } from './slack-ack.ts';
import { adminCommand } from './admin-command.ts';

const PW = 'bench-pw';
const MAILFERRY = resolve('bin/mailferry.mjs');

export interface WorkersArgs {
  workers: number[];
  mailboxes: number;
  messages: number;
  folders: number;
  concurrency: number;
  acks: boolean;
}

export function parseWorkersArgs(argv: string[]): WorkersArgs {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    workers: (get('workers') ?? '1,2,4')
      .split(',')
      .map(Number)
      .filter((n) => n > 0),
    mailboxes: Number(get('mailboxes') ?? 200),
    messages: Number(get('messages') ?? 50),
    folders: Number(get('folders') ?? 5),
    concurrency: Number(get('concurrency') ?? 2),
    acks: !argv.includes('--skip-acks'),
  };
}

/** One run's database, data directory (the key file every process shares) and the bench's own app (no runner). */
interface RunDb {
  url: string;
  name: string;
  dir: string;
  app: RootApp;
  env: Record<string, string>;
}

async function openRunDb(label: string): Promise<RunDb> {
  const name = `mfbench_${process.pid}_${label}`;
  pgAdmin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  pgAdmin(`CREATE DATABASE "${name}"`);
  const u = new URL(testPgAdminUrl());
  u.pathname = `/${name}`;
  const dir = mkdtempSync(join(tmpdir(), 'mf-workers-bench-'));
  const env = {
    DATABASE_URL: u.toString(),
    MAILFERRY_DATA_DIR: dir,
    MAILFERRY_ADMINS: 'bench:admin,slack:UADMIN',
    MAIL_FROM: 'migrations@bench.example',
  };
  const app = await createApp(loadConfig({ ...env, PORT: '0' }, '/nonexistent'), {
    log: new Logger(() => {}, 'error'),
  });
  return { url: u.toString(), name, dir, app, env };
}

async function closeRunDb(r: RunDb): Promise<void> {
  await r.app.close();
  rmSync(r.dir, { recursive: true, force: true });
  pgAdmin(`DROP DATABASE IF EXISTS "${r.name}" WITH (FORCE)`);
}

async function command(app: RootApp, text: string): Promise<void> {
  const r = await adminCommand(app, text);
  if (!r.ok) throw new Error(`"${text.split('\n')[0]}" failed: ${r.code}`);
}

/** A project of `n` mailboxes (source bsrcI, destination PREFIXI), credentials stored, all queued. */
async function queueMailboxes(r: RunDb, dv: DovecotInstance, n: number, prefix: string): Promise<void> {
  for (let i = 0; i < n; i++) dv.addUser(`${prefix}${i}`, PW);
  await command(r.app, `project create bench --source ${dv.url} --destination ${dv.url}`);
  await command(
    r.app,
    `bulk\n${Array.from({ length: n }, (_, i) => `bsrc${i}@old.example,${prefix}${i}@new.example`).join('\n')}`,
  );
  const project = await r.app.db.project.findFirstOrThrow();
  const actor = { surface: 'bench', id: 'admin' };
  await pool(n, 4, async (i) => {
    let item = await r.app.engine.getItem(project, `bsrc${i}@old.example`);
    item = await r.app.engine.setCredential(actor, item, 'source', `bsrc${i}`, { password: PW });
    await r.app.engine.setCredential(actor, item, 'destination', `${prefix}${i}`, { password: PW });
  });
  await command(r.app, 'start --all');
}

/** A MailFerry process (`worker` or `serve`) on the run's database, with the production node flags. */
function startProcess(r: RunDb, cmd: 'worker' | 'serve', env: Record<string, string>): ChildProcess {
  const p = spawn(process.execPath, [...PRODUCTION_NODE_FLAGS, MAILFERRY, cmd], {
    env: { ...process.env, ...r.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  p.stdout!.resume();
  p.stderr!.setEncoding('utf8');
  let tail = '';
  p.stderr!.on('data', (d: string) => (tail = (tail + d).slice(-4000)));
  p.on('exit', (code, sig) => code && console.error(`mailferry ${cmd} exited ${code ?? sig}: ${tail}`));
  return p;
}

/** Peak RSS of a live process (VmHWM), MiB. */
function peakRssMiB(p: ChildProcess): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function stopAll(ps: ChildProcess[]): Promise<void> {
  await Promise.all(
    ps.map(
      (p) =>
        new Promise<void>((res) => {
          if (p.exitCode !== null || p.signalCode !== null) return res();
          p.once('exit', () => res());
          p.kill('SIGTERM');
        }),
    ),
  );
}

/** Waits until no mailbox is queued or running; false after `ms`. */
async function allDone(app: RootApp, ms = 1_800_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!(await app.db.item.count({ where: { status: { in: ['Queued', 'Running'] } } }))) return true;
    await new Promise((res) => setTimeout(res, 250));
  }
  return false;
}

/**
 * What the database says of the run: seconds from the first claim to the last completion, claims and passes per
 * mailbox.
 */
async function runFacts(app: RootApp): Promise<{
  seconds: number;
  copied: number;
  statuses: string;
  claimedTwice: number;
  passesOverOne: number;
  owners: number;
}> {
  const items = await app.db.item.findMany({
    select: { id: true, status: true, passCount: true, messagesCopied: true },
  });
  const claims = await app.db.itemEvent.findMany({
    where: { kind: 'claim' },
    select: { itemId: true, at: true, detail: true },
  });
  const done = await app.db.itemEvent.findMany({
    where: { toStatus: { in: ['Completed', 'Failed', 'Stopped'] } },
    select: { at: true },
  });
  const perItem = new Map<string, number>();
  for (const c of claims) perItem.set(c.itemId!, (perItem.get(c.itemId!) ?? 0) + 1);
  const t0 = Math.min(...claims.map((c) => c.at.getTime()));
  const t1 = Math.max(...done.map((d) => d.at.getTime()));
  const byStatus = new Map<string, number>();
  for (const i of items) byStatus.set(i.status, (byStatus.get(i.status) ?? 0) + 1);
  return {
    seconds: (t1 - t0) / 1000,
    copied: items.reduce((s, i) => s + i.messagesCopied, 0),
    statuses: [...byStatus].map(([s, n]) => `${s} ${n}`).join(', '),
    claimedTwice: [...perItem.values()].filter((n) => n > 1).length + items.filter((i) => !perItem.has(i.id)).length,
    passesOverOne: items.filter((i) => i.passCount !== 1).length,
    owners: new Set((await app.db.item.findMany({ select: { leaseOwner: true } })).map((i) => i.leaseOwner)).size,
  };
}

/** Every destination compared with its source; one line for all. */
async function fidelity(dv: DovecotInstance, sources: ReadMailbox[], prefix: string): Promise<string> {
  const all = await pool(sources.length, 4, async (i): Promise<Comparison> => {
    const source = sources[i];
    if (!source) throw new Error(`no source mailbox ${i}`);
    return compareMailboxes(source, await readMailbox(dv, `${prefix}${i}`, PW));
  });
  return describeFidelity(
    all.reduce((s, c) => ({
      bytesDiff: s.bytesDiff + c.bytesDiff,
      flagDiff: s.flagDiff + c.flagDiff,
      missing: s.missing + c.missing,
      extra: s.extra + c.extra,
      foldersMissing: [...s.foldersMissing, ...c.foldersMissing],
    })),
  );
}

interface RunResult {
  n: number;
  seconds: number;
  wallSeconds: number;
  msgPerSec: number;
  rss: number[];
  line: string;
}

/** One run: N workers copy every mailbox; facts, fidelity and RSS. */
async function workersRun(
  dv: DovecotInstance,
  a: WorkersArgs,
  sources: ReadMailbox[],
  total: number,
  n: number,
): Promise<RunResult> {
  const prefix = `bw${n}x`;
  const r = await openRunDb(`w${n}`);
  try {
    await queueMailboxes(r, dv, a.mailboxes, prefix);
    const t0 = performance.now();
    const workers = Array.from({ length: n }, () =>
      startProcess(r, 'worker', { MAILFERRY_CONCURRENCY: String(a.concurrency) }),
    );
    const finished = await allDone(r.app);
    const wallSeconds = (performance.now() - t0) / 1000;
    const rss = workers.map(peakRssMiB);
    await stopAll(workers);
    const f = await runFacts(r.app);
    const fid = await fidelity(dv, sources, prefix);
    const line =
      `${n} worker${n > 1 ? 's' : ''}: ${f.seconds.toFixed(1)} s first claim to last completion ` +
      `(${wallSeconds.toFixed(1)} s from the workers' start), ${(total / f.seconds).toFixed(0)} msg/s; ` +
      `${finished ? '' : 'TIMED OUT; '}statuses ${f.statuses}; copied ${f.copied}/${total}; ` +
      `claimed more or less than once: ${f.claimedTwice}; more than one pass: ${f.passesOverOne}; ` +
      `fidelity ${fid}; peak RSS per worker ${rss.map((x) => x.toFixed(0)).join(', ')} MiB; load average ${loadavg()}`;
    console.log(line);
    return { n, seconds: f.seconds, wallSeconds, msgPerSec: total / f.seconds, rss, line };
  } finally {
    await closeRunDb(r);
  }
}

/** Signed slash commands to a `mailferry serve` while 4 workers (and the server's own runner) copy. */
async function acksWhileCopying(
  dv: DovecotInstance,
  a: WorkersArgs,
  sources: ReadMailbox[],
  total: number,
): Promise<void> {
  const prefix = 'bwackx';
  const r = await openRunDb('ack');
  const fake = await new FakeSlack().start();
  const procs: ChildProcess[] = [];
  try {
    await queueMailboxes(r, dv, a.mailboxes, prefix);
    const serve = startProcess(r, 'serve', {
      PORT: '0',
      PUBLIC_URL: 'https://mailferry.example',
      SLACK_SIGNING_SECRET: SLACK_BENCH_SECRET,
      SLACK_BOT_TOKEN: 'xoxb-bench',
      SLACK_API_URL: fake.url,
      // The control plane copies nothing: the workers do (what the README advises beside workers).
      MAILFERRY_CONCURRENCY: '0',
      LOG_LEVEL: 'info',
    });
    procs.push(serve);
    const port = await new Promise<number>((res, rej) => {
      let buf = '';
      serve.stderr!.on('data', (d: string) => {
        const m = /listening on port (\d+)/.exec((buf += d));
        if (m) res(Number(m[1]));
      });
      serve.once('exit', () => rej(new Error('mailferry serve exited before listening')));
    });
    for (let i = 0; i < 4; i++) procs.push(startProcess(r, 'worker', { MAILFERRY_CONCURRENCY: String(a.concurrency) }));
    const base = `http://127.0.0.1:${port}`;
    const during: number[] = [];
    let copying = true;
    const watch = allDone(r.app).then(() => (copying = false));
    while (copying) {
      const { status, ms } = await slashCommand(base, fake.base, 'help');
      if (status !== 200) throw new Error(`slash command: HTTP ${status}`);
      if (copying) during.push(ms);
    }
    await watch;
    const idle: number[] = [];
    for (let i = 0; i < 100; i++) idle.push((await slashCommand(base, fake.base, 'help')).ms);
    const rss = procs.map(peakRssMiB);
    await stopAll(procs);
    const f = await runFacts(r.app);
    console.log(`slack ack while 4 workers copy: ${ackSummary(during)} (then idle: ${ackSummary(idle)})`);
    console.log(
      `  that copy: ${f.seconds.toFixed(1)} s, ${(total / f.seconds).toFixed(0)} msg/s ` +
        `(4 workers; the server copies nothing), statuses ${f.statuses}, claimed more or less ` +
        `than once: ${f.claimedTwice}, fidelity ${await fidelity(dv, sources, prefix)}; ` +
        `peak RSS serve ${(rss[0] ?? NaN).toFixed(0)} MiB, workers ${rss
          .slice(1)
          .map((x) => x.toFixed(0))
          .join(', ')} MiB`,
    );
  } finally {
    await stopAll(procs);
    await fake.stop();
    await closeRunDb(r);
  }
}

export async function mainWorkers(a: WorkersArgs): Promise<void> {
  pgAdmin('SELECT 1');
  const dv = await startDovecot({ separator: '/', users: [] });
  try {
    console.log(
      `Dovecot ${dv.url} (private), PostgreSQL ${new URL(testPgAdminUrl()).host}; ${a.mailboxes} ` +
        `mailboxes × ${a.messages} messages in ${a.folders} folders; ` +
        `workers ${a.workers.join(', ')}, ${a.concurrency} passes at once each; load average ${loadavg()}`,
    );
    let total = 0;
    let bytes = 0;
    for (let i = 0; i < a.mailboxes; i++) {
      dv.addUser(`bsrc${i}`, PW);
      const c = seedCorpus(dv, `bsrc${i}`, a, 42 + i);
      total += c.messages;
      bytes += c.bytes;
    }
    const sources = await pool(a.mailboxes, 4, (i) => readMailbox(dv, `bsrc${i}`, PW));
    console.log(`corpus: ${total} messages, ${(bytes / 1048576).toFixed(1)} MiB (sources read back: index warm-up)`);
    const results: RunResult[] = [];
    for (const n of a.workers) results.push(await workersRun(dv, a, sources, total, n));
    console.log('');
    console.log('| workers | s | msg/s | × 1 worker | peak RSS per worker MiB |');
    console.log('|---|---|---|---|---|');
    const base = (results.find((x) => x.n === 1) ?? results[0])?.msgPerSec ?? NaN;
    for (const x of results)
      console.log(
        `| ${x.n} | ${x.seconds.toFixed(1)} | ${x.msgPerSec.toFixed(0)} ` +
          `| ${(x.msgPerSec / base).toFixed(2)} | ${Math.max(...x.rss).toFixed(0)} |`,
      );
    if (a.acks) await acksWhileCopying(dv, a, sources, total);
  } finally {
    await dv.dispose().catch(() => undefined);
  }
}
