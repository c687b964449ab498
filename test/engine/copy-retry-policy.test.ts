import { describe, expect, it } from 'vitest';
import {
  keepsConnections,
  retryDecision,
  type RetryContext,
  type RetryDecision,
} from '../../engine/copy/retry-policy.ts';
import { CopyError } from '../../engine/copy/types.ts';

// The retry policy of a pass, without any server: errors shaped as imapflow and the engine
// throw them (a closed socket, a refused login, an Office 365 throttle, a quota NO, TRYCREATE).

const ctx = (over: Partial<RetryContext> = {}): RetryContext => ({
  attempt: 0,
  errors: 0,
  stopping: false,
  inFolder: true,
  folderCreated: false,
  maxErrors: 100,
  maxRetries: 8,
  retryBaseMs: 500,
  ...over,
});

const dropped = (side: 'source' | 'destination') =>
  Object.assign(new Error('Connection closed'), { code: 'EConnectionClosed', side });
const refusedLogin = (side: 'source' | 'destination') =>
  Object.assign(new Error('Command failed'), {
    authenticationFailed: true,
    responseText: 'Authentication failed.',
    side,
  });
const throttled = (hint: number | undefined, waited?: number) =>
  Object.assign(new Error('Command failed'), {
    code: 'ETHROTTLE',
    ...(hint === undefined ? {} : { throttleReset: hint }),
    ...(waited === undefined ? {} : { throttleWaited: waited }),
    side: 'source',
  });
const folderMissing = () =>
  new CopyError(
    'DESTINATION_FOLDER_MISSING',
    'Internal',
    'the destination says folder Archive does not exist: [TRYCREATE] Mailbox does not exist',
  );
const folderRefused = () =>
  new CopyError(
    'FOLDER_REFUSED',
    'Internal',
    'the destination refused to create folder Bad/Name: Invalid mailbox name',
  );

/** Feeds the same error to the policy as the pass would, attempt after attempt, until it stops retrying. */
function attemptsUntilGivenUp(
  err: unknown,
  over: Partial<RetryContext> = {},
): { waits: number[]; last: RetryDecision; errors: number } {
  const c = ctx(over);
  const waits: number[] = [];
  for (;;) {
    const d = retryDecision(err, c);
    if (d.countsError) c.errors++;
    if (d.action !== 'backoff') return { waits, last: d, errors: c.errors };
    c.attempt++;
    waits.push(d.ms);
  }
}

