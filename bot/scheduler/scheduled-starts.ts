import { BULK_BATCH, type Engine } from '../../engine/engine.ts';
import { actorKey } from '../../engine/domain/types.ts';
import { UserError } from '../../engine/errors.ts';
import { projectZone } from '../../engine/domain/zone.ts';
import { scheduledStartRefusedPost } from '../../cards/schedule.ts';
import type { Notifier } from '../notifier.ts';
import type { Logger } from '../log.ts';

/** What firing scheduled starts needs. */
export interface ScheduledStartDeps {
  engine: Engine;
  notifier: Notifier;
  log: Logger;
  now: () => Date;
}

/**
 * Submits the items whose scheduled start (`start --at`) is due, as `start` would, in the
 * name of the admin who scheduled them: their starts are claimed first (two schedulers
 * never both fire one; one that dies leaves it to fire again), then started in batches
 * whose posts go to the items' threads. A start the state machine or the license pool
 * refuses is dropped and said in the item's thread. Returns how many were started.
 */
export async function fireDueStarts(d: ScheduledStartDeps): Promise<number> {
  const now = d.now();
  let started = 0;
  for (;;) {
    const due = await d.engine.dueStarts(now);
    if (!due.length) return started;
    const claimed = await d.engine.claimStarts(due, now);
    // One batch per admin: the start is theirs in the history.
    const byActor = new Map<string, typeof claimed>();
    for (const c of claimed) byActor.set(actorKey(c.actor), [...(byActor.get(actorKey(c.actor)) ?? []), c]);
    for (const group of byActor.values()) {
      const [first] = group;
      if (!first) continue;
      // As `start` does: credentials a server refused are forgotten, so the user is asked again.
      for (const c of group)
        await d.engine.forgetRefusedCredentials(c.actor, c.item).catch((e) => {
          if (!(e instanceof UserError)) throw e; // the item changed meanwhile: the start says why
        });
      // The full pass, as `start` without --prestage runs it.
      const r = await d.engine.startItems(
        first.actor,
        group.map((c) => c.item),
        { pass: { type: 'full' } },
      );
      started += r.changed.length;
      const done = new Set(r.changed.map((c) => c.item.id));
      for (const { item } of group.filter((c) => !done.has(c.item.id))) {
        // Refusals name their item, but for the license pool: once it is empty every start after it is refused with it.
        const why =
          r.refused.find((e) => e.message.includes(item.sourceAddress)) ??
          r.refused.find((e) => e.code === 'NO_LICENSES');
        if (!why) continue;
        await d.engine.dropStart(item, why);
        d.log.warn('scheduled start refused', { item: item.id, code: why.code });
        if (item.threadRef)
          await d.notifier.post({
            threadRef: item.threadRef,
            itemId: item.id,
            address: item.sourceAddress,
            message: scheduledStartRefusedPost(
              item.sourceAddress,
              item.startAt ?? now,
              projectZone(item.project),
              why.message,
            ),
          });
      }
    }
    if (claimed.length) d.log.info('scheduled starts fired', { due: due.length, started });
    // Another process claimed the rest of this look: nothing more is due for this one.
    if (claimed.length < due.length || due.length < BULK_BATCH) return started;
  }
}
