/**
 * Connectors: IMAP (imap://, imaps://) and Microsoft 365 (m365://: IMAP with tokens from Microsoft's identity
 * platform).
 */
export type {
  ConnectorEndpoint,
  ConnectorSecret,
  ConnectorSide,
  ConnectorOptions,
  MasterLogin,
  VerifyResult,
  ConnectorFailureReason,
} from './types.ts';
export { verifyCredentials } from './imap/verify-credentials.ts';
export { failureReasonFor, classifyImapError, errorDetail } from './imap/classify-error.ts';
export { connectImap, closeImap, imapOptions } from './imap/open-imap.ts';
export { parseImapUrl } from './imap/parse-imap-url.ts';
export {
  appTokenSource,
  delegatedTokenSource,
  beginSignIn,
  completeSignIn,
  m365Settings,
  M365AuthError,
  type M365App,
  type M365Settings,
  type TokenSource,
} from './m365/index.ts';
