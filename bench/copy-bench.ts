/**
 * Copy benchmark: MailFerry vs mbsync vs Dovecot dsync (`doveadm backup -R` over imapc)
 * on the same corpus, one private Dovecot, loopback.
 *
 *   npm run bench -- [--messages N] [--folders N] [--connections N] [--batch N]
 *                    [--batch-bytes B] [--budget B] [--messages-per-lane N] [--runs N] [--expose-gc]
 *                    [--skip-mbsync] [--skip-dsync] [--keep] [--no-split]
 *   npm run bench -- --mailboxes N [--messages M] [--folders F] [--concurrency K] …
 *   npm run bench -- --workers 1,2,4 [--mailboxes M] [--messages N] …   (bench/workers-bench.ts)
 *
 * Many-mailbox mode (`--mailboxes`): N source mailboxes of M messages in F folders
 * (default 100 in 5), each tool copying K mailboxes at once (default 2, MailFerry's
 * MAILFERRY_CONCURRENCY default); MailFerry's RSS is sampled after every mailbox, so a
 * leak shows as RSS that grows with the number of mailboxes. Each tool's line gives the CPU
 * Dovecot spent meanwhile (its imap and login processes) and the CPU of the tool's processes
 * (doveadm; for MailFerry its child whole, start-up included, beside the pass's own CPU).
 * With dsync it then measures the least IMAP work of the same copy (bench/imap-floor.ts) and
 * prints what Dovecot spends on it: the bound the servers' CPU sets on this machine.
 *
 * Environment: BENCH_CPU_PROF=DIR writes a CPU profile of the MailFerry child there;
 * BENCH_MMAP=N sets MALLOC_MMAP_THRESHOLD_ for it (large buffers go back to the OS).
 *
 * The corpus (default 5,000 messages in 20 folders; sizes 60% 2–8 KB, 28% 10–60 KB,
 * 10.7% 100–300 KB, 1.3% 1–5 MB; flags and keywords; ~1% without Message-ID; a few exact
 * duplicates) is written straight into the source Maildir. MailFerry runs in a child
 * process (the production set-up: Prisma checkpoint store on SQLite) so its peak RSS is
 * its own. Every tool is checked for fidelity (exact bytes, flags, keywords, internal
 * date per folder) against the source.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOVEADM_BIN, readMailbox, startDovecot, type DovecotInstance } from '../test/harness/dovecot.ts';
import {
  compareMailboxes,
  describeFidelity,
  loadavg,
  median,
  pool,
  PRODUCTION_NODE_FLAGS,
  processTreeCpuSeconds,
  rotate,
  seedCorpus,
} from './bench-lib.ts';
import { bareCopy } from './imap-floor.ts';

const MBSYNC_BIN = process.env.MBSYNC_BIN ?? '/usr/bin/mbsync';

interface Args {
  messages: number;
  folders: number;
  connections: number;
  batch?: number;
  batchBytes?: number;
  budget?: number;
  /** Messages of estimated work per lane (the engine's `messagesPerLane`; default its own). */
  messagesPerLane?: number;
  skipMbsync: boolean;
  /** MailFerry does not split a folder over lanes (`splitFolders: false`): the set-up before splitting. */
  noSplit: boolean;
  skipDsync: boolean;
  keep: boolean;
  exposeGc: boolean;
  runs: number;
  /** Many-mailbox mode: this many source mailboxes of `messages` each (1: one big mailbox). */
  mailboxes: number;
  /** Many-mailbox mode: mailboxes copied at once by every tool (MailFerry's MAILFERRY_CONCURRENCY). */
  concurrency: number;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    messages: Number(get('messages') ?? (get('mailboxes') ? 100 : 5000)),
    folders: Number(get('folders') ?? (get('mailboxes') ? 5 : 20)),
    connections: Number(get('connections') ?? 4),
    batch: get('batch') ? Number(get('batch')) : undefined,
    batchBytes: get('batch-bytes') ? Number(get('batch-bytes')) : undefined,
    budget: get('budget') ? Number(get('budget')) : undefined,
    messagesPerLane: get('messages-per-lane') ? Number(get('messages-per-lane')) : undefined,
    skipMbsync: argv.includes('--skip-mbsync'),
    noSplit: argv.includes('--no-split'),
    skipDsync: argv.includes('--skip-dsync'),
    keep: argv.includes('--keep'),
    exposeGc: argv.includes('--expose-gc'),
    runs: Number(get('runs') ?? 1),
    mailboxes: Number(get('mailboxes') ?? 1),
    concurrency: Number(get('concurrency') ?? 2),
  };
}

