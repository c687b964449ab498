import { readProjectOptions, type Project } from '../engine/engine.ts';
import type { OrganisationView } from '../cards/organisation.ts';
import { serverTimeZone } from './scheduler/cron.ts';

/**
 * The organisation end users see for a project: the project's own name and support
 * contact (`project set --org --support`) over the install's (MAILFERRY_ORG_NAME,
 * MAILFERRY_SUPPORT_CONTACT), and the project's time zone (`--tz`, else the server's).
 */
export function organisationOf(
  project: Pick<Project, 'options' | 'digestTz'>,
  install: { name?: string; support?: string },
): OrganisationView {
  // Unreadable settings fall back to the install's (the check is the pass's to report).
  const o = readProjectOptions(project.options).options;
  return {
    name: o.orgName ?? install.name,
    support: o.supportContact ?? install.support,
    timeZone: project.digestTz ?? serverTimeZone(),
  };
}
