import type { Config } from './config.ts';
import { openDb, type Db } from '../engine/store/db.ts';
import { isPostgresUrl } from '../engine/store/dialect.ts';
import { copyDatabase, CopyRefused, type TableCount } from '../engine/store/db-copy.ts';

/** Where a PostgreSQL URL points, without its user or password (for messages). */
export function safeLocation(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname}`;
  } catch {
    return 'the given URL';
  }
}

/** The arguments of `db copy`: the target URL and --force. */
function parseCopyArgs(args: string[]): { to?: string; force: boolean; error?: string } {
  let to: string | undefined;
  let force = false;
  const queue = [...args];
  for (let a = queue.shift(); a !== undefined; a = queue.shift()) {
    if (a === '--force') force = true;
    else if (a === '--to') to = queue.shift();
    else if (a.startsWith('--to=')) to = a.slice('--to='.length);
    else
      return { force, error: `Unknown argument ${a.startsWith('-') ? a : '(a URL goes after --to)'} for "db copy".` };
  }
  if (!to) return { force, error: 'Give the target database: mailferry db copy --to postgresql://…' };
  if (!isPostgresUrl(to)) return { force, error: 'The target must be a postgresql:// URL.' };
  return { to, force };
}

/** The summary table: rows per table on both sides. */
function summary(counts: TableCount[]): string {
  const w = Math.max(...counts.map((c) => c.table.length), 5);
  const line = (a: string, b: string, c: string) => `  ${a.padEnd(w)}  ${b.padStart(9)}  ${c.padStart(9)}\n`;
  const total = (k: 'source' | 'target') => counts.reduce((s, c) => s + c[k], 0).toLocaleString('en-US');
  return (
    line('table', 'SQLite', 'PostgreSQL') +
    counts.map((c) => line(c.table, c.source.toLocaleString('en-US'), c.target.toLocaleString('en-US'))).join('') +
    line('total', total('source'), total('target'))
  );
}

/**
 * `mailferry db copy --to URL [--force]`: returns the exit code (0 copied and verified, 1 the
 * copy failed, 2 refused or misused). Progress and the summary go to `out`, refusals to `err`.
 * Neither names a password: the target is shown as host and database only.
 */
export async function dbCommand(
  args: string[],
  config: Config,
  out: (s: string) => void,
  err: (s: string) => void,
): Promise<number> {
  if (args[0] !== 'copy') {
    err(`${args[0] ? `Unknown db command "${args[0]}".` : 'Which db command?'} See: mailferry db --help\n`);
    return 2;
  }
  const parsed = parseCopyArgs(args.slice(1));
  if (parsed.error || !parsed.to) {
    err(`${parsed.error} See: mailferry db --help\n`);
    return 2;
  }
  if (isPostgresUrl(config.databaseUrl)) {
    err(
      'DATABASE_URL already names a PostgreSQL database: db copy ' +
        'moves a SQLite install (DATABASE_URL=file:…) to PostgreSQL.\n',
    );
    return 2;
  }
  const where = safeLocation(parsed.to);
  out(`Copying ${config.databaseUrl} to PostgreSQL at ${where}\n`);
  const dbs: Db[] = [];
  try {
    const source = (await openDb(config.databaseUrl)).db;
    dbs.push(source);
    const opened = await openDb(parsed.to);
    dbs.push(opened.db);
    if (opened.applied.length) out(`Applied ${opened.applied.length} migration(s) to the target.\n`);
    const t0 = Date.now();
    const counts = await copyDatabase(source, opened.db, {
      force: parsed.force,
      progress: (table, copied, total) => {
        // One line per table, and one per 10,000 rows of a large one.
        if (copied === total || copied % 10_000 === 0)
          out(`  ${table}: ${copied.toLocaleString('en-US')} / ${total.toLocaleString('en-US')}\n`);
      },
    });
    out(
      `Copied and verified (every table counted again on both sides) ` +
        `in ${((Date.now() - t0) / 1000).toFixed(1)} s:\n${summary(counts)}`,
    );
    out(
      'Start MailFerry with DATABASE_URL set to the PostgreSQL URL and the same encryption key (ENCRYPTION_KEY, ' +
        'or the key file in MAILFERRY_DATA_DIR). Keep the SQLite database until the new setup runs.\n',
    );
    return 0;
  } catch (e) {
    if (e instanceof CopyRefused) {
      err(`${e.message}\n`);
      return 2;
    }
    err(`The copy failed: ${e instanceof Error ? e.message.replaceAll(parsed.to, where) : String(e)}\n`);
    return 1;
  } finally {
    for (const d of dbs) await d.$disconnect();
  }
}