interface ToolResult {
  tool: string;
  seconds: number;
  msgPerSec: number;
  mibPerSec: number;
  peakRssMiB?: number;
  secondPassSeconds?: number;
  fidelity: string;
  note?: string;
}

function runCmd(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv } = {},
): Promise<{ ms: number; stdout: string; stderr: string; code: number }> {
  const t = performance.now();
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024, env: opts.env ?? process.env }, (err, stdout, stderr) => {
      resolve({
        ms: performance.now() - t,
        stdout: String(stdout),
        stderr: String(stderr),
        code: err ? ((err as { code?: number }).code ?? 1) : 0,
      });
    });
  });
}

/** The MailFerry child: two passes (copy, then no change), reports timings and peak RSS. */
async function child(): Promise<void> {
  const cfg = JSON.parse(process.env.MF_BENCH_CONFIG ?? '{}');
  const { openDb } = await import('../engine/store/db.ts');
  const { createPrismaCheckpointStore } = await import('../engine/store/folder-state.ts');
  const { runPass } = await import('../engine/copy/index.ts');
  const { db } = await openDb(cfg.dbUrl);
  await db.project.create({
    data: {
      id: 'bench',
      name: 'bench',
      sourceUrl: cfg.source.url,
      sourceAuth: 'admin',
      destinationUrl: cfg.destination.url,
      destinationAuth: 'admin',
      createdBy: 'bench',
    },
  });
  await db.item.create({
    data: {
      id: 'bench',
      projectId: 'bench',
      sourceAddress: 'src@bench',
      destinationAddress: 'dst@bench',
      sourceLogin: cfg.source.login,
      destinationLogin: cfg.destination.login,
      ask: 'source',
      notify: 'email',
      createdBy: 'bench',
    },
  });
  const baseRss = process.memoryUsage().rss;
  let peak = baseRss;
  const peaks = { heapTotal: 0, external: 0, arrayBuffers: 0 };
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peak = Math.max(peak, m.rss);
    peaks.heapTotal = Math.max(peaks.heapTotal, m.heapTotal);
    peaks.external = Math.max(peaks.external, m.external);
    peaks.arrayBuffers = Math.max(peaks.arrayBuffers, m.arrayBuffers);
  }, 20);
  const store = createPrismaCheckpointStore(db);
  const cpu0 = process.cpuUsage();
  const first = await runPass({
    itemId: 'bench',
    source: cfg.source,
    destination: cfg.destination,
    checkpoints: store,
    options: cfg.options,
  });
  const cpu = process.cpuUsage(cpu0);
  const t = performance.now();
  const second = await runPass({
    itemId: 'bench',
    source: cfg.source,
    destination: cfg.destination,
    checkpoints: store,
    options: cfg.options,
  });
  const secondMs = performance.now() - t;
  clearInterval(sampler);
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  process.stdout.write(
    'BENCH ' +
      JSON.stringify({
        outcome: first.outcome,
        detail: first.detail,
        ms: first.stats.durationMs,
        copied: first.stats.messagesCopied,
        bytes: first.stats.bytesCopied,
        cpuMs: (cpu.user + cpu.system) / 1000,
        cpuSystemMs: cpu.system / 1000,
        peakRss: peak,
        baseRss,
        peaks,
        vmHwm: hwm ? Number(hwm[1]) * 1024 : undefined,
        secondOutcome: second.outcome,
        secondCopied: second.stats.messagesCopied,
        secondMs,
      }) +
      '\n',
  );
  await db.$disconnect();
}

/**
 * The MailFerry child of the many-mailbox mode: every mailbox one pass, `concurrency` at
 * once (as the job runner does), one database; RSS read after each mailbox finishes.
 */
