import { botTx, type BotDb, type BotTx } from './bot-db.ts';

/** A project's digest schedule state, as the DigestPlan table keeps it. */
export interface DigestPlan {
  projectId: string;
  /** The schedule (`cron|zone`) `nextDigestAt` was planned from; null until one is planned. */
  schedule: string | null;
  /** When the next scheduled digest is due; null while none is planned. */
  nextDigestAt: Date | null;
}

/** A project's last posted digest (the baseline of "since the last digest"). */
export interface DigestRunRow {
  at: Date;
  /** JSON: item counts per status. */
  counts: string;
}

/** Every project's plan, by project id. */
export async function digestPlans(db: BotDb): Promise<Map<string, DigestPlan>> {
  const rows = await db.digestPlan.findMany({ select: { projectId: true, schedule: true, nextDigestAt: true } });
  return new Map(rows.map((r) => [r.projectId, r]));
}

/**
 * Plans a project's next digest for `schedule`: only while its `nextDigestAt` is still
 * `seen` (another process that moved it meanwhile wins); a project without a plan gets one.
 */
export async function planDigest(
  db: BotDb,
  projectId: string,
  seen: DigestPlan | undefined,
  schedule: string,
  nextDigestAt: Date | null,
  now: Date,
): Promise<void> {
  const data = { schedule, plannedAt: now, nextDigestAt };
  await botTx(db, async (tx) => {
    if (seen) await tx.digestPlan.updateMany({ where: { projectId, nextDigestAt: seen.nextDigestAt }, data });
    else await tx.digestPlan.upsert({ where: { projectId }, create: { projectId, ...data }, update: data });
  });
}

/** A project's digest is off: no next digest (while it is still the one `seen`). */
export async function unplanDigest(db: BotDb, projectId: string, seen: Date): Promise<void> {
  await botTx(db, (tx) =>
    tx.digestPlan.updateMany({ where: { projectId, nextDigestAt: seen }, data: { nextDigestAt: null } }),
  );
}

/**
 * Inside the transaction that writes a digest's post: claims the scheduled digest due at
 * `seen` (true when this transaction moved `nextDigestAt` from it to `next`: of several
 * processes exactly one gets true), or without `claim` records a digest asked for. Either
 * way records the run, the baseline of the next digest.
 */
export async function recordDigest(
  tx: BotTx,
  run: { projectId: string; at: Date; counts: string; trigger: string },
  claim?: { seen: Date; next: Date | null },
): Promise<boolean> {
  const { projectId, at } = run;
  if (claim) {
    const { count } = await tx.digestPlan.updateMany({
      where: { projectId, nextDigestAt: claim.seen },
      data: { nextDigestAt: claim.next, lastDigestAt: at },
    });
    if (count !== 1) return false;
  } else {
    await tx.digestPlan.upsert({
      where: { projectId },
      create: { projectId, lastDigestAt: at },
      update: { lastDigestAt: at },
    });
  }
  await tx.digestRun.create({ data: run });
  return true;
}

/** A project's last digest run, or null before its first. */
export async function lastDigestRun(db: BotDb, projectId: string): Promise<DigestRunRow | null> {
  return db.digestRun.findFirst({ where: { projectId }, orderBy: { id: 'desc' }, select: { at: true, counts: true } });
}
