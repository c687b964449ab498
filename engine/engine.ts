import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Db, Tx } from './store/db.ts';
import { closest } from './domain/closest.ts';
import { appendHistory, appendHistoryMany, itemHistory, itemHistoryCount, type HistoryEntry } from './store/history.ts';
import type { EventBus, ItemRef, ItemStatusEvent, PassFigures, StatusChange } from './events.ts';
import { faultPoint } from './fault-point.ts';
import { decide, type Decision, type ItemAction } from './domain/state-machine.ts';
import { refuseInvisible } from './domain/invisible.ts';
import { normaliseAddress } from './domain/addresses.ts';
import { parseConnectorUrl } from './domain/connector-url.ts';
import { UserError } from './errors.ts';
import { linkStore, type LinkStore } from './links.ts';
import { readModel, type ReadModel } from './reads.ts';
import { createPrismaCheckpointStore } from './store/folder-state.ts';
import type { CheckpointStore } from './copy/types.ts';
import type { Vault, AdminSecret, SecretValue } from './vault/vault.ts';
import { countInChunks, yieldingChunks } from './store/chunk.ts';
import { insertJsonRows } from './store/insert-rows.ts';
import { dialectOf, inList, lockRows, type RawTx } from './store/dialect.ts';
import { rawRead, rawTransaction } from './store/raw-tx.ts';
import {
  STATUSES,
  SYSTEM_ACTOR,
  actorKey,
  isFailureReason,
  sidesOf,
  storedSide,
  storedSides,
  storedStatus,
  type Actor,
  type AuthMode,
  type FailureReason,
  type ItemStatus,
  type NotifyVia,
  type Side,
  type Sides,
} from './domain/types.ts';
import { Prisma, type Item, type Project } from '../generated/prisma/client.ts';

export type { Item, Project };

export { readProjectOptions, ProjectOptionsError, type ProjectOptions } from './domain/project-options.ts';
import { readProjectOptions, type ProjectOptions } from './domain/project-options.ts';
import { passKindText, type PassKind } from './domain/pass-kind.ts';
import { projectWindowState, type WindowState } from './domain/window.ts';
import { projectZone } from './domain/zone.ts';

/** One row to add: the source address and optionally the destination and logins. */
export interface AddRow {
  source: string;
  destination?: string;
  sourceLogin?: string;
  destinationLogin?: string;
  /** Line number in a CSV, for error reports. */
  line?: number;
}

/** A row that could not be added, with why. */
export interface RefusedRow {
  line?: number;
  input: string;
  reason: string;
}

/** Counts and items of a project, for `status`. */
export interface ProjectStatus {
  project: Project;
  counts: Record<ItemStatus, number>;
  /** Items in the project. */
  total: number;
  /** The first items by address (a list, not the whole project). */
  items: Item[];
  licenses: { total: number | null; used: number; left: number | null };
}

const ITEM_INCLUDE = { project: true } as const;
/** Columns a bulk add writes; the others take their defaults (NotStarted, no license, zero figures). */
/** History kinds of a pass's end (`Engine.passHistory`). */
const PASS_END_KINDS = ['pass-completed', 'pass-failed', 'pass-stopped', 'interrupted'];
/** The columns of a bulk add that differ from item to item (the rest are the same for the whole batch). */
const ADD_COLUMNS = [
  'id',
  'sourceAddress',
  'destinationAddress',
  'sourceLogin',
  'destinationLogin',
  'ask',
  'notify',
  'threadRef',
] as const satisfies readonly (keyof Item)[];
/**
 * How long a running pass's lease lasts without renewal before the pass counts as dead, and
 * a worker on another host resumes it: MAILFERRY_LEASE_SECONDS (at least 6; default 90).
 */
export const LEASE_MS = Math.max(6, Number(process.env.MAILFERRY_LEASE_SECONDS) || 90) * 1000;

/**
 * This process, as the holder of pass leases: `host:pid:nonce` (the nonce tells a restarted
 * process that got the same pid apart). The host is MAILFERRY_HOST_ID when set (machines
 * that share a hostname, containers), else the hostname.
 */
export const LEASE_OWNER =
  `${(process.env.MAILFERRY_HOST_ID || hostname()).replace(/:/g, '-')}` +
  `:${process.pid}:${randomBytes(4).toString('hex')}`;

/**
 * Whether the process that holds a lease is known to be gone: it ran on this host and its
 * pid no longer exists (or is ours, under another nonce: we are its successor). Holders on
 * other hosts cannot be checked from here; their passes wait for the lease to run out.
 */
export function leaseHolderGone(owner: string | null, self = LEASE_OWNER): boolean {
  if (!owner || owner === self) return false;
  const [host, pidText] = owner.split(':');
  const [selfHost, selfPid] = self.split(':');
  if (host !== selfHost || !/^\d+$/.test(pidText ?? '')) return false;
  if (pidText === selfPid) return true;
  try {
    process.kill(Number(pidText), 0); // signal 0: only asks whether the process exists
    return false;
  } catch (e) {
    return (e as { code?: string }).code === 'ESRCH';
  }
}
type ItemWithProject = Item & { project: Project };
/**
 * An item a bulk command (`startItems`, `resendItems`) is given: the command reads each row
 * afresh in its transaction, so the caller needs no more than this (a full item will do).
 */
export type BulkTarget = Pick<Item, 'id' | 'sourceAddress'> & { project: Pick<Project, 'name'> };
/** An item as `startTargets` lists it: enough to decide on a start, and to forget refused credentials. */
export type StartTarget = Pick<Item, 'id' | 'sourceAddress' | 'status' | 'failureReason'> & { project: Project };
/** Every column of an item, for the raw reads of bulk commands. */
const ITEM_COLUMNS = Prisma.raw(
  Object.values(Prisma.ItemScalarFieldEnum)
    .map((c) => `"${c}"`)
    .join(', '),
);
/** Every column of a project, for the raw reads of bulk commands. */
const PROJECT_COLUMNS = Prisma.raw(
  Object.values(Prisma.ProjectScalarFieldEnum)
    .map((c) => `"${c}"`)
    .join(', '),
);

/**
 * Writes the thread posts of a batch of status changes inside the batch's transaction (so a
 * change and its post are kept or lost together), with raw statements only (on SQLite the
 * batch runs on the direct connection: raw-tx.ts); returns what to run after the commit
 * (start delivering). Set by the bot: the engine never formats a message.
 */
export type BatchPostWriter = (tx: RawTx, changes: StatusChange[]) => Promise<(() => void) | undefined>;

/**
 * Items a bulk transition changes per transaction: short enough not to hold other writers (a running copy's
 * checkpoints) for long.
 */
export const BULK_BATCH = 500;

/**
 * While a pass is running (an item in Running, in this process or any other), a bulk command
 * (`bulk`, `start --all`, `start --waiting`) rests after each batch this many times as long as the batch took, so
 * that it takes at most a quarter of the process's event loop (SQLite runs on it) and of the
 * database: the passes keep their speed. With nothing running it does not rest. Measured with a
 * copy of one mailbox beside the command (`npm run bench:control -- --only copy [--beside
 * bulk]`), the copy's slowdown while the command ran, medians: `start --all` of 5,000 1.39x
 * with a rest as long as the batch, 1.20x twice as long, 1.06x three times (SQLite; PostgreSQL
 * 1.28x and 1.13x); `bulk` of 10,000 1.76x without rests, 1.47x at 1, 1.18x at 3.
 */
export const BULK_PACE = Number(process.env.MAILFERRY_BULK_PACE ?? 3);

/** The reference events carry, built from an item row. */
export function itemRef(item: ItemWithProject): ItemRef {
  return {
    id: item.id,
    projectId: item.projectId,
    projectName: item.project.name,
    sourceAddress: item.sourceAddress,
    destinationAddress: item.destinationAddress,
    threadRef: item.threadRef,
  };
}

/**
 * The domain service: every change to projects and items goes through here, inside a
 * transaction that also appends the history, and is announced on the event bus after
 * the commit. Knows nothing of chat.
 */
export class Engine {
  /** Writes the thread posts of bulk status changes in their transaction (see `BatchPostWriter`). */
  batchPosts?: BatchPostWriter;
  private statusHooks: StatusHook[] = [];

  /** Credential and project links (the forms' and outreach's door to them). */
  readonly links: LinkStore;

  /** Reads of projects, items and history for the bot's digests and reminders. */
  readonly reads: ReadModel;

  /** How a bulk command rests between batches (`pacedBatches`); a test records the rests instead. */
  sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

  constructor(
    private readonly db: Db,
    readonly bus: EventBus,
    readonly vault: Vault,
    readonly now: () => Date = () => new Date(),
  ) {
    this.links = linkStore(db);
    this.reads = readModel(db);
  }

  /**
   * The batches of a bulk command (`yieldingChunks`), paced: after each batch but the last,
   * while any pass is running, a rest of BULK_PACE times as long as the caller took for it
   * (from handing the batch over to asking for the next); none when nothing runs, nor after a
   * batch the caller stops at (`break`).
   */
  private async *pacedBatches<T>(list: readonly T[], size: number): AsyncGenerator<T[]> {
    let given = 0;
    for await (const part of yieldingChunks(list, size)) {
      const t0 = performance.now();
      yield part;
      given += part.length;
      if (given >= list.length || BULK_PACE <= 0) continue;
      const took = performance.now() - t0;
      const running = await this.db.item.findFirst({ where: { status: 'Running' }, select: { id: true } });
      if (running) await this.sleep(took * BULK_PACE);
    }
  }

  /** The copy checkpoints of every item, on the engine's database (what a runner's passes resume from). */
  checkpointStore(): CheckpointStore {
    return createPrismaCheckpointStore(this.db);
  }

  /**
   * Registers a hook that runs inside the transaction of every status change, with that
   * transaction: what it writes commits or rolls back with the change. The bot writes the
   * thread post of the change into its outbox this way, so a crash after the commit cannot
   * lose the post. The engine hands over a neutral event and knows nothing of what the hook
   * does with it. A hook that throws undoes the change: keep hooks to writes that cannot fail
   * for their own reasons. Returns the unregister function.
   */
  onStatusChange(hook: StatusHook): () => void {
    this.statusHooks.push(hook);
    return () => {
      this.statusHooks = this.statusHooks.filter((h) => h !== hook);
    };
  }

  // ---------------------------------------------------------------- projects

