import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type RootApp } from '../../bot/app.ts';
import { loadConfig, type Config } from '../../bot/config.ts';
import { Logger } from '../../bot/log.ts';
import { rotateKeyCommand } from '../../bot/rotate-key.ts';
import { main } from '../../bot/cli.ts';
import { Vault, parseKey } from '../../engine/vault/vault.ts';
import { SYSTEM_ACTOR } from '../../engine/domain/types.ts';
import { testDbUrl } from '../harness/test-db.ts';
import { defined } from '../harness/defined.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function configFor(env: Record<string, string> = {}): Config {
  const dir = mkdtempSync(join(tmpdir(), 'mf-vault-'));
  dirs.push(dir);
  return loadConfig(
    { DATABASE_URL: testDbUrl(dir), MAILFERRY_DATA_DIR: join(dir, 'data'), PORT: '0', ...env },
    '/nonexistent',
  );
}

/** An app with two items holding credentials. */
async function withCredentials(config: Config): Promise<{ app: RootApp; ids: string[] }> {
  const app = await createApp(config, { log: new Logger(() => {}, 'error') });
  const project = await app.engine.createProject(SYSTEM_ACTOR, {
    name: 'acme',
    sourceUrl: 'imap://127.0.0.1:1',
    destinationUrl: 'imap://127.0.0.1:2',
    channelRef: null,
  });
  const { added } = await app.engine.addItems(
    SYSTEM_ACTOR,
    project,
    [{ source: 'alice@old.example' }, { source: 'bob@old.example' }],
    { threadRef: null },
  );
  for (const i of added) {
    const item = (await app.engine.itemById(i.id))!;
    await app.engine.setCredential(SYSTEM_ACTOR, item, 'source', i.sourceAddress, {
      password: `src-${i.sourceAddress}`,
    });
    await app.engine.setCredential(SYSTEM_ACTOR, item, 'destination', i.destinationAddress, {
      password: `dst-${i.sourceAddress}`,
    });
  }
  return { app, ids: added.map((a) => a.id) };
}

