import { defineCommand, placeholder, type CommandDef } from './types.ts';
import { UserError } from '../../engine/errors.ts';
import { helpCommand, helpOverview, type HelpEntry } from '../../cards/help.ts';
import { optionOn, usage } from '../parse/parse-command.ts';

/**
 * Help entries derived from the definitions (the single source of help text, usage lines, Slack and Teams command
 * lists).
 */
export function helpEntries(defs: readonly CommandDef[], surface?: string): HelpEntry[] {
  return defs
    .filter((d) => !d.hidden)
    .map((d) => ({
      name: d.name,
      summary: d.summary,
      usage: usage(d, surface),
      // On a surface, only the options it can use (console-only testing aids stay in the console's help).
      options: d.options
        .filter((o) => optionOn(o, surface))
        .map((o) => ({
          flag: `--${o.name}${placeholder(o) ? ` ${placeholder(o)}` : ''}`,
          summary: o.summary + (o.surfaces ? ` (${o.surfaces.join(', ')} only)` : ''),
        })),
      examples: d.examples,
    }));
}

/** `help`: the commands this person may run, or one command in detail. */
export function makeHelp(all: () => readonly CommandDef[]): CommandDef {
  return defineCommand({
    name: 'help',
    summary: 'Show the commands, or the options and examples of one command.',
    args: [{ name: 'COMMAND', required: false, kind: 'text' }],
    options: [],
    examples: ['/migrate help', '/migrate help add'],
    admin: false,
    async handler(ctx, { args }) {
      // Commands a person may not run are hidden from their help (errbot).
      const visible = all().filter((d) => ctx.actor.isAdmin || !d.admin);
      if (!args.COMMAND) return ctx.reply(helpOverview(helpEntries(visible, ctx.actor.surface), ctx.actor.isAdmin));
      const want = args.COMMAND.toLowerCase();
      const found = visible.filter((d) => d.name === want || d.name.startsWith(`${want} `));
      if (!found.length)
        throw new UserError(
          'UNKNOWN_COMMAND',
          `There is no command "${args.COMMAND}".`,
          'Type `/migrate help` for the list.',
        );
      for (const e of helpEntries(found, ctx.actor.surface)) await ctx.reply(helpCommand(e));
    },
  });
}
