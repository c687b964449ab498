/** Connectors: the IMAP side of the engine (imap:// and imaps:// URLs). */
export type { ConnectorEndpoint, ConnectorSecret, ConnectorSide, ConnectorOptions, MasterLogin, VerifyResult, ConnectorFailureReason } from './types.ts';
export { verifyCredentials } from './imap/verify-credentials.ts';
export { failureReasonFor, classifyImapError, errorDetail } from './imap/classify-error.ts';
export { connectImap, closeImap, imapOptions } from './imap/open-imap.ts';
export { parseImapUrl } from './imap/parse-imap-url.ts';