  /** Creates a project owned by the channel it was created in. */
  async createProject(
    actor: Actor,
    input: {
      name: string;
      sourceUrl: string;
      destinationUrl: string;
      selfService?: Sides;
      notify?: NotifyVia;
      channelRef: string | null;
      licenses?: number | null;
    },
  ): Promise<Project> {
    const name = input.name.trim();
    refuseInvisible(name, 'project name');
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name))
      throw new UserError(
        'PROJECT_NAME',
        `"${input.name}" is not a valid project name: use letters, digits, dot, dash or underscore (up to 63).`,
      );
    const src = parseConnectorUrl(input.sourceUrl, 'source');
    const dst = parseConnectorUrl(input.destinationUrl, 'destination');
    if (await this.db.project.findUnique({ where: { name } }))
      throw new UserError('PROJECT_EXISTS', `A project named ${name} already exists.`);
    const selfSides = input.selfService ? sidesOf(input.selfService) : [];
    const auth = (side: Side): AuthMode => (selfSides.includes(side) ? 'self-service' : 'per-user');
    const project = await this.db.$transaction(async (tx) => {
      const p = await tx.project.create({
        data: {
          id: randomUUID(),
          name,
          sourceUrl: src.url,
          sourceAuth: auth('source'),
          destinationUrl: dst.url,
          destinationAuth: auth('destination'),
          selfService: input.selfService ?? 'source',
          notify: input.notify ?? 'email',
          channelRef: input.channelRef,
          licensesTotal: input.licenses ?? null,
          createdBy: `${actor.surface}:${actor.id}`,
        },
      });
      await appendHistory(tx, {
        projectId: p.id,
        actor,
        kind: 'project.created',
        detail: { name, source: src.url, destination: dst.url, selfService: input.selfService ?? null },
      });
      return p;
    });
    this.bus.emit({ type: 'project.created', projectId: project.id, name, channelRef: project.channelRef, actor });
    return project;
  }

  /** Changes project settings; each change goes into the history. */
  async updateProject(
    actor: Actor,
    project: Project,
    changes: {
      digestCron?: string | null;
      digestTz?: string | null;
      selfService?: Sides;
      licenses?: number | null;
      notify?: NotifyVia;
      options?: ProjectOptions;
    },
  ): Promise<Project> {
    if (changes.licenses != null && changes.licenses < project.licensesUsed)
      throw new UserError(
        'LICENSES_BELOW_USED',
        `${project.name} already uses ${project.licensesUsed} licenses; the pool cannot be smaller than that.`,
      );
    const data: Record<string, unknown> = {};
    if (changes.digestCron !== undefined) data.digestCron = changes.digestCron;
    if (changes.digestTz !== undefined) data.digestTz = changes.digestTz;
    if (changes.selfService !== undefined) {
      const sides = sidesOf(changes.selfService);
      data.selfService = changes.selfService;
      // A side with admin credentials stays so (`project set --clear-admin` ends that).
      if (project.sourceAuth !== 'admin') data.sourceAuth = sides.includes('source') ? 'self-service' : 'per-user';
      if (project.destinationAuth !== 'admin')
        data.destinationAuth = sides.includes('destination') ? 'self-service' : 'per-user';
    }
    if (changes.licenses !== undefined) data.licensesTotal = changes.licenses;
    if (changes.notify !== undefined) data.notify = changes.notify;
    // Unreadable stored fields are dropped here, not kept: setting a field again is how an admin repairs them.
    if (changes.options !== undefined)
      data.options = JSON.stringify({ ...readProjectOptions(project.options).options, ...changes.options });
    return this.db.$transaction(async (tx) => {
      const p = await tx.project.update({ where: { id: project.id }, data });
      await appendHistory(tx, {
        projectId: p.id,
        actor,
        kind: 'project.updated',
        detail: changes as Record<string, unknown>,
      });
      return p;
    });
  }

  /** The project of a given name, or a UserError naming the known ones. */
  async getProject(name: string): Promise<Project> {
    const p = await this.db.project.findUnique({ where: { name } });
    if (p) return p;
    const all = (await this.db.project.findMany({ select: { name: true }, orderBy: { name: 'asc' } })).map(
      (x) => x.name,
    );
    const guess = closest(name, all);
    const names = all.slice(0, 20);
    throw new UserError(
      'PROJECT_UNKNOWN',
      `There is no project named ${name}.` +
        (guess
          ? ` Did you mean ${guess}?`
          : names.length
            ? ` Known projects: ${names.join(', ')}${all.length > names.length ? ', …' : ''}.`
            : ''),
    );
  }

  /** Every project, by name. */
  async listProjects(): Promise<Project[]> {
    return this.db.project.findMany({ orderBy: { name: 'asc' } });
  }

  /** Projects created in a channel (a project belongs to the channel it was created in). */
  async projectsInChannel(channelRef: string): Promise<Project[]> {
    return this.db.project.findMany({ where: { channelRef }, orderBy: { createdAt: 'asc' } });
  }

  // ------------------------------------------------------------------- items

  /**
   * Adds items: every valid row is added, every invalid one is reported with its line and
   * reason (a file whose every row is refused adds nothing). Written in batches of
   * `BULK_BATCH` rows, one transaction each, the event loop given back between them:
   * a database failure keeps the batches written before it, and the same rows sent again
   * add the rest, the rows already there refused as such.
   */
  async addItems(
    actor: Actor,
    project: Project,
    rows: AddRow[],
    opts: AddOptions,
  ): Promise<{ added: Item[]; refused: RefusedRow[] }> {
    const { valid, refused } = checkAddRows(rows);
    // Every address of the project in one read: cheaper than asking for 10,000 addresses by value.
    const taken = new Set(
      (await this.db.item.findMany({ where: { projectId: project.id }, select: { sourceAddress: true } })).map(
        (e) => e.sourceAddress,
      ),
    );
    const toAdd = valid.filter((v) => {
      if (!taken.has(v.source)) return true;
      refused.push({ line: v.row.line, input: v.source, reason: `${v.source} is already in project ${project.name}.` });
      return false;
    });
    // Set-based: multi-row inserts of the items and of their history lines (one line per item),
    // one transaction per batch (writeAdded).
    const createdBy = `${actor.surface}:${actor.id}`;
    const now = this.now();
    const added: Item[] = toAdd.map((v) => newItem(project, v, opts, createdBy, now));
    await this.writeAdded(actor, project, added, { createdBy, at: now });
    for (const item of added) this.bus.emit({ type: 'item.added', item: itemRef({ ...item, project }), actor });
    refused.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    return { added, refused };
  }

  /**
   * Writes the new items and their history lines. One transaction per batch: a running copy's
   * checkpoint writes wait behind one batch at most, never behind the whole file. A failure keeps
   * the batches before it; the same rows sent again add the rest (those already there are
   * refused as such, never added twice).
   */
  private async writeAdded(
    actor: Actor,
    project: Project,
    added: Item[],
    /** What every item of the add was made with (`newItem`): bound once per statement. */
    shared: { createdBy: string; at: Date },
  ): Promise<void> {
    for await (const part of this.pacedBatches(added, BULK_BATCH)) {
      await this.db.$transaction(async (tx) => {
        await insertJsonRows(
          tx,
          'Item',
          [
            { column: 'projectId', value: project.id, pgType: 'TEXT' },
            { column: 'createdBy', value: shared.createdBy, pgType: 'TEXT' },
            { column: 'createdAt', value: shared.at, pgType: 'TIMESTAMP(3)' },
            { column: 'updatedAt', value: shared.at, pgType: 'TIMESTAMP(3)' },
          ],
          ADD_COLUMNS,
          part.map((i) => ADD_COLUMNS.map((c) => i[c])),
        );
        await appendHistoryMany(
          tx,
          part.map((item) => ({
            projectId: project.id,
            itemId: item.id,
            address: item.sourceAddress,
            actor,
            kind: 'item.added',
            toStatus: 'NotStarted' as const,
            detail: { destination: item.destinationAddress, ask: item.ask, notify: item.notify },
          })),
        );
      });
      // Test fault point: a batch of the add is committed, the rest is not.
      faultPoint('after-bulk-batch');
    }
  }

  /** Points items at the thread where their status posts go. */
  async assignThread(itemIds: string[], threadRef: string): Promise<void> {
    // A transaction per batch, like the add before it.
    for await (const part of yieldingChunks(itemIds, BULK_BATCH))
      await this.db.item.updateMany({ where: { id: { in: part } }, data: { threadRef } });
  }

  /** The item of a project by source (or destination) address, or a UserError. */
  async getItem(project: Project, address: string): Promise<ItemWithProject> {
    const a = normaliseAddress(address);
    const item =
      (await this.db.item.findFirst({ where: { projectId: project.id, sourceAddress: a }, include: ITEM_INCLUDE })) ??
      (await this.db.item.findFirst({
        where: { projectId: project.id, destinationAddress: a },
        include: ITEM_INCLUDE,
      }));
    if (!item) {
      // A typo of an address that is in the project gets that address, not "add it".
      const rows = await this.db.item.findMany({
        where: { projectId: project.id },
        select: { sourceAddress: true, destinationAddress: true },
      });
      const guess = closest(
        a,
        rows.flatMap((r) =>
          r.destinationAddress === r.sourceAddress ? [r.sourceAddress] : [r.sourceAddress, r.destinationAddress],
        ),
      );
      if (guess) throw new UserError('ITEM_UNKNOWN', `${a} is not in project ${project.name}. Did you mean ${guess}?`);
      throw new UserError('ITEM_UNKNOWN', `${a} is not in project ${project.name}.`, `Add it with \`add ${a}\`.`);
    }
    return item;
  }

  /** Loads an item by id with its project. */
  async itemById(id: string): Promise<ItemWithProject | null> {
    return this.db.item.findUnique({ where: { id }, include: ITEM_INCLUDE });
  }

  /** Sides whose credentials are unknown: no credential stored and not covered by project admin credentials. */
  async missingSides(item: Item & { project: Project }, tx: Tx = this.db): Promise<Side[]> {
    const stored = new Set(
      (await tx.credential.findMany({ where: { itemId: item.id }, select: { side: true } })).map((c) => c.side),
    );
    const out: Side[] = [];
    if (!stored.has('source') && item.project.sourceAuth !== 'admin') out.push('source');
    if (!stored.has('destination') && item.project.destinationAuth !== 'admin') out.push('destination');
    return out;
  }

  /**
   * Applies a state-machine action inside a transaction: decides, updates the row, keeps
   * the license pool straight, appends the history. Returns the updated item and the
   * status it came from. Events are the caller's to emit after the commit.
   */
  private async transition(
    tx: Tx,
    actor: Actor,
    item: ItemWithProject,
    action: ItemAction,
    extra: TransitionExtra = {},
  ): Promise<Transitioned> {
    // Re-read inside the transaction so two commands racing on one item decide on the truth
    // (on PostgreSQL the row is locked first: another process's transition waits for this one).
    await lockRows(tx, 'Item', [item.id]);
    const fresh = await tx.item.findUniqueOrThrow({ where: { id: item.id }, include: ITEM_INCLUDE });
    const from = storedStatus(fresh.status);
    const d = decide(action, {
      address: fresh.sourceAddress,
      status: from,
      missingCredentials: extra.missing ?? false,
    });
    const data = transitionData(action, d, from, extra);
    const license = await moveLicense(tx, fresh, from, d.to);
    data.license = license;
    if (d.to !== 'Running') data.stopRequested = d.stopRequested ?? false;
    await writeItemRow(tx, fresh, d.deleted ?? false, data);
    await appendHistory(tx, {
      projectId: fresh.projectId,
      itemId: fresh.id,
      address: fresh.sourceAddress,
      actor,
      kind: d.deleted ? 'item.deleted' : (extra.kind ?? action),
      fromStatus: from,
      toStatus: d.deleted ? null : d.to,
      detail: {
        ...(extra.reason ? { reason: extra.reason } : {}),
        ...(extra.detail ? { detail: extra.detail } : {}),
        ...(license !== fresh.license ? { license } : {}),
        ...extra.history,
      },
    });
    const after = d.deleted
      ? fresh
      : await tx.item.findUniqueOrThrow({ where: { id: fresh.id }, include: ITEM_INCLUDE });
    if (d.deleted || d.to === from) return { item: after, from, to: d.to };
    const event = {
      ...statusEvent(actor, after, from, d.to, extra.figures),
      ...(extra.paused ? { paused: extra.paused } : {}),
    };
    for (const hook of this.statusHooks) await hook(tx, event);
    return { item: after, from, to: d.to, event };
  }

  /**
   * Announces a committed status change on the bus. Its post is already in the outbox,
   * written in the change's transaction (by the status hooks, or by `batchPosts` for a bulk
   * change: then the event says `posted`).
   */
  private emitStatus(r: Transitioned, posted = false) {
    if (!r.event) return;
    // Test fault point: a crash between the commit of a status change and anything after it.
    faultPoint('after-status-commit');
    this.bus.emit({ ...r.event, recorded: true, ...(posted ? { posted } : {}) });
  }

  /**
   * Submits an item: `Queued` when every credential is known, otherwise `WaitingForUser`
   * and a credential request goes out (the `item.credentials-needed` event).
   * A new thread reference, when given, becomes the item's thread.
   */
  async startItem(
    actor: Actor,
    item: ItemWithProject,
    opts: { threadRef?: string | null; pass?: PassKind } = {},
  ): Promise<ItemWithProject> {
    const missing = await this.missingSides(item);
    const r = await this.db.$transaction(async (tx) => {
      const res = await this.transition(tx, actor, item, 'submit', {
        missing: missing.length > 0,
        data: {
          ...(opts.threadRef ? { threadRef: opts.threadRef } : {}),
          ...(opts.pass ? { passKind: passKindText(opts.pass) } : {}),
        },
        history: { ...(missing.length ? { missing } : {}), ...(opts.pass ? { pass: passKindText(opts.pass) } : {}) },
      });
      return res;
    });
    this.emitStatus(r);
    if (r.to === 'WaitingForUser')
      this.bus.emit({ type: 'item.credentials-needed', item: itemRef(r.item), actor, sides: missing, resend: false });
    return r.item;
  }

  /**
   * Submits many items (`start --all`) like `startItem` does each one: every item through the
   * state machine's `submit` (Queued, or WaitingForUser with a credential request when
   * credentials are unknown), a license reserved from the pool, a history line each. Set-based:
   * per batch of `BULK_BATCH` items one transaction with one read of the items and of their
   * stored credentials, one conditional update per (from, to) group, one multi-row history
   * insert, and the thread posts of the batch written by `batchPosts` (one summary per thread,
   * not one post per item). Items the state machine refuses are reported and skipped; when
   * the license pool runs out, that item is refused and the rest are left as they are.
   */
  async startItems(
    actor: Actor,
    items: BulkTarget[],
    opts: StartOptions = {},
  ): Promise<{ changed: { item: ItemWithProject; from: ItemStatus; to: ItemStatus }[]; refused: UserError[] }> {
    const changed: StartedItem[] = [];
    const refused: UserError[] = [];
    // Deliveries start once every batch is written, so the batches' posts go out merged.
    const deliveries: (() => void)[] = [];
    // The credential requests of this command are one batch: the outreach reports them together.
    const ask = { batch: randomUUID(), asked: false };
    try {
      // Between batches the event loop is given back, and rests while passes run (pacedBatches).
      for await (const part of this.pacedBatches(items, opts.batch ?? BULK_BATCH)) {
        const now = this.now();
        // Raw statements only, so that on SQLite the batch runs without Prisma's client (raw-tx.ts).
        const r = await rawTransaction(this.db, (tx) => this.startBatch(tx, actor, part, opts, now));
        if (r.deliver) deliveries.push(r.deliver);
        changed.push(...r.after);
        refused.push(...r.no);
        this.announceStarted(actor, r.after, ask);
        // The license pool ran out: the rest stay as they are.
        if (r.stop) break;
      }
    } finally {
      for (const d of deliveries) d();
      if (ask.asked) this.bus.emit({ type: 'batch.end', batch: ask.batch, actor });
    }
    return { changed: changed.map(({ item, from, to }) => ({ item, from, to })), refused };
  }

  /**
   * One batch of `startItems`, inside its transaction: the items read, decided and licensed,
   * their rows and the projects' pools updated, their history lines and thread posts written.
   */
  private async startBatch(
    tx: RawTx,
    actor: Actor,
    part: BulkTarget[],
    opts: StartOptions,
    now: Date,
  ): Promise<{ after: StartedItem[]; no: UserError[]; stop: boolean; deliver?: () => void }> {
    // Read inside the transaction, as transition() does: decide on the truth (rows locked first on PostgreSQL).
    const { fresh, missingOf } = await this.readBulk(
      tx,
      part.map((i) => i.id),
    );
    const { out, no, stop, reserved } = planStart(part, fresh, missingOf);
    const fields = startedFields(opts, now);
    await writeStarted(tx, out, reserved, fields);
    await appendHistoryMany(
      tx,
      out.map((c) =>
        itemHistoryEntry(c.fresh, actor, 'submit', c.from, c.to, {
          ...(c.license !== c.fresh.license ? { license: c.license } : {}),
          ...(c.missing.length ? { missing: c.missing } : {}),
          ...(opts.pass ? { pass: passKindText(opts.pass) } : {}),
        }),
      ),
    );
    const after = startedItems(out, reserved, fields);
    const deliver = this.batchPosts
      ? await this.batchPosts(
          tx,
          after.map((a) => ({ item: itemRef(a.item), actor, from: a.from, to: a.to })),
        )
      : undefined;
    return { after, no, stop, deliver };
  }

  /**
   * Announces the committed changes of a batch of `startItems`: each status change, and a
   * credential request (of the command's batch `ask`) for each item that waits for its user.
   */
  private announceStarted(actor: Actor, after: StartedItem[], ask: { batch: string; asked: boolean }): void {
    for (const c of after) {
      this.emitStatus(
        { ...c, event: c.from === c.to ? undefined : statusEvent(actor, c.item, c.from, c.to) },
        !!this.batchPosts,
      );
      if (c.to === 'WaitingForUser') {
        ask.asked = true;
        this.bus.emit({
          type: 'item.credentials-needed',
          item: itemRef(c.item),
          actor,
          sides: c.missing,
          resend: false,
          batch: ask.batch,
        });
      }
    }
  }

  /**
   * Asks the users of many waiting items again (`start --waiting`), as `resend` does each one:
   * the state machine's `resend` per item, their open links revoked, a history line each.
   * Set-based like `startItems`: per batch of `BULK_BATCH` items one transaction with one read
   * of the items and of their stored credentials, one update, one revocation, one multi-row
   * history insert. The `item.credentials-needed` events that follow carry one batch id and
   * end with `batch.end`, so the outreach reports them as one summary. Items the state machine
   * refuses (no longer waiting) are reported and skipped.
   */
  async resendItems(
    actor: Actor,
    items: BulkTarget[],
    opts: { threadRef?: string | null; batch?: number } = {},
  ): Promise<{ asked: ItemWithProject[]; refused: UserError[] }> {
    const asked: ItemWithProject[] = [];
    const refused: UserError[] = [];
    const batch = randomUUID();
    try {
      for await (const part of this.pacedBatches(items, opts.batch ?? BULK_BATCH)) {
        const now = this.now();
        const r = await this.db.$transaction((tx) => this.resendBatch(tx, actor, part, opts.threadRef, now));
        refused.push(...r.no);
        for (const o of r.out) {
          asked.push(o.item);
          this.bus.emit({
            type: 'item.credentials-needed',
            item: itemRef(o.item),
            actor,
            sides: o.missing,
            resend: true,
            batch,
          });
        }
      }
    } finally {
      if (asked.length) this.bus.emit({ type: 'batch.end', batch, actor });
    }
    return { asked, refused };
  }

  /**
   * One batch of `resendItems`, inside its transaction: the items read and decided, their rows
   * updated, their open links revoked, their history lines written.
   */
  private async resendBatch(
    tx: Tx,
    actor: Actor,
    part: BulkTarget[],
    threadRef: string | null | undefined,
    now: Date,
  ): Promise<{ out: { item: ItemWithProject; missing: Side[] }[]; no: UserError[] }> {
    const { fresh, missingOf } = await this.readBulk(
      tx,
      part.map((i) => i.id),
    );
    const no: UserError[] = [];
    const out = [...decidedRows('resend', part, fresh, no, () => false)].map((c) => ({
      item: { ...c.row, stopRequested: false, updatedAt: now, threadRef: threadRef || c.row.threadRef },
      missing: missingOf(c.row),
    }));
    const okIds = out.map((o) => o.item.id);
    // Conditional on the status: an item that left WaitingForUser meanwhile is not touched.
    const count = await countInChunks(okIds, (part) =>
      tx.item.updateMany({
        where: { id: { in: part }, status: 'WaitingForUser' },
        data: { stopRequested: false, updatedAt: now, ...(threadRef ? { threadRef } : {}) },
      }),
    );
    if (count !== okIds.length)
      throw new Error(`bulk resend: ${okIds.length - count} of ${okIds.length} items changed while being asked again`);
    await countInChunks(okIds, (part) =>
      tx.credentialLink.updateMany({
        where: { itemId: { in: part }, usedAt: null, revokedAt: null },
        data: { revokedAt: now },
      }),
    );
    await appendHistoryMany(
      tx,
      out.map((o) =>
        itemHistoryEntry(o.item, actor, 'resend', 'WaitingForUser', 'WaitingForUser', { missing: o.missing }),
      ),
    );
    return { out, no };
  }

  /**
   * One read of a batch of items (with their project) and of which credentials they hold,
   * inside a bulk command's transaction; `missingOf` says what an item lacks, as `missingSides` does for one.
   */
  private async readBulk(
    tx: RawTx,
    ids: string[],
  ): Promise<{ fresh: Map<string, ItemWithProject>; missingOf: (item: ItemWithProject) => Side[] }> {
    // PostgreSQL: the items' rows, then their projects' (license pools), are locked until the
    // transaction ends, so another process's change waits rather than being overwritten; each
    // read locks the rows it reads (FOR UPDATE gives each row as it is once locked), one round
    // trip per table. SQLite's transactions are serialised already.
    const lock = dialectOf(tx) === 'postgresql' ? Prisma.sql` ORDER BY "id" FOR UPDATE` : Prisma.empty;
    // Raw reads, each list of ids one bound value: Prisma's findMany with its include cost
    // ~100 µs a row, more than the rest of a bulk start together.
    const rows = await tx.$queryRaw<Item[]>`SELECT ${ITEM_COLUMNS} FROM "Item" WHERE ${inList(tx, 'id', ids)}${lock}`;
    const projectIds = [...new Set(rows.map((r) => r.projectId))];
    const projects = new Map(
      (
        await tx.$queryRaw<Project[]>`SELECT ${PROJECT_COLUMNS} FROM "Project"
          WHERE ${inList(tx, 'id', projectIds)}${lock}`
      ).map((p) => [p.id, p]),
    );
    const fresh = new Map<string, ItemWithProject>();
    for (const r of rows) {
      const project = projects.get(r.projectId);
      if (project) fresh.set(r.id, Object.assign(r, { project }));
    }
    const stored = new Set(
      (
        await tx.$queryRaw<{ itemId: string; side: string }[]>`SELECT "itemId", "side" FROM "Credential"
          WHERE ${inList(tx, 'itemId', ids)}`
      ).map((c) => `${c.itemId}:${c.side}`),
    );
    const missingOf = (f: ItemWithProject) =>
      (['source', 'destination'] satisfies Side[]).filter(
        (side) =>
          !stored.has(`${f.id}:${side}`) &&
          (side === 'source' ? f.project.sourceAuth : f.project.destinationAuth) !== 'admin',
      );
    return { fresh, missingOf };
  }

  /**
   * Stops an item: a waiting or queued one at once (license back, link dead); a running one at the next message
   * boundary. `note` says why in the history.
   */
  async stopItem(
    actor: Actor,
    item: ItemWithProject,
    opts: { note?: string } = {},
  ): Promise<{ item: ItemWithProject; pending: boolean; cancelledStart?: Date }> {
    const r = await this.db.$transaction(async (tx) => {
      // A scheduled start is cancelled; an item that is only scheduled has nothing else to stop.
      const cancelled = await this.cancelStartIn(tx, actor, item);
      if (cancelled && !['WaitingForUser', 'Queued', 'Running'].includes(cancelled.status))
        return { cancelled: cancelled.at };
      const res = await this.transition(tx, actor, item, 'stop', opts.note ? { history: { note: opts.note } } : {});
      if (res.to === 'Stopped') await this.revokeLinks(tx, item.id);
      return { ...res, cancelled: cancelled?.at };
    });
    if (!('item' in r))
      return { item: (await this.itemById(item.id)) ?? item, pending: false, cancelledStart: r.cancelled };
    this.emitStatus(r);
    const pending = r.to === 'Running';
    if (pending) this.bus.emit({ type: 'item.stop-requested', item: itemRef(r.item), actor });
    return { item: r.item, pending, ...(r.cancelled ? { cancelledStart: r.cancelled } : {}) };
  }

  // ------------------------------------------------------------ scheduled starts

  /**
   * Schedules the start of items (`start --at`): at `at` the scheduler submits each one as
   * `start` would. Only items `start` could submit now are scheduled (not waiting, queued
   * or running); a new schedule replaces an earlier one, and the item keeps its status
   * until then. A new thread reference, when given, becomes the items' thread.
   */
  async scheduleStart(
    actor: Actor,
    items: ItemWithProject[],
    at: Date,
    opts: { threadRef?: string | null } = {},
  ): Promise<{ scheduled: ItemWithProject[]; refused: UserError[] }> {
    const scheduled: ItemWithProject[] = [];
    const refused: UserError[] = [];
    for await (const part of yieldingChunks(items, BULK_BATCH)) {
      await this.db.$transaction(async (tx) => {
        const ids = part.map((i) => i.id);
        await lockRows(tx, 'Item', ids);
        const ok: ItemWithProject[] = [];
        for (const f of await tx.item.findMany({
          where: { id: { in: ids } },
          include: ITEM_INCLUDE,
          orderBy: { sourceAddress: 'asc' },
        })) {
          try {
            decide('submit', { address: f.sourceAddress, status: storedStatus(f.status), missingCredentials: false });
            ok.push(f);
          } catch (e) {
            if (!(e instanceof UserError)) throw e;
            refused.push(e);
          }
        }
        if (!ok.length) return;
        const data = {
          startAt: at,
          startBy: JSON.stringify(actor),
          ...(opts.threadRef ? { threadRef: opts.threadRef } : {}),
        };
        await countInChunks(
          ok.map((f) => f.id),
          (chunk) => tx.item.updateMany({ where: { id: { in: chunk } }, data }),
        );
        await appendHistoryMany(
          tx,
          ok.map((f) => ({
            projectId: f.projectId,
            itemId: f.id,
            address: f.sourceAddress,
            actor,
            kind: 'start.scheduled',
            detail: { at: at.toISOString() },
          })),
        );
        scheduled.push(...ok.map((f) => ({ ...f, ...data })));
      });
    }
    return { scheduled, refused };
  }

  /** Cancels an item's scheduled start inside `tx`: when it had one, when that was and the item's status. */
  private async cancelStartIn(
    tx: Tx,
    actor: Actor,
    item: { id: string; projectId: string; sourceAddress: string },
  ): Promise<{ at: Date; status: string } | undefined> {
    await lockRows(tx, 'Item', [item.id]);
    const row = await tx.item.findUnique({ where: { id: item.id }, select: { startAt: true, status: true } });
    if (!row?.startAt) return undefined;
    await tx.item.update({ where: { id: item.id }, data: { startAt: null, startBy: null } });
    await appendHistory(tx, {
      projectId: item.projectId,
      itemId: item.id,
      address: item.sourceAddress,
      actor,
      kind: 'start.cancelled',
      detail: { at: row.startAt.toISOString() },
    });
    return { at: row.startAt, status: row.status };
  }

  /** How many items of a project have a scheduled start, and the earliest. */
  async scheduledStarts(project: Project): Promise<{ count: number; next: Date | null }> {
    const r = await this.db.item.aggregate({
      where: { projectId: project.id, startAt: { not: null } },
      _count: { _all: true },
      _min: { startAt: true },
    });
    return { count: r._count._all, next: r._min.startAt };
  }

  /**
   * Holds a queued item until `at` (the end user chose to start later on the form): the
   * runner claims it from then on; `stop` cancels it like any scheduled start.
   */
  async deferQueued(actor: Actor, item: ItemWithProject, at: Date): Promise<boolean> {
    return this.db.$transaction(async (tx) => {
      const { count } = await tx.item.updateMany({
        where: { id: item.id, status: 'Queued' },
        data: { startAt: at, startBy: JSON.stringify(actor) },
      });
      if (count)
        await appendHistory(tx, {
          projectId: item.projectId,
          itemId: item.id,
          address: item.sourceAddress,
          actor,
          kind: 'start.scheduled',
          detail: { at: at.toISOString() },
        });
      return count === 1;
    });
  }

  /**
   * Items whose scheduled start is due at `now`, the earliest first (queued ones held by `deferQueued` are the
   * runner's).
   */
  async dueStarts(now: Date, limit = BULK_BATCH): Promise<ItemWithProject[]> {
    return this.db.item.findMany({
      where: { startAt: { lte: now }, status: { notIn: ['WaitingForUser', 'Queued', 'Running'] } },
      orderBy: [{ startAt: 'asc' }, { sourceAddress: 'asc' }],
      take: limit,
      include: ITEM_INCLUDE,
    });
  }

  /**
   * Claims due scheduled starts for this process: each start is moved a lease ahead,
   * conditionally on the time this process read, so two schedulers never both fire it and a
   * process that dies before starting it leaves it to fire again when the lease runs out.
   * Returns the items claimed with the actor who scheduled them.
   */
  async claimStarts(items: ItemWithProject[], now: Date): Promise<{ item: ItemWithProject; actor: Actor }[]> {
    const out: { item: ItemWithProject; actor: Actor }[] = [];
    for (const item of items) {
      if (!item.startAt) continue;
      const { count } = await this.db.item.updateMany({
        where: { id: item.id, startAt: item.startAt },
        data: { startAt: new Date(now.getTime() + LEASE_MS) },
      });
      if (count) out.push({ item, actor: actorOf(item.startBy) });
    }
    return out;
  }

  /**
   * Drops a scheduled start that could not be made (the item's state or the license pool refused it), with why in the
   * history.
   */
  async dropStart(item: ItemWithProject, why: UserError): Promise<void> {
    await this.db.$transaction(async (tx) => {
      const { count } = await tx.item.updateMany({
        where: { id: item.id, startAt: { not: null } },
        data: { startAt: null, startBy: null },
      });
      if (count)
        await appendHistory(tx, {
          projectId: item.projectId,
          itemId: item.id,
          address: item.sourceAddress,
          actor: SYSTEM_ACTOR,
          kind: 'start.refused',
          detail: { message: why.message },
        });
    });
  }

  /** Deletes an item: its statistics and credentials go, the mail at the destination and a consumed license stay. */
  async deleteItem(actor: Actor, item: ItemWithProject): Promise<void> {
    const r = await this.db.$transaction((tx) =>
      this.transition(tx, actor, item, 'delete', { history: { licenseKept: item.license === 'consumed' } }),
    );
    this.bus.emit({ type: 'item.deleted', item: itemRef(r.item), actor });
  }

  /** Forgets stored credentials of one or both sides; a later `start` sends a new request. */
  async clearCredentials(actor: Actor, item: ItemWithProject, sides: Sides): Promise<Side[]> {
    const list = sidesOf(sides);
    await this.db.$transaction(async (tx) => {
      await this.transition(tx, actor, item, 'clear-credentials', { history: { sides: list } });
      await tx.credential.deleteMany({ where: { itemId: item.id, side: { in: list } } });
      await this.revokeLinks(tx, item.id);
    });
    this.bus.emit({ type: 'item.credentials-cleared', item: itemRef(item), actor, sides: list });
    return list;
  }

  /**
   * Before a failed item is started again: when it failed because a server refused one side's
   * stored credentials, forgets them (as `clear-credentials` would), so the start asks the
   * user again instead of retrying a password already refused. Returns the side forgotten,
   * or null (another failure, nothing stored for that side, or the item is gone).
   */
  async forgetRefusedCredentials(
    actor: Actor,
    item: Pick<Item, 'id' | 'status' | 'failureReason'>,
  ): Promise<Side | null> {
    if (item.status !== 'Failed') return null;
    const side: Side | null =
      item.failureReason === 'SourceCredentials'
        ? 'source'
        : item.failureReason === 'DestinationCredentials'
          ? 'destination'
          : null;
    if (!side) return null;
    if (
      !(await this.db.credential.findUnique({
        where: { itemId_side: { itemId: item.id, side } },
        select: { itemId: true },
      }))
    )
      return null;
    // The item as it is now (the caller may hold a few columns of an older read).
    const full = await this.itemById(item.id);
    if (!full) return null;
    await this.clearCredentials(actor, full, side);
    return side;
  }

  /** Asks the end user again (new link; the old one dies). Only for a waiting item. */
  async resend(actor: Actor, item: ItemWithProject): Promise<Side[]> {
    const missing = await this.missingSides(item);
    await this.db.$transaction(async (tx) => {
      await this.transition(tx, actor, item, 'resend', { history: { missing } });
      await this.revokeLinks(tx, item.id);
    });
    this.bus.emit({ type: 'item.credentials-needed', item: itemRef(item), actor, sides: missing, resend: true });
    return missing;
  }

  /** Checks that an admin may open the form for an item (admin-assisted entry). */
  async checkFormAllowed(_actor: Actor, item: ItemWithProject): Promise<Side[]> {
    decide('form', { address: item.sourceAddress, status: storedStatus(item.status), missingCredentials: false });
    const missing = await this.missingSides(item);
    return missing.length ? missing : ['source', 'destination'];
  }

  /** Kills every open link of an item (stop, clear, delete, a newer request). */
  async revokeLinks(tx: Tx, itemId: string): Promise<void> {
    await tx.credentialLink.updateMany({
      where: { itemId, usedAt: null, revokedAt: null },
      data: { revokedAt: this.now() },
    });
  }

  /**
   * Stores a credential for one side (sealed by the vault). When the item was waiting and
   * nothing is missing any more, it is submitted at once (`Queued`).
   */
  async setCredential(
    actor: Actor,
    item: ItemWithProject,
    side: Side,
    login: string,
    secret: SecretValue,
  ): Promise<ItemWithProject> {
    const sealed = this.vault.seal(item.id, side, secret);
    const r = await this.db.$transaction(async (tx) => {
      await tx.credential.upsert({
        where: { itemId_side: { itemId: item.id, side } },
        create: { itemId: item.id, side, login, ...bytes(sealed) },
        update: { login, ...bytes(sealed), createdAt: this.now() },
      });
      const loginField = side === 'source' ? 'sourceLogin' : 'destinationLogin';
      await tx.item.update({ where: { id: item.id }, data: { [loginField]: login } });
      const fresh = await tx.item.findUniqueOrThrow({ where: { id: item.id }, include: ITEM_INCLUDE });
      if (fresh.status !== 'WaitingForUser') {
        await appendHistory(tx, {
          projectId: item.projectId,
          itemId: item.id,
          address: item.sourceAddress,
          actor,
          kind: 'credentials.stored',
          detail: { side },
        });
        return { item: fresh, from: storedStatus(fresh.status), to: storedStatus(fresh.status) };
      }
      const missing = await this.missingSides(fresh, tx);
      return this.transition(tx, actor, fresh, 'credentials-received', {
        missing: missing.length > 0,
        history: { side },
      });
    });
    this.bus.emit({ type: 'item.credentials-received', item: itemRef(r.item), actor, sides: [side] });
    this.emitStatus(r);
    return r.item;
  }

  /** The stored credential of one side, opened; undefined when unknown. */
  async credentialOf(itemId: string, side: Side): Promise<{ login: string; secret: SecretValue } | undefined> {
    const c = await this.db.credential.findUnique({ where: { itemId_side: { itemId, side } } });
    if (!c) return undefined;
    return { login: c.login, secret: this.vault.open(itemId, side, c) };
  }

  /**
   * Replaces the secret of a stored credential in place (sealed again, same login), without
   * a status change or history entry: a refresh token the authority rotated during a pass.
   * Does nothing when the credential is gone (cleared meanwhile).
   */
  async resealSecret(itemId: string, side: Side, secret: SecretValue): Promise<void> {
    const sealed = this.vault.seal(itemId, side, secret);
    await this.db.credential.updateMany({ where: { itemId, side }, data: bytes(sealed) });
  }

  /** The end user's credentials were refused for the last time: the item fails with the side that was refused. */
  async failCredentials(item: ItemWithProject, side: Side, detail: string): Promise<ItemWithProject> {
    const actor: Actor = { surface: 'form', id: item.sourceAddress };
    const reason: FailureReason = side === 'source' ? 'SourceCredentials' : 'DestinationCredentials';
    const r = await this.db.$transaction(async (tx) => {
      const res = await this.transition(tx, actor, item, 'credentials-refused', { reason, detail });
      await this.revokeLinks(tx, item.id);
      return res;
    });
    this.emitStatus(r);
    return r.item;
  }

  // ------------------------------------------------------- admin credentials

  /**
   * Which sides of a project have admin credentials, and of what kind (`m365-signin`: an app for the users' own
   * sign-in); never the secret.
   */
  async adminSides(projectId: string): Promise<{ side: Side; kind: AdminSecret['kind'] | 'm365-signin' }[]> {
    const [project, rows] = await Promise.all([
      this.db.project.findUnique({ where: { id: projectId }, select: { sourceAuth: true, destinationAuth: true } }),
      this.db.projectCredential.findMany({
        where: { projectId },
        select: { side: true, kind: true },
        orderBy: { side: 'desc' },
      }),
    ]);
    return rows.map((r) => {
      const side = storedSide(r.side);
      const covers = (side === 'source' ? project?.sourceAuth : project?.destinationAuth) === 'admin';
      return { side, kind: r.kind === 'm365-app' && !covers ? 'm365-signin' : (r.kind as AdminSecret['kind']) };
    });
  }

  /** The admin credentials of one side of a project, opened; undefined when there are none. */
  async adminCredentialOf(projectId: string, side: Side): Promise<AdminSecret | undefined> {
    const row = await this.db.projectCredential.findUnique({ where: { projectId_side: { projectId, side } } });
    return row ? this.vault.openAdmin(projectId, side, row) : undefined;
  }

  /**
   * Keeps verified admin credentials for one side of a project (sealed by the vault): from
   * now on no mailbox waits for its user on that side. Mailboxes that were waiting only for
   * that side are queued at once (their open links die). Returns how many were queued.
   */
  async setAdminCredential(
    actor: Actor,
    project: Project,
    side: Side,
    secret: AdminSecret,
  ): Promise<{ project: Project; queued: number }> {
    const sealed = this.vault.sealAdmin(project.id, side, secret);
    const authField = side === 'source' ? 'sourceAuth' : 'destinationAuth';
    const p = await this.db.$transaction(async (tx) => {
      const row = { kind: secret.kind, ...bytes(sealed), createdBy: actorKey(actor), createdAt: this.now() };
      await tx.projectCredential.upsert({
        where: { projectId_side: { projectId: project.id, side } },
        create: { projectId: project.id, side, ...row },
        update: row,
      });
      // An app registration for the users' own sign-in leaves them asked (with a Sign in with Microsoft button).
      const covers = !(secret.kind === 'm365-app' && secret.use === 'signin');
      const selfSides = sidesOf(storedSides(project.selfService));
      const auth = covers ? 'admin' : selfSides.includes(side) ? 'self-service' : 'per-user';
      const updated = await tx.project.update({ where: { id: project.id }, data: { [authField]: auth } });
      await appendHistory(tx, {
        projectId: project.id,
        actor,
        kind: 'project.admin-connected',
        detail: { side, kind: secret.kind, ...(secret.kind === 'm365-app' ? { use: secret.use ?? 'app' } : {}) },
      });
      return updated;
    });
    let queued = 0;
    for (const item of await this.itemsWithStatus(p, ['WaitingForUser'])) {
      if ((await this.missingSides(item)).length) continue;
      try {
        const r = await this.db.$transaction(async (tx) => {
          const res = await this.transition(tx, actor, item, 'credentials-received', {
            missing: false,
            history: { side, via: 'admin credentials' },
          });
          await this.revokeLinks(tx, item.id);
          return res;
        });
        this.emitStatus(r);
        queued++;
      } catch (e) {
        if (!(e instanceof UserError)) throw e; // stopped or claimed meanwhile
      }
    }
    return { project: p, queued };
  }

  /**
   * Forgets the admin credentials of one side: its mailboxes need their own credentials again. False when there were
   * none.
   */
  async clearAdminCredential(actor: Actor, project: Project, side: Side): Promise<boolean> {
    const authField = side === 'source' ? 'sourceAuth' : 'destinationAuth';
    const selfSides = sidesOf(storedSides(project.selfService));
    return this.db.$transaction(async (tx) => {
      const { count } = await tx.projectCredential.deleteMany({ where: { projectId: project.id, side } });
      await tx.projectLink.updateMany({
        where: { projectId: project.id, side, usedAt: null, revokedAt: null },
        data: { revokedAt: this.now() },
      });
      if (!count) return false;
      await tx.project.update({
        where: { id: project.id },
        data: { [authField]: selfSides.includes(side) ? 'self-service' : 'per-user' },
      });
      await appendHistory(tx, { projectId: project.id, actor, kind: 'project.admin-cleared', detail: { side } });
      return true;
    });
  }

  // ----------------------------------------------------------- runner hooks

  /** Takes the oldest queued item for a pass (`Queued` → `Running`); undefined when none. */
  async claimNext(excludeIds: string[] = [], skipProjects: string[] = []): Promise<ItemWithProject | undefined> {
    if (dialectOf(this.db) === 'postgresql') return this.claimNextLocked(excludeIds, skipProjects);
    for (;;) {
      const next = await this.db.item.findFirst({
        where: {
          status: 'Queued',
          id: { notIn: excludeIds },
          projectId: { notIn: skipProjects },
          OR: [{ startAt: null }, { startAt: { lte: this.now() } }],
        },
        orderBy: { updatedAt: 'asc' },
        include: ITEM_INCLUDE,
      });
      if (!next) return undefined;
      try {
        const r = await this.db.$transaction(async (tx) => {
          // Claim with a conditional update so two workers never take the same item.
          const { count } = await tx.item.updateMany({
            where: { id: next.id, status: 'Queued' },
            data: { status: 'Queued' },
          });
          if (count !== 1) return undefined;
          return this.claimIn(tx, next);
        });
        if (!r) continue;
        this.emitStatus(r);
        return r.item;
      } catch (e) {
        if (e instanceof UserError) continue; // someone else claimed it first
        throw e;
      }
    }
  }

  /**
   * claimNext on PostgreSQL: the oldest queued item that no other transaction holds is
   * locked and taken in one transaction (`FOR UPDATE SKIP LOCKED`), so workers on any
   * number of hosts claim different items side by side and never the same one. Items queued
   * in the same millisecond (a bulk start) go in address order (SQLite: in insertion order).
   */
  private async claimNextLocked(excludeIds: string[], skipProjects: string[]): Promise<ItemWithProject | undefined> {
    for (;;) {
      const r = await this.db.$transaction(async (tx) => {
        const rows = await tx.$queryRaw<{ id: string }[]>`SELECT "id" FROM "Item" WHERE "status" = 'Queued'
          ${excludeIds.length ? Prisma.sql`AND "id" NOT IN (${Prisma.join(excludeIds)})` : Prisma.empty}
          ${skipProjects.length ? Prisma.sql`AND "projectId" NOT IN (${Prisma.join(skipProjects)})` : Prisma.empty}
          AND ("startAt" IS NULL OR "startAt" <= ${this.now()})
          ORDER BY "updatedAt", "createdAt", "sourceAddress", "id" LIMIT 1 FOR UPDATE SKIP LOCKED`;
        const [row] = rows;
        if (!row) return null;
        const next = await tx.item.findUniqueOrThrow({ where: { id: row.id }, include: ITEM_INCLUDE });
        try {
          return await this.claimIn(tx, next);
        } catch (e) {
          if (e instanceof UserError) return undefined; // refused by the state machine: look again
          throw e;
        }
      });
      if (r === null) return undefined;
      if (!r) continue;
      this.emitStatus(r);
      return r.item;
    }
  }

  /** The claim itself (`Queued` → `Running` with this process's lease), inside the claiming transaction. */
  private claimIn(tx: Tx, next: ItemWithProject): Promise<Transitioned> {
    return this.transition(tx, SYSTEM_ACTOR, next, 'claim', {
      data: {
        startAt: null,
        startBy: null,
        passCount: { increment: 1 },
        lastPassAt: this.now(),
        leaseUntil: new Date(this.now().getTime() + LEASE_MS),
        leaseOwner: LEASE_OWNER,
      },
      history: { pass: next.passKind },
    });
  }

  /** A pass started moving data: the reserved license is consumed for good. */
  async markDataMoved(itemId: string): Promise<void> {
    const item = await this.db.item.findUnique({ where: { id: itemId } });
    if (!item || item.license === 'consumed') return;
    await this.db.$transaction(async (tx) => {
      const { count } = await tx.item.updateMany({
        where: { id: itemId, license: { not: 'consumed' } },
        data: { license: 'consumed' },
      });
      // An item started with an unlimited pool that was never reserved still counts as used.
      if (count && item.license === 'none')
        await tx.project.update({ where: { id: item.projectId }, data: { licensesUsed: { increment: 1 } } });
      if (count)
        await appendHistory(tx, {
          projectId: item.projectId,
          itemId,
          address: item.sourceAddress,
          actor: SYSTEM_ACTOR,
          kind: 'license.consumed',
        });
    });
  }

  /** Keeps a running pass's lease alive (the runner calls it while the pass runs). */
  async renewLease(itemId: string): Promise<void> {
    await this.db.item.updateMany({
      where: { id: itemId, status: 'Running' },
      data: { leaseUntil: new Date(this.now().getTime() + LEASE_MS), leaseOwner: LEASE_OWNER },
    });
  }

  /** Whether an admin asked the running pass of an item to stop. */
  async stopRequested(itemId: string): Promise<boolean> {
    const item = await this.db.item.findUnique({
      where: { id: itemId },
      select: { stopRequested: true, status: true },
    });
    return !item || item.stopRequested;
  }

  /** Records a pass's outcome and figures (`Running` → `Completed` / `Failed` / `Stopped`). */
  async finishPass(
    itemId: string,
    outcome: 'completed' | 'failed' | 'stopped',
    figures: PassFigures,
    failure?: { reason: FailureReason; detail?: string },
  ): Promise<ItemWithProject | undefined> {
    const item = await this.itemById(itemId);
    if (!item) return undefined;
    const action: ItemAction =
      outcome === 'completed' ? 'pass-completed' : outcome === 'failed' ? 'pass-failed' : 'pass-stopped';
    const r = await this.db.$transaction(async (tx) => {
      const res = await this.transition(tx, SYSTEM_ACTOR, item, action, {
        reason: failure?.reason,
        detail: failure?.detail,
        data: {
          messagesFound: figures.messagesFound,
          bytesFound: BigInt(figures.bytesFound),
          messagesCopied: { increment: figures.messagesCopied },
          bytesCopied: { increment: BigInt(figures.bytesCopied) },
          messagesPresent: figures.messagesPresent,
          messagesSkipped: figures.messagesSkipped,
          lastPassMs: figures.durationMs,
          // The verification of this pass replaces the last one's; a pass that verified nothing keeps it.
          ...(figures.verification ? { lastVerification: JSON.stringify(figures.verification) } : {}),
        },
        history: { figures },
        figures,
      });
      if (res.to === 'Completed' && readProjectOptions(item.project.options).options.wipeCredentialsOnComplete) {
        await tx.credential.deleteMany({ where: { itemId } });
        await appendHistory(tx, {
          projectId: item.projectId,
          itemId,
          address: item.sourceAddress,
          actor: SYSTEM_ACTOR,
          kind: 'credentials.wiped',
          detail: { why: 'project wipes credentials after completion' },
        });
      }
      return res;
    });
    this.emitStatus(r);
    return r.item;
  }

  /**
   * Items left `Running` by a process that died: back to `Queued` so a worker resumes them
   * from their checkpoints (or `Stopped`, when an admin had asked). A process is taken for
   * dead when its lease ran out, or at once when it ran on this host and is gone (a server
   * restarted after a crash resumes its passes without waiting for their leases). Passes of
   * live processes, which renew their lease, are left alone, and so are `excludeIds`: the
   * caller's own passes (one waiting to record its outcome cannot renew its lease while
   * the database is full).
   */
  async requeueOrphans(excludeIds: string[] = []): Promise<number> {
    const now = this.now();
    const running = await this.db.item.findMany({
      where: { status: 'Running', id: { notIn: excludeIds } },
      include: ITEM_INCLUDE,
    });
    const rows = running.filter((i) => !i.leaseUntil || i.leaseUntil < now || leaseHolderGone(i.leaseOwner));
    let count = 0;
    for (const item of rows) {
      const stop = item.stopRequested;
      const r = await this.db.$transaction(async (tx) => {
        // Conditional on what was read: a worker that renewed or re-claimed it meanwhile keeps it.
        const { count: taken } = await tx.item.updateMany({
          where: { id: item.id, status: 'Running', leaseUntil: item.leaseUntil, leaseOwner: item.leaseOwner },
          data: { leaseUntil: null, leaseOwner: null },
        });
        if (!taken) return undefined;
        return this.transition(tx, SYSTEM_ACTOR, item, stop ? 'pass-stopped' : 'pass-interrupted', {
          kind: 'recovered',
          history: { why: 'the process running the pass ended; resuming from the last checkpoint' },
        });
      });
      if (!r) continue;
      count++;
      this.emitStatus(r);
    }
    return count;
  }

  /**
   * A pass ended by shutdown, not by an admin: the item goes back to `Queued` (`Running` →
   * `Queued`) and the pass resumes from its checkpoint on the next start.
   */
  async interruptPass(itemId: string, figures: PassFigures): Promise<void> {
    const item = await this.itemById(itemId);
    if (!item) return;
    const r = await this.db.$transaction((tx) =>
      this.transition(tx, SYSTEM_ACTOR, item, 'pass-interrupted', {
        kind: 'interrupted',
        data: { leaseUntil: null, leaseOwner: null },
        history: { why: 'MailFerry is shutting down; the pass resumes from its checkpoint on the next start', figures },
      }),
    );
    this.emitStatus(r);
  }

  /**
   * A pass paused at a checkpoint because the project's copy window closed: the item goes
   * back to `Queued` (`Running` → `Queued`) and the runner resumes it once the window is
   * open again (`until`).
   */
  async pausePass(itemId: string, figures: PassFigures, until: Date): Promise<void> {
    const item = await this.itemById(itemId);
    if (!item) return;
    const timeZone = projectZone(item.project);
    const r = await this.db.$transaction((tx) =>
      this.transition(tx, SYSTEM_ACTOR, item, 'pass-interrupted', {
        kind: 'paused',
        // What the pass copied so far counts (the resumed pass adds the rest).
        data: {
          leaseUntil: null,
          leaseOwner: null,
          messagesCopied: { increment: figures.messagesCopied },
          bytesCopied: { increment: BigInt(figures.bytesCopied) },
        },
        history: {
          why: 'the copy window closed; the pass resumes from its checkpoint when it opens',
          until: until.toISOString(),
          figures,
        },
        figures,
        paused: { until, timeZone },
      }),
    );
    this.emitStatus(r);
  }

  /**
   * Projects whose copy window is closed at `now`, with when each opens: the runner claims
   * none of their items until then.
   */
  async closedWindows(now: Date): Promise<Map<string, Date>> {
    const projects = await this.db.project.findMany({
      where: { options: { contains: '"window"' } },
      select: { id: true, options: true, digestTz: true },
    });
    const closed = new Map<string, Date>();
    for (const p of projects) {
      const s = projectWindowState(p, now);
      if (s && !s.open) closed.set(p.id, s.next);
    }
    return closed;
  }

  /** Where `now` falls in a project's copy window; undefined when the project has none. */
  async windowNow(projectId: string, now: Date): Promise<WindowState | undefined> {
    const p = await this.db.project.findUnique({ where: { id: projectId }, select: { options: true, digestTz: true } });
    return p ? projectWindowState(p, now) : undefined;
  }

  // ------------------------------------------------------------------ status

  /**
   * Counts per status (one grouped count), the first `listLimit` items by address, and the
   * license pool of a project. A status of 10,000 mailboxes is a summary: the items beyond
   * the list are counted, not read.
   */
  async projectStatus(project: Project, listLimit = 40): Promise<ProjectStatus> {
    const p = await this.db.project.findUniqueOrThrow({ where: { id: project.id } });
    const [groups, items] = await Promise.all([
      this.db.item.groupBy({ by: ['status'], where: { projectId: p.id }, _count: { _all: true } }),
      this.db.item.findMany({ where: { projectId: p.id }, orderBy: { sourceAddress: 'asc' }, take: listLimit }),
    ]);
    const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<ItemStatus, number>;
    for (const g of groups) counts[storedStatus(g.status)] = g._count._all;
    return {
      project: p,
      counts,
      total: groups.reduce((n, g) => n + g._count._all, 0),
      items,
      licenses: {
        total: p.licensesTotal,
        used: p.licensesUsed,
        left: p.licensesTotal == null ? null : p.licensesTotal - p.licensesUsed,
      },
    };
  }

  /** Items per status and licenses of a project, without reading its items (overviews). */
  async projectCounts(
    project: Project,
  ): Promise<{ counts: Record<ItemStatus, number>; total: number; licenses: ProjectStatus['licenses'] }> {
    const p = await this.db.project.findUniqueOrThrow({ where: { id: project.id } });
    const rows = await this.db.item.groupBy({ by: ['status'], where: { projectId: p.id }, _count: { _all: true } });
    const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<ItemStatus, number>;
    for (const r of rows) counts[storedStatus(r.status)] = r._count._all;
    return {
      counts,
      total: rows.reduce((n, r) => n + r._count._all, 0),
      licenses: {
        total: p.licensesTotal,
        used: p.licensesUsed,
        left: p.licensesTotal == null ? null : p.licensesTotal - p.licensesUsed,
      },
    };
  }

  /**
   * The items of a project in one of `statuses`, by source address, as a bulk start needs
   * them (`startItems` reads each row afresh): a few columns, the project shared.
   */
  async startTargets(project: Project, statuses: ItemStatus[]): Promise<StartTarget[]> {
    // Raw (on SQLite without Prisma's client: rawRead), the statuses one bound value.
    const rows = await rawRead<Pick<Item, 'id' | 'sourceAddress' | 'status' | 'failureReason'>>(
      this.db,
      Prisma.sql`SELECT "id", "sourceAddress", "status", "failureReason" FROM "Item"
        WHERE "projectId" = ${project.id} AND ${inList(this.db, 'status', statuses)} ORDER BY "sourceAddress"`,
    );
    return rows.map((r) => ({ ...r, project }));
  }

  /** Items of a project in the given statuses, by address. */
  async itemsWithStatus(project: Project, statuses: ItemStatus[]): Promise<ItemWithProject[]> {
    return this.db.item.findMany({
      where: { projectId: project.id, status: { in: statuses } },
      include: ITEM_INCLUDE,
      orderBy: { sourceAddress: 'asc' },
    });
  }

  /** How many items are queued or running, in every project. */
  async activeCount(): Promise<number> {
    return this.db.item.count({ where: { status: { in: ['Queued', 'Running'] } } });
  }

  /** Addresses and statuses of the items whose posts go to a thread (live summaries of anchors). */
  async itemsInThread(threadRef: string): Promise<{ sourceAddress: string; status: ItemStatus }[]> {
    const rows = await this.db.item.findMany({
      where: { threadRef },
      select: { sourceAddress: true, status: true },
      orderBy: { sourceAddress: 'asc' },
    });
    return rows.map((r) => ({ sourceAddress: r.sourceAddress, status: storedStatus(r.status) }));
  }

  /** The history of one item, oldest first (the latest `limit` events). */
  async history(itemId: string, limit?: number) {
    return itemHistory(this.db, itemId, limit);
  }

  /** The passes of one item that ended (completed, failed, stopped, interrupted), oldest first: the latest `limit`. */
  async passHistory(itemId: string, limit = 20) {
    const rows = await this.db.itemEvent.findMany({
      where: { itemId, kind: { in: PASS_END_KINDS } },
      orderBy: { id: 'desc' },
      take: limit,
    });
    return rows.reverse().map((r) => ({
      at: r.at,
      kind: r.kind,
      toStatus: r.toStatus,
      detail: JSON.parse(r.detail) as Record<string, unknown>,
    }));
  }

  /** How many history events one item has in all. */
  async historyCount(itemId: string) {
    return itemHistoryCount(this.db, itemId);
  }

  /** The copy figures of an item per folder (cumulative over passes), and the messages a destination refused. */
  async itemFolders(itemId: string) {
    const [folders, skipped, altered] = await Promise.all([
      this.db.folderState.findMany({ where: { itemId }, orderBy: { sourceFolder: 'asc' } }),
      this.db.skippedMessage.findMany({ where: { itemId }, orderBy: [{ sourceFolder: 'asc' }, { uid: 'asc' }] }),
      this.db.alteredMessage.findMany({ where: { itemId }, orderBy: [{ sourceFolder: 'asc' }, { uid: 'asc' }] }),
    ]);
    return { folders, skipped, altered };
  }

  /** Appends a free history entry about an item (outreach results, delivery failures). */
  async note(
    item: { id: string; projectId: string; sourceAddress: string },
    actor: Actor,
    kind: string,
    detail: Record<string, unknown>,
  ): Promise<void> {
    await appendHistory(this.db, {
      projectId: item.projectId,
      itemId: item.id,
      address: item.sourceAddress,
      actor,
      kind,
      detail,
    });
  }

  /** Writes a project's history line (no item). */
  async noteProject(projectId: string, actor: Actor, kind: string, detail: Record<string, unknown>): Promise<void> {
    await appendHistory(this.db, { projectId, actor, kind, detail });
  }

  /** A project by its id, or null. */
  async projectById(id: string): Promise<Project | null> {
    return this.db.project.findUnique({ where: { id } });
  }

  /** Whether the project holds admin credentials for a side. */
  async hasAdminCredential(projectId: string, side: Side): Promise<boolean> {
    return !!(await this.db.projectCredential.findUnique({
      where: { projectId_side: { projectId, side } },
      select: { side: true },
    }));
  }

  /** The logins of the project's first mailbox (the admin form's suggested test mailbox), or null. */
  async firstItemLogins(projectId: string): Promise<{ sourceLogin: string; destinationLogin: string } | null> {
    return this.db.item.findFirst({
      where: { projectId },
      orderBy: { createdAt: 'asc' },
      select: { sourceLogin: true, destinationLogin: true },
    });
  }
}

