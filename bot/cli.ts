// The process entry point. Only what argument checking needs is imported up front; the app,
// the engine and the surfaces load after (`--help` and a typo answer without them).
import type { Config } from './config.ts';
import type { App, ProcessMode } from './app.ts';
import type { EarlyServer } from './http/server.ts';
import { Logger } from './log.ts';
import { closest } from '../engine/domain/closest.ts';
import { faultPoint } from '../engine/fault-point.ts';
import { readFileSync } from 'node:fs';

/** The package's version (package.json), for `--version`. */
export function version(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** Options each process command takes besides --help. */
const OPTIONS: Record<string, string[]> = { console: ['--wait'] };

const HELP: Record<string, string> & { main: string } = {
  'rotate-key': `Usage: mailferry rotate-key

Re-encrypts every stored credential under a new key. Stop MailFerry (serve and every
worker) first; start it again afterwards.
  Key file (no ENCRYPTION_KEY): a new key is made, the credentials are re-encrypted in one
    transaction, then the new key replaces ./data/encryption.key (mode 0600). An interrupted
    run leaves encryption.key.new; running the command again finishes the job.
  ENCRYPTION_KEY set: give the new key as NEW_ENCRYPTION_KEY (openssl rand -base64 32);
    after the run, set ENCRYPTION_KEY to that value.
Keys are never printed.
`,
  main: `mailferry — chat-ops for mailbox migrations

Usage: mailferry [COMMAND] [--help] [--version]

Commands:
  serve     Start the server: HTTP (Slack, Teams, the credential form), the engine
            workers and the scheduler, on SQLite under ./data by default. (default)
  console   The same chat commands typed in a terminal; replies and thread posts are
            printed. Reads stdin line by line, so it can be scripted.
  worker    Engine workers only (scale-out): runs queued migrations, no HTTP.
  rotate-key  Re-encrypt every stored credential under a new key.
  db copy   Copy this install's SQLite database into PostgreSQL (db copy --help).

Configuration comes from the environment or a .env file: DATABASE_URL, PORT,
PUBLIC_URL, ENCRYPTION_KEY, SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, MicrosoftAppId,
MicrosoftAppPassword, SMTP_URL, MAIL_FROM, MAILFERRY_ADMINS, MAILFERRY_DEV. See README.md.
`,
  serve: `Usage: mailferry serve

Starts MailFerry: applies pending database migrations, then listens on PORT (default 3978)
for Slack (POST /slack/events), Teams (POST /api/messages), the credential form
(/c/:token) and GET /healthz, and runs the engine workers and the scheduler.
Stops cleanly on SIGTERM/SIGINT: running passes save their progress first.
`,
  console: `Usage: mailferry console [--wait]

Type chat commands (with or without "/migrate"), e.g.:
  project create acme --source imaps://old.example:993 --destination imaps://new.example:993
  add alice@old.example
  status
"bulk" reads the CSV lines that follow, up to an empty line or a lone ".".
Interactive with a prompt on a terminal; silent when stdin is piped.
  --wait   at the end of input, wait until no migration is queued or running.
`,
  db: `Usage: mailferry db copy --to postgresql://USER:PASSWORD@HOST:5432/DB [--force]

Copies this install's SQLite database (DATABASE_URL, default file:./data/mailferry.db) into
a PostgreSQL database, to move to several processes or hosts:
  1. Stop \`mailferry serve\` and every \`mailferry worker\` (running passes save their progress).
  2. Create an empty database and a user that may create tables in it.
  3. mailferry db copy --to postgresql://…   (applies MailFerry's migrations to it, copies
     every table in batches, counts every table again on both sides)
  4. Start MailFerry with DATABASE_URL set to the PostgreSQL URL and the same key
     (ENCRYPTION_KEY, or the key file in MAILFERRY_DATA_DIR): credentials are copied encrypted.
The copy is one transaction: interrupted or refused, the target is left as it was. The
SQLite database is only read (pending migrations are applied to it first, as at any start).
Refused while a pass is running on either database, when another process writes to the
source during the copy, and into a database that already holds MailFerry rows, unless
  --force   deletes every MailFerry row in the target first (e.g. an earlier test copy).
`,
  worker: `Usage: mailferry worker

Runs queued migrations from the shared database, with no HTTP server. Start several
on other machines pointing at the same DATABASE_URL to scale out.
`,
};

/** Builds the app and installs the capabilities the process wants (bot/plugins.ts lists them). */
async function boot(config: Config, mode: ProcessMode, log: Logger): Promise<App> {
  const { createApp } = await import('./app.ts');
  const { installPlugins } = await import('./plugins.ts');
  const app = await createApp(config, { log, console: mode === 'console' });
  await installPlugins(app, mode);
  return app;
}

/** The CLI entry point; returns the exit code. Start-up failures print one clear line, not a trace. */
export async function main(argv: string[]): Promise<number> {
  try {
    return await run(argv);
  } catch (e) {
    process.stderr.write(`mailferry: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

/** Checks the arguments, answers --version and --help, and runs the command. */
async function run(argv: string[]): Promise<number> {
  if (argv.includes('--version') || argv.includes('-V')) {
    process.stdout.write(`mailferry ${version()}\n`);
    return 0;
  }
  const cmd = argv[0] && !argv[0].startsWith('-') ? argv[0] : 'serve';
  const rest = argv[0] === cmd ? argv.slice(1) : argv;
  const commands = Object.keys(HELP).filter((c) => c !== 'main');
  if (!commands.includes(cmd)) {
    const guess = closest(cmd, commands);
    process.stderr.write(
      `Unknown command "${cmd}".${guess ? ` Did you mean "mailferry ${guess}"?` : ''}\n\n${HELP.main}`,
    );
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write((argv[0] === cmd && HELP[cmd]) || HELP.main);
    return 0;
  }
  if (cmd === 'db') return dbMain(rest);
  if (reportedUnknownArgument(argv, cmd, rest, commands)) return 2;
  const config = await readConfig();
  if (!config) return 2;
  if (cmd === 'rotate-key')
    return (await import('./rotate-key.ts')).rotateKeyCommand(
      config,
      process.env,
      (s) => process.stdout.write(s),
      (s) => process.stderr.write(s),
    );
  if (cmd === 'console') return consoleMain(config, rest);
  return serveOrWork(config, cmd === 'serve' ? 'serve' : 'worker');
}

/** Says on stderr which argument the command does not take, with the nearest it does; false when there is none. */
function reportedUnknownArgument(argv: string[], cmd: string, rest: string[], commands: string[]): boolean {
  const known = [...(OPTIONS[cmd] ?? []), '--help', '--version'];
  const unknown = rest.filter((a) => !known.includes(a));
  if (!unknown.length) return false;
  const u = unknown[0] ?? '';
  const guess = u.startsWith('-') ? closest(u.replace(/^-+/, '--'), known) : closest(u, commands);
  const suggestion = guess
    ? u.startsWith('-')
      ? ` Did you mean ${guess}?`
      : ` Did you mean "mailferry ${guess}"?`
    : '';
  const where = argv[0] === cmd ? ` for "${cmd}"` : '';
  process.stderr.write(
    `Unknown ${u.startsWith('-') ? 'option' : 'argument'} ${u}${where}` +
      `.${suggestion}\n\n${(argv[0] === cmd && HELP[cmd]) || HELP.main}`,
  );
  return true;
}

/** `mailferry console`: chat commands from stdin, then (with --wait) until no migration is queued or running. */
async function consoleMain(config: Config, rest: string[]): Promise<number> {
  const { runConsole, lastConsoleThread } = await import('../adapters/console/console-adapter.ts');
  const app = await boot(config, 'console', new Logger(undefined, (process.env.LOG_LEVEL as 'warn') || 'warn'));
  try {
    await runConsole(
      {
        // A console run's threads never take the name of an earlier run's (their posts still arrive there).
        lastThread: lastConsoleThread(await consoleThreads(app)),
        dispatcher: app.dispatcher,
        registerPoster: (s, p) => app.notifier.register(s, p),
        settle: async () => {
          await app.bus.idle();
          await app.notifier.idle();
        },
      },
      process.stdin,
      process.stdout,
      { interactive: !!process.stdin.isTTY },
    );
    if (rest.includes('--wait')) await waitIdle(app);
  } finally {
    await app.close();
  }
  return 0;
}

/** The console thread references items and outbox rows still name. */
async function consoleThreads(app: App): Promise<string[]> {
  const { outboxThreads } = await import('./store/outbox.ts');
  const [items, posts] = await Promise.all([
    app.engine.reads.itemThreads('console:T'),
    outboxThreads(app.db, 'console:T'),
  ]);
  return [...items, ...posts];
}

/** `mailferry serve` and `mailferry worker`: runs until SIGTERM or SIGINT, then closes the app. */
async function serveOrWork(bootConfig: Config, mode: 'serve' | 'worker'): Promise<number> {
  const { surfaces, withBoundPort } = await import('./config.ts');
  let config = bootConfig;
  const log = new Logger();
  // Listening from the start: a SIGTERM while the app boots (its workers may already run a pass)
  // closes it once booted, instead of killing the process with nothing saved.
  const stopped = untilStopped(log);
  // PORT=0 without PUBLIC_URL: the port is bound first, so the default links name the port users can reach.
  let early: EarlyServer | undefined;
  if (mode === 'serve' && config.port === 0 && !process.env.PUBLIC_URL) {
    const { bindEarly } = await import('./http/server.ts');
    early = await bindEarly(0, config.bind);
    config = withBoundPort(config, early.port);
  }
  let app: App;
  try {
    app = await boot(config, mode, log);
  } catch (e) {
    early?.server.close();
    throw e;
  }
  // Test fault point: a SIGTERM arriving while the process boots, after its workers started.
  faultPoint('booted', 'SIGTERM');
  if (mode === 'serve') {
    const { serveHttp } = await import('./app.ts');
    const { port } = await serveHttp(app, early);
    log.info(`MailFerry listening on port ${port}`, {
      address: config.bind ?? 'every interface',
      public: config.publicUrl,
      database: config.databaseUrl.startsWith('file:') ? config.databaseUrl : 'external',
    });
    // Defaults end users would take for phishing, or links they cannot open: one line each, saying what to set.
    for (const w of config.warnings) log.warn(`SETUP: ${w}`);
    for (const s of surfaces(config))
      log.info(`${s.name}: ${s.configured ? 'configured' : 'not configured'}`, { how: s.why });
  } else {
    log.info('MailFerry worker started');
  }
  // Running until stopped: a worker with no work holds no socket or timer that would keep Node's event loop
  // alive, and exited (code 13, its wait for a signal unsettled) as soon as it had started.
  const keepAlive = setInterval(() => {}, 1 << 30);
  await stopped;
  clearInterval(keepAlive);
  await app.close();
  log.info('stopped');
  return 0;
}

/** Resolves on SIGTERM or SIGINT, or (started by npm) when the npm process exits; says which. */
function untilStopped(log: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    let watch: NodeJS.Timeout | undefined;
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      clearInterval(watch);
      log.info(`${sig}: shutting down (running passes save their progress)`);
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    // Started by `npm start`: npm hands a SIGTERM to the shell it runs the script in, and
    // that shell dies without passing it on, leaving this process behind. Going down with
    // the parent (this process is re-parented when it exits) keeps nothing running.
    if (process.env.npm_lifecycle_event) {
      const parent = process.ppid;
      watch = setInterval(() => process.ppid !== parent && stop('the npm process exited'), 500).unref();
    }
  });
}

/** The configuration, or undefined after saying on stderr what is wrong with it. */
async function readConfig(): Promise<Config | undefined> {
  const { loadConfig } = await import('./config.ts');
  try {
    return loadConfig();
  } catch (e) {
    process.stderr.write(`Configuration error: ${e instanceof Error ? e.message : String(e)}\n`);
    return undefined;
  }
}

/** `mailferry db …`: its own arguments (a URL after --to), then the command. */
async function dbMain(args: string[]): Promise<number> {
  const config = await readConfig();
  if (!config) return 2;
  const { dbCommand } = await import('./db-command.ts');
  return dbCommand(
    args,
    config,
    (s) => process.stdout.write(s),
    (s) => process.stderr.write(s),
  );
}

async function waitIdle(app: App): Promise<void> {
  for (;;) {
    await app.bus.idle();
    const busy = await app.engine.activeCount();
    if (!busy) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  // The last status posts may be waiting for the thread's rate limit: they are printed before the console exits.
  await app.bus.idle();
  await app.notifier.flush();
}
