/**
 * Connector types shared by the copy engine and the job runner. A connector endpoint is
 * everything needed to log in to one side of a migration; secrets live here only in
 * memory and are never logged.
 */

import type { TokenSource } from './m365/types.ts';

/**
 * The secret of an endpoint: a password, an OAuth 2.0 access token (SASL
 * XOAUTH2/OAUTHBEARER, RFC 7628), or a source of access tokens (Microsoft 365): every new
 * connection then takes a token from it, and a login refused with a token the source
 * thought valid is retried once with a renewed one.
 */
export type ConnectorSecret = { password: string } | { accessToken: string } | { oauth: TokenSource };

/** Which side of a migration an endpoint is. */
export type ConnectorSide = 'source' | 'destination';

/**
 * Admin (master-user) login: log in with the admin's credentials and act as `login`.
 * `authzid` sends the target as SASL PLAIN authorization identity (RFC 4616); `separator`
 * logs in as `login<sep>admin` (Dovecot's `auth_master_user_separator`, default `*`).
 */
export interface MasterLogin {
  user: string;
  style: 'authzid' | 'separator';
  separator?: string;
}

/** Connection tuning of an endpoint. */
export interface ConnectorOptions {
  /** TCP connect + TLS handshake limit (ms). Default 30 s. */
  connectTimeoutMs?: number;
  /** Wait for the server greeting (ms). Default 15 s. */
  greetingTimeoutMs?: number;
  /** Socket inactivity limit (ms). Default 5 min. */
  socketTimeoutMs?: number;
  /**
   * TLS options; `rejectUnauthorized: false` accepts self-signed certificates; `ca` (PEM) is trusted on top of the
   * system's roots.
   */
  tls?: { rejectUnauthorized?: boolean; servername?: string; ca?: string };
}

/**
 * One side of a migration: `imap://host:port`, `imaps://host:port` or `m365://TENANT_ID[?imap=HOST:PORT]`, a login and
 * its secret.
 */
export interface ConnectorEndpoint {
  url: string;
  login: string;
  secret: ConnectorSecret;
  /** When set, `secret` belongs to this admin user, who logs in on behalf of `login`. */
  master?: MasterLogin;
  options?: ConnectorOptions;
}

/** The outcome of a credentials check. */
export type VerifyResult =
  | { ok: true }
  | { ok: false; kind: 'refused' | 'unreachable' | 'throttled' | 'error'; detail: string };

/** Failure reasons the connectors produce (a subset of the domain's FailureReason enum). */
export type ConnectorFailureReason =
  | 'SourceCredentials'
  | 'DestinationCredentials'
  | 'SourceUnreachable'
  | 'DestinationUnreachable'
  | 'Internal';
