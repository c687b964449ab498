import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { hostname } from 'node:os';
import { openDb, sqlitePath, type Db } from '../engine/store/db.ts';
import { isPostgresUrl } from '../engine/store/dialect.ts';
import { checkDatabase, type DbFault, type DbHealth } from '../engine/store/db-faults.ts';
import { Engine } from '../engine/engine.ts';
import { EventBus } from '../engine/events.ts';
import { Vault, loadKey } from '../engine/vault/vault.ts';
import type { Config } from './config.ts';
import { Dispatcher } from './dispatch.ts';
import { Notifier, type NotifierOptions } from './notifier.ts';
import { Logger, routeConsoleToLog } from './log.ts';
import type { BotServices } from './commands/types.ts';
import { createHttpApp, installErrorHandler, listen, type EarlyServer } from './http/server.ts';
import { Outreach, type OutreachOptions } from './outreach/outreach.ts';
import type { BotDb } from './store/bot-db.ts';
import { CompletionNotices } from './outreach/completion-notice.ts';
import { UserChoices } from './outreach/user-choices.ts';
import { probeServer } from '../engine/connectors/probe-server.ts';
import { m365Settings } from '../engine/connectors/m365/settings.ts';
import type { Express } from 'express';

/** The process a capability joins: the server, the terminal console, or an engine-only worker. */
export type ProcessMode = 'serve' | 'console' | 'worker';

/** What a capability adds to a process (routes, posters, senders, timers), given the app it joins. */
export type Plugin = (app: App, mode: ProcessMode) => Promise<void> | void;

/** A running MailFerry: the pieces every surface and test needs. */
export interface App {
  config: Config;
  /** The bot's tables (outbox, conversations, reminders, digests…); the engine's are reached through `engine`. */
  db: BotDb;
  engine: Engine;
  bus: EventBus;
  vault: Vault;
  log: Logger;
  notifier: Notifier;
  dispatcher: Dispatcher;
  outreach: Outreach;
  /** Completion notices to end users (durable: `serve` resumes those left unsent). */
  notices: CompletionNotices;
  services: BotServices;
  http: Express;
  /** Things to run on close, last registered first. */
  onClose(fn: () => Promise<void> | void): void;
  close(): Promise<void>;
}

/**
 * The app as the composition root holds it (and tests, which look at every table): `db` is
 * the full database client. Plugins and bot modules get `App`, whose `db` type-checks for
 * the bot's tables only.
 */
export interface RootApp extends App {
  db: Db;
}

/**
 * Builds the core: database (migrations applied), vault key, engine, event bus, notifier,
 * dispatcher, HTTP routes. Surfaces (adapters), the runner and the scheduler are wired by
 * the entry point (`bot/cli.ts`), the composition root.
 */
export async function createApp(
  config: Config,
  opts: {
    log?: Logger;
    console?: boolean;
    notifier?: NotifierOptions;
    outreach?: Omit<OutreachOptions, 'publicUrl' | 'linkTtlHours'>;
  } = {},
): Promise<RootApp> {
  const log = opts.log ?? new Logger();
  const { db, applied } = await openDb(config.databaseUrl);
  if (applied.length) log.info('database migrated', { applied: applied.join(',') });
  const vault = openVault(config, log);
  const bus = new EventBus((e, ev) =>
    log.error('event listener failed', { event: ev.type, error: e instanceof Error ? e.message : String(e) }),
  );
  const engine = new Engine(db, bus, vault);
  const notifier = new Notifier(engine, db, log, opts.notifier);
  notifier.attach(bus);
  engine.batchPosts = (tx, changes) => notifier.writeBatchPosts(tx, changes);
  const { outreach, notices, choices } = createOutreach(
    config,
    { db, engine, bus, vault, log, notifier },
    opts.outreach,
  );
  const services: BotServices = {
    defaultLicenses: config.defaultLicenses,
    probeServer: (url) => probeServer(url, { m365: m365Settings() }),
    answerChoice: (actor, id, choice) => choices.answer(actor, id, choice),
  };
  if (opts.console) services.readLocalFile = (path) => readFile(path, 'utf8');
  const dispatcher = new Dispatcher(engine, log, config.admins, services);
  const http = createHttpApp(
    databaseHealth(db, isPostgresUrl(config.databaseUrl) ? undefined : sqlitePath(config.databaseUrl), log),
    { trustProxy: config.trustProxy },
  );
  const closers: (() => Promise<void> | void)[] = [];
  const app = { config, db, engine, bus, vault, log, notifier, dispatcher, outreach, notices, services, http };
  return {
    ...app,
    onClose: (fn) => closers.push(fn),
    close: () => closeApp(app, closers),
  };
}

