// One server process of the outbox race: opens the shared database with a poster, waits for
// the start signal (a file), drains the outbox, and prints the ids of the rows it delivered.
import { existsSync } from 'node:fs';
import { openProc, settle } from '../scheduler/helpers.ts';
import { defined } from '../harness/defined.ts';

const [dir, name, go] = process.argv.slice(2);
const p = await openProc(defined(dir), name, { poster: false });
const delivered: string[] = [];
process.stdout.write('ready\n');
while (!existsSync(defined(go))) await new Promise((r) => setTimeout(r, 5));
p.app.notifier.register('test', async (post) => {
  delivered.push(post.message.text);
});
await new Promise((r) => setTimeout(r, 300));
await p.app.notifier.drain();
await settle(p);
await new Promise((r) => setTimeout(r, 1500)); // let a second round (token refill) finish
await settle(p);
process.stdout.write(JSON.stringify({ name, delivered }) + '\n');
await p.close();
