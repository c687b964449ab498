/**
 * Checks imapflow-literal-plus-and-raw-command.patch against the private Dovecot of the tests:
 *   cp -a node_modules/imapflow node_modules/.imapflow-patched
 *   (cd node_modules/.imapflow-patched && patch -p1 <
 *   ../../engine/connectors/imap/upstream/imapflow-literal-plus-and-raw-command.patch)
 *   IMAPFLOW=$PWD/node_modules/.imapflow-patched node bin/run-ts.mjs engine/connectors/imap/upstream/check-patch.ts
 * Prints the continuations the server sent for two APPENDs over 4 KB (0 with the patch,
 * 2 without), a FETCH read by rawCommand(), a STATUS by imapflow after it, and the
 * connection closed after a rejecting handler. Not part of the engine or of its tests.
 */
import { pathToFileURL } from 'node:url';
import { startDovecot, makeMessage } from '../../../../test/harness/dovecot.ts';
import { startImapProxy } from '../../../../test/harness/imap-proxy.ts';

// The patched copy must sit where its own dependencies resolve (under the checkout's node_modules).
const dir = process.env.IMAPFLOW;
if (!dir) throw new Error('set IMAPFLOW to a patched copy of the imapflow package');
const { ImapFlow } = (await import(pathToFileURL(`${dir}/dist/esm/imap-flow.js`).href)) as typeof import('imapflow');

const dv = await startDovecot();
const proxy = await startImapProxy({ port: dv.port });
dv.addUser('u1', 'p1');
const c = new ImapFlow({
  host: '127.0.0.1',
  port: proxy.port,
  secure: false,
  auth: { user: 'u1', pass: 'p1' },
  logger: false,
  disableAutoIdle: true,
  tls: { rejectUnauthorized: false },
});
await c.connect();
await c.mailboxOpen('INBOX');
let plus = 0;
(c as unknown as { socket: NodeJS.ReadableStream }).socket.on('data', (d: Buffer) => {
  if (/^\+ /m.test(d.toString('latin1'))) plus++;
});
const bodies = [makeMessage({ size: 20_000 }), makeMessage({ size: 300_000 })];
for (const b of bodies) await c.append('INBOX', b, ['\\Seen'], new Date());
const appends = proxy.events.filter((e) => e.command === 'APPEND');
console.log(
  'LITERAL+ offered:',
  c.capabilities.has('LITERAL+'),
  'APPENDs:',
  appends.length,
  'continuations the server sent:',
  plus,
);
// rawCommand: our own UID FETCH read straight from the socket; then imapflow goes on.
let got = Buffer.alloc(0);
await (
  c as unknown as {
    rawCommand(
      h: (x: {
        tag: string;
        readSocket: NodeJS.ReadableStream;
        write(b: Buffer): boolean;
      }) => Promise<Buffer | undefined>,
    ): Promise<void>;
  }
).rawCommand(async ({ tag, readSocket, write }) => {
  write(Buffer.from(`${tag} UID FETCH 1:* (UID RFC822.SIZE)\r\n`));
  return await new Promise<Buffer>((resolve) => {
    const onData = (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      const end = got.indexOf(`${tag} OK`);
      if (end >= 0) {
        const lineEnd = got.indexOf('\n', end);
        if (lineEnd < 0) return;
        readSocket.removeListener('data', onData);
        resolve(got.subarray(lineEnd + 1));
      }
    };
    readSocket.on('data', onData);
  });
});
console.log('raw response:', JSON.stringify(got.toString('latin1').trim().split('\r\n')));
const st = await c.status('INBOX', { messages: true, uidNext: true });
console.log('imapflow after rawCommand:', st);
// A rejecting handler closes the connection.
const err = await (
  c as unknown as {
    rawCommand(
      h: (x: {
        tag: string;
        readSocket: NodeJS.ReadableStream;
        write(b: Buffer): boolean;
      }) => Promise<Buffer | undefined>,
    ): Promise<void>;
  }
)
  .rawCommand(async () => {
    throw new Error('boom');
  })
  .catch((e: Error) => e.message);
console.log('rejecting handler:', err, 'usable:', c.usable);
await proxy.close();
await dv.dispose();
