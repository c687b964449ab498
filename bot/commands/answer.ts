import { defineCommand } from './types.ts';
import { UserError } from '../../engine/errors.ts';
import { USER_CHOICES } from '../../cards/user-choice.ts';

/**
 * `answer ID CHOICE`: what the choice buttons of a credential request DM run, as the
 * person who clicks. Not for admins only: the end user clicks it, and the choice id only
 * answers for the person the DM was sent to.
 */
export const answer = defineCommand({
  name: 'answer',
  summary: "An end user's answer to a migration request (sent by the buttons of the direct message).",
  args: [
    { name: 'ID', required: true, kind: 'text' },
    { name: 'CHOICE', required: true, kind: 'text' },
  ],
  options: [],
  examples: ['/migrate answer ID tomorrow'],
  admin: false,
  hidden: true,
  async handler(ctx, { args }) {
    const choice = USER_CHOICES.find((c) => c === args.CHOICE.toLowerCase());
    if (!choice) throw new UserError('BAD_CHOICE', `"${args.CHOICE}" is not an answer: ${USER_CHOICES.join(', ')}.`);
    if (!ctx.services.answerChoice) throw new UserError('NO_CHOICES', 'Answers are not taken here.');
    await ctx.reply(await ctx.services.answerChoice(ctx.actor, args.ID, choice));
  },
});