async function childMany(cfg: {
  dbUrl: string;
  concurrency: number;
  options: object;
  mailboxes: { source: object; destination: object; sourceLogin: string; destinationLogin: string }[];
}): Promise<void> {
  const { openDb } = await import('../engine/store/db.ts');
  const { createPrismaCheckpointStore } = await import('../engine/store/folder-state.ts');
  const { runPass } = await import('../engine/copy/index.ts');
  const { db } = await openDb(cfg.dbUrl);
  await db.project.create({
    data: {
      id: 'bench',
      name: 'bench',
      sourceUrl: 'imap://bench',
      sourceAuth: 'admin',
      destinationUrl: 'imap://bench',
      destinationAuth: 'admin',
      createdBy: 'bench',
    },
  });
  for (const [i, m] of cfg.mailboxes.entries())
    await db.item.create({
      data: {
        id: `bench-${i}`,
        projectId: 'bench',
        sourceAddress: `src${i}@bench`,
        destinationAddress: `dst${i}@bench`,
        sourceLogin: m.sourceLogin,
        destinationLogin: m.destinationLogin,
        ask: 'source',
        notify: 'email',
        createdBy: 'bench',
      },
    });
  const store = createPrismaCheckpointStore(db);
  const baseRss = process.memoryUsage().rss;
  let peak = baseRss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const rssAfter: number[] = [];
  // With --expose-gc: RSS and heap after a full collection at the mailboxes the report names, so that
  // growth is told apart from where the collector happened to stand.
  const gc = (globalThis as { gc?: () => void }).gc;
  const marks = rssMarks(cfg.mailboxes.length);
  const afterGc: { mailbox: number; rss: number; heap: number }[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const results = await pool(cfg.mailboxes.length, cfg.concurrency, async (i) => {
    const m = cfg.mailboxes[i];
    if (!m) throw new Error(`no mailbox ${i}`);
    const r = await runPass({
      itemId: `bench-${i}`,
      source: m.source as never,
      destination: m.destination as never,
      checkpoints: store,
      options: cfg.options,
    });
    rssAfter.push(process.memoryUsage().rss);
    if (gc && marks.includes(rssAfter.length)) {
      gc();
      const m = process.memoryUsage();
      afterGc.push({ mailbox: rssAfter.length, rss: m.rss, heap: m.heapUsed });
    }
    return r;
  });
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  const failed = results.filter((r) => r.outcome !== 'completed');
  process.stdout.write(
    'BENCH ' +
      JSON.stringify({
        outcome: failed.length ? `${failed.length} not completed` : 'completed',
        detail: failed[0]?.detail,
        ms,
        copied: results.reduce((s, r) => s + r.stats.messagesCopied, 0),
        bytes: results.reduce((s, r) => s + r.stats.bytesCopied, 0),
        cpuMs: (cpu.user + cpu.system) / 1000,
        cpuSystemMs: cpu.system / 1000,
        peakRss: peak,
        baseRss,
        rssAfter,
        afterGc,
      }) +
      '\n',
  );
  await db.$disconnect();
}

/** The mailboxes after which the many-mailbox mode reports RSS: the first, a tenth, 50, half and the last. */
function rssMarks(n: number): number[] {
  return [...new Set([1, Math.ceil(n / 10), 50, Math.ceil(n / 2), n].filter((k) => k >= 1 && k <= n))].sort(
    (x, y) => x - y,
  );
}

/** Runs a MailFerry child of this file with the production node flags; returns its BENCH result. */
async function runChild(cfg: object, a: Args, flag: '--child' | '--child-many'): Promise<Record<string, any>> {
  const self = fileURLToPath(import.meta.url);
  const out = await new Promise<string>((resolve, reject) => {
    const env = {
      ...process.env,
      MF_BENCH_CONFIG: JSON.stringify(cfg),
      ...(process.env.BENCH_MMAP ? { MALLOC_MMAP_THRESHOLD_: process.env.BENCH_MMAP } : {}),
    };
    const c = spawn(
      process.execPath,
      [
        ...PRODUCTION_NODE_FLAGS,
        ...(a.exposeGc ? ['--expose-gc'] : []),
        ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
        '--import',
        'tsx',
        self,
        flag,
      ],
      { env, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let s = '';
    c.stdout.on('data', (d: Buffer) => (s += d.toString()));
    c.on('error', reject);
    c.on('exit', () => resolve(s));
  });
  const line = out.split('\n').find((l) => l.startsWith('BENCH '));
  if (!line) throw new Error(`MailFerry child gave no result: ${out.slice(-2000)}`);
  return JSON.parse(line.slice(6));
}

/** mbsync's configuration for one pull from `far` to `near` on the bench Dovecot. */
function mbsyncConfig(port: number, far: string, near: string, pw: string, state: string): string {
  const acct = (name: string, u: string) =>
    `IMAPAccount ${name}\nHost 127.0.0.1\nPort ${port}\nUser ${u}\nPass ${pw}\n` +
    `SSLType None\nAuthMechs LOGIN\n\nIMAPStore ${name}-store\nAccount ${name}\n\n`;
  return (
    acct('far', far) +
    acct('near', near) +
    `Channel bench\nFar :far-store:\nNear :near-store:\nPatterns *\nCreate Near\n` +
    `Sync Pull\nExpunge None\nRemove None\nCopyArrivalDate yes\nSyncState ${state}/\n`
  );
}

/** dsync's arguments for a reverse backup of `srcUser` (over imapc) into `user`. */
function dsyncArgs(dv: DovecotInstance, srcUser: string, pw: string, user: string): string[] {
  return [
    '-c',
    dv.confFile,
    '-o',
    'imapc_host=127.0.0.1',
    '-o',
    `imapc_port=${dv.port}`,
    '-o',
    `imapc_user=${srcUser}`,
    '-o',
    `imapc_password=${pw}`,
    '-o',
    'imapc_features=rfc822.size fetch-headers',
    '-o',
    'mail_prefetch_count=20',
    'backup',
    '-R',
    '-u',
    user,
    'imapc:',
  ];
}

/**
 * Many-mailbox mode: N small mailboxes copied K at a time by each tool, in the same run;
 * msg/s for each, fidelity of every mailbox, and MailFerry's RSS as the mailboxes go by.
 */
async function mainMany(a: Args): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'mf-bench-'));
  const pw = 'bench-pw';
  const dv = await startDovecot({ separator: '/', users: [] });
  const n = a.mailboxes;
  try {
    console.log(
      `Dovecot ${dv.url} (private); ${n} mailboxes × ${a.messages} messages in ${a.folders} ` +
        `folders, ${a.concurrency} mailboxes at once; load average ${loadavg()}`,
    );
    let t = performance.now();
    let total = 0;
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      dv.addUser(`bsrc${i}`, pw);
      const c = seedCorpus(dv, `bsrc${i}`, a, 42 + i);
      total += c.messages;
      bytes += c.bytes;
    }
    const mib = bytes / 1048576;
    console.log(
      `corpus: ${total} messages, ${mib.toFixed(1)} MiB (seeded in ${((performance.now() - t) / 1000).toFixed(1)} s)`,
    );
    t = performance.now();
    const sources = await pool(n, 4, (i) => readMailbox(dv, `bsrc${i}`, pw));
    console.log(`sources read back (index warm-up) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    /** Every mailbox of a tool compared with its source; one line for all. */
    const fidelity = async (prefix: string) => {
      const all = await pool(n, 4, async (i) => {
        const source = sources[i];
        if (!source) throw new Error(`no source mailbox ${i}`);
        return compareMailboxes(source, await readMailbox(dv, `${prefix}${i}`, pw));
      });
      const sum = all.reduce((s, c) => ({
        bytesDiff: s.bytesDiff + c.bytesDiff,
        flagDiff: s.flagDiff + c.flagDiff,
        missing: s.missing + c.missing,
        extra: s.extra + c.extra,
        foldersMissing: [...s.foldersMissing, ...c.foldersMissing],
      }));
      return describeFidelity(sum);
    };
    const rows: { tool: string; run: number; seconds: number; note?: string; fidelity: string; dovecotCpu: number }[] =
      [];
    const rss: string[] = [];
    // Dovecot's CPU: its master's ended children (imap, imap-login, auth workers); the tools'
    // own: this process's ended children (doveadm, mbsync, the MailFerry child).
    const masterPid = Number(readFileSync(join(dv.dir, 'run', 'master.pid'), 'utf8').trim());
    const cpuNow = () => ({ dovecot: processTreeCpuSeconds(masterPid), tool: processTreeCpuSeconds('self') });
    const cpuSince = async (before: { dovecot: number; tool: number }) => {
      // The last logouts' imap processes end and are reaped just after the tool is done.
      await new Promise((r) => setTimeout(r, 500));
      const now = cpuNow();
      const dovecot = now.dovecot - before.dovecot;
      const text = `CPU Dovecot ${dovecot.toFixed(2)} s, tools with the bench ${(now.tool - before.tool).toFixed(2)} s`;
      return { dovecot, text };
    };
    for (let run = 1; run <= a.runs; run++) {
      const order = ['MailFerry', 'mbsync', 'dsync'].filter(
        (x) => !(x === 'mbsync' && a.skipMbsync) && !(x === 'dsync' && a.skipDsync),
      );
      for (const tool of rotate(order, run - 1)) {
        const prefix = `b${tool.toLowerCase()}${run}x`;
        for (let i = 0; i < n; i++) dv.addUser(`${prefix}${i}`, pw);
        let seconds: number;
        let note: string | undefined;
        const cpuBefore = cpuNow();
        if (tool === 'MailFerry') {
          const endpoint = (login: string) => ({ url: dv.url, login, secret: { password: pw } });
          const cfg = {
            dbUrl: `file:${join(work, `mailferry-${run}.db`)}`,
            concurrency: a.concurrency,
            options: {
              connections: a.connections,
              batchMessages: a.batch,
              batchBytes: a.batchBytes,
              memoryBudgetBytes: a.budget,
              messagesPerLane: a.messagesPerLane,
            },
            mailboxes: Array.from({ length: n }, (_, i) => ({
              source: endpoint(`bsrc${i}`),
              destination: endpoint(`${prefix}${i}`),
              sourceLogin: `bsrc${i}`,
              destinationLogin: `${prefix}${i}`,
            })),
          };
          const r = await runChild(cfg, a, '--child-many');
          seconds = r.ms / 1000;
          const after = (k: number) => (r.rssAfter[Math.min(k, r.rssAfter.length) - 1] / 1048576).toFixed(0);
          const mib = (b: number) => (b / 1048576).toFixed(0);
          const gcd = ((r.afterGc ?? []) as { mailbox: number; rss: number; heap: number }[]).map(
            (g) => `${g.mailbox}: RSS ${mib(g.rss)}, heap ${mib(g.heap)}`,
          );
          rss.push(
            `run ${run}: RSS before ${mib(r.baseRss)} MiB; after ` +
              `mailbox ${rssMarks(n)
                .map((k) => `${k}: ${after(k)}`)
                .join(', ')} ` +
              `MiB; peak ${mib(r.peakRss)} MiB` +
              (gcd.length ? `; after a full GC at mailbox ${gcd.join('; ')} MiB` : ''),
          );
          note =
            `${r.outcome}${r.detail ? ` (${r.detail})` : ''}; ` +
            `CPU ${(r.cpuMs / 1000).toFixed(2)} s (${(r.cpuSystemMs / 1000).toFixed(2)} s in the kernel); ` +
            `copied ${r.copied}`;
        } else if (tool === 'mbsync') {
          const t0 = performance.now();
          const codes = await pool(n, a.concurrency, async (i) => {
            const conf = join(work, `mbsyncrc-${prefix}${i}`);
            const state = join(work, `mbsync-state-${prefix}${i}`);
            mkdirSync(state, { recursive: true });
            writeFileSync(conf, mbsyncConfig(dv.port, `bsrc${i}`, `${prefix}${i}`, pw, state), { mode: 0o600 });
            return (await runCmd(MBSYNC_BIN, ['-q', '-c', conf, 'bench'])).code;
          });
          seconds = (performance.now() - t0) / 1000;
          if (codes.some((c) => c)) note = `${codes.filter((c) => c).length} runs exited non-zero`;
        } else {
          const t0 = performance.now();
          const codes = await pool(
            n,
            a.concurrency,
            async (i) => (await runCmd(DOVEADM_BIN, dsyncArgs(dv, `bsrc${i}`, pw, `${prefix}${i}`))).code,
          );
          seconds = (performance.now() - t0) / 1000;
          if (codes.some((c) => c)) note = `${codes.filter((c) => c).length} runs exited non-zero`;
        }
        const cpu = await cpuSince(cpuBefore);
        note = [note, cpu.text].filter(Boolean).join('; ');
        const row = { tool, run, seconds, note, fidelity: await fidelity(prefix), dovecotCpu: cpu.dovecot };
        rows.push(row);
        console.log(
          `run ${run}: ${tool} ${seconds.toFixed(1)} s, ${(total / seconds).toFixed(0)} msg/s, ` +
            `fidelity ${row.fidelity}${note ? `; ${note}` : ''}; load average ${loadavg()}`,
        );
      }
    }
    console.log('');
    console.log(
      `${a.runs > 1 ? `Medians of ${a.runs} runs` : 'One run'}; ${n} ` +
        `mailboxes, ${total} messages, ${mib.toFixed(1)} MiB, ${a.concurrency} at once.`,
    );
    console.log('| tool | time s | msg/s | fidelity |');
    console.log('|---|---|---|---|');
    const med = new Map<string, number>();
    for (const tool of new Set(rows.map((r) => r.tool))) {
      const rs = rows.filter((r) => r.tool === tool);
      med.set(tool, median(rs.map((r) => r.seconds)));
      console.log(
        `| ${tool} | ${med.get(tool)!.toFixed(2)} | ${(total / med.get(tool)!).toFixed(0)} ` +
          `| ${[...new Set(rs.map((r) => r.fidelity))].join(' / ')} |`,
      );
    }
    for (const line of rss) console.log(`MailFerry ${line}`);
    // Each run's tools met the same machine; the medians above may pair a quiet run of one tool with a busy run
    // of the other, so the ratio is given as the median of the ratios within each run.
    const sameRun = (other: string) => {
      const ratios = [...new Set(rows.map((r) => r.run))].flatMap((run) => {
        const m = rows.find((r) => r.run === run && r.tool === 'MailFerry');
        const o = rows.find((r) => r.run === run && r.tool === other);
        return m && o ? [o.seconds / m.seconds] : [];
      });
      const each = ratios.map((x) => x.toFixed(2)).join(', ');
      return `${median(ratios).toFixed(2)}× (median of each run's ratio: ${each})`;
    };
    if (med.has('mbsync')) console.log(`MailFerry / mbsync msg/s: ${sameRun('mbsync')}`);
    if (med.has('dsync')) console.log(`MailFerry / dsync msg/s: ${sameRun('dsync')}; target ≥ 1.5× on 50 × 100`);
    const dsyncSeconds = med.get('dsync');
    const ours = median(rows.filter((r) => r.tool === 'MailFerry').map((r) => r.dovecotCpu));
    if (dsyncSeconds) await reportImapFloor(dv, { masterPid, n, pw, runs: a.runs, dsyncSeconds, ours });
  } finally {
    await dv.dispose().catch(() => undefined);
    if (!a.keep) rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The bound the servers' own CPU sets: the least IMAP work of the same copy (`bareCopy`), one
 * mailbox at a time into fresh accounts, `runs` times; what Dovecot spent on it (median), beside
 * what it spent serving MailFerry's copy (`ours`, median) and against dsync's median time.
 */
async function reportImapFloor(
  dv: DovecotInstance,
  o: { masterPid: number; n: number; pw: string; runs: number; dsyncSeconds: number; ours: number },
): Promise<void> {
  const { masterPid } = o;
  const spent: number[] = [];
  for (let run = 1; run <= o.runs; run++) {
    for (let i = 0; i < o.n; i++) dv.addUser(`bfloor${run}x${i}`, o.pw);
    const before = processTreeCpuSeconds(masterPid);
    for (let i = 0; i < o.n; i++) await bareCopy(dv.port, `bsrc${i}`, `bfloor${run}x${i}`, o.pw);
    // The last imap processes end and are reaped just after their LOGOUT.
    await new Promise((r) => setTimeout(r, 500));
    spent.push(processTreeCpuSeconds(masterPid) - before);
  }
  const cpu = median(spent);
  const cores = availableParallelism();
  const wall = cpu / cores;
  const perMailbox = (s: number) => `${((1000 * s) / o.n).toFixed(0)} ms a mailbox`;
  console.log(
    `Least IMAP work of this copy (bench/imap-floor.ts: logins, LIST, CREATE and SUBSCRIBE, EXAMINE and one ` +
      `FETCH of the bodies, one MULTIAPPEND a folder): Dovecot CPU ${cpu.toFixed(2)} s ` +
      `(${perMailbox(cpu)}; runs ${spent.map((x) => x.toFixed(2)).join(', ')}); serving MailFerry's copy ` +
      `${o.ours.toFixed(2)} s (${perMailbox(o.ours)}). On this machine's ${cores} cores that least work alone ` +
      `takes ${wall.toFixed(2)} s even if the copier took no CPU and kept every core busy: at most ` +
      `${(o.dsyncSeconds / wall).toFixed(2)}× dsync's ${o.dsyncSeconds.toFixed(2)} s (dsync writes the ` +
      `destination itself, with no IMAP on that side).`,
  );
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const work = mkdtempSync(join(tmpdir(), 'mf-bench-'));
  const pw = 'bench-pw';
  const srcUser = 'bsrc';
  const dv = await startDovecot({ separator: '/', users: [{ name: srcUser, password: pw }] });
  const results: ToolResult[] = [];
  try {
    console.log(`Dovecot ${dv.url} (private, ${dv.dir}); work dir ${work}; load average ${loadavg()}`);
    let t = performance.now();
    const corpus = seedCorpus(dv, srcUser, a);
    const mib = corpus.bytes / 1024 / 1024;
    console.log(
      `corpus: ${corpus.messages} messages, ${mib.toFixed(1)} MiB in ${a.folders} ` +
        `folders (seeded in ${((performance.now() - t) / 1000).toFixed(1)} s)`,
    );
    t = performance.now();
    const src = await readMailbox(dv, srcUser, pw);
    console.log(`source read back (index warm-up) in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    const mailferry = async (run: number): Promise<ToolResult> => {
      const user = `bmf${run}`;
      dv.addUser(user, pw);
      const cfg = {
        dbUrl: `file:${join(work, `mailferry-${run}.db`)}`,
        source: { url: dv.url, login: srcUser, secret: { password: pw } },
        destination: { url: dv.url, login: user, secret: { password: pw } },
        options: {
          connections: a.connections,
          batchMessages: a.batch,
          batchBytes: a.batchBytes,
          memoryBudgetBytes: a.budget,
          messagesPerLane: a.messagesPerLane,
          ...(a.noSplit ? { splitFolders: false } : {}),
        },
      };
      const r = await runChild(cfg, a, '--child');
      const dst = await readMailbox(dv, user, pw);
      const seconds = r.ms / 1000;
      return {
        tool: 'MailFerry',
        seconds,
        msgPerSec: r.copied / seconds,
        mibPerSec: r.bytes / 1024 / 1024 / seconds,
        peakRssMiB: Math.max(r.peakRss, r.vmHwm ?? 0) / 1024 / 1024,
        secondPassSeconds: r.secondMs / 1000,
        fidelity: describeFidelity(compareMailboxes(src, dst)),
        note:
          `${r.outcome}${r.detail ? ` (${r.detail})` : ''}; CPU of the MailFerry process during the ` +
          `pass ${(r.cpuMs / 1000).toFixed(2)} s (${(r.cpuSystemMs / 1000).toFixed(2)} s in the kernel); RSS before ` +
          `the pass ${(r.baseRss / 1048576).toFixed(0)} MiB, peak ` +
          `V8 heap ${(r.peaks.heapTotal / 1048576).toFixed(0)} ` +
          `MiB, peak buffers ${(r.peaks.arrayBuffers / 1048576).toFixed(0)} MiB; copied ${r.copied}; ` +
          `2nd pass ${r.secondOutcome}, copied ${r.secondCopied}; ${a.connections} connections, ` +
          `batches ${a.batch ?? 'default'} msgs ` +
          `/ ${a.batchBytes ? (a.batchBytes / 1048576).toFixed(0) + ' MiB' : 'default bytes'}, ` +
          `budget ${a.budget ? (a.budget / 1048576).toFixed(0) + ' MiB' : 'default'}; ` +
          `node ${[...PRODUCTION_NODE_FLAGS, ...(a.exposeGc ? ['--expose-gc'] : [])].join(' ') || '(no flags)'}`,
      };
    };

    // mbsync (isync): Far = source IMAP, Near = destination IMAP, pull only.
    // A reference tool: a first pass timed, a second pass with nothing new, then the destination read back.
    const twoPasses = async (tool: string, user: string, bin: string, args: string[]): Promise<ToolResult> => {
      const r1 = await runCmd(bin, args);
      const r2 = await runCmd(bin, args);
      const dst = await readMailbox(dv, user, pw);
      return {
        tool,
        seconds: r1.ms / 1000,
        msgPerSec: corpus.messages / (r1.ms / 1000),
        mibPerSec: mib / (r1.ms / 1000),
        secondPassSeconds: r2.ms / 1000,
        fidelity: describeFidelity(compareMailboxes(src, dst)),
        note: r1.code ? `exit ${r1.code}: ${r1.stderr.slice(-300)}` : undefined,
      };
    };

    const mbsync = async (run: number): Promise<ToolResult> => {
      const user = `bmbsync${run}`;
      dv.addUser(user, pw);
      const conf = join(work, `mbsyncrc-${run}`);
      const state = join(work, `mbsync-state-${run}`);
      writeFileSync(conf, mbsyncConfig(dv.port, srcUser, user, pw, state), { mode: 0o600 });
      mkdirSync(state, { recursive: true });
      return twoPasses('mbsync', user, MBSYNC_BIN, ['-q', '-c', conf, 'bench']);
    };

    // Dovecot dsync: reverse backup from the source over imapc into the local user.
    const dsync = async (run: number): Promise<ToolResult> => {
      const user = `bdsync${run}`;
      dv.addUser(user, pw);
      const args = dsyncArgs(dv, srcUser, pw, user);
      return twoPasses('dsync (doveadm backup -R imapc:)', user, DOVEADM_BIN, args);
    };

    const tools: [string, (run: number) => Promise<ToolResult>][] = [['MailFerry', mailferry]];
    if (!a.skipMbsync) tools.push(['mbsync', mbsync]);
    if (!a.skipDsync) tools.push(['dsync', dsync]);
    for (let run = 1; run <= a.runs; run++) {
      // Rotate the order so no tool always runs first (the box's load drifts).
      for (const [name, fn] of rotate(tools, run - 1)) {
        const r = await fn(run);
        results.push(r);
        console.log(
          `run ${run}: ${name} ${r.seconds.toFixed(1)} s, ${r.msgPerSec.toFixed(0)} ` +
            `msg/s, fidelity ${r.fidelity}; load average ${loadavg()}`,
        );
      }
    }

    const byTool = new Map<string, ToolResult[]>();
    for (const r of results) byTool.set(r.tool, [...(byTool.get(r.tool) ?? []), r]);
    const med = new Map<string, ToolResult>();
    for (const [tool, rs] of byTool) {
      med.set(tool, {
        tool,
        seconds: median(rs.map((r) => r.seconds)),
        msgPerSec: median(rs.map((r) => r.msgPerSec)),
        mibPerSec: median(rs.map((r) => r.mibPerSec)),
        peakRssMiB: rs[0]?.peakRssMiB === undefined ? undefined : Math.max(...rs.map((r) => r.peakRssMiB!)),
        secondPassSeconds:
          rs[0]?.secondPassSeconds === undefined ? undefined : median(rs.map((r) => r.secondPassSeconds!)),
        fidelity: [...new Set(rs.map((r) => r.fidelity))].join(' / '),
        note: rs[0]?.note,
      });
    }
    console.log('');
    console.log(
      `${a.runs > 1 ? `Medians of ${a.runs} runs (peak RSS: the highest)` : 'One run'}; ` +
        `corpus ${corpus.messages} messages, ${mib.toFixed(1)} MiB.`,
    );
    console.log(`| tool | time s | msg/s | MiB/s | peak RSS MiB | no-change pass s | fidelity |`);
    console.log(`|---|---|---|---|---|---|---|`);
    for (const r of med.values()) {
      console.log(
        `| ${r.tool} | ${r.seconds.toFixed(2)} | ${r.msgPerSec.toFixed(0)} | ${r.mibPerSec.toFixed(1)} ` +
          `| ${r.peakRssMiB?.toFixed(0) ?? 'n/a'} | ${r.secondPassSeconds?.toFixed(2) ?? 'n/a'} | ${r.fidelity} |`,
      );
    }
    for (const r of med.values()) if (r.note) console.log(`${r.tool}: ${r.note}`);
    const mf = med.get('MailFerry')!;
    const mb = med.get('mbsync');
    const ds = [...med.values()].find((r) => r.tool.startsWith('dsync'));
    console.log('');
    if (mb) console.log(`MailFerry / mbsync msg/s: ${(mf.msgPerSec / mb.msgPerSec).toFixed(2)}× (target ≥ 2×)`);
    if (ds) console.log(`MailFerry / dsync msg/s: ${(mf.msgPerSec / ds.msgPerSec).toFixed(2)}× (target ≥ 1.2×)`);
    console.log(
      `MailFerry peak RSS ${mf.peakRssMiB?.toFixed(0)} MiB (target < 200), ` +
        `no-change pass ${mf.secondPassSeconds?.toFixed(2)} s (target < 1 s)`,
    );
  } finally {
    await dv.dispose().catch(() => undefined);
    if (!a.keep) rmSync(work, { recursive: true, force: true });
    if (a.keep) console.log(`kept ${work}`);
  }
}

if (process.argv.includes('--child-many')) await childMany(JSON.parse(process.env.MF_BENCH_CONFIG ?? '{}'));
else if (process.argv.includes('--child')) await child();
else if (process.argv.includes('--workers')) {
  const { mainWorkers, parseWorkersArgs } = await import('./workers-bench.ts');
  await mainWorkers(parseWorkersArgs(process.argv.slice(2)));
} else if (parseArgs(process.argv.slice(2)).mailboxes > 1) await mainMany(parseArgs(process.argv.slice(2)));
else await main();
