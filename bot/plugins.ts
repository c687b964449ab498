// The capabilities that join the core, one import each (the composition root's list).
// Each module calls `use()` from ./cli.ts with what it adds to serve, console and worker.
import './workers.ts';
import '../adapters/teams/plugin.ts';
import '../adapters/email/plugin.ts';
import './scheduler/plugin.ts';
import '../adapters/slack/plugin.ts';
