import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  makeMessage,
  readMailbox,
  seedImap,
  startDovecot,
  type DovecotInstance,
  type ReadMailbox,
} from '../../harness/dovecot.ts';
import { hashCounts } from '../../harness/copy-assert.ts';
import { testDbUrl } from '../../harness/test-db.ts';
import { consoleRun as runConsole } from '../../harness/console-run.ts';
import { startImapProxy } from '../../harness/imap-proxy.ts';
import type { ChildProcess } from 'node:child_process';
import { joinedRegExp } from '../../harness/regex.ts';

// Pre-stage passes, then the full pass, typed at the console: a private Dovecot, the admin's
// test passwords from files, each destination read back independently.
const DAY = 86_400_000;
const now = Date.now();
const cutoff = now - 30 * DAY;
/** Old (2019) and recent mail alternating by UID, with one 2018 message: the order a migrated mailbox has. */
const DATES = [
  now - DAY,
  Date.UTC(2019, 2, 1),
  Date.UTC(2019, 5, 1),
  now - 2 * DAY,
  Date.UTC(2018, 6, 1),
  Date.UTC(2019, 9, 1),
  now - 3 * DAY,
  Date.UTC(2019, 11, 31, 23),
];

let dv: DovecotInstance;
let dir: string;
beforeAll(async () => {
  dv = await startDovecot({
    users: [
      { name: 'bob', password: 'src-Pw-1' },
      { name: 'bob2', password: 'dst-Pw-2' },
      { name: 'bob3', password: 'dst-Pw-3' },
      { name: 'kim', password: 'src-Pw-4' },
      { name: 'kim2', password: 'dst-Pw-5' },
    ],
  });
  await seedImap(dv, 'bob', 'src-Pw-1', {
    INBOX: DATES.map((t, i) => ({ raw: makeMessage({ subject: `m${i}` }), internalDate: new Date(t) })),
    Archive: [{ raw: makeMessage({ subject: 'archived' }), internalDate: new Date(Date.UTC(2019, 0, 5)) }],
  });
  dir = mkdtempSync(join(tmpdir(), 'mailferry-console-prestage-'));
  writeFileSync(join(dir, 'src.pw'), 'src-Pw-1\n');
  writeFileSync(join(dir, 'dst.pw'), 'dst-Pw-2\n');
  writeFileSync(join(dir, 'dst3.pw'), 'dst-Pw-3\n');
  writeFileSync(join(dir, 'src4.pw'), 'src-Pw-4\n');
  writeFileSync(join(dir, 'dst5.pw'), 'dst-Pw-5\n');
});
afterAll(async () => {
  await dv?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the console on the test's database with a script on stdin, until no migration is queued or running. */
function consoleRun(script: string, onSpawn?: (p: ChildProcess) => void): Promise<{ out: string; err: string }> {
  return runConsole(script, { DATABASE_URL: testDbUrl(dir), MAILFERRY_DATA_DIR: dir, LOG_LEVEL: 'info' }, { onSpawn });
}

/** The hashes of a mailbox's messages whose INTERNALDATE `keep` accepts. */
function countsWhere(box: ReadMailbox, keep: (t: number) => boolean): Map<string, number> {
  const out = new Map<string, number>();
  for (const msgs of Object.values(box.messages))
    for (const m of msgs) if (keep(m.internalDate)) out.set(m.sha256, (out.get(m.sha256) ?? 0) + 1);
  return out;
}

const pw = (dst: string) =>
  `--source-password-file ${join(dir, 'src.pw')} --destination-password-file ${join(dir, dst)}`;

describe('console: pre-stage, then the full pass', () => {
  it('start --prestage copies old mail only, again copies nothing, ' +
    'start --full copies the rest; status lists each pass with its kind', async () => {
    const first = await consoleRun(
      [
        `project create pre --source ${dv.url} --destination ${dv.url}`,
        'add bob@old.example bob@new.example --source-login bob --destination-login bob2',
        `start bob@old.example --prestage 30 ${pw('dst.pw')}`,
      ].join('\n'),
    );
    expect(first.out).toMatch(/✅ \*bob@old\.example\* completed/);
    expect(first.out).toMatch(/Pass:\s+pre-stage \(older than 30 days\)/);
    expect(first.out).toMatch(/Copied:\s+6 messages/);
    expect(first.out).toMatch(/Left for a later pass:\s+3/);
    let [src, dst] = await Promise.all([readMailbox(dv, 'bob', 'src-Pw-1'), readMailbox(dv, 'bob2', 'dst-Pw-2')]);
    expect(hashCounts(dst)).toEqual(countsWhere(src, (t) => t < cutoff));

    const again = await consoleRun(`start bob@old.example --prestage 30 ${pw('dst.pw')}`);
    expect(again.out).toMatch(/Copied:\s+0 messages/);
    const full = await consoleRun(`start bob@old.example --full ${pw('dst.pw')}`);
    expect(full.out).toMatch(/✅ \*bob@old\.example\* completed/);
    expect(full.out).toMatch(/Copied:\s+3 messages/);
    expect(full.out).not.toMatch(/Left for a later pass/);
    [src, dst] = await Promise.all([readMailbox(dv, 'bob', 'src-Pw-1'), readMailbox(dv, 'bob2', 'dst-Pw-2')]);
    expect(hashCounts(dst)).toEqual(hashCounts(src));
    for (const n of hashCounts(dst).values()) expect(n).toBe(1);

    const st = await consoleRun('status bob@old.example');
    const passes = st.out.slice(st.out.indexOf('Passes (kind, outcome, what each copied):'));
    expect(passes).toMatch(
      /pre-stage \(older than 30 days\) — Completed — 6 copied \([^)]+\), 3 left for a later pass/,
    );
    expect(passes).toMatch(
      /pre-stage \(older than 30 days\) — Completed — 0 copied \([^)]+\), 3 left for a later pass/,
    );
    expect(passes).toMatch(/— full — Completed — 3 copied \([^)]+\)\n/);
    // The history says which kind each start and each pass was.
    expect(st.out).toMatch(/started \(Not started → Queued\) — pre-stage \(older than 30 days\)/);
    expect(st.out).toMatch(/pass started \(Queued → Running\) — pre-stage \(older than 30 days\)/);
    expect(st.out).toMatch(
      joinedRegExp(
        /pass completed \(Running → Completed\) /,
        /— pre-stage \(older than 30 days\): 0 copied \([^)]+\), 3 left for a later pass/,
      ),
    );
  }, 240_000);

  it('refuses unclear choices with a clear reason', async () => {
    const r = await consoleRun(
      [
        `project create errs --source ${dv.url} --destination ${dv.url}`,
        `start bob@old.example --project errs --prestage 30 --full`,
        `start bob@old.example --project errs --prestage 0`,
        `start --waiting --project errs --prestage 7`,
        'project set errs --since 2020-02-30',
        'project set errs --until yesterday',
        'project set errs --until 2023-12-31',
        'project set errs --since 2024-01-01',
        `project create errs2 --source ${dv.url} --destination ${dv.url} --since 2019-13-01`,
        'project list',
        'help start',
      ].join('\n'),
    );
    expect(r.out).toContain('Give only one of --prestage DAYS and --full.');
    expect(r.out).toContain('--prestage must be a whole number from 1 to 3650; got "0".');
    expect(r.out).toContain('--waiting sends requests again; it starts no pass');
    expect(r.out).toContain('"2020-02-30" is not a day for --since: expected YYYY-MM-DD');
    expect(r.out).toContain('"yesterday" is not a day for --until');
    expect(r.out).toContain('The range from 2024-01-01 to 2023-12-31 is empty');
    expect(r.out).toContain('"2019-13-01" is not a day for --since');
    // A bad date creates no project.
    expect(r.out).not.toMatch(/errs2/);
    expect(r.out).toMatch(/--prestage DAYS:\s+Pre-stage: copy only mail older than DAYS days/);
  });

  it("project set --since/--until: every pass copies only the project's date range (both days included)", async () => {
    const r = await consoleRun(
      [
        `project create keep --source ${dv.url} --destination ${dv.url} --since 2019-01-01`,
        'project set keep --until 2019-12-31',
        'add bob@old.example bob3@new.example --project keep --source-login bob --destination-login bob3',
        `start bob@old.example --project keep ${pw('dst3.pw')}`,
      ].join('\n'),
    );
    expect(r.out).toMatch(/Dates:\s+only mail received on or after 2019-01-01/);
    expect(r.out).toMatch(/only mail received on or before 2019-12-31/);
    expect(r.out).toMatch(/Pass:\s+full, mail from 2019-01-01 to 2019-12-31/);
    const [src, dst] = await Promise.all([readMailbox(dv, 'bob', 'src-Pw-1'), readMailbox(dv, 'bob3', 'dst-Pw-3')]);
    const in2019 = countsWhere(src, (t) => t >= Date.UTC(2019, 0, 1) && t < Date.UTC(2020, 0, 1));
    expect(in2019.size).toBe(5);
    expect(hashCounts(dst)).toEqual(in2019);
  }, 120_000);

  it('a kill -9 in the middle of the pre-stage and again ' +
    'in the middle of the full pass: every message once', async () => {
    // Old and recent mail in two folders: each pass appends to both.
    const mail = (tag: string) =>
      DATES.map((t, i) => ({ raw: makeMessage({ subject: `${tag}${i}` }), internalDate: new Date(t) }));
    await seedImap(dv, 'kim', 'src-Pw-4', { INBOX: mail('k'), Archive: mail('a') });
    const dest = await startImapProxy({ port: dv.port });
    const kpw = `--source-password-file ${join(dir, 'src4.pw')} --destination-password-file ${join(dir, 'dst5.pw')}`;
    /**
     * Runs `script`; once an APPEND was answered and the next answer is held at the proxy, kills the console with
     * SIGKILL.
     */
    const killedMidPass = async (script: string) => {
      // The first APPEND's answer goes through; from then on the destination's answers are held:
      // the next APPEND is done at the server and never acknowledged when the process dies.
      const hold = dest.holdAnswers(/^\S+ OK \[APPENDUID [^\r]*\r\n/m, 0);
      let child: ChildProcess | undefined;
      const run = consoleRun(script, (p) => (child = p));
      await hold.held;
      // The held connection now waits; give the engine time to send what it will send, then kill.
      await new Promise((r) => setTimeout(r, 300));
      child!.kill('SIGKILL');
      const r = await run;
      hold.release();
      return r;
    };
    try {
      const cut = await killedMidPass(
        [
          `project create crash --source ${dv.url} --destination ${dest.url}`,
          'add kim@old.example kim@new.example --project crash --source-login kim --destination-login kim2',
          `start kim@old.example --project crash --prestage 30 ${kpw}`,
        ].join('\n'),
      );
      expect(cut.out).not.toMatch(/✅ \*kim@old\.example\* completed/);
      // A new process on the same host takes the dead one's pass over at once and ends it.
      const resumed = await consoleRun('status kim@old.example --project crash');
      expect(resumed.out).toMatch(/resumed after a restart/);
      let [src, dst] = await Promise.all([readMailbox(dv, 'kim', 'src-Pw-4'), readMailbox(dv, 'kim2', 'dst-Pw-5')]);
      expect(hashCounts(dst), resumed.out + resumed.err).toEqual(countsWhere(src, (t) => t < cutoff));

      await killedMidPass(`start kim@old.example --project crash --full ${kpw}`);
      const done = await consoleRun('status kim@old.example --project crash');
      expect(done.out).toMatch(/✅ \*kim@old\.example\* completed/);
      const passes = (await consoleRun('status kim@old.example --project crash')).out;
      expect(passes).toMatch(/— pre-stage \(older than 30 days\) — Completed/);
      expect(passes).toMatch(/— full — Completed/);
      [src, dst] = await Promise.all([readMailbox(dv, 'kim', 'src-Pw-4'), readMailbox(dv, 'kim2', 'dst-Pw-5')]);
      expect(hashCounts(dst)).toEqual(hashCounts(src));
      for (const n of hashCounts(dst).values()) expect(n).toBe(1);
    } finally {
      await dest.close();
    }
  }, 240_000);
});
