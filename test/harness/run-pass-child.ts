/**
 * Runs one pass in a child process with the Prisma checkpoint store on a SQLite file, for
 * the kill -9 test. Config comes in the MF_CHILD_CONFIG environment variable (JSON, not
 * argv, so no password shows in the process list). Prints `PROGRESS <copied>` lines and a
 * final `RESULT <json>` line on stdout.
 */
import { openDb } from '../../engine/store/db.ts';
import { createPrismaCheckpointStore } from '../../engine/store/folder-state.ts';
import { runPass } from '../../engine/copy/index.ts';
import type { ConnectorEndpoint } from '../../engine/connectors/types.ts';
import type { PassOptions } from '../../engine/copy/types.ts';

/** What the parent passes in MF_CHILD_CONFIG. */
export interface ChildConfig {
  dbUrl: string;
  itemId: string;
  source: ConnectorEndpoint;
  destination: ConnectorEndpoint;
  options?: PassOptions;
  /** The pass's date window (ISO dates: JSON carries no Date). */
  dates?: { since?: string; before?: string };
}

const cfg = JSON.parse(process.env.MF_CHILD_CONFIG ?? '{}') as ChildConfig;
const { db } = await openDb(cfg.dbUrl);
// FolderState rows reference an Item (and it a Project): make sure both exist.
await db.project.upsert({
  where: { id: 'p-kill' },
  create: {
    id: 'p-kill',
    name: 'kill-test',
    sourceUrl: cfg.source.url,
    sourceAuth: 'admin',
    destinationUrl: cfg.destination.url,
    destinationAuth: 'admin',
    createdBy: 'test',
  },
  update: {},
});
await db.item.upsert({
  where: { id: cfg.itemId },
  create: {
    id: cfg.itemId,
    projectId: 'p-kill',
    sourceAddress: `${cfg.source.login}@example.test`,
    destinationAddress: `${cfg.destination.login}@example.test`,
    sourceLogin: cfg.source.login,
    destinationLogin: cfg.destination.login,
    ask: 'source',
    notify: 'email',
    createdBy: 'test',
  },
  update: {},
});
const result = await runPass({
  itemId: cfg.itemId,
  source: cfg.source,
  destination: cfg.destination,
  checkpoints: createPrismaCheckpointStore(db),
  ...(cfg.dates
    ? {
        dates: {
          since: cfg.dates.since ? new Date(cfg.dates.since) : undefined,
          before: cfg.dates.before ? new Date(cfg.dates.before) : undefined,
        },
      }
    : {}),
  options: { progressIntervalMs: 20, ...cfg.options },
  onProgress: (p) => process.stdout.write(`PROGRESS ${p.messagesCopied}\n`),
});
const summary = {
  outcome: result.outcome,
  reason: result.reason,
  detail: result.detail,
  copied: result.stats.messagesCopied,
  durationMs: result.stats.durationMs,
};
process.stdout.write(`RESULT ${JSON.stringify(summary)}\n`);
await db.$disconnect();
