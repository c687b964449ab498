import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  makeMessage,
  openClient,
  readMailbox,
  seedImap,
  startDovecot,
  type DovecotInstance,
} from '../../harness/dovecot.ts';
import { testDbUrl } from '../../harness/test-db.ts';
import { consoleRun as runConsole } from '../../harness/console-run.ts';
import { openDb } from '../../../engine/store/db.ts';
import { defined } from '../../harness/defined.ts';

// The console drives a real migration end to end: a private Dovecot with two users, the
// admin supplies test passwords from files (console only), the runner copies, the thread
// gets Completed with the figures, and the destination is read back independently.
let dv: DovecotInstance;
let dir: string;
beforeAll(async () => {
  dv = await startDovecot({
    users: [
      { name: 'alice', password: 'src-Secret-1' },
      { name: 'alice2', password: 'dst-Secret-2' },
    ],
  });
  await seedImap(dv, 'alice', 'src-Secret-1', {
    INBOX: [
      { raw: makeMessage({ subject: 'hello' }), flags: ['\\Seen'] },
      { raw: makeMessage({ subject: 'second' }), flags: ['$Important'] },
    ],
    Projects: [{ raw: makeMessage({ subject: 'plan', size: 40_000 }) }],
  });
  dir = mkdtempSync(join(tmpdir(), 'mailferry-console-e2e-'));
});
afterAll(async () => {
  await dv?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the console on the test's database with a script on stdin, until no migration is queued or running. */
function consoleRun(script: string): Promise<{ out: string; err: string }> {
  return runConsole(script, { DATABASE_URL: testDbUrl(dir), MAILFERRY_DATA_DIR: dir, LOG_LEVEL: 'info' });
}

describe('console end to end', () => {
  it('start with admin-supplied credentials migrates the mailbox and posts Completed with the figures', async () => {
    writeFileSync(join(dir, 'src.pw'), 'src-Secret-1\n');
    writeFileSync(join(dir, 'dst.pw'), 'dst-Secret-2\n');
    const script = [
      `project create acme --source ${dv.url} --destination ${dv.url}`,
      'add alice@old.example alice@new.example --source-login alice --destination-login alice2',
      `start alice@old.example --source-password-file ${join(dir, 'src.pw')} ` +
        `--destination-password-file ${join(dir, 'dst.pw')}`,
    ].join('\n');
    const out = await consoleRun(script);
    expect(out.out).toMatch(/\[T2 · alice@old\.example\] 🕒 alice@old\.example is queued for migration\./);
    expect(out.out).toMatch(/✅ \*alice@old\.example\* completed/);
    expect(out.out).toMatch(/Copied:\s+3 messages/);
    // Passwords never reach the output or the log.
    expect(out.out + out.err).not.toMatch(/src-Secret-1|dst-Secret-2/);

    const box = await readMailbox(dv, 'alice2', 'dst-Secret-2');
    const src = await readMailbox(dv, 'alice', 'src-Secret-1');
    expect(
      defined(box.messages.INBOX)
        .map((m) => m.sha256)
        .sort(),
    ).toEqual(
      defined(src.messages.INBOX)
        .map((m) => m.sha256)
        .sort(),
    );
    expect(box.messages.Projects).toHaveLength(1);
    expect(defined(box.messages.INBOX).find((m) => m.keywords.includes('$Important'))).toBeDefined();

    // The admin sees the figures per folder.
    const st = await consoleRun('status alice@old.example');
    expect(st.out).toMatch(/Folders:/);
    expect(st.out).toMatch(/INBOX: 2 found, 2 copied \([^)]+\)/);
    expect(st.out).toMatch(/Projects: 1 found, 1 copied/);
  });

  it(
    'a second start is a delta pass: only the new message is copied, ' +
      'a flag read at the source is carried, and the post says so',
    async () => {
      const c = await openClient(dv, 'alice', 'src-Secret-1');
      await c.mailboxOpen('INBOX');
      const second = (await c.search({ subject: 'second' }, { uid: true })) as number[];
      await c.messageFlagsAdd(second, ['\\Seen'], { uid: true });
      await c.append('INBOX', makeMessage({ subject: 'third' }), [], new Date('2024-01-02T00:00:00Z'));
      await c.logout();
      const out = await consoleRun(
        `start alice@old.example --source-password-file ${join(dir, 'src.pw')} ` +
          `--destination-password-file ${join(dir, 'dst.pw')}`,
      );
      expect(out.out).toMatch(/✅ \*alice@old\.example\* completed/);
      // This console run's thread is numbered after the first run's T1 and T2 (same database), not T1 again.
      expect(out.out).toMatch(/^\[T3\] /m);
      expect(out.out).toMatch(/\[T3 · alice@old\.example\] ✅/);
      expect(out.out).not.toMatch(/\[T1\b/);
      expect(out.out).toMatch(/Copied:\s+1 messages/);
      expect(out.out).toMatch(/Flags updated:\s+1\b/);
      const box = await readMailbox(dv, 'alice2', 'dst-Secret-2');
      expect(box.messages.INBOX).toHaveLength(3);
      const src = await readMailbox(dv, 'alice', 'src-Secret-1');
      const flagsBySha = (b: typeof box) =>
        Object.fromEntries(defined(b.messages.INBOX).map((m) => [m.sha256, [...m.flags, ...m.keywords].join(' ')]));
      expect(flagsBySha(box)).toEqual(flagsBySha(src));
    },
  );

  it('folder rules set with project set apply to the migration: a folder renamed, another left out', async () => {
    dv.addUser('alice3', 'dst-Secret-3');
    const c = await openClient(dv, 'alice', 'src-Secret-1');
    await c.mailboxCreate('Trash');
    await c.append('Trash', makeMessage({ subject: 'binned' }));
    await c.logout();
    writeFileSync(join(dir, 'dst3.pw'), 'dst-Secret-3\n');
    const out = await consoleRun(
      [
        `project create beta --source ${dv.url} --destination ${dv.url}`,
        'project set beta --exclude Trash --rename "Projects=Archive/Projects"',
        'add alice@old.example alice3@new.example --project beta --source-login alice --destination-login alice3',
        `start alice@old.example --project beta --source-password-file ${join(dir, 'src.pw')} ` +
          `--destination-password-file ${join(dir, 'dst3.pw')}`,
      ].join('\n'),
    );
    expect(out.out).toMatch(/never Trash; folders renamed: Projects → Archive\/Projects/);
    expect(out.out).toMatch(/✅ \*alice@old\.example\* completed/);
    const box = await readMailbox(dv, 'alice3', 'dst-Secret-3');
    expect(box.messages['Archive/Projects']).toHaveLength(1);
    expect(box.messages.Projects).toBeUndefined();
    expect(box.messages.Trash ?? []).toHaveLength(0);
  });

  it(
    'a project whose stored settings cannot be read fails the pass ' +
      'with the reason and copies nothing; project set repairs it',
    async () => {
      dv.addUser('alice4', 'dst-Secret-4');
      writeFileSync(join(dir, 'dst4.pw'), 'dst-Secret-4\n');
      await consoleRun(
        [
          `project create gamma --source ${dv.url} --destination ${dv.url}`,
          'project set gamma --exclude Trash',
          'add alice@old.example alice4@new.example --project gamma --source-login alice --destination-login alice4',
        ].join('\n'),
      );
      // A hand edit (or an old bug) leaves a field of the wrong type: the exclude rule would silently vanish.
      const { db } = await openDb(testDbUrl(dir));
      await db.project.updateMany({
        where: { name: 'gamma' },
        data: { options: JSON.stringify({ exclude: 'Trash' }) },
      });
      await db.$disconnect();
      const start =
        `start alice@old.example --project gamma --source-password-file ${join(dir, 'src.pw')} ` +
        `--destination-password-file ${join(dir, 'dst4.pw')}`;
      const failed = await consoleRun(start);
      expect(failed.out).toMatch(/❌ \*alice@old\.example\* failed/);
      expect(failed.out).toMatch(
        /stored settings of project gamma cannot be read \(exclude must be a list of folder names, found "Trash"\)/,
      );
      expect((await readMailbox(dv, 'alice4', 'dst-Secret-4')).messages.INBOX ?? []).toHaveLength(0);

      const repaired = await consoleRun(['project set gamma --exclude Trash', start].join('\n'));
      expect(repaired.out).toMatch(/✅ \*alice@old\.example\* completed/);
      const box = await readMailbox(dv, 'alice4', 'dst-Secret-4');
      expect(box.messages.INBOX).toHaveLength(3);
      expect(box.messages.Trash ?? []).toHaveLength(0);
    },
  );
});
