/**
 * Slack's opaque references, as the core stores them. The core only reads the `slack:`
 * prefix (the notifier routes by it); everything after is ours.
 *
 * - channel: `slack:CHANNEL` (a project belongs to the channel it was created in)
 * - thread:  `slack:TEAM/CHANNEL/TS` where TS is the anchor message's `ts`
 */

/** A thread anchored on one message of a channel. */
export interface SlackThread {
  team: string;
  channel: string;
  ts: string;
}

/** `slack:C123`. */
export function channelRef(channel: string): string {
  return `slack:${channel}`;
}

/** `slack:T123/C123/1700000000.000100`. */
export function packThreadRef(t: SlackThread): string {
  return `slack:${t.team || '-'}/${t.channel}/${t.ts}`;
}

/** The parts of a thread reference, or null when it is not a Slack thread reference. */
export function unpackThreadRef(ref: string): SlackThread | null {
  const [, team, channel, ts] = /^slack:([^/]+)\/([A-Z0-9]+)\/(\d+\.\d+)$/.exec(ref) ?? [];
  return team && channel && ts ? { team: team === '-' ? '' : team, channel, ts } : null;
}
