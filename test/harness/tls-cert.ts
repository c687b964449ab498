import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Writes a self-signed certificate and its key (`cert.pem`, `key.pem`) into `dir` with
 * openssl, valid two days, for `commonName` and the subject alternative names `san`
 * (openssl's form, e.g. `IP:127.0.0.1,DNS:localhost`). Returns the two paths.
 */
export function writeSelfSignedCert(dir: string, commonName: string, san: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2'],
      ...['-subj', `/CN=${commonName}`, '-addext', `subjectAltName=${san}`],
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}
