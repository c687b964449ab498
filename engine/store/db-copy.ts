import { Prisma } from '../../generated/prisma/client.ts';
import type { Db } from './db.ts';
import { dialectOf } from './dialect.ts';

/**
 * Every table, in an order where a row's parent is copied before it (Project, then Item,
 * then what hangs off an item), with the columns of its primary key (the order rows are read
 * in) and whether that key is an autoincrement id (PostgreSQL's sequence is moved past the
 * copied ids, so the next row written gets a fresh one).
 */
export const COPY_TABLES: readonly { model: Prisma.ModelName; key: readonly string[]; serial?: true }[] = [
  { model: 'Project', key: ['id'] },
  { model: 'Item', key: ['id'] },
  { model: 'Credential', key: ['itemId', 'side'] },
  { model: 'CredentialLink', key: ['id'] },
  { model: 'ProjectCredential', key: ['projectId', 'side'] },
  { model: 'ProjectLink', key: ['id'] },
  { model: 'OAuthState', key: ['id'] },
  { model: 'ItemEvent', key: ['id'], serial: true },
  { model: 'FolderState', key: ['itemId', 'sourceFolder'] },
  { model: 'CopyCheckpoint', key: ['itemId', 'sourceFolder'] },
  { model: 'SkippedMessage', key: ['id'], serial: true },
  { model: 'AlteredMessage', key: ['id'], serial: true },
  { model: 'ChatConversation', key: ['id'] },
  { model: 'OutboxPost', key: ['id'], serial: true },
  { model: 'ItemReminder', key: ['itemId'] },
  { model: 'DigestRun', key: ['id'], serial: true },
  { model: 'DigestPlan', key: ['projectId'] },
  { model: 'SeenRequest', key: ['key'] },
  { model: 'HealthProbe', key: ['owner'] },
  { model: 'RateCounter', key: ['key'] },
];

/** A refusal to copy, with what to do instead (shown as is). */
export class CopyRefused extends Error {}

/** Rows of one table: counted in the source, and in the target once copied. */
export interface TableCount {
  table: string;
  source: number;
  target: number;
}

export interface CopyOptions {
  /** Empty the target's tables first when they hold rows (else the copy is refused). */
  force?: boolean;
  /** Rows read and written per statement. Default 2,000. */
  batchRows?: number;
  /** Called after each batch with the table's rows copied so far and its total (awaited). */
  progress?: (table: string, copied: number, total: number) => void | Promise<void>;
  now?: () => Date;
}

type Row = Record<string, unknown>;
/** The part of a model's Prisma delegate the copy uses (every model has it). */
interface Delegate {
  count(): Promise<number>;
  findMany(args: { take: number; skip?: number; cursor?: Row; orderBy: Row[] }): Promise<Row[]>;
}
type Client = Db | Prisma.TransactionClient;

function delegate(db: Client, model: string): Delegate {
  const d = (db as unknown as Record<string, Delegate | undefined>)[model.charAt(0).toLowerCase() + model.slice(1)];
  if (!d) throw new Error(`the Prisma client has no model ${model}`);
  return d;
}

/** Refuses a schema with a table the copy does not know (it would be left behind). */
function checkTables(): void {
  const listed = new Set<string>(COPY_TABLES.map((t) => t.model));
  const missing = Object.values(Prisma.ModelName).filter((m) => !listed.has(m));
  if (missing.length) throw new Error(`the database copy does not know the table(s) ${missing.join(', ')}`);
}

/** Passes running now: an item Running under a lease that has not run out. */
async function livePasses(db: Db, now: Date): Promise<number> {
  return db.item.count({ where: { status: 'Running', OR: [{ leaseUntil: null }, { leaseUntil: { gt: now } }] } });
}

/** A value that changes whenever another connection commits to the SQLite source. */
async function sourceVersion(db: Db): Promise<string> {
  if (dialectOf(db) !== 'sqlite') return '';
  const [row] = await db.$queryRawUnsafe<{ data_version: number | bigint }[]>('PRAGMA data_version');
  if (!row) throw new Error('PRAGMA data_version gave no row');
  return String(row.data_version);
}

/** Rows per table of a database, in COPY_TABLES order. */
async function countRows(db: Client): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const t of COPY_TABLES) out.set(t.model, await delegate(db, t.model).count());
  return out;
}

/** The checks before anything is written: no pass running on either side, an empty target (or `force`). */
async function refusals(source: Db, target: Db, opts: CopyOptions): Promise<void> {
  const now = opts.now?.() ?? new Date();
  const running = await livePasses(source, now);
  if (running)
    throw new CopyRefused(
      `${running} migration pass(es) are running on the source database. Stop \`mailferry ` +
        `serve\` and every \`mailferry worker\` (running passes save their progress), then copy.`,
    );
  const targetRunning = await livePasses(target, now);
  if (targetRunning)
    throw new CopyRefused(
      `${targetRunning} migration pass(es) are running on the target database: ` +
        `MailFerry processes already use it. Stop them before copying into it.`,
    );
  const filled = [...(await countRows(target))].filter(([, n]) => n > 0);
  if (filled.length && !opts.force) {
    const list = filled.map(([t, n]) => `${t} (${n})`).join(', ');
    throw new CopyRefused(
      `The target database is not empty: ${list}. Copy into an empty database, ` +
        `or add --force to delete every MailFerry row in the target first.`,
    );
  }
}

