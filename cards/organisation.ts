/**
 * Who stands behind a message to an end user: the organisation's name, whom to ask, and
 * the time zone its times are shown in. Set for the install (MAILFERRY_ORG_NAME,
 * MAILFERRY_SUPPORT_CONTACT) and per project (`project set --org --support --tz`); a
 * message without them reads like phishing, so every end-user message shows what is set.
 */
export interface OrganisationView {
  /** The organisation's name, e.g. "ACME Corp". */
  name?: string;
  /** Whom users ask: an address, a phone number, a helpdesk URL, as the admin wrote it. */
  support?: string;
  /** IANA zone times are shown in (besides UTC). */
  timeZone?: string;
}

/**
 * Who asked, as an end user should read it: the admin's chat name with the organisation,
 * or the organisation's IT team when no person's name is known (the console, a reminder).
 */
export function requesterText(requestedBy: string | undefined, org: OrganisationView | undefined): string {
  if (requestedBy) return org?.name ? `${requestedBy} (${org.name})` : requestedBy;
  return org?.name ? `the IT team of ${org.name}` : 'your IT team';
}

/** The sentence that tells an end user whom to ask, or the generic one when no contact is set. */
export function supportSentence(org: OrganisationView | undefined): string {
  return org?.support
    ? `Questions, or not sure this message is genuine? Contact ${org.support}.`
    : 'If you did not expect this message, ignore it and contact your IT administrator.';
}

/** `Ab` → `Ab`: the first letter upper case, for a requester at the start of a sentence. */
export function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
