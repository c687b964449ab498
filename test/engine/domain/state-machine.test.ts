import { describe, expect, it } from 'vitest';
import { decide } from '../../../engine/domain/state-machine.ts';
import { UserError } from '../../../engine/errors.ts';
import type { ItemStatus } from '../../../engine/domain/types.ts';

const a = 'alice@old.example';
const at = (status: ItemStatus, missingCredentials = false) => ({ address: a, status, missingCredentials });

function refusal(fn: () => unknown): UserError {
  try {
    fn();
  } catch (e) {
    if (e instanceof UserError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('item state machine', () => {
  it('an item whose credentials are unknown goes to WaitingForUser when submitted', () => {
    expect(decide('submit', at('NotStarted', true)).to).toBe('WaitingForUser');
  });

  it('an item whose credentials are known is queued when submitted', () => {
    for (const s of ['NotStarted', 'Stopped', 'Failed', 'Completed'] as ItemStatus[])
      expect(decide('submit', at(s)).to).toBe('Queued');
  });

  it('credentials received submit the waiting item at once', () => {
    expect(decide('credentials-received', at('WaitingForUser')).to).toBe('Queued');
    expect(decide('credentials-received', at('WaitingForUser', true)).to).toBe('WaitingForUser');
  });

  it('invalid credentials turn a waiting item Failed', () => {
    expect(decide('credentials-refused', at('WaitingForUser')).to).toBe('Failed');
  });

  it('an item in WaitingForUser cannot be deleted: stop it first', () => {
    const e = refusal(() => decide('delete', at('WaitingForUser')));
    expect(e.message).toBe('alice@old.example is waiting for its user; stop it before deleting it.');
    expect(e.code).toBe('ITEM_WAITING');
    expect(decide('stop', at('WaitingForUser')).to).toBe('Stopped');
    expect(decide('delete', at('Stopped')).deleted).toBe(true);
  });

  it('a queued or running item cannot be deleted', () => {
    expect(refusal(() => decide('delete', at('Queued'))).message).toMatch(/queued; stop it before deleting it/);
    expect(refusal(() => decide('delete', at('Running'))).message).toMatch(/running; stop it before deleting it/);
  });

  it('stop on a running item asks the pass to end at the next message boundary', () => {
    const d = decide('stop', at('Running'));
    expect(d.to).toBe('Running');
    expect(d.stopRequested).toBe(true);
  });

  it('stop on an idle item is refused with the reason', () => {
    expect(refusal(() => decide('stop', at('Completed'))).message).toBe(
      'alice@old.example is not running or waiting (it is completed); there is nothing to stop.',
    );
  });

  it('a waiting item is not submitted twice: resend instead', () => {
    const e = refusal(() => decide('submit', at('WaitingForUser')));
    expect(e.hint).toMatch(/resend alice@old\.example/);
  });

  it('clear-credentials needs the item stopped first', () => {
    expect(refusal(() => decide('clear-credentials', at('WaitingForUser'))).message).toMatch(
      /stop it before clearing its credentials/,
    );
    expect(decide('clear-credentials', at('Failed')).to).toBe('Failed');
  });

  it('resend only applies to a waiting item', () => {
    expect(decide('resend', at('WaitingForUser')).to).toBe('WaitingForUser');
    expect(refusal(() => decide('resend', at('NotStarted'))).code).toBe('ITEM_NOT_WAITING');
  });

  it('the runner claims only queued items and ends only running ones', () => {
    expect(decide('claim', at('Queued')).to).toBe('Running');
    expect(refusal(() => decide('claim', at('Running'))).code).toBe('ITEM_NOT_QUEUED');
    expect(decide('pass-completed', at('Running')).to).toBe('Completed');
    expect(decide('pass-failed', at('Running')).to).toBe('Failed');
    expect(decide('pass-stopped', at('Running')).to).toBe('Stopped');
    expect(refusal(() => decide('pass-completed', at('Stopped'))).code).toBe('ITEM_NOT_RUNNING');
    // Shutdown, or a dead process's pass taken over: back to the queue to resume.
    expect(decide('pass-interrupted', at('Running')).to).toBe('Queued');
    expect(refusal(() => decide('pass-interrupted', at('Queued'))).code).toBe('ITEM_NOT_RUNNING');
  });
});