/** The history line of a bulk command's change to one item. */
function itemHistoryEntry(
  item: Item,
  actor: Actor,
  kind: string,
  fromStatus: ItemStatus,
  toStatus: ItemStatus,
  detail: Record<string, unknown>,
): HistoryEntry {
  return {
    projectId: item.projectId,
    itemId: item.id,
    address: item.sourceAddress,
    actor,
    kind,
    fromStatus,
    toStatus,
    detail,
  };
}

/**
 * The project as it is now, its row locked until the transaction ends, before its license
 * pool is checked and changed (PostgreSQL: two processes reserving the last license at once
 * take turns). On SQLite, whose transactions are serialised, the row read with the item is
 * already the truth.
 */
async function lockedProject(tx: Tx, p: Project): Promise<Project> {
  if (dialectOf(tx) !== 'postgresql') return p;
  await lockRows(tx, 'Project', [p.id]);
  return tx.project.findUniqueOrThrow({ where: { id: p.id } });
}

/** The event of a status change, from the item after it. */
function statusEvent(
  actor: Actor,
  item: ItemWithProject,
  from: ItemStatus,
  to: ItemStatus,
  figures?: PassFigures,
): ItemStatusEvent {
  return {
    type: 'item.status',
    item: itemRef(item),
    actor,
    from,
    to,
    reason: item.failureReason && isFailureReason(item.failureReason) ? item.failureReason : undefined,
    detail: item.failureDetail ?? undefined,
    figures,
  };
}

