import cron, { type ScheduledTask } from 'node-cron';
import type { Engine, Project } from '../../engine/engine.ts';
import type { Actor } from '../../engine/domain/types.ts';
import type { Message } from '../../cards/model.ts';
import { digestMessage, digestPostedMessage } from '../../cards/digest.ts';
import type { Notifier } from '../notifier.ts';
import type { Outreach } from '../outreach/outreach.ts';
import type { Logger } from '../log.ts';
import { nextRun, serverTimeZone } from './cron.ts';
import { buildDigest } from './build-digest.ts';
import { sendDueReminders, syncReminders } from './reminders.ts';
import { fireDueStarts } from './scheduled-starts.ts';
import type { BotDb } from '../store/bot-db.ts';
import { digestPlans, planDigest, recordDigest, unplanDigest } from '../store/digest-plans.ts';

/** What the scheduler works with (a subset of the App). */
export interface SchedulerDeps {
  db: BotDb;
  engine: Engine;
  notifier: Notifier;
  outreach: Outreach;
  log: Logger;
}

/** Tuning; tests pass a clock and smaller lists. */
export interface SchedulerOptions {
  now?: () => Date;
  /** node-cron expression of the tick that looks for due digests and reminders (default every minute). */
  tick?: string;
  /** Entries per digest list before "and N more". */
  listLimit?: number;
}

/** The schedule key a plan's `nextDigestAt` was planned from. */
function scheduleKey(cronExpr: string, tz: string): string {
  return `${cronExpr}|${tz}`;
}

/**
 * Posts digests, starts the mailboxes scheduled with `start --at` and sends reminders.
 * Schedules live in the database (the project's digestCron and digestTz; when its next
 * digest is due in the bot's DigestPlan): one node-cron tick a minute claims what is due
 * with a conditional update, so a digest due while the server was down goes out once on
 * start, and two server processes never both send it. Runs in `serve` only; `/migrate digest`
 * (`postDigest`) works in every mode.
 */
export class Scheduler {
  private task: ScheduledTask | null = null;
  private running: Promise<void> | null = null;
  private readonly now: () => Date;

  constructor(
    private d: SchedulerDeps,
    private opts: SchedulerOptions = {},
  ) {
    this.now = opts.now ?? (() => new Date());
  }

  /** Starts the minute tick and runs one tick at once (what was due while the server was down). */
  start(): void {
    if (this.task) return;
    const log = this.d.log;
    const text = (m: string | Error) => (m instanceof Error ? m.message : m);
    this.task = cron.schedule(this.opts.tick ?? '* * * * *', () => this.tick(), {
      name: 'mailferry-scheduler',
      noOverlap: true,
      // node-cron's own messages (e.g. a missed tick after a long pause) go to our log.
      logger: {
        info: (m) => log.debug(`node-cron: ${m}`),
        debug: (m) => log.debug(`node-cron: ${text(m)}`),
        warn: (m) => log.warn(`node-cron: ${m}`),
        error: (m) => log.error(`node-cron: ${text(m)}`),
      },
    });
    void this.tick();
  }

  /** Stops the tick and waits for a running one. */
  async stop(): Promise<void> {
    if (this.task) await this.task.destroy();
    this.task = null;
    await this.running;
  }

  /** Resolves when no tick is running (tests, shutdown). */
  async idle(): Promise<void> {
    await this.running;
  }

  /**
   * One round: plan changed schedules, post due digests, fire due scheduled starts, sync and send due reminders. Never
   * overlaps itself.
   */
  tick(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        await this.digests();
      } catch (e) {
        this.d.log.error('digest tick failed', { error: e instanceof Error ? e.message : String(e) });
      }
      try {
        await fireDueStarts({ ...this.d, now: this.now });
      } catch (e) {
        this.d.log.error('scheduled start tick failed', { error: e instanceof Error ? e.message : String(e) });
      }
      try {
        const deps = { ...this.d, now: this.now };
        await syncReminders(deps);
        await sendDueReminders(deps);
      } catch (e) {
        this.d.log.error('reminder tick failed', { error: e instanceof Error ? e.message : String(e) });
      }
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Plans every project's next digest when its schedule is new or changed, and posts the due ones. */
  async digests(): Promise<number> {
    const now = this.now();
    const projects = await this.d.engine.reads.projectsByAge();
    const plans = await digestPlans(this.d.db);
    let posted = 0;
    for (const p of projects) {
      const plan = plans.get(p.id);
      const due = plan?.nextDigestAt;
      if (!p.digestCron) {
        if (due) await unplanDigest(this.d.db, p.id, due);
        continue;
      }
      const tz = p.digestTz ?? serverTimeZone();
      const key = scheduleKey(p.digestCron, tz);
      let next: Date | null;
      try {
        next = nextRun(p.digestCron, tz, now);
      } catch (e) {
        this.d.log.warn('stored digest schedule is invalid; no digest', {
          project: p.name,
          error: e instanceof Error ? e.message : String(e),
        });
        continue;
      }
      if (plan?.schedule !== key || !due) {
        // New or changed schedule: the next digest is the schedule's next time from now.
        await planDigest(this.d.db, p.id, plan, key, next, now);
        continue;
      }
      if (due > now) continue;
      if (await this.sendDigest(p, now, { claim: { seen: due, next } })) posted++;
    }
    return posted;
  }

  /**
   * `/migrate digest`: posts the digest in the project's channel now (the schedule is not
   * moved). Replies with a confirmation, or with the digest itself when this process cannot
   * post in that channel.
   */
  async postDigest(projectId: string, actor: Actor): Promise<Message> {
    const p = await this.d.engine.projectById(projectId);
    if (!p) throw new Error(`project ${projectId} no longer exists`);
    const now = this.now();
    const here = !!p.channelRef && this.d.notifier.canPost(p.channelRef);
    const message = await this.sendDigest(p, now, { actor, post: here });
    if (here) return digestPostedMessage(p.name);
    return message ?? digestMessage(await buildDigest(this.d, p, now, this.opts.listLimit));
  }

  /**
   * Builds the digest, then in one transaction of the bot's tables claims it (scheduled: only
   * if the plan's `nextDigestAt` is still what this process saw), records the run and writes
   * the post to the outbox; delivers after the commit. Returns the message, or undefined when
   * another process had claimed it.
   */
  private async sendDigest(
    p: Project,
    now: Date,
    o: { claim?: { seen: Date; next: Date | null }; actor?: Actor; post?: boolean },
  ): Promise<Message | undefined> {
    const view = await buildDigest(this.d, p, now, this.opts.listLimit);
    const message = digestMessage(view);
    const channel = o.post === false ? null : p.channelRef;
    const outboxId = await this.d.db.$transaction(async (tx) => {
      const run = {
        projectId: p.id,
        at: now,
        counts: JSON.stringify(view.counts),
        trigger: o.claim ? 'schedule' : `command:${o.actor?.surface}:${o.actor?.id}`,
      };
      if (!(await recordDigest(tx, run, o.claim))) return undefined;
      return channel ? await this.d.notifier.enqueue({ threadRef: channel, message }, tx, { solo: true }) : null;
    });
    if (outboxId === undefined) return undefined;
    if (outboxId !== null && channel) await this.d.notifier.deliver(outboxId, channel);
    else if (!channel) this.d.log.warn('project has no channel; digest not posted', { project: p.name });
    this.d.log.info('digest', {
      project: p.name,
      trigger: o.claim ? 'schedule' : 'command',
      next: o.claim?.next?.toISOString(),
    });
    return message;
  }
}
