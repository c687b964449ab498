import * as AC from 'adaptivecards';

/**
 * Parses a card with the Adaptive Cards library at schema 1.5 and returns every warning
 * or error it reports (PLATFORM-NOTES: the library does not enforce the version itself,
 * so the version is checked here too).
 */
export function validate(card: any): string[] {
  const problems: string[] = [];
  if (card.version !== '1.5') problems.push(`version ${card.version}`);
  if (JSON.stringify(card).includes('${')) problems.push('unexpanded template binding');
  const ctx = new AC.SerializationContext(AC.Versions.v1_5);
  const parsed = new AC.AdaptiveCard();
  parsed.parse(card, ctx);
  for (let i = 0; i < ctx.eventCount; i++) {
    const e = ctx.getEventAt(i);
    problems.push(`parse: ${e.message}`);
  }
  for (const e of parsed.validateProperties().validationEvents) problems.push(`validate: ${e.message}`);
  return problems;
}