/** A hook run inside the transaction of a status change (see {@link Engine.onStatusChange}). */
export type StatusHook = (tx: Tx, event: ItemStatusEvent) => Promise<void>;

/** What a transition did: the item after it, the statuses, and the event when the status changed. */
interface Transitioned {
  item: ItemWithProject;
  from: ItemStatus;
  to: ItemStatus;
  event?: ItemStatusEvent;
}

function bytes(s: { nonce: Uint8Array; ciphertext: Uint8Array; tag: Uint8Array; keyId: string }) {
  return {
    nonce: Uint8Array.from(s.nonce),
    ciphertext: Uint8Array.from(s.ciphertext),
    tag: Uint8Array.from(s.tag),
    keyId: s.keyId,
  };
}

/** The actor a stored `startBy` names (the admin who scheduled a start); the system when it does not read. */
function actorOf(stored: string | null): Actor {
  try {
    const a = JSON.parse(stored ?? '') as Actor;
    if (typeof a?.surface === 'string' && typeof a.id === 'string')
      return { surface: a.surface, id: a.id, ...(typeof a.name === 'string' ? { name: a.name } : {}) };
  } catch {
    /* the system starts it */
  }
  return SYSTEM_ACTOR;
}

/** The options of `Engine.addItems`. */
interface AddOptions {
  ask?: Sides;
  notify?: NotifyVia;
  threadRef: string | null;
}