describe('retry policy', () => {
  it('backs off from a dropped connection, doubling up to 30 s, and gives up after maxRetries attempts', () => {
    const r = attemptsUntilGivenUp(dropped('source'));
    expect(r.waits).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    expect(r.last).toMatchObject({ action: 'fail', reason: 'SourceUnreachable', countsError: true });
    expect(r.last.action === 'fail' && r.last.detail).toMatch(
      /^gave up after 8 retries: source: EConnectionClosed: Connection closed$/,
    );
    expect(r.errors).toBe(9);
  });

  it('fails when the pass has more errors than it tolerates, naming the last one', () => {
    const d = retryDecision(dropped('destination'), ctx({ errors: 3, maxErrors: 3 }));
    expect(d).toMatchObject({ action: 'fail', reason: 'DestinationUnreachable', countsError: true });
    expect(d.action === 'fail' && d.detail).toBe(
      'more than 3 errors; last: destination: EConnectionClosed: Connection closed',
    );
    expect(retryDecision(dropped('destination'), ctx({ errors: 2, maxErrors: 3 })).action).toBe('backoff');
  });

  it('ends the pass on refused credentials and on quota, naming the side, without counting an error', () => {
    expect(retryDecision(refusedLogin('source'), ctx())).toMatchObject({
      action: 'fail',
      reason: 'SourceCredentials',
      countsError: false,
    });
    expect(retryDecision(refusedLogin('destination'), ctx())).toMatchObject({
      action: 'fail',
      reason: 'DestinationCredentials',
    });
    const quota = Object.assign(new Error('Command failed'), {
      responseText: 'Quota exceeded (mailbox for user is full)',
      side: 'destination',
    });
    expect(retryDecision(quota, ctx())).toMatchObject({
      action: 'fail',
      reason: 'DestinationQuota',
      countsError: false,
    });
  });

  it('waits out the rest of a throttle hint, uncounted and without limit, and keeps the connections', () => {
    expect(retryDecision(throttled(1500, 400), ctx())).toEqual({ action: 'wait', ms: 1100, countsError: false });
    expect(retryDecision(throttled(1500, 2000), ctx())).toEqual({ action: 'wait', ms: 0, countsError: false });
    // An O365 reply read around imapflow's parser carries only the text.
    const textOnly = Object.assign(new Error('UID FETCH failed'), {
      responseText: 'Request is throttled. Suggested Backoff Time: 2500 milliseconds',
      side: 'source',
    });
    expect(retryDecision(textOnly, ctx())).toEqual({ action: 'wait', ms: 2500, countsError: false });
    // A throttle reply without a hint: 1 s. Far past maxRetries and maxErrors, still a wait.
    expect(retryDecision(throttled(undefined), ctx({ attempt: 50, errors: 500, maxErrors: 1 }))).toEqual({
      action: 'wait',
      ms: 1000,
      countsError: false,
    });
    expect(keepsConnections(throttled(1500))).toBe(true);
    expect(keepsConnections(dropped('source'))).toBe(false);
  });

  it('while stopping, neither waits out a throttle nor counts a connection the stop dropped', () => {
    expect(retryDecision(throttled(60_000), ctx({ stopping: true }))).toEqual({ action: 'stop', countsError: false });
    expect(retryDecision(dropped('destination'), ctx({ stopping: true }))).toEqual({
      action: 'stop',
      countsError: false,
    });
    // Refused credentials while stopping are still a refusal.
    expect(retryDecision(refusedLogin('source'), ctx({ stopping: true })).action).toBe('fail');
  });

  it('creates a missing destination folder once; a second time fails the pass', () => {
    expect(retryDecision(folderMissing(), ctx())).toEqual({ action: 'create-folder', countsError: false });
    expect(retryDecision(folderMissing(), ctx({ folderCreated: true }))).toMatchObject({
      action: 'fail',
      reason: 'Internal',
      countsError: false,
    });
    // Outside a folder copy (the listing) there is no folder to create.
    expect(retryDecision(folderMissing(), ctx({ inFolder: false })).action).toBe('fail');
  });

  it('reports a folder the destination will not create and goes on, until too many errors', () => {
    expect(retryDecision(folderRefused(), ctx())).toEqual({
      action: 'folder-done',
      error: folderRefused().message,
      countsError: true,
    });
    const d = retryDecision(folderRefused(), ctx({ errors: 5, maxErrors: 5 }));
    expect(d).toMatchObject({
      action: 'fail',
      reason: 'Internal',
      countsError: true,
      folderError: folderRefused().message,
    });
    expect(d.action === 'fail' && d.detail).toBe(`more than 5 errors; last: ${folderRefused().message}`);
  });

  it('never retries an engine error or a bug: the store failing and a TypeError end the pass as Internal', () => {
    const store = new CopyError(
      'STORE',
      'Internal',
      'internal error: the checkpoint store failed to save a checkpoint: SQLITE_FULL',
    );
    expect(retryDecision(store, ctx())).toEqual({
      action: 'fail',
      reason: 'Internal',
      detail: store.message,
      countsError: false,
    });
    const bug = new TypeError("Cannot read properties of undefined (reading 'uid')");
    expect(retryDecision(bug, ctx())).toEqual({
      action: 'fail',
      reason: 'Internal',
      detail: "internal error: TypeError: Cannot read properties of undefined (reading 'uid')",
      countsError: false,
    });
    // The same class thrown inside a server's command (tagged with its side) is that server's failure: retried.
    expect(retryDecision(Object.assign(new TypeError('bad response'), { side: 'source' }), ctx()).action).toBe(
      'backoff',
    );
  });

  it('an unknown failure from a server is retried and, when it persists, fails as Internal', () => {
    const odd = Object.assign(new Error('Command failed'), {
      responseStatus: 'NO',
      responseText: 'Server error',
      side: 'destination',
    });
    const r = attemptsUntilGivenUp(odd, { maxRetries: 2, retryBaseMs: 10 });
    expect(r.waits).toEqual([10, 20]);
    expect(r.last).toMatchObject({
      action: 'fail',
      reason: 'Internal',
      detail: 'gave up after 2 retries: destination: Server error',
    });
  });
});
