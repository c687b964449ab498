import type { ImapFlow } from 'imapflow';
import { closeImap, connectImap } from '../connectors/imap/open-imap.ts';
import { STOP_GRACE_MS, bridgeOf, hasBridge } from '../connectors/imap/imapflow-bridge.ts';
import { abortableSleep } from './pacer.ts';
import type { PassState } from './pass-state.ts';
import { onSide } from './plan-folder.ts';
import { keepsConnections, retryDecision } from './retry-policy.ts';
import type { FolderStats, PassInput } from './types.ts';

/** Both connections of a lane, logged in. */
export interface LaneConnections {
  src: ImapFlow;
  dest: ImapFlow;
}

/** A pair of connections (source, destination) that works on one folder at a time. */
export class Lane {
  src: ImapFlow | null = null;
  dest: ImapFlow | null = null;
  constructor(private readonly input: PassInput) {}
  /**
   * Both connections, (re)opened where missing or broken; the two logins go at once (each is
   * several round trips: greeting, ID, AUTHENTICATE, NAMESPACE, ENABLE). When one fails, the
   * other is kept if it opened: the retry reopens only what is missing.
   */
  async ensure(): Promise<LaneConnections> {
    const [src, dest] = await Promise.allSettled([this.open('src'), this.open('dest')]);
    if (src.status === 'rejected') throw src.reason;
    if (dest.status === 'rejected') throw dest.reason;
    return { src: src.value, dest: dest.value };
  }
  private async open(which: 'src' | 'dest'): Promise<ImapFlow> {
    const current = this[which];
    if (current?.usable) return current;
    await closeImap(current);
    this[which] = null;
    const side = which === 'src' ? 'source' : 'destination';
    const c = await onSide(side, connectImap(which === 'src' ? this.input.source : this.input.destination));
    this[which] = c;
    return c;
  }
  /** Both connections are open and logged in. */
  get usable(): boolean {
    return !!this.src?.usable && !!this.dest?.usable;
  }
  /** Closes both connections; the next {@link ensure} logs in again. */
  async reset(): Promise<void> {
    const [s, d] = [this.src, this.dest];
    this.src = this.dest = null;
    await Promise.all([closeImap(s), closeImap(d)]);
  }
  /** Closes a connection parked in imapflow's throttle wait (known through the bridge): its command fails at once. */
  dropThrottled(): void {
    for (const c of [this.src, this.dest]) if (c && bridgeOf(c)?.inThrottleWait) c.close();
  }
  /** Closes a connection whose throttle state cannot be known (no bridge): a stop must not wait out a hint. */
  dropUnbridged(): void {
    for (const c of [this.src, this.dest]) if (c && !hasBridge(c)) c.close();
  }
}

/**
 * The lanes of a pass. A stop must not wait out a throttle hint imapflow holds a command
 * for (it can be minutes, and FETCH retries several times): while stopping, connections
 * parked in such a wait are dropped. The throttled command was answered, so nothing is cut off.
 */
export class LanePool {
  readonly lanes: Lane[] = [];
  private stopTimer: ReturnType<typeof setInterval> | null = null;
  private graceTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly onStop = () => this.dropOnStop();

  constructor(private readonly input: PassInput) {
    input.signal?.addEventListener('abort', this.onStop, { once: true });
  }

  /** A new lane of the pool (no connection opened yet). */
  add(): Lane {
    const lane = new Lane(this.input);
    this.lanes.push(lane);
    return lane;
  }

  private dropOnStop(): void {
    const drop = () => this.lanes.forEach((l) => l.dropThrottled());
    drop();
    // A throttle reply may still come for a command in flight at the moment of the stop.
    this.stopTimer = setInterval(drop, 100);
    this.stopTimer.unref?.();
    // Without the bridge a throttle wait cannot be seen: whatever such a connection still
    // does after a grace period is cut (an APPEND cut short is dropped whole by the server
    // and found again by the next pass's match, as after a crash).
    this.graceTimer = setTimeout(() => this.lanes.forEach((l) => l.dropUnbridged()), STOP_GRACE_MS);
    this.graceTimer.unref?.();
  }

  /** Stops watching the stop and closes every connection. */
  async close(): Promise<void> {
    this.input.signal?.removeEventListener('abort', this.onStop);
    if (this.stopTimer) clearInterval(this.stopTimer);
    if (this.graceTimer) clearTimeout(this.graceTimer);
    await Promise.all(this.lanes.map((l) => l.reset()));
  }
}

/**
 * A folder's part in a retry: its statistics take a reported error, and it may ask for its destination folder to be
 * created.
 */
export interface RetriedFolder {
  stats: FolderStats;
  /** The destination said the folder is missing (TRYCREATE): the next attempt creates it first. */
  createDest?: boolean;
}

/** Work on a lane's connections; `progressed` resets the count of attempts. */
export type LaneWork = (c: LaneConnections, progressed: () => void) => Promise<void>;

/**
 * Runs `work` on `lane` until it succeeds, reconnecting and waiting as the retry policy
 * (retry-policy.ts) decides. Returns false when the pass must end (failure or stop), true
 * when the work is done (or its folder was reported and the pass goes on).
 */
export async function withRetry(pass: PassState, lane: Lane, work: LaneWork, folder?: RetriedFolder): Promise<boolean> {
  const s = pass.settings;
  let attempt = 0;
  for (;;) {
    if (pass.failure) return false;
    if (pass.stopped) {
      pass.stoppedWithWork = true;
      return false;
    }
    try {
      const c = await lane.ensure();
      await work(c, () => (attempt = 0));
      return true;
    } catch (err) {
      if (!keepsConnections(err) || !lane.usable) await lane.reset();
      const ctx = {
        attempt,
        errors: pass.errors,
        stopping: pass.stopped,
        inFolder: !!folder,
        folderCreated: !!folder?.createDest,
      };
      const d = retryDecision(err, {
        ...ctx,
        maxErrors: s.maxErrors,
        maxRetries: s.maxRetries,
        retryBaseMs: s.retryBaseMs,
      });
      if (d.countsError) pass.errors++;
      switch (d.action) {
        case 'create-folder':
          if (folder) folder.createDest = true;
          continue;
        case 'folder-done':
          if (folder) folder.stats.error = d.error;
          return true;
        case 'fail':
          if (folder && d.folderError) folder.stats.error = d.folderError;
          pass.fail(d.reason, d.detail);
          return false;
        case 'stop':
          pass.stoppedWithWork = true;
          return false;
        case 'wait':
          await abortableSleep(d.ms, pass.stopOrHalt);
          continue;
        case 'backoff':
          attempt++;
          await abortableSleep(d.ms, pass.stopOrHalt);
          continue;
      }
    }
  }
}