/** A row of an add that is well formed, with its addresses normalised. */
interface AddCandidate {
  row: AddRow;
  source: string;
  destination: string;
}

/**
 * The rows of an add that are well formed and not repeated in the file, and the refusal of each
 * other row with its line and reason.
 */
function checkAddRows(rows: AddRow[]): { valid: AddCandidate[]; refused: RefusedRow[] } {
  const refused: RefusedRow[] = [];
  const valid: AddCandidate[] = [];
  const seen = new Map<string, number | undefined>();
  for (const row of rows) {
    const input = [row.source, row.destination].filter(Boolean).join(',');
    try {
      const source = normaliseAddress(row.source, 'source address');
      const destination = row.destination ? normaliseAddress(row.destination, 'destination address') : source;
      if (row.sourceLogin) refuseInvisible(row.sourceLogin.trim(), 'source login');
      if (row.destinationLogin) refuseInvisible(row.destinationLogin.trim(), 'destination login');
      const key = source.toLowerCase();
      if (seen.has(key)) {
        const first = seen.get(key);
        throw new UserError('DUPLICATE_ROW', `${source} appears twice${first ? ` (first on line ${first})` : ''}.`);
      }
      seen.set(key, row.line);
      valid.push({ row, source, destination });
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      refused.push({ line: row.line, input, reason: e.message });
    }
  }
  return { valid, refused };
}

