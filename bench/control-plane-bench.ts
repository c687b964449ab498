/**
 * Control-plane benchmark: the commands an admin runs on a big project, through the
 * product's own dispatcher, engine, notifier and outbox, on a fresh SQLite file.
 *
 *   npm run bench:control -- [--mailboxes N] [--start N] [--skip-outreach] [--db postgresql] [--copy N]
 *     [--rounds N] [--only copy]
 *
 * Prints figures (never asserts on them):
 * - `bulk` of N CSV lines (default 10,000): time until the reply;
 * - `start --all` on S mailboxes (default 5,000) whose credentials are known (the project
 *   holds admin credentials): time until the reply, then until every thread post is
 *   delivered, and how many posts the thread got;
 * - the same on S mailboxes whose users are asked (self-service, email to a real SMTP
 *   sink): time until the reply, until every request is mailed and every post delivered;
 * - `status` of the N-mailbox project: time, and the size of the message as Slack Block
 *   Kit and as a Teams Adaptive Card;
 * - `digest` of it: time, and the same sizes;
 * - a copy of one mailbox of `--copy` messages (default 3,000; 0 skips it) from a private
 *   Dovecot, through the engine with its checkpoints in the same database, once alone and
 *   once while `start --all` runs on S mailboxes in the same process (begun once a fifth of
 *   the copy is done): the copy's slowdown while `start --all` ran (the time the copy beside it
 *   took for the messages it went through in that window, against the time the copy alone
 *   took for the same messages; the control plane must not slow a running copy down), and
 *   the ratio of the whole copies, `--rounds` times (default 3), with their medians.
 *   `--only copy` runs this part alone; `--beside bulk` runs a `bulk` add of S lines beside the copy
 *   instead of `start --all`.
 *
 * `--db postgresql` runs every part on a fresh PostgreSQL database (MAILFERRY_TEST_PG_URL,
 * default postgresql://root@127.0.0.1:5432/postgres; ./scripts/start-postgres.sh starts
 * the local one), dropped at the end; the default is a fresh SQLite file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createApp, type RootApp } from '../bot/app.ts';
import { loadConfig } from '../bot/config.ts';
import { Logger } from '../bot/log.ts';
import { installEmail } from '../adapters/email/install.ts';
import { installScheduler } from '../bot/scheduler/install.ts';
import { renderBlockKit } from '../cards/render-block-kit.ts';
import { renderAdaptiveCard } from '../cards/render-adaptive-card.ts';
import type { Message } from '../cards/model.ts';
import type { ThreadPost } from '../bot/notifier.ts';
import { startSmtpSink, type SmtpSink } from '../test/harness/smtp.ts';
import { dropTestDatabases, testDbUrl } from '../test/harness/test-db.ts';
import { makeMessage, seedImap, startDovecot } from '../test/harness/dovecot.ts';
import { runPass } from '../engine/copy/index.ts';
import { createPrismaCheckpointStore } from '../engine/store/folder-state.ts';
import { SYSTEM_ACTOR } from '../engine/domain/types.ts';
import type { Dialect } from '../engine/store/dialect.ts';
import { adminCommand } from './admin-command.ts';

interface Args {
  mailboxes: number;
  start: number;
  outreach: boolean;
  db: Dialect;
  copy: number;
  rounds: number;
  onlyCopy: boolean;
  /** What runs beside the copy: `start --all` on `start` mailboxes, or a `bulk` add of `start` lines. */
  beside: 'start' | 'bulk';
}

function parseArgs(argv: string[]): Args {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const db = get('db') ?? 'sqlite';
  if (db !== 'sqlite' && db !== 'postgresql') throw new Error(`--db is sqlite or postgresql, not ${db}`);
  return {
    mailboxes: Number(get('mailboxes') ?? 10_000),
    start: Number(get('start') ?? 5000),
    outreach: !argv.includes('--skip-outreach'),
    db,
    copy: Number(get('copy') ?? 3000),
    rounds: Math.max(1, Number(get('rounds') ?? 3)),
    onlyCopy: get('only') === 'copy',
    beside: get('beside') === 'bulk' ? 'bulk' : 'start',
  };
}

