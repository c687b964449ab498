import { expect } from 'vitest';
import type { Message } from '../../cards/model.ts';
import { renderText } from '../../cards/render-text.ts';
import { renderBlockKit, BLOCK_KIT_LIMITS } from '../../cards/render-block-kit.ts';
import { renderEmail } from '../../cards/render-email.ts';
import { renderActivity } from '../../adapters/teams/render-activity.ts';
import type { AdaptiveCard } from '../../cards/render-adaptive-card.ts';
import { validate } from '../adapters/teams/validate-card.ts';
import { defined } from '../harness/defined.ts';

/**
 * Renders a message as plain text, Block Kit, an Adaptive Card 1.5 (validated against the
 * official schema) and an email with `subject`, checking each is within the platforms'
 * limits; returns the text and the email for further checks.
 */
export function expectOnEverySurface(
  m: Message,
  subject: string,
): { text: string; email: ReturnType<typeof renderEmail> } {
  const text = renderText(m);
  expect(text.trim().length).toBeGreaterThan(20);
  const kit = renderBlockKit(m);
  expect(kit.blocks.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.blocks);
  expect(kit.text.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.fallbackText);
  const card = defined((renderActivity(m) as { attachments: { content: AdaptiveCard }[] }).attachments[0]).content;
  expect(card.version).toBe('1.5');
  expect(validate(card)).toEqual([]);
  const email = renderEmail(m, subject);
  expect(email.text.trim().length).toBeGreaterThan(20);
  return { text, email };
}
