import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Side } from '../domain/types.ts';

/** A sealed secret as stored: AES-256-GCM with a random 96-bit nonce. */
export interface Sealed {
  nonce: Uint8Array;
  ciphertext: Uint8Array;
  tag: Uint8Array;
  /** First 16 hex chars of SHA-256(key): tells which key sealed a record (for rotation). */
  keyId: string;
}

/** What the vault keeps for one side of an item. */
export interface SecretValue {
  password?: string;
  accessToken?: string;
  /** OAuth 2.0 refresh token of a delegated sign-in ("Sign in with Microsoft"). */
  refreshToken?: string;
}

/**
 * What the vault keeps for one side of a project (`project connect`): an IMAP admin login
 * that acts as any mailbox, or a Microsoft 365 app registration (client credentials).
 */
export type AdminSecret =
  | {
      kind: 'imap-master';
      /** The admin (master) user. */
      user: string;
      password: string;
      /** `authzid`: SASL PLAIN authorization identity (RFC 4616); `separator`: `mailbox<sep>admin` (Dovecot). */
      style: 'authzid' | 'separator';
      separator?: string;
    }
  | {
      kind: 'm365-app';
      /**
       * `app` (default): the app opens every mailbox itself (IMAP.AccessAsApp), no user is asked;
       * `signin`: each user signs in with Microsoft through this app (IMAP.AccessAsUser.All).
       */
      use?: 'app' | 'signin';
      clientId: string;
      clientSecret?: string;
      certificate?: { privateKeyPem: string; thumbprint: string };
    };

/**
 * What an OAuth request in flight keeps sealed: the PKCE code verifier (RFC 7636) and the token of the form link it
 * started from.
 */
export interface OAuthStateSecret {
  codeVerifier: string;
  linkToken: string;
}

/** Identifies a key without revealing it. */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/** Parses a base64 key of exactly 32 bytes, or throws a message that says how to make one. */
export function parseKey(b64: string): Buffer {
  const key = Buffer.from(b64.trim(), 'base64');
  if (key.length !== 32)
    throw new Error(
      `ENCRYPTION_KEY must be 32 bytes in base64 (got ${key.length} bytes); make one with: openssl rand -base64 32`,
    );
  return key;
}

/**
 * Loads the key: `ENCRYPTION_KEY` when set, otherwise the key file (created on first
 * start with 32 random bytes, mode 0600).
 */
export function loadKey(envKey: string | undefined, keyFile: string): { key: Buffer; created: boolean } {
  if (envKey) return { key: parseKey(envKey), created: false };
  if (existsSync(keyFile)) return { key: parseKey(readFileSync(keyFile, 'utf8')), created: false };
  mkdirSync(dirname(keyFile), { recursive: true });
  const key = randomBytes(32);
  writeFileSync(keyFile, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(keyFile, 0o600);
  return { key, created: true };
}

/**
 * Associated data binding a record to its item and side: a sealed source password cannot be replayed as another item's,
 * or as the destination's.
 */
function aad(itemId: string, side: Side): Buffer {
  return Buffer.from(`mailferry:v1:${itemId}:${side}`, 'utf8');
}

/**
 * Associated data of a project's admin credentials: bound to the project and side, and never mistaken for an item's
 * record.
 */
function adminAad(projectId: string, side: Side): Buffer {
  return Buffer.from(`mailferry:v1:project:${projectId}:${side}`, 'utf8');
}

/** Associated data of an OAuth request in flight (its PKCE verifier), bound to the request's id. */
function stateAad(stateId: string): Buffer {
  return Buffer.from(`mailferry:v1:oauth-state:${stateId}`, 'utf8');
}

/** Encrypts and decrypts item credentials with AES-256-GCM. */
export class Vault {
  readonly keyId: string;
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('vault key must be 32 bytes');
    this.keyId = keyIdOf(key);
  }

  /** A secret for another purpose derived from the key (HMAC-SHA256 of the label): never the key itself. */
  derive(label: string): Buffer {
    return createHmac('sha256', this.key).update(label).digest();
  }

  /** Seals a secret for (item, side). */
  seal(itemId: string, side: Side, value: SecretValue): Sealed {
    return this.sealWith(aad(itemId, side), value);
  }

  /** Opens a sealed secret; throws when the key, item, side or bytes do not match. */
  open(itemId: string, side: Side, sealed: Omit<Sealed, 'keyId'>): SecretValue {
    return this.openWith(aad(itemId, side), sealed) as SecretValue;
  }

  /** Seals the admin credentials of one side of a project. */
  sealAdmin(projectId: string, side: Side, value: AdminSecret): Sealed {
    return this.sealWith(adminAad(projectId, side), value);
  }

  /** Opens a project's admin credentials; throws when the key, project, side or bytes do not match. */
  openAdmin(projectId: string, side: Side, sealed: Omit<Sealed, 'keyId'>): AdminSecret {
    return this.openWith(adminAad(projectId, side), sealed) as AdminSecret;
  }

  /**
   * Seals what an OAuth request in flight must remember until its callback: the PKCE code verifier and the form link's
   * token.
   */
  sealState(stateId: string, value: OAuthStateSecret): Sealed {
    return this.sealWith(stateAad(stateId), value);
  }

  /** Opens what {@link sealState} sealed. */
  openState(stateId: string, sealed: Omit<Sealed, 'keyId'>): OAuthStateSecret {
    return this.openWith(stateAad(stateId), sealed) as OAuthStateSecret;
  }

  private sealWith(ad: Buffer, value: unknown): Sealed {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(ad);
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return { nonce, ciphertext, tag: cipher.getAuthTag(), keyId: this.keyId };
  }

  private openWith(ad: Buffer, sealed: Omit<Sealed, 'keyId'>): unknown {
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, sealed.nonce);
      decipher.setAAD(ad);
      decipher.setAuthTag(sealed.tag);
      const plain = Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
      return JSON.parse(plain.toString('utf8'));
    } catch (e) {
      throw new SealedSecretError(e instanceof Error ? e.message : String(e));
    }
  }
}

/** A sealed secret that cannot be opened with this key (another key, or altered bytes). Says nothing of the secret. */
export class SealedSecretError extends Error {
  readonly code = 'SEALED_SECRET';
  constructor(why: string) {
    super(`a stored secret cannot be opened with the current key (${why})`);
    this.name = 'SealedSecretError';
  }
}