const fmtS = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/**
 * Wall time and this process's CPU time since it was made: the machine may be shared, CPU time says what the work cost.
 */
function clock(): () => string {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  return () => {
    const c = process.cpuUsage(cpu);
    return `${fmtS(performance.now() - wall)} (CPU ${fmtS((c.user + c.system) / 1000)})`;
  };
}

/**
 * A fresh app on its own database (SQLite file or PostgreSQL database), with a recording poster on the `bench` surface.
 */
async function benchApp(
  env: Record<string, string> = {},
): Promise<{ app: RootApp; posts: ThreadPost[]; dir: string; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'mailferry-cp-bench-'));
  const config = loadConfig(
    {
      DATABASE_URL: testDbUrl(dir, 'db', args.db),
      MAILFERRY_DATA_DIR: dir,
      PORT: '0',
      MAILFERRY_ADMINS: 'bench:admin',
      MAIL_FROM: 'migrations@bench.example',
      ...env,
    },
    '/nonexistent',
  );
  const app = await createApp(config, { log: new Logger(() => {}, 'error') });
  const posts: ThreadPost[] = [];
  app.notifier.register('bench', async (p) => void posts.push(p));
  return {
    app,
    posts,
    dir,
    async close() {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const run = adminCommand;

function csv(n: number, prefix = 'user'): string {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}@old.example,${prefix}${i}@new.example`).join('\n');
}

/** Size of a message as each surface would send it. */
function sizes(m: Message): string {
  const kit = renderBlockKit(m);
  const card = renderAdaptiveCard(m);
  const kitBlocks = JSON.stringify(kit.blocks).length;
  return (
    `Slack ${kit.blocks.length} blocks, ${kitBlocks} chars of blocks, text ${kit.text.length} ` +
    `chars; Teams card ${Buffer.byteLength(JSON.stringify(card))} bytes`
  );
}

/** Waits until nothing is pending in the outbox (every post delivered, merged or given up) and the notifier is idle. */
async function allDelivered(app: RootApp, timeoutMs = 600_000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    await app.bus.idle();
    const pending = await app.db.outboxPost.count({ where: { state: null } });
    if (!pending) {
      await app.notifier.idle();
      return true;
    }
    void app.notifier.drain();
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

async function benchBulkStatusDigest(a: Args): Promise<void> {
  const b = await benchApp();
  try {
    installScheduler(b.app, 'console');
    await run(b.app, 'project create big --source imaps://old.example:993 --destination imaps://new.example:993');
    let t = clock();
    const added = await run(b.app, `bulk\n${csv(a.mailboxes)}`);
    const addMs = t();
    const count = await b.app.db.item.count();
    console.log(
      `bulk add of ${a.mailboxes} lines: ${addMs} ` +
        `(${added.ok ? 'ok' : `failed: ${added.code}`}; ${count} items in the project)`,
    );
    if (!count) return;
    await allDelivered(b.app);

    // Half of them waiting for their user, a few failed and completed, for status and digest to have lists to
    // summarise.
    const ids = (await b.app.db.item.findMany({ select: { id: true }, orderBy: { sourceAddress: 'asc' } })).map(
      (i) => i.id,
    );
    const mark = async (slice: string[], data: Record<string, unknown>) => {
      for (let i = 0; i < slice.length; i += 500)
        await b.app.db.item.updateMany({ where: { id: { in: slice.slice(i, i + 500) } }, data });
    };
    await mark(ids.slice(0, Math.floor(ids.length / 2)), { status: 'WaitingForUser' });
    await mark(ids.slice(Math.floor(ids.length / 2), Math.floor(ids.length / 2) + 100), {
      status: 'Failed',
      failureReason: 'SourceCredentials',
      failureDetail: 'AUTHENTICATIONFAILED',
    });
    await mark(ids.slice(Math.floor(ids.length / 2) + 100, Math.floor(ids.length / 2) + 300), {
      status: 'Completed',
      messagesCopied: 1200,
      bytesCopied: BigInt(80_000_000),
    });

    t = clock();
    const st = await run(b.app, 'status');
    const stMs = t();
    console.log(
      `status of ${count} mailboxes: ${stMs} (${st.ok ? 'ok' : `failed: ${st.code}`}` +
        `); ${st.replies[0] ? sizes(st.replies[0]) : 'no reply'}`,
    );

    t = clock();
    const dg = await run(b.app, 'digest');
    const dgMs = t();
    const digestPost = b.posts.filter((p) => p.message.kind === 'digest').at(-1);
    await allDelivered(b.app);
    const posted = b.posts.filter((p) => p.message.kind === 'digest').at(-1);
    const digestSizes = posted
      ? sizes(posted.message)
      : digestPost
        ? sizes(digestPost.message)
        : dg.replies[0]
          ? sizes(dg.replies[0])
          : 'no digest';
    console.log(
      `digest of ${count} mailboxes (${ids.length / 2} waiting): ${dgMs} ` +
        `(${dg.ok ? 'ok' : `failed: ${dg.code}`}); ${digestSizes}`,
    );
  } finally {
    await b.close();
  }
}

async function benchStart(a: Args, mode: 'known' | 'asked', smtp?: SmtpSink): Promise<void> {
  const b = await benchApp(smtp ? { SMTP_URL: smtp.url } : {});
  try {
    if (smtp) installEmail(b.app);
    await run(b.app, 'project create big --source imaps://old.example:993 --destination imaps://new.example:993');
    if (mode === 'known')
      await b.app.db.project.updateMany({ data: { sourceAuth: 'admin', destinationAuth: 'admin' } });
    const added = await run(b.app, `bulk\n${csv(a.start)}`);
    if (!added.ok) {
      console.log(`start --all (${mode}): the bulk add of ${a.start} lines failed (${added.code}); nothing to start`);
      return;
    }
    await allDelivered(b.app);
    const before = b.posts.length;
    const mailed = smtp?.messages.length ?? 0;
    const t = clock();
    const r = await run(b.app, 'start --all');
    const replyMs = t();
    const delivered = await allDelivered(b.app);
    const doneMs = t();
    const statuses = await b.app.db.item.groupBy({ by: ['status'], _count: { _all: true } });
    const posts = b.posts.slice(before);
    const outbox = await b.app.db.outboxPost.groupBy({ by: ['state'], _count: { _all: true } });
    const requests = await b.app.db.itemEvent.groupBy({
      by: ['kind'],
      where: { kind: { in: ['request.sent', 'request.failed'] } },
      _count: { _all: true },
    });
    const why = await b.app.db.itemEvent.findFirst({ where: { kind: 'request.failed' }, select: { detail: true } });
    if (why) console.log(`  a request failed: ${why.detail}`);
    console.log(
      `start --all on ${a.start} (${mode === 'known' ? 'credentials known' : 'users asked by email'}): ` +
        `reply ${replyMs} (${r.ok ? 'ok' : `failed: ${r.code}`}); ` +
        `every post delivered after ${doneMs} (${delivered ? 'yes' : 'NO'}); ${posts.length} thread posts; ` +
        `statuses ${statuses.map((s) => `${s.status} ${s._count._all}`).join(', ')}; ` +
        `outbox ${outbox.map((o) => `${o.state ?? 'pending'} ${o._count._all}`).join(', ')}` +
        (smtp
          ? `; ${smtp.messages.length - mailed} requests received by the SMTP sink ` +
            `over ${smtp.connections.total} connections, at most ${smtp.connections.max} at once ` +
            `(history: ${requests.map((q) => `${q.kind} ${q._count._all}`).join(', ')})`
          : ''),
    );
  } finally {
    await b.close();
  }
}

/** How many messages a copy had copied `t` ms after it began. */
interface Sample {
  t: number;
  copied: number;
}

/** The messages copied at `t` (linear between progress samples). */
function copiedAt(samples: Sample[], t: number): number {
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1] as Sample;
    const b = samples[i] as Sample;
    if (t <= b.t) return b.t === a.t ? b.copied : a.copied + ((b.copied - a.copied) * (t - a.t)) / (b.t - a.t);
  }
  return samples.at(-1)?.copied ?? 0;
}

/** When the copy reached `n` messages (linear between progress samples). */
function timeAt(samples: Sample[], n: number): number {
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1] as Sample;
    const b = samples[i] as Sample;
    if (n <= b.copied)
      return b.copied === a.copied ? b.t : a.t + ((b.t - a.t) * (n - a.copied)) / (b.copied - a.copied);
  }
  return samples.at(-1)?.t ?? 0;
}

/**
 * The slowdown of the copy while start --all ran: the messages the copy beside it went through
 * in [`from`, `from + ms`], and the time the copy alone took for the same messages. Undefined
 * when the copy ended first.
 */
function windowRatio(alone: Sample[], beside: Sample[], from: number, ms: number) {
  const end = from + ms;
  if ((beside.at(-1)?.t ?? 0) < end) return undefined;
  const lo = copiedAt(beside, from);
  const hi = copiedAt(beside, end);
  const aloneMs = timeAt(alone, hi) - timeAt(alone, lo);
  if (hi <= lo || aloneMs <= 0) return undefined;
  return { from: Math.round(lo), to: Math.round(hi), besideMs: ms, aloneMs, ratio: ms / aloneMs };
}

/**
 * Copies one mailbox through the engine, alone and then while `start --all` runs on `a.start`
 * mailboxes, `a.rounds` times (a fresh pair of mailboxes and a fresh project each round: the
 * machine is shared, one pair of figures says little); prints each round and the median ratio.
 */
async function benchCopyBesideStart(a: Args): Promise<void> {
  const names = Array.from({ length: a.rounds }, (_, r) => [`alone${r}`, `beside${r}`]).flat();
  const users = names.flatMap((u) => [`${u}-src`, `${u}-dst`]).map((name) => ({ name, password: 'pw' }));
  const dv = await startDovecot({ users });
  const b = await benchApp();
  try {
    const msgs = Array.from({ length: a.copy }, (_, i) => ({ raw: makeMessage({ size: 3000 + (i % 40) * 150 }) }));
    for (const u of names) await seedImap(dv, `${u}-src`, 'pw', { INBOX: msgs });
    // The copies' items live in their own project, so their checkpoints are real rows.
    const engine = b.app.engine;
    const project = await engine.createProject(SYSTEM_ACTOR, {
      name: 'copies',
      sourceUrl: dv.url,
      destinationUrl: dv.url,
      channelRef: 'bench:C2',
    });
    await engine.addItems(
      SYSTEM_ACTOR,
      project,
      names.map((u) => ({ source: `${u}@old.example`, destination: `${u}@new.example` })),
      { threadRef: 'bench:C2/T1' },
    );
    const store = createPrismaCheckpointStore(b.app.db);
    /** Copies `u`'s mailbox; `atFifth` runs once a fifth of it is copied. Progress is sampled every 20 ms. */
    const copy = async (u: string, atFifth?: () => void) => {
      const item = await engine.getItem(project, `${u}@old.example`);
      // Running, as under a runner: bulk commands rest between their batches while a pass runs.
      await b.app.db.item.update({ where: { id: item.id }, data: { status: 'Running' } });
      // How busy the process's event loop was while the copy ran, and how long the copy's callbacks waited for it.
      const delay = monitorEventLoopDelay({ resolution: 5 });
      delay.enable();
      const elu = performance.eventLoopUtilization();
      const t0 = performance.now();
      const samples: Sample[] = [{ t: 0, copied: 0 }];
      let fired = false;
      const r = await runPass({
        itemId: item.id,
        source: { url: dv.url, login: `${u}-src`, secret: { password: 'pw' } },
        destination: { url: dv.url, login: `${u}-dst`, secret: { password: 'pw' } },
        checkpoints: store,
        options: { progressIntervalMs: 20 },
        onProgress: (p) => {
          samples.push({ t: performance.now() - t0, copied: p.messagesCopied });
          if (!fired && atFifth && p.messagesCopied >= a.copy / 5) {
            fired = true;
            atFifth();
          }
        },
      });
      const ms = performance.now() - t0;
      await b.app.db.item.update({ where: { id: item.id }, data: { status: 'Completed' } });
      samples.push({ t: ms, copied: r.stats.messagesCopied });
      delay.disable();
      const loop =
        `event loop ${(100 * performance.eventLoopUtilization(elu).utilization).toFixed(0)}% busy, ` +
        `delay p99 ${(delay.percentile(99) / 1e6).toFixed(0)} ms, max ${(delay.max / 1e6).toFixed(0)} ms`;
      return { ms, t0, copied: r.stats.messagesCopied, outcome: r.outcome, loop, samples };
    };
    const whole: number[] = [];
    const during: number[] = [];
    const what = a.beside === 'start' ? 'start --all' : 'bulk';
    for (let round = 0; round < a.rounds; round++) {
      const big = `big${round}`;
      await run(b.app, `project create ${big} --source imaps://old.example:993 --destination imaps://new.example:993`);
      await b.app.db.project.updateMany({
        where: { name: big },
        data: { sourceAuth: 'admin', destinationAuth: 'admin' },
      });
      const lines = csv(a.start, `r${round}u`);
      if (a.beside === 'start') {
        await run(b.app, `bulk --project ${big}\n${lines}`);
        await allDelivered(b.app);
      }
      const command = a.beside === 'start' ? `start --all --project ${big}` : `bulk --project ${big}\n${lines}`;
      const alone = await copy(`alone${round}`);
      // start --all begins once a fifth of the copy is done (its logins and listing behind it), so
      // the window it runs in is one of steady copying on both sides of the comparison.
      let startAt = 0;
      let replied = 0;
      let startEnded = 0;
      let starting: Promise<Awaited<ReturnType<typeof run>>> | undefined;
      const beside = await copy(`beside${round}`, () => {
        startAt = performance.now();
        starting = run(b.app, command).then(async (r) => {
          replied = performance.now() - startAt;
          await allDelivered(b.app);
          startEnded = performance.now() - startAt;
          return r;
        });
      });
      if (!starting) throw new Error('the copy ended before a fifth of it was copied');
      const started = await starting;
      const w = windowRatio(alone.samples, beside.samples, startAt - beside.t0, startEnded);
      whole.push(beside.ms / alone.ms);
      if (w) during.push(w.ratio);
      console.log(
        `copy of ${a.copy} messages, round ${round + 1}: alone ${fmtS(alone.ms)} ` +
          `(${alone.copied} copied, ${alone.outcome}; ${alone.loop}); beside ${what} on ${a.start} ` +
          `${fmtS(beside.ms)} (${beside.copied} copied, ${beside.outcome}; ${beside.loop}; ` +
          `${what} ${started.ok ? 'ok' : `failed: ${started.code}`} from ${fmtS(startAt - beside.t0)} into ` +
          `the copy, reply after ${fmtS(replied)}, every post delivered after ${fmtS(startEnded)}): whole copy ` +
          `${(beside.ms / alone.ms).toFixed(2)}x the time alone; ` +
          (w
            ? `while ${what} ran, messages ${w.from}-${w.to} took ${fmtS(w.besideMs)} against ` +
              `${fmtS(w.aloneMs)} alone: ${w.ratio.toFixed(2)}x`
            : `the copy ended before ${what} did (no window to compare)`) +
          `; load average ${loadavg()}`,
      );
    }
    const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1] ?? 0;
    const list = (xs: number[]) => xs.map((r) => r.toFixed(2)).join(', ');
    console.log(
      `copy beside ${what}: while it ran, median ` +
        `${med(during).toFixed(2)}x the time alone ` +
        `(${list(during)}); over the whole copy median ${med(whole).toFixed(2)}x (${list(whole)})`,
    );
  } finally {
    await b.close();
    await dv.dispose();
  }
}

const loadavg = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

const args = parseArgs(process.argv.slice(2));
console.log(
  `MailFerry control-plane benchmark (${args.db === 'postgresql' ? 'PostgreSQL' : 'SQLite'}), ` +
    `node ${process.version}, ${os.cpus().length} CPUs, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
);
if (!args.onlyCopy) {
  await benchBulkStatusDigest(args);
  await benchStart(args, 'known');
}
if (args.outreach && !args.onlyCopy) {
  const smtp = await startSmtpSink();
  try {
    await benchStart(args, 'asked', smtp);
  } finally {
    await smtp.close();
  }
}
if (args.copy > 0) await benchCopyBesideStart(args);
if (args.db === 'postgresql') dropTestDatabases();
