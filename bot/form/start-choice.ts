import type { Project } from '../../engine/engine.ts';
import { projectWindowState } from '../../engine/domain/window.ts';
import { projectZone } from '../../engine/domain/zone.ts';
import { formatTime } from '../../cards/format.ts';
import { FORM_START_CHOICES, type FormPageView } from '../../cards/form-page.ts';

const DAY_MS = 86_400_000;

/** One of the form's answers to "when should copying begin?". */
export type FormStartChoice = (typeof FORM_START_CHOICES)[number];

/**
 * What the form offers: "tonight" while the project's copy window is closed (with its opening), always now and
 * tomorrow.
 */
export function startChoiceOffer(
  project: Project,
  now: Date,
  chosen?: FormStartChoice,
): NonNullable<FormPageView['when']> {
  const w = projectWindowState(project, now);
  return {
    ...(w && !w.open ? { tonight: formatTime(w.next, projectZone(project)) } : {}),
    ...(chosen ? { chosen } : {}),
  };
}

/** The answer posted with the form, when it is one. */
export function readStartChoice(raw: unknown): FormStartChoice | undefined {
  return FORM_START_CHOICES.find((c) => c === raw);
}

/** When copying begins for a choice: undefined for now (and for tonight without a closed window). */
export function startChoiceAt(choice: FormStartChoice | undefined, project: Project, now: Date): Date | undefined {
  if (choice === 'tomorrow') return new Date(now.getTime() + DAY_MS);
  if (choice !== 'tonight') return undefined;
  const w = projectWindowState(project, now);
  return w && !w.open ? w.next : undefined;
}