describe('the vault', () => {
  it('binds a record to its item and side (associated data)', () => {
    const v = new Vault(randomBytes(32));
    const s = v.seal('item-1', 'source', { password: 'pw' });
    expect(v.open('item-1', 'source', s)).toEqual({ password: 'pw' });
    expect(() => v.open('item-2', 'source', s)).toThrow();
    expect(() => v.open('item-1', 'destination', s)).toThrow();
    const t = v.seal('item-1', 'source', { password: 'pw' });
    expect(Buffer.from(t.nonce).equals(Buffer.from(s.nonce))).toBe(false);
  });

  it('rotate-key with the key file: new key, every record re-encrypted, file replaced with mode 0600', async () => {
    const config = configFor();
    const { app, ids } = await withCredentials(config);
    const keyFile = join(config.dataDir, 'encryption.key');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const oldKey = readFileSync(keyFile, 'utf8').trim();
    const oldIds = new Set((await app.db.credential.findMany()).map((c) => c.keyId));
    await app.close();

    const out: string[] = [];
    expect(await rotateKeyCommand(config, {}, (s) => out.push(s))).toBe(0);
    const newKey = readFileSync(keyFile, 'utf8').trim();
    expect(newKey).not.toBe(oldKey);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(existsSync(`${keyFile}.new`)).toBe(false);
    expect(out.join('')).toMatch(/Re-encrypted 4 stored credential\(s\)/);
    expect(out.join('')).not.toContain(newKey);
    expect(out.join('')).not.toContain(oldKey);

    const again = await createApp(config, { log: new Logger(() => {}, 'error') });
    try {
      const rows = await again.db.credential.findMany();
      expect(rows).toHaveLength(4);
      for (const r of rows) expect(oldIds.has(r.keyId)).toBe(false);
      expect((await again.engine.credentialOf(defined(ids[0]), 'source'))?.secret.password).toBe(
        'src-alice@old.example',
      );
      expect((await again.engine.credentialOf(defined(ids[1]), 'destination'))?.secret.password).toBe(
        'dst-bob@old.example',
      );
      expect(() => new Vault(parseKey(oldKey)).open(defined(ids[0]), 'source', defined(rows[0]))).toThrow();
    } finally {
      await again.close();
    }
  });

  it('an interrupted rotation (encryption.key.new left behind) is finished by running it again', async () => {
    const config = configFor();
    const { app, ids } = await withCredentials(config);
    await app.close();
    const keyFile = join(config.dataDir, 'encryption.key');
    const pending = randomBytes(32).toString('base64');
    writeFileSync(`${keyFile}.new`, pending + '\n', { mode: 0o600 });
    expect(await rotateKeyCommand(config, {}, () => {})).toBe(0);
    expect(readFileSync(keyFile, 'utf8').trim()).toBe(pending);
    const again = await createApp(config, { log: new Logger(() => {}, 'error') });
    try {
      expect((await again.engine.credentialOf(defined(ids[0]), 'source'))?.secret.password).toBe(
        'src-alice@old.example',
      );
    } finally {
      await again.close();
    }
  });

  it('rotate-key with ENCRYPTION_KEY: needs NEW_ENCRYPTION_KEY, then the new key opens everything', async () => {
    const key1 = randomBytes(32).toString('base64');
    const key2 = randomBytes(32).toString('base64');
    const config = configFor({ ENCRYPTION_KEY: key1 });
    const { app, ids } = await withCredentials(config);
    await app.close();
    const err: string[] = [];
    expect(
      await rotateKeyCommand(
        config,
        {},
        () => {},
        (s) => err.push(s),
      ),
    ).toBe(2);
    expect(err.join('')).toMatch(/NEW_ENCRYPTION_KEY/);
    expect(await rotateKeyCommand(config, { NEW_ENCRYPTION_KEY: key2 }, () => {})).toBe(0);
    expect(existsSync(join(config.dataDir, 'encryption.key'))).toBe(false);
    const again = await createApp({ ...config, encryptionKey: key2 }, { log: new Logger(() => {}, 'error') });
    try {
      expect((await again.engine.credentialOf(defined(ids[1]), 'source'))?.secret.password).toBe('src-bob@old.example');
    } finally {
      await again.close();
    }
  });

  it('`mailferry rotate-key --help` is listed and explains itself', async () => {
    const write = process.stdout.write.bind(process.stdout);
    const out: string[] = [];
    process.stdout.write = ((c: string) => (out.push(String(c)), true)) as typeof process.stdout.write;
    try {
      expect(await main(['rotate-key', '--help'])).toBe(0);
      expect(await main(['--help'])).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    expect(out.join('')).toMatch(/Usage: mailferry rotate-key/);
    expect(out.join('')).toMatch(/rotate-key\s+Re-encrypt every stored credential/);
  });

  it('credentials are wiped after completion when the project says so, and kept otherwise', async () => {
    const config = configFor();
    const { app, ids } = await withCredentials(config);
    try {
      const project = await app.db.project.findFirstOrThrow();
      for (const [i, wipe] of [
        [0, true],
        [1, false],
      ] as const) {
        await app.engine.updateProject(SYSTEM_ACTOR, await app.db.project.findFirstOrThrow(), {
          options: { wipeCredentialsOnComplete: wipe },
        });
        const item = (await app.engine.itemById(defined(ids[i])))!;
        await app.engine.startItem(SYSTEM_ACTOR, item);
        const claimed = await app.engine.claimNext();
        expect(claimed?.id).toBe(ids[i]);
        await app.engine.finishPass(defined(ids[i]), 'completed', {
          messagesFound: 0,
          bytesFound: 0,
          messagesCopied: 0,
          bytesCopied: 0,
          messagesPresent: 0,
          messagesSkipped: 0,
          durationMs: 1,
        });
        expect((await app.engine.itemById(defined(ids[i])))?.status).toBe('Completed');
      }
      expect(await app.db.credential.count({ where: { itemId: ids[0] } })).toBe(0);
      expect(await app.db.credential.count({ where: { itemId: ids[1] } })).toBe(2);
      expect((await app.engine.history(defined(ids[0]))).map((h) => h.kind)).toContain('credentials.wiped');
      expect(project.name).toBe('acme');
    } finally {
      await app.close();
    }
  });
});
