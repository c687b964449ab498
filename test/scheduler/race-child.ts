// One "server process" of the race test: opens the shared database, waits for the start
// signal (a file), runs one scheduler tick, and prints how many digests it posted.
import { existsSync } from 'node:fs';
import { openProc, settle } from './helpers.ts';
import { installScheduler } from '../../bot/scheduler/install.ts';
import { defined } from '../harness/defined.ts';

const [dir, name, go] = process.argv.slice(2);
const p = await openProc(defined(dir), name);
const s = installScheduler(p.app, 'console');
process.stdout.write('ready\n');
while (!existsSync(defined(go))) await new Promise((r) => setTimeout(r, 5));
await s.tick();
await settle(p);
process.stdout.write(
  JSON.stringify({ name, digests: p.posts.filter((x) => x.message.kind === 'digest').map((x) => x.threadRef) }) + '\n',
);
await p.close();
