import { describe, expect, it } from 'vitest';
import { readProjectOptions } from '../../../engine/domain/project-options.ts';
import { parsePassKind, passWindow } from '../../../engine/domain/pass-kind.ts';

describe('stored project settings', () => {
  it('reads valid settings and keeps fields a newer version may have written', () => {
    const r = readProjectOptions(
      JSON.stringify({ include: ['INBOX'], rename: { Sent: 'Sent Items' }, maxMessagesPerHour: 3600, futureField: 1 }),
    );
    expect(r.problems).toEqual([]);
    expect(r.options).toEqual({
      include: ['INBOX'],
      rename: { Sent: 'Sent Items' },
      maxMessagesPerHour: 3600,
      futureField: 1,
    });
  });

  it('names every unreadable field instead of dropping it silently', () => {
    const r = readProjectOptions(
      JSON.stringify({ exclude: 'Trash', maxMessagesPerHour: -5, linkTtlHours: 24, reminderDays: [1, 'x'] }),
    );
    expect(r.problems).toEqual([
      'exclude must be a list of folder names, found "Trash"',
      'maxMessagesPerHour must be a whole number, found -5',
      'reminderDays must be a list of whole days, found [1,"x"]',
    ]);
    expect(r.options).toEqual({ linkTtlHours: 24 });
  });

  it('says when the text is not a JSON object at all', () => {
    expect(readProjectOptions('{"include": [').problems[0]).toMatch(/^not JSON: /);
    expect(readProjectOptions('[]').problems).toEqual(['not a JSON object']);
    expect(readProjectOptions('')).toEqual({ options: {}, problems: [] });
  });

  it('checks a stored date range: real days, and not an empty range', () => {
    expect(readProjectOptions(JSON.stringify({ since: '2019-01-01', until: '2019-12-31' })).problems).toEqual([]);
    expect(readProjectOptions(JSON.stringify({ since: '2019-02-30', until: 20191231 })).problems).toEqual([
      'since must be a day as YYYY-MM-DD, found "2019-02-30"',
      'until must be a day as YYYY-MM-DD, found 20191231',
    ]);
    expect(readProjectOptions(JSON.stringify({ since: '2020-01-02', until: '2020-01-01' })).problems).toEqual([
      'since (2020-01-02) is after until (2020-01-01)',
    ]);
  });
});

describe('pass kinds and their date window', () => {
  const now = new Date('2026-11-30T12:00:00Z');
  it('reads the stored kind; anything unknown is a full pass', () => {
    expect(parsePassKind('prestage:30')).toEqual({ type: 'prestage', days: 30 });
    expect(parsePassKind('full')).toEqual({ type: 'full' });
    expect(parsePassKind('prestage:0')).toEqual({ type: 'full' });
    expect(parsePassKind(null)).toEqual({ type: 'full' });
  });
  it(
    "a full pass without a range has no window; the range's days " +
      'are both included; a pre-stage cuts at N days before now',
    () => {
      expect(passWindow({ type: 'full' }, {}, now)).toBeUndefined();
      expect(passWindow({ type: 'full' }, { since: '2019-01-01', until: '2019-12-31' }, now)).toEqual({
        since: new Date('2019-01-01T00:00:00Z'),
        before: new Date('2020-01-01T00:00:00Z'),
      });
      expect(passWindow({ type: 'prestage', days: 30 }, {}, now)).toEqual({ before: new Date('2026-10-31T12:00:00Z') });
      // The earlier of the range's end and the pre-stage's cutoff.
      expect(passWindow({ type: 'prestage', days: 30 }, { until: '2019-12-31' }, now)).toEqual({
        before: new Date('2020-01-01T00:00:00Z'),
      });
      expect(passWindow({ type: 'prestage', days: 30 }, { since: '2026-01-01', until: '2026-12-31' }, now)).toEqual({
        since: new Date('2026-01-01T00:00:00Z'),
        before: new Date('2026-10-31T12:00:00Z'),
      });
    },
  );
});
