import { CardFactory, type Activity } from 'botbuilder';
import type { Message } from '../../cards/model.ts';
import { renderAdaptiveCard, type AdaptiveCard } from '../../cards/render-adaptive-card.ts';
import { projectStatusCard } from '../../cards/teams/teams-cards.ts';

/** A message activity carrying one Adaptive Card; `summary` is what notifications show. */
export function cardActivity(card: AdaptiveCard, summary: string): Partial<Activity> {
  return { type: 'message', summary: summary.slice(0, 250), attachments: [CardFactory.adaptiveCard(card)] };
}

/** The card a neutral message becomes in Teams (the project status gets its own card with actions). */
export function cardFor(m: Message): AdaptiveCard {
  return m.kind === 'project-status' ? projectStatusCard(m) : renderAdaptiveCard(m);
}

/** A neutral message as a Teams activity. */
export function renderActivity(m: Message): Partial<Activity> {
  return cardActivity(cardFor(m), m.text);
}