/**
 * A new item's row, built here with the schema's defaults (the `Item` type makes a new column
 * a compile error until it is set here too).
 */
function newItem(project: Project, v: AddCandidate, opts: AddOptions, createdBy: string, now: Date): Item {
  return {
    id: randomUUID(),
    projectId: project.id,
    sourceAddress: v.source,
    destinationAddress: v.destination,
    sourceLogin: v.row.sourceLogin?.trim() || v.source,
    destinationLogin: v.row.destinationLogin?.trim() || v.destination,
    status: 'NotStarted',
    failureReason: null,
    failureDetail: null,
    ask: opts.ask ?? project.selfService,
    notify: opts.notify ?? project.notify,
    threadRef: opts.threadRef,
    license: 'none',
    passCount: 0,
    passKind: 'full',
    stopRequested: false,
    leaseUntil: null,
    leaseOwner: null,
    messagesFound: 0,
    bytesFound: 0n,
    messagesCopied: 0,
    bytesCopied: 0n,
    messagesPresent: 0,
    messagesSkipped: 0,
    lastPassMs: 0,
    lastPassAt: null,
    lastVerification: null,
    startAt: null,
    startBy: null,
    createdBy,
    createdAt: now,
    updatedAt: now,
  };
}

/** What a state-machine action brings besides the action itself (`Engine.transition`). */
interface TransitionExtra {
  missing?: boolean;
  reason?: FailureReason;
  detail?: string;
  data?: Record<string, unknown>;
  history?: Record<string, unknown>;
  /** The history entry's kind, when it is not the action's name. */
  kind?: string;
  /** A pass's figures, for the status event. */
  figures?: PassFigures;
  /** A pass paused outside the copy window, for the status event. */
  paused?: ItemStatusEvent['paused'];
}