/**
 * Writes rows into a PostgreSQL table with one statement and one parameter: the rows as JSON,
 * turned back into the table's own column types by the database (BigInt as digits, bytes as
 * `\\x` hex, instants as UTC ISO strings, which a `timestamp` column takes without the zone,
 * as Prisma writes them). Much faster than Prisma's createMany on wide tables.
 */
async function insertRows(tx: Prisma.TransactionClient, model: string, rows: Row[]): Promise<number> {
  const json = JSON.stringify(rows, function (this: Row, key, value: unknown) {
    const raw = this[key];
    if (typeof raw === 'bigint') return raw.toString();
    if (raw instanceof Uint8Array) return `\\x${Buffer.from(raw).toString('hex')}`;
    return value;
  });
  return tx.$executeRawUnsafe(
    `INSERT INTO "${model}" SELECT * FROM json_populate_recordset(NULL::"${model}", $1::json)`,
    json,
  );
}

/** Copies one table in batches ordered by its primary key; returns the rows written. */
async function copyTable(
  source: Db,
  tx: Prisma.TransactionClient,
  table: (typeof COPY_TABLES)[number],
  total: number,
  opts: CopyOptions,
): Promise<number> {
  const batch = opts.batchRows ?? 2000;
  const from = delegate(source, table.model);
  const orderBy = table.key.map((k) => ({ [k]: 'asc' }));
  let copied = 0;
  let last: Row | undefined;
  for (;;) {
    const [only] = table.key;
    const cursor =
      last &&
      (only !== undefined && table.key.length === 1
        ? { [only]: last[only] }
        : { [table.key.join('_')]: Object.fromEntries(table.key.map((k) => [k, last![k]])) });
    const rows = await from.findMany({ take: batch, orderBy, ...(cursor ? { cursor, skip: 1 } : {}) });
    if (!rows.length) break;
    copied += await insertRows(tx, table.model, rows);
    last = rows[rows.length - 1];
    await opts.progress?.(table.model, copied, total);
    if (rows.length < batch) break;
  }
  if (table.serial) {
    const name = `"${table.model}"`;
    await tx.$queryRawUnsafe(
      `SELECT setval(pg_get_serial_sequence('${name}', 'id'), COALESCE(MAX("id"), 0) + 1, false) FROM ${name}`,
    );
  }
  return copied;
}

/**
 * Copies every row of `source` (a SQLite install) into `target` (PostgreSQL, migrated to
 * the same schema), table by table in dependency order, in batches, in one transaction on
 * the target: interrupted or refused at the end, the target is left as it was. Values keep
 * their types (BigInt, bytes, instants to the millisecond); encrypted credentials are copied
 * as they are stored, so the target needs the same key. Refused while a pass runs on either
 * side, into a non-empty target without `force`, and (rolled back) when another process
 * wrote to the source during the copy. Before the commit, every table is counted again on
 * both sides; any difference rolls back. Returns the counts.
 */
export async function copyDatabase(source: Db, target: Db, opts: CopyOptions = {}): Promise<TableCount[]> {
  checkTables();
  if (dialectOf(target) !== 'postgresql')
    throw new CopyRefused('The target must be a PostgreSQL database (postgresql://…).');
  await refusals(source, target, opts);
  const version = await sourceVersion(source);
  const totals = await countRows(source);
  return target.$transaction(
    async (tx) => {
      if (opts.force)
        await tx.$executeRawUnsafe(
          `TRUNCATE ${COPY_TABLES.map((t) => `"${t.model}"`).join(', ')} RESTART IDENTITY CASCADE`,
        );
      for (const t of COPY_TABLES) await copyTable(source, tx, t, totals.get(t.model)!, opts);
      if ((await sourceVersion(source)) !== version || (await livePasses(source, opts.now?.() ?? new Date())))
        throw new CopyRefused(
          'Another process wrote to the source database during the copy (is a MailFerry process still ' +
            'running?). Nothing was kept in the target; stop every MailFerry process and copy again.',
        );
      const after = await countRows(tx);
      const counts = COPY_TABLES.map((t) => ({
        table: t.model,
        source: totals.get(t.model)!,
        target: after.get(t.model)!,
      }));
      const wrong = counts.filter((c) => c.source !== c.target);
      if (wrong.length)
        throw new Error(
          'row counts differ after the copy (' +
            wrong.map((c) => `${c.table}: ${c.source} in the source, ${c.target} in the target`).join('; ') +
            '); nothing was kept in the target',
        );
      return counts;
    },
    { maxWait: 60_000, timeout: 24 * 3600_000 },
  );
}
