import { storedSide } from '../domain/types.ts';
import type { Db } from '../store/db.ts';
import type { Vault } from './vault.ts';

/** What a rotation did. */
export interface RotationResult {
  /** Records re-encrypted now. */
  rotated: number;
  /** Records already under the new key (an interrupted rotation resumed). */
  already: number;
}

/**
 * Re-encrypts every stored credential (items' and projects' admin credentials) from `from`
 * to `to` in one transaction: each record is opened with the old key (its item or project
 * id and side as associated data, as when it was sealed) and sealed again with a fresh
 * nonce under the new key. All or nothing: a record
 * under neither key, or one that fails to open, aborts the whole rotation.
 */
export async function reencryptCredentials(db: Db, from: Vault, to: Vault): Promise<RotationResult> {
  return db.$transaction(async (tx) => {
    const rows = await tx.credential.findMany();
    let rotated = 0;
    let already = 0;
    for (const row of rows) {
      if (!mustReseal(row.keyId, from, to, 'a stored credential was')) {
        already++;
        continue;
      }
      const side = storedSide(row.side);
      const sealed = to.seal(row.itemId, side, from.open(row.itemId, side, row));
      await tx.credential.update({
        where: { itemId_side: { itemId: row.itemId, side: row.side } },
        data: sealedColumns(sealed),
      });
      rotated++;
    }
    // Project admin credentials (`project connect`), bound to their project and side.
    for (const row of await tx.projectCredential.findMany()) {
      if (!mustReseal(row.keyId, from, to, "a project's admin credentials were")) {
        already++;
        continue;
      }
      const side = storedSide(row.side);
      const sealed = to.sealAdmin(row.projectId, side, from.openAdmin(row.projectId, side, row));
      await tx.projectCredential.update({
        where: { projectId_side: { projectId: row.projectId, side: row.side } },
        data: sealedColumns(sealed),
      });
      rotated++;
    }
    // Sign-ins in flight live minutes: they are dropped rather than re-sealed (the user clicks the button again).
    await tx.oAuthState.deleteMany({});
    return { rotated, already };
  });
}

/**
 * Whether a record sealed under `keyId` is re-sealed now: false when it is already under the
 * new key (an interrupted rotation resumed); an error, which rolls the whole rotation back,
 * when it is under neither key.
 */
function mustReseal(keyId: string, from: Vault, to: Vault, whatWas: string): boolean {
  if (keyId === to.keyId) return false;
  if (keyId !== from.keyId)
    throw new Error(
      `${whatWas} sealed with key ${keyId}, which is neither the ` +
        `current key (${from.keyId}) nor the new one; nothing was changed`,
    );
  return true;
}

/** The columns of a sealed record, as the store keeps them. */
function sealedColumns(sealed: { nonce: Uint8Array; ciphertext: Uint8Array; tag: Uint8Array; keyId: string }) {
  return {
    nonce: Uint8Array.from(sealed.nonce),
    ciphertext: Uint8Array.from(sealed.ciphertext),
    tag: Uint8Array.from(sealed.tag),
    keyId: sealed.keyId,
  };
}
