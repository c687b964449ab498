import type { App } from '../app.ts';
import { Scheduler, type SchedulerOptions } from './scheduler.ts';
import { reminderListener } from './reminders.ts';

/**
 * Joins digests and reminders to a process. Every mode gets `/migrate digest` and stops
 * reminders of items that leave WaitingForUser.
 * Only `serve` runs the minute tick (digests, reminders), drains the outbox of posts
 * written by workers or left by a restart and sends the completion notices left unsent: a
 * `worker` runs migrations only, and a console session runs no timers.
 */
export function installScheduler(
  app: App,
  mode: 'serve' | 'console' | 'worker',
  opts: SchedulerOptions = {},
): Scheduler {
  const scheduler = new Scheduler(app, opts);
  app.services.postDigest = (projectId, actor) => scheduler.postDigest(projectId, actor);
  const off = app.bus.on(reminderListener(app.db));
  app.onClose(off);
  if (mode === 'serve') {
    scheduler.start();
    app.notifier.startDrain();
    // Completion notices left unsent by a process that stopped or died: now, then every minute.
    app.notices.startResume();
    app.onClose(() => scheduler.stop());
  }
  return scheduler;
}
