import { describe, expect, it } from 'vitest';
import { renderText } from '../../cards/render-text.ts';
import { expectOnEverySurface } from './every-surface.ts';
import { SCHEDULE_MESSAGES } from './schedule-messages.ts';
import { defined } from '../harness/defined.ts';

/**
 * Scheduled starts and copy windows as admins read them: each message rendered as plain
 * text, Block Kit, an Adaptive Card 1.5 (validated against the official schema) and an
 * email, within the platforms' limits; times in the project's zone and in UTC.
 */
describe('scheduled starts and copy windows on every surface', () => {
  for (const [name, m] of Object.entries(SCHEDULE_MESSAGES))
    it(`${name}: text, Block Kit, Adaptive Card 1.5 and email`, () => {
      expectOnEverySurface(m, 'MailFerry');
    });

  it("says when, in the project's zone and in UTC, and how to cancel", () => {
    const one = renderText(defined(SCHEDULE_MESSAGES['start scheduled (one mailbox)']));
    expect(one).toContain('Scheduled: 1 mailbox start 2026-12-05 22:00 Europe/Berlin (21:00 UTC).');
    expect(one).toContain('/migrate stop alice@old.example');
    const many = renderText(defined(SCHEDULE_MESSAGES['start scheduled (many, some refused, outside the window)']));
    expect(many).toContain(
      'outside the copy window (22:00-06:00): copying begins when it opens, 2026-12-05 22:00 Europe/Berlin (21:00 UTC)',
    );
    expect(many).toContain('bob@old.example is already running.');
    expect(renderText(defined(SCHEDULE_MESSAGES['scheduled start cancelled']))).toContain(
      'alice@old.example: its start scheduled for 2026-12-05 22:00 Europe/Berlin (21:00 UTC) is cancelled.',
    );
  });

  it('a paused pass reads "Paused until 22:00 (window)" in the thread and in status', () => {
    expect(renderText(defined(SCHEDULE_MESSAGES['status post: paused']))).toContain(
      'alice@old.example: Paused until 22:00 (window).',
    );
    const status = renderText(defined(SCHEDULE_MESSAGES['project status with a window and scheduled starts']));
    expect(status).toContain('22:00-06:00 Europe/Berlin: closed now, opens 2026-11-30 22:00 Europe/Berlin (21:00 UTC)');
    expect(status).toContain(
      'user1@old.example → user1@new.example — Not started — ' +
        'scheduled to start 2026-12-05 22:00 Europe/Berlin (21:00 UTC)',
    );
    expect(status).toContain('user2@old.example → user2@new.example — Queued — Paused until 22:00 (window)');
    expect(status).toContain(
      'user3@old.example → user3@new.example — Queued — waits for the copy window (opens 22:00)',
    );
    expect(status).toMatch(/Scheduled:?\s*1 mailbox, the next 2026-12-05 22:00 Europe\/Berlin/);
  });
});