/** The vault over the configured encryption key, or over a new key file (whose creation is logged). */
function openVault(config: Config, log: Logger): Vault {
  const { key, created } = loadKey(config.encryptionKey, join(config.dataDir, 'encryption.key'));
  if (created)
    log.warn('created a new encryption key file; back it up, stored credentials cannot be read without it', {
      file: join(config.dataDir, 'encryption.key'),
    });
  return new Vault(key);
}

/**
 * The outreach to end users, listening on the bus, with its completion notices and the users'
 * choices (bound to the outreach's requests).
 */
function createOutreach(
  config: Config,
  app: Pick<RootApp, 'db' | 'engine' | 'bus' | 'vault' | 'log' | 'notifier'>,
  opts: Omit<OutreachOptions, 'publicUrl' | 'linkTtlHours'> | undefined,
): { outreach: Outreach; notices: CompletionNotices; choices: UserChoices } {
  const { db, engine, bus, vault, log, notifier } = app;
  const outreach = new Outreach(engine, notifier, log, {
    publicUrl: config.publicUrl,
    linkTtlHours: config.linkTtlHours,
    organisation: config.organisation,
    concurrency: config.outreachConcurrency,
    ...opts,
  });
  bus.on((e) => outreach.onEvent(e));
  const notices = new CompletionNotices(engine, db, outreach, log, config.organisation);
  notices.attach();
  const choices = new UserChoices({
    engine,
    db,
    notifier,
    log,
    key: vault.derive('mailferry dm choice ids'),
    install: config.organisation,
  });
  outreach.bindChoice = (itemId, surface, userId) => choices.bind(itemId, surface, userId);
  return { outreach, notices, choices };
}

/** Closes an app: its outreach, then what was registered to run on close (last first), then the rest. */
async function closeApp(
  app: Pick<RootApp, 'outreach' | 'notices' | 'bus' | 'notifier' | 'db'>,
  closers: (() => Promise<void> | void)[],
): Promise<void> {
  // First: requests still queued are not sent (they go out after the next start); the ones in flight finish.
  app.outreach.close();
  for (const fn of closers.reverse()) await fn();
  // Notices being sent finish; one the stopped outreach did not send stays queued for the next process.
  await app.notices.close();
  await app.bus.idle();
  await app.notifier.close();
  await app.db.$disconnect();
}

/** The short reason `/healthz` gives for each database fault. */
export const FAULT_REASONS: Record<DbFault, string> = {
  full: 'the database is full',
  unwritable: 'the database cannot be written',
};

/**
 * `/healthz`'s check of the database: unhealthy while it cannot take a write (a full disk),
 * healthy again as soon as it can. One check runs at a time and its result serves the
 * requests of the next second, so a busy monitor does not turn into a stream of writes.
 * A change of state is logged once.
 */
function databaseHealth(
  db: Db,
  file: string | undefined,
  log: Logger,
): () => Promise<{ ok: boolean; db: string; error?: string }> {
  let last: { at: number; h: Promise<DbHealth> } | null = null;
  let wasOk = true;
  return async () => {
    if (!last || Date.now() - last.at > 1000) last = { at: Date.now(), h: checkDatabase(db, file, hostname()) };
    const h = await last.h.catch((e) => {
      last = null;
      throw e;
    });
    if (h.ok !== wasOk) {
      wasOk = h.ok;
      if (h.ok) log.info('the database can be written again');
      else log.error('the database cannot be written', { fault: h.fault, detail: h.detail });
    }
    return h.ok ? { ok: true, db: 'up' } : { ok: false, db: h.fault, error: FAULT_REASONS[h.fault] };
  };
}

/** Starts the HTTP server of an app; closing the app stops it. */
export async function serveHttp(app: App, early?: EarlyServer): Promise<{ server: Server; port: number }> {
  // Last, after every surface mounted its routes.
  installErrorHandler(app.http, app.log);
  const restoreConsole = routeConsoleToLog(app.log);
  const r = await listen(app.http, app.config.port, app.config.bind, early);
  app.onClose(restoreConsole);
  app.onClose(() => new Promise<void>((res) => r.server.close(() => res())));
  return r;
}
