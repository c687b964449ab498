import type { Action, Message } from './model.ts';
import { formatTime } from './format.ts';
import { supportSentence, type OrganisationView } from './organisation.ts';

/** The answers an end user can give in the credential request DM. */
export const USER_CHOICES = ['now', 'tonight', 'tomorrow', 'not-mine'] as const;
/** One of {@link USER_CHOICES}. */
export type UserChoice = (typeof USER_CHOICES)[number];

/** The button of each choice, and how the admin's thread words it. */
const CHOICE: Record<UserChoice, { button: string; said: string; style?: 'primary' | 'danger' }> = {
  now: { button: 'Start now', said: 'start now (as soon as the credentials are in)' },
  tonight: { button: 'Tonight', said: 'tonight' },
  tomorrow: { button: 'Remind me tomorrow', said: 'remind me tomorrow' },
  'not-mine': {
    button: 'This mailbox is not mine / not used',
    said: 'this mailbox is not mine / not used',
    style: 'danger',
  },
};

/** The command line a choice button runs as the person who clicks it. */
export function choiceCommand(choiceId: string, choice: UserChoice): string {
  return `answer ${choiceId} ${choice}`;
}

/**
 * The choice buttons beside the form link of a DM. They carry no secret: the value names
 * the item by an id that only answers for the person the DM went to; the form is reached
 * by the link alone. "Tonight" (copy when the project's copy window next opens) only where
 * the project has a copy window.
 */
export function choiceActions(choiceId: string, tonight = false): Action[] {
  return USER_CHOICES.filter((c) => tonight || c !== 'tonight').map((c) => ({
    label: CHOICE[c].button,
    command: choiceCommand(choiceId, c),
    ...(CHOICE[c].style ? { style: CHOICE[c].style } : {}),
  }));
}

/** What the user's answer did, for the user's confirmation and the admin's post. */
export interface ChoiceView {
  address: string;
  choice: UserChoice;
  /** When the next reminder goes out (`tomorrow`). */
  remindAt?: Date;
  /** When copying may begin (`tonight`: the copy window's next opening, or now while it is open). */
  startAt?: Date;
  organisation?: OrganisationView;
}

/** The answer to the user who clicked a choice: what happens now. */
export function choiceAnsweredMessage(v: ChoiceView): Message {
  const text =
    v.choice === 'tonight'
      ? `Thank you. Your mailbox ${v.address} is copied tonight, ` +
        `from ${formatTime(v.startAt ?? new Date(), v.organisation?.timeZone)}, once you have entered ` +
        `your credentials on the secure form (the button in the message above).`
      : v.choice === 'now'
        ? `Thank you. Your mailbox ${v.address} moves as soon as you have entered ` +
          `your credentials on the secure form (the button in the message above).`
        : v.choice === 'tomorrow'
          ? `We will remind you on ${formatTime(v.remindAt ?? new Date(), v.organisation?.timeZone)}. ` +
            `The link in the message above keeps working until it expires.`
          : `Thank you for telling us. ${v.address} will not be migrated; ` +
            `your IT team has been told. ${supportSentence(v.organisation)}`;
  return {
    kind: 'user-choice-answered',
    text,
    tone: v.choice === 'not-mine' ? 'info' : 'success',
    blocks: [
      { type: 'header', text: `You chose: ${CHOICE[v.choice].button}` },
      { type: 'text', text },
    ],
  };
}

/** The post in the admin's thread: "bob@old.example chose: remind me tomorrow". */
export function userChoicePost(v: ChoiceView): Message {
  const what =
    v.choice === 'tomorrow' && v.remindAt
      ? ` The next reminder goes out ${formatTime(v.remindAt, v.organisation?.timeZone)}.`
      : v.choice === 'not-mine'
        ? ' Stopped, not migrated: its license is back in the pool and its link no longer works.'
        : '';
  const said =
    v.choice === 'tonight' && v.startAt
      ? `tonight, ${formatTime(v.startAt, v.organisation?.timeZone)}`
      : CHOICE[v.choice].said;
  const text = `*${v.address}* chose: ${said}.${what}`;
  return {
    kind: 'user-choice',
    text,
    tone: v.choice === 'not-mine' ? 'warning' : 'info',
    blocks: [{ type: 'text', text: `${v.choice === 'not-mine' ? '⚠️' : '💬'} ${text}` }],
  };
}

/**
 * The post in the admin's thread when the mailbox owner chose on the form to start later: "bob@old.example chose on the
 * form: tomorrow, …".
 */
export function formStartChoicePost(
  address: string,
  choice: 'tonight' | 'tomorrow',
  at: Date,
  timeZone?: string,
): Message {
  const text =
    `*${address}* chose on the form: ${choice}, ${formatTime(at, timeZone)}. ` +
    `The credentials are verified; copying begins then.`;
  return { kind: 'user-choice', text, tone: 'info', blocks: [{ type: 'text', text: `💬 ${text}` }] };
}

/** A choice that cannot be taken: not this person's, or the mailbox no longer waits for them. */
export function choiceRefusedMessage(why: string): Message {
  return { kind: 'user-choice-refused', text: why, tone: 'warning', blocks: [{ type: 'text', text: why }] };
}