/** The fields a transition writes to the item's row, but its license. */
function transitionData(
  action: ItemAction,
  d: Decision,
  from: ItemStatus,
  extra: TransitionExtra,
): Record<string, unknown> {
  const data: Record<string, unknown> = { status: d.to, ...extra.data };
  if (d.stopRequested) data.stopRequested = true;
  // A start (by hand or on schedule) replaces a scheduled one.
  if (action === 'submit') Object.assign(data, { startAt: null, startBy: null });
  // Entering Failed records why; an admin command on a failed item (clear-credentials, form)
  // leaves it Failed and keeps the reason the pass or the server gave.
  if (d.to === 'Failed' && (from !== 'Failed' || extra.reason)) {
    data.failureReason = extra.reason ?? 'Internal';
    data.failureDetail = extra.detail ?? null;
  } else if (d.to !== from) {
    data.failureReason = null;
    data.failureDetail = null;
  }
  return data;
}

/** The item's license after a transition from `from` to `to`, the project's pool changed to match. */
async function moveLicense(tx: Tx, fresh: ItemWithProject, from: ItemStatus, to: ItemStatus): Promise<string> {
  let license = fresh.license;
  // A license is reserved from the pool when the item is submitted…
  if (
    (to === 'Queued' || to === 'WaitingForUser') &&
    from !== 'WaitingForUser' &&
    from !== 'Running' &&
    license === 'none'
  ) {
    const p = await lockedProject(tx, fresh.project);
    if (p.licensesTotal != null && p.licensesUsed >= p.licensesTotal)
      throw new UserError(
        'NO_LICENSES',
        `Project ${p.name} has no license left (${p.licensesUsed} of ${p.licensesTotal} used).`,
        `Raise the pool with \`project set ${p.name} --licenses N\`.`,
      );
    await tx.project.update({ where: { id: p.id }, data: { licensesUsed: { increment: 1 } } });
    license = 'reserved';
  }
  // …and returned when the item stops or fails before a pass moved any data.
  if ((to === 'Stopped' || to === 'Failed') && license === 'reserved') {
    await tx.project.update({ where: { id: fresh.projectId }, data: { licensesUsed: { decrement: 1 } } });
    license = 'none';
  }
  return license;
}

