import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

// The engine is the only door to its tables. Bot code gets `BotDb` (bot/store/bot-db.ts),
// whose type reaches the bot's own tables only, so a query of an engine table from bot code
// does not compile. What would get around that is the full client's type or a client of its
// own: only the composition root and the process commands that work on the whole database
// import them, and the bot's handle is defined from them.

const ALLOWED = new Set(['bot/app.ts', 'bot/db-command.ts', 'bot/rotate-key.ts', 'bot/store/bot-db.ts']);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('the database boundary', () => {
  it('bot and adapter code does not import the full database client (engine/store/db.ts)', () => {
    const offenders = ['bot', 'adapters', 'cards']
      .flatMap((d) => sources(d))
      .map((f) => relative('.', f))
      .filter((f) => !ALLOWED.has(f))
      .filter((f) => /from '(\.\.\/)+engine\/store\/db\.ts'/.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
