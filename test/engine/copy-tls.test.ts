import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectImap, closeImap, verifyCredentials } from '../../engine/connectors/index.ts';
import { createMemoryCheckpointStore, runPass } from '../../engine/copy/index.ts';
import { makeMessage, readMailbox, seedImap, startDovecot, type DovecotInstance } from '../harness/dovecot.ts';
import { hashCounts } from '../harness/copy-assert.ts';

let hasOpenssl = true;
try {
  execFileSync('openssl', ['version'], { stdio: 'ignore' });
} catch {
  hasOpenssl = false;
}

let dv: DovecotInstance;
beforeAll(async () => {
  if (hasOpenssl)
    dv = await startDovecot({
      tls: true,
      users: [
        { name: 'ts', password: 'tp' },
        { name: 'td', password: 'tq' },
      ],
    });
});
afterAll(async () => {
  await dv?.dispose();
});

const insecure = { tls: { rejectUnauthorized: false } };

describe.skipIf(!hasOpenssl)('TLS: imaps:// and STARTTLS on imap://', () => {
  it('upgrades imap:// with STARTTLS when offered, and speaks imaps://', async () => {
    const plain = await connectImap({ url: dv.url, login: 'ts', secret: { password: 'tp' }, options: insecure });
    expect(plain.secureConnection).toBe(true); // STARTTLS happened
    await closeImap(plain);
    expect(await verifyCredentials(dv.imapsUrl!, 'ts', { password: 'tp' }, 'source', { options: insecure })).toEqual({
      ok: true,
    });
  });

  it('an untrusted certificate is a TLS failure, reported as unreachable', async () => {
    for (const url of [dv.imapsUrl!, dv.url]) {
      const r = await verifyCredentials(url, 'ts', { password: 'tp' }, 'destination');
      expect(r, url).toMatchObject({ ok: false, kind: 'unreachable' });
    }
  });

  it('copies over imaps:// to imap://+STARTTLS', async () => {
    await seedImap(dv, 'ts', 'tp', {
      INBOX: [{ raw: makeMessage(), flags: ['\\Seen', 'Tls'] }],
      Sub: [{ raw: makeMessage({ messageId: null }) }],
    });
    const r = await runPass({
      itemId: 'tls',
      source: { url: dv.imapsUrl!, login: 'ts', secret: { password: 'tp' }, options: insecure },
      destination: { url: dv.url, login: 'td', secret: { password: 'tq' }, options: insecure },
      checkpoints: createMemoryCheckpointStore(),
    });
    expect(r.outcome, r.detail).toBe('completed');
    expect(hashCounts(await readMailbox(dv, 'td', 'tq'))).toEqual(hashCounts(await readMailbox(dv, 'ts', 'tp')));
  });
});
