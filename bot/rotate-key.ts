import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './config.ts';
import { openDb } from '../engine/store/db.ts';
import { Vault, parseKey } from '../engine/vault/vault.ts';
import { reencryptCredentials } from '../engine/vault/rotate-key.ts';

/** Help of `mailferry rotate-key`. */
/**
 * `mailferry rotate-key`: re-encrypts the vault under a new key. Returns the exit code;
 * writes what it did (key ids only, never keys) to `out`, refusals to `err`.
 */
export async function rotateKeyCommand(
  config: Config,
  env: NodeJS.ProcessEnv,
  out: (s: string) => void,
  err: (s: string) => void = out,
): Promise<number> {
  const keyFile = join(config.dataDir, 'encryption.key');
  const pending = `${keyFile}.new`;
  let oldKey: Buffer;
  let newKey: Buffer;
  const fileMode = !config.encryptionKey;
  if (!fileMode) {
    oldKey = parseKey(config.encryptionKey!);
    if (!env.NEW_ENCRYPTION_KEY) {
      err(
        'ENCRYPTION_KEY comes from the environment: set NEW_ENCRYPTION_KEY to the ' +
          'new key (make one with: openssl rand -base64 32) and run rotate-key again.\n',
      );
      return 2;
    }
    newKey = parseKey(env.NEW_ENCRYPTION_KEY);
  } else {
    if (!existsSync(keyFile)) {
      err(`There is no key yet (${keyFile} does not exist): nothing to rotate.\n`);
      return 2;
    }
    oldKey = parseKey(readFileSync(keyFile, 'utf8'));
    if (env.NEW_ENCRYPTION_KEY) newKey = parseKey(env.NEW_ENCRYPTION_KEY);
    else if (existsSync(pending)) newKey = parseKey(readFileSync(pending, 'utf8'));
    else newKey = randomBytes(32);
    // The new key is on disk before any record depends on it.
    writeFileSync(pending, newKey.toString('base64') + '\n', { mode: 0o600 });
    chmodSync(pending, 0o600);
  }
  if (oldKey.equals(newKey)) {
    err('The new key is the current key: nothing to do.\n');
    return 2;
  }
  const from = new Vault(oldKey);
  const to = new Vault(newKey);
  const { db } = await openDb(config.databaseUrl);
  try {
    const r = await reencryptCredentials(db, from, to);
    if (fileMode) {
      renameSync(pending, keyFile); // atomic on one file system
      chmodSync(keyFile, 0o600);
    }
    out(
      `Re-encrypted ${r.rotated} stored credential(s)` +
        `${r.already ? ` (${r.already} already under the new key)` : ''}: key ${from.keyId} → ${to.keyId}.\n` +
        (fileMode
          ? `The new key is in ${keyFile}; back it up.\n`
          : 'Now set ENCRYPTION_KEY to the value of NEW_ENCRYPTION_KEY, then start MailFerry.\n'),
    );
    return 0;
  } finally {
    await db.$disconnect();
  }
}
