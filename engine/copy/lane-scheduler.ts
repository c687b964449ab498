import { copyFolder, joinFolder, type FolderRun, type FolderShare } from './copy-folder.ts';
import type { FolderJob } from './folder-jobs.ts';
import { withRetry, type Lane, type LanePool } from './lane.ts';
import { abortableSleep } from './pacer.ts';
import type { PassState } from './pass-state.ts';

/**
 * How often a free lane looks again when every folder left shares its destination with one
 * in progress, or a big folder in progress is still being planned (it may take a helper).
 */
const BUSY_DEST_POLL_MS = 50;

/** Bytes to copy that justify one more lane, whatever the number of messages. */
const BYTES_PER_LANE = 32 * 1024 * 1024;

/**
 * The folders waiting for a lane, and the folders in progress whose batches other lanes
 * may share. Two folders never go to one destination folder at once: source folders that
 * land in the same destination folder (e.g. "Sent" mapped by special use onto an existing
 * "Sent Items", beside a source "Sent Items") go one after the other, so a crash-recovery
 * match only sees its own folder's appends. Lanes that join a folder in progress send
 * batches of that one folder (a split folder).
 */
export class FolderQueue implements FolderShare {
  private readonly queue: FolderJob[];
  private readonly busyDest = new Set<string>();
  /** Folders taken and not released, with their batches once they are ready to share. */
  private readonly running = new Map<FolderJob, FolderRun | null>();
  constructor(
    jobs: FolderJob[],
    /** A folder is worth joining while this many messages (or half a lane's bytes) are left to take. */
    private readonly joinMessages: number,
  ) {
    this.queue = [...jobs];
  }
  /** Folders not yet taken. */
  get length(): number {
    return this.queue.length;
  }
  /** The next folder whose destination no lane holds (and holds it), or undefined when each left is held. */
  take(): FolderJob | undefined {
    const i = this.queue.findIndex((j) => !this.busyDest.has(destKey(j)));
    if (i < 0) return undefined;
    const [job] = this.queue.splice(i, 1);
    if (job) {
      this.busyDest.add(destKey(job));
      this.running.set(job, null);
    }
    return job;
  }
  /** The folder's lane is done with it: its destination is free again. */
  release(job: FolderJob): void {
    this.busyDest.delete(destKey(job));
    this.running.delete(job);
  }
  open(run: FolderRun): void {
    if (this.running.has(run.job)) this.running.set(run.job, run);
  }
  close(run: FolderRun): void {
    if (this.running.get(run.job) === run) this.running.set(run.job, null);
  }
  private worthJoining(run: FolderRun): boolean {
    const q = run.queue;
    return run.mayJoin() && (q.untakenMessages >= this.joinMessages || q.untakenBytes >= BYTES_PER_LANE / 2);
  }
  /** The folder in progress with the most messages left to take that a free lane should join. */
  joinable(): FolderRun | undefined {
    let best: FolderRun | undefined;
    for (const run of this.running.values())
      if (run && this.worthJoining(run) && (!best || run.queue.untakenMessages > best.queue.untakenMessages))
        best = run;
    return best;
  }
  /** A folder in progress may still become worth joining: planned as big enough, its batches not ready yet. */
  mayBeJoinable(): boolean {
    for (const [job, run] of this.running) {
      if (run ? this.worthJoining(run) : job.work.messages >= this.joinMessages || job.work.bytes >= BYTES_PER_LANE / 2)
        return true;
    }
    return false;
  }
}

function destKey(job: FolderJob): string {
  return job.mapping.destName.toLowerCase();
}

/**
 * Lanes worth opening: one per `messagesPerLane` messages (or 32 MiB) of estimated work,
 * at most `connections`, at least one. Each lane costs a login on both sides; a lane reuses
 * its two logins for every folder it takes, so a small mailbox goes over the listing's lane
 * alone. Where folders cannot be split (the destination has no APPENDUID, or splitting is
 * off) at most one lane per destination folder.
 */
export function laneCount(jobs: FolderJob[], connections: number, messagesPerLane: number, split = false): number {
  const messages = jobs.reduce((s, j) => s + j.work.messages, 0);
  const bytes = jobs.reduce((s, j) => s + j.work.bytes, 0);
  const byWork = Math.max(Math.ceil(messages / Math.max(1, messagesPerLane)), Math.ceil(bytes / BYTES_PER_LANE));
  const folders = split ? Infinity : new Set(jobs.map(destKey)).size;
  return Math.max(1, Math.min(connections, folders, byWork));
}

/**
 * One lane's loop: takes the next folder and copies it until none is left or the pass
 * ends. With no folder to take, it joins a folder in progress with enough left to share.
 */
async function runLane(pass: PassState, lane: Lane, queue: FolderQueue, split: boolean): Promise<void> {
  let joins = split;
  for (;;) {
    if (pass.failure) return;
    if (pass.stopped) {
      if (queue.length) pass.stoppedWithWork = true;
      return;
    }
    const job = queue.length ? queue.take() : undefined;
    if (job) {
      pass.current.add(job.mapping.sourceName);
      const ok = await withRetry(pass, lane, (c, progressed) => copyFolder(pass, job, c, progressed, queue), job);
      pass.current.delete(job.mapping.sourceName);
      queue.release(job);
      if (ok && !pass.stoppedWithWork) pass.foldersDone++;
      if (!ok) return;
      continue;
    }
    const run = joins ? queue.joinable() : undefined;
    if (run) {
      // A lane that could not log in or open the folder does not try again in this pass.
      joins = await joinFolder(run, lane);
      continue;
    }
    // Every remaining folder shares its destination with one in progress, or a big folder
    // in progress is still planned: wait for it (logged in meanwhile, to join at once).
    const mayJoin = joins && queue.mayBeJoinable();
    if (!queue.length && !mayJoin) return;
    if (mayJoin && !lane.usable)
      joins = await lane.ensure().then(
        () => true,
        async () => {
          await lane.reset();
          return false;
        },
      );
    await abortableSleep(BUSY_DEST_POLL_MS, pass.stopOrHalt);
  }
}

/**
 * Copies the folders over the pool's lanes (the pool's first lane, already open from the
 * listing, and as many more as {@link laneCount} finds worth their logins), each lane one
 * folder at a time, biggest first; a lane left without a folder joins the biggest folder
 * in progress. Resolves when every lane has stopped.
 */
export async function runLanes(pass: PassState, pool: LanePool, jobs: FolderJob[]): Promise<void> {
  const s = pass.settings;
  // Splitting needs APPENDUID (RFC 4315) at the destination: the listing's lane knows. Not
  // with a Microsoft 365 side (exact sizes are the mark): Exchange throttles a mailbox's
  // connections, and a throttle in a split folder re-plans it with a match of the whole split.
  const split = s.splitFolders && pass.exactSizes && !!pool.lanes[0]?.dest?.capabilities.has('UIDPLUS');
  const queue = new FolderQueue(jobs, Math.max(1, Math.ceil(s.messagesPerLane / 2)));
  const n = laneCount(jobs, s.connections, s.messagesPerLane, split);
  while (pool.lanes.length < n) pool.add();
  await Promise.all(pool.lanes.slice(0, n).map((lane) => runLane(pass, lane, queue, split)));
}
