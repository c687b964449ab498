import { describe, expect, it } from 'vitest';
import { renderText } from '../../cards/render-text.ts';
import { renderBlockKit } from '../../cards/render-block-kit.ts';
import { renderEmail } from '../../cards/render-email.ts';
import { renderActivity } from '../../adapters/teams/render-activity.ts';
import { ADAPTIVE_CARD_SCHEMA } from '../../cards/render-adaptive-card.ts';
import { COMPLETION_NOTICE_SUBJECT } from '../../cards/completion-notice.ts';
import { USER_MESSAGES } from './user-messages.ts';
import { expectOnEverySurface } from './every-surface.ts';
import { defined } from '../harness/defined.ts';
import { joinedRegExp } from '../harness/regex.ts';

/**
 * The completion notice, the answers to the DM buttons and the admin's posts of them: each
 * rendered as plain text, Block Kit, an Adaptive Card 1.5 (validated against the official
 * schema) and an email, within the platforms' limits, every value escaped.
 */
describe('end-user notices and answers on every surface', () => {
  for (const [name, m] of Object.entries(USER_MESSAGES))
    it(`${name}: text, Block Kit, Adaptive Card 1.5 and email`, () => {
      const { email } = expectOnEverySurface(m, COMPLETION_NOTICE_SUBJECT);
      // Values are escaped in the HTML part: the organisation's name holds markup characters.
      expect(email.html).not.toContain('<Corp>');
    });

  it('the completion notice says what was copied, where it lives and whom to ask, with no link on any surface', () => {
    const m = USER_MESSAGES['completion notice'];
    const text = renderText(defined(m));
    expect(text).toContain('12,345 messages in 3 folders now live in bob.smith@new.example on mail.new.example:993.');
    expect(text).toContain('If something is missing, contact helpdesk@acme.example, +1 555 0100');
    expect(text).toContain('The new server refused 2 messages');
    const email = renderEmail(defined(m), COMPLETION_NOTICE_SUBJECT);
    expect(email.html).toContain('ACME &#60;Corp&#62; &#38; &#34;Partners&#34;: your mailbox has been moved');
    for (const rendered of [
      text,
      JSON.stringify(renderBlockKit(defined(m))),
      JSON.stringify(renderActivity(defined(m))).replace(`"$schema":"${ADAPTIVE_CARD_SCHEMA}"`, ''),
      email.text,
      email.html,
    ]) {
      expect(rendered).not.toMatch(/https?:\/\//);
      expect(rendered).not.toContain('/c/');
    }
    const later = renderText(defined(USER_MESSAGES['completion notice of a later pass, no support contact']));
    expect(later).toContain('55 messages since the last copy');
    expect(later).toContain('If something is missing, contact your IT administrator');
  });

  it("the DM's answer buttons carry a command naming the item by its opaque id, never the link", () => {
    const kit = renderBlockKit(defined(USER_MESSAGES['credential request DM with answer buttons']));
    const buttons = (
      kit.blocks.find((b) => b.type === 'actions') as {
        elements: { text: { text: string }; url?: string; value?: string }[];
      }
    ).elements;
    expect(buttons.map((b) => b.text.text)).toEqual([
      'Open the secure form',
      'Start now',
      'Remind me tomorrow',
      'This mailbox is not mine / not used',
    ]);
    expect(defined(buttons[0]).url).toBe('https://mailferry.example/c/abc');
    expect(defined(buttons[0]).value).toBeUndefined();
    expect(buttons.slice(1).map((b) => b.value)).toEqual(
      ['now', 'tomorrow', 'not-mine'].map(
        (c) => `answer 00000000-0000-4000-8000-000000000000.AAAAAAAAAAAAAAAAAAAAAA ${c}`,
      ),
    );
    expect(buttons.slice(1).every((b) => b.url === undefined)).toBe(true);
  });

  it('the admin\'s thread reads "bob chose: …"', () => {
    expect(renderText(defined(USER_MESSAGES['thread post: tomorrow']))).toMatch(
      joinedRegExp(
        /bob@old\.example\*? chose: remind me tomorrow\. /,
        /The next reminder goes out 2026-12-01 09:00 Europe\/Berlin \(08:00 UTC\)\./,
      ),
    );
    expect(renderText(defined(USER_MESSAGES['thread post: not-mine']))).toContain(
      'chose: this mailbox is not mine / not used. Stopped, not migrated',
    );
  });
});