/** Writes a transition's fields to the item's row, or deletes the item. */
async function writeItemRow(tx: Tx, fresh: Item, deleted: boolean, data: Record<string, unknown>): Promise<void> {
  if (deleted) {
    // Statistics and copy state go with the item (credentials, links and folder stats
    // cascade); the mail at the destination and the history stay.
    await tx.copyCheckpoint.deleteMany({ where: { itemId: fresh.id } });
    await tx.skippedMessage.deleteMany({ where: { itemId: fresh.id } });
    await tx.alteredMessage.deleteMany({ where: { itemId: fresh.id } });
    await tx.item.delete({ where: { id: fresh.id } });
  } else {
    await tx.item.update({ where: { id: fresh.id }, data });
  }
}

/** A row of a bulk command's batch as the state machine decides it. */
interface DecidedRow {
  row: ItemWithProject;
  from: ItemStatus;
  to: ItemStatus;
}

/**
 * The rows of a bulk command's batch that `action` may change, read afresh (`fresh`) in the
 * command's transaction. An item no longer in its project, or one the state machine refuses,
 * has its refusal added to `refused` and is skipped. `missingCredentials` says whether an
 * item's unknown credentials count for the decision.
 */
function* decidedRows(
  action: ItemAction,
  part: BulkTarget[],
  fresh: Map<string, ItemWithProject>,
  refused: UserError[],
  missingCredentials: (row: ItemWithProject) => boolean,
): Generator<DecidedRow> {
  for (const input of part) {
    const row = fresh.get(input.id);
    if (!row) {
      refused.push(
        new UserError('ITEM_UNKNOWN', `${input.sourceAddress} is no longer in project ${input.project.name}.`),
      );
      continue;
    }
    const from = storedStatus(row.status);
    let to: ItemStatus;
    try {
      to = decide(action, { address: row.sourceAddress, status: from, missingCredentials: missingCredentials(row) }).to;
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      refused.push(e);
      continue;
    }
    yield { row, from, to };
  }
}

/** The options of `Engine.startItems`. */
interface StartOptions {
  threadRef?: string | null;
  batch?: number;
  pass?: PassKind;
}

/** An item of a `startItems` batch that is to be submitted, with the license it will hold. */
interface StartPlan {
  fresh: ItemWithProject;
  from: ItemStatus;
  to: ItemStatus;
  license: string;
  missing: Side[];
}

/** An item as a `startItems` batch left it. */
interface StartedItem {
  item: ItemWithProject;
  from: ItemStatus;
  to: ItemStatus;
  missing: Side[];
}

/**
 * Decides a `startItems` batch: the items to submit, the refused ones, the licenses reserved
 * per project, and whether the license pool ran out (`stop`: that item and the rest are left).
 */
function planStart(
  part: BulkTarget[],
  fresh: Map<string, ItemWithProject>,
  missingOf: (item: ItemWithProject) => Side[],
): { out: StartPlan[]; no: UserError[]; stop: boolean; reserved: Map<string, number> } {
  const reserved = new Map<string, number>();
  const out: StartPlan[] = [];
  const no: UserError[] = [];
  for (const c of decidedRows('submit', part, fresh, no, (row) => missingOf(row).length > 0)) {
    // A license is reserved from the pool when the item is submitted (as in transition()).
    let license = c.row.license;
    if (license === 'none') {
      const p = c.row.project;
      const used = p.licensesUsed + (reserved.get(p.id) ?? 0);
      if (p.licensesTotal != null && used >= p.licensesTotal) {
        no.push(
          new UserError(
            'NO_LICENSES',
            `Project ${p.name} has no license left (${used} of ${p.licensesTotal} used).`,
            `Raise the pool with \`project set ${p.name} --licenses N\`.`,
          ),
        );
        return { out, no, stop: true, reserved };
      }
      reserved.set(p.id, (reserved.get(p.id) ?? 0) + 1);
      license = 'reserved';
    }
    out.push({ fresh: c.row, from: c.from, to: c.to, license, missing: missingOf(c.row) });
  }
  return { out, no, stop: false, reserved };
}

/** The fields a submit by `startItems` sets on every item, but its status and license. */
function startedFields(opts: StartOptions, now: Date) {
  return {
    failureReason: null,
    failureDetail: null,
    stopRequested: false,
    startAt: null,
    startBy: null,
    updatedAt: now,
    ...(opts.pass ? { passKind: passKindText(opts.pass) } : {}),
    ...(opts.threadRef ? { threadRef: opts.threadRef } : {}),
  };
}

/**
 * Writes a `startItems` batch: one conditional update per (from, to, license) group, so a row
 * that changed meanwhile is not overwritten, then the licenses reserved from each project's pool.
 */
async function writeStarted(
  tx: RawTx,
  out: StartPlan[],
  reserved: Map<string, number>,
  fields: ReturnType<typeof startedFields>,
): Promise<void> {
  const groups = new Map<string, StartPlan[]>();
  for (const c of out) {
    const key = `${c.from}|${c.to}|${c.fresh.license}|${c.license}`;
    const group = groups.get(key);
    if (group) group.push(c);
    else groups.set(key, [c]);
  }
  // Exactly the fields `startedItems` reports the items with (column names are our own).
  const set = Prisma.join(
    Object.entries(fields).map(([column, value]) => Prisma.sql`${Prisma.raw(`"${column}"`)} = ${value}`),
  );
  for (const group of groups.values()) {
    const [g] = group;
    if (!g) continue;
    // Raw, the ids one bound value (see `inList`); conditional on the status and license read.
    const count = await tx.$executeRaw`UPDATE "Item" SET "status" = ${g.to}, "license" = ${g.license}, ${set}
      WHERE ${inList(
        tx,
        'id',
        group.map((c) => c.fresh.id),
      )} AND "status" = ${g.from} AND "license" = ${g.fresh.license}`;
    if (count !== group.length)
      throw new Error(`bulk start: ${group.length - count} of ${group.length} items changed while being started`);
  }
  // The pool's count, and the project's `updatedAt` as Prisma's `@updatedAt` would set it.
  for (const [projectId, n] of reserved)
    await tx.$executeRaw`UPDATE "Project" SET "licensesUsed" = "licensesUsed" + ${n}, "updatedAt" = ${new Date()}
      WHERE "id" = ${projectId}`;
}

/**
 * The items of a `startItems` batch as it wrote them (`fields` and all), without reading them
 * again; the items of one project share one copy of it, its pool as the batch left it.
 */
function startedItems(
  out: StartPlan[],
  reserved: Map<string, number>,
  fields: ReturnType<typeof startedFields>,
): StartedItem[] {
  const projects = new Map<string, Project>();
  const projectOf = (p: Project) => {
    let after = projects.get(p.id);
    if (!after) projects.set(p.id, (after = { ...p, licensesUsed: p.licensesUsed + (reserved.get(p.id) ?? 0) }));
    return after;
  };
  return out.map((c) => ({
    item: { ...c.fresh, status: c.to, license: c.license, ...fields, project: projectOf(c.fresh.project) },
    from: c.from,
    to: c.to,
    missing: c.missing,
  }));
}
