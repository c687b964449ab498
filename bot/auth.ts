/**
 * Who is an admin: the console always; elsewhere a user listed as `surface:USER_ID` or
 * anyone in a channel listed as `surface-channel:CHANNEL_ID` in MAILFERRY_ADMINS.
 */
export function isAdmin(admins: readonly string[], surface: string, userId: string, channelId?: string): boolean {
  if (surface === 'console') return true;
  if (admins.includes(`${surface}:${userId}`)) return true;
  return !!channelId && admins.includes(`${surface}-channel:${channelId}`);
}

/** Parses MAILFERRY_ADMINS (comma-separated `surface:id` entries). */
export function parseAdmins(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
