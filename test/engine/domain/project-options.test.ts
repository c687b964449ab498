import { describe, expect, it } from 'vitest';
import { readProjectOptions } from '../../../engine/domain/project-options.ts';

describe('stored project settings', () => {
  it('reads valid settings and keeps fields a newer version may have written', () => {
    const r = readProjectOptions(JSON.stringify({ include: ['INBOX'], rename: { Sent: 'Sent Items' }, maxMessagesPerHour: 3600, futureField: 1 }));
    expect(r.problems).toEqual([]);
    expect(r.options).toEqual({ include: ['INBOX'], rename: { Sent: 'Sent Items' }, maxMessagesPerHour: 3600, futureField: 1 });
  });

  it('names every unreadable field instead of dropping it silently', () => {
    const r = readProjectOptions(JSON.stringify({ exclude: 'Trash', maxMessagesPerHour: -5, linkTtlHours: 24, reminderDays: [1, 'x'] }));
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
});
