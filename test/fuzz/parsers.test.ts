import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../bot/parse/parse-command.ts';
import { parseBulkCsv } from '../../bot/parse/parse-csv.ts';
import { COMMANDS } from '../../bot/commands/index.ts';
import { UserError } from '../../engine/errors.ts';
import { isAddress, normaliseAddress } from '../../engine/domain/addresses.ts';
import { findInvisible } from '../../engine/domain/invisible.ts';
import { addressish, commandLine, csvText, runs } from './arbitraries.ts';

/** What a parse did, as comparable data: the command and its input, or the refusal (code, message, hint). */
function outcome(f: () => unknown): unknown {
  try {
    return { ok: f() };
  } catch (e) {
    // Only refusals an admin understands may come out; anything else is a crash.
    if (!(e instanceof UserError)) throw e;
    return { refused: { code: e.code, message: e.message, hint: (e as { hint?: string }).hint } };
  }
}

describe('fuzz: the command parser', () => {
  it('never crashes, refuses only with a UserError, and gives the same answer twice (5,000 lines)', () => {
    fc.assert(
      fc.property(commandLine, fc.constantFrom('console', 'slack', 'teams'), (line, surface) => {
        const parse = () => {
          const { def, input } = parseCommand(line, COMMANDS, surface);
          return { name: def.name, input };
        };
        const first = outcome(parse) as { ok?: { name: string; input: { args: Record<string, string> } } };
        expect(outcome(parse)).toEqual(first);
        if (first.ok) {
          const def = COMMANDS.find((d) => d.name === first.ok!.name)!;
          // Every address argument that got through is a valid address without hidden characters.
          for (const a of def.args.filter((x) => x.kind === 'address')) {
            const v = first.ok.input.args[a.name];
            if (v === undefined) continue;
            expect(isAddress(v)).toBe(true);
            expect(findInvisible(v)).toBeNull();
          }
        }
      }),
      runs(5000),
    );
  });
});

describe('fuzz: the CSV parser', () => {
  it('never crashes, accounts for each line at most once, within the text, the same way twice (3,000 texts)', () => {
    fc.assert(
      fc.property(csvText, (text) => {
        const a = parseBulkCsv(text);
        expect(parseBulkCsv(text)).toEqual(a);
        const lineCount = text.replace(/\r\n?/g, '\n').split('\n').length;
        const seen = [...a.rows.map((r) => r.line), ...a.refused.map((r) => r.line)];
        expect(new Set(seen).size).toBe(seen.length);
        for (const l of seen) {
          expect(l).toBeGreaterThanOrEqual(1);
          expect(l).toBeLessThanOrEqual(lineCount);
        }
        for (const r of a.rows) expect(r.source.length).toBeGreaterThan(0);
        for (const r of a.refused) expect(typeof r.reason).toBe('string');
      }),
      runs(3000),
    );
  });
});

describe('fuzz: addresses', () => {
  it(
    'are either normalised to a valid, visible address ' + '(idempotently) or refused with a UserError (2,000 strings)',
    () => {
      fc.assert(
        fc.property(addressish, (raw) => {
          const r = outcome(() => normaliseAddress(raw, 'source address')) as { ok?: string };
          expect(outcome(() => normaliseAddress(raw, 'source address'))).toEqual(r);
          if (r.ok !== undefined) {
            expect(isAddress(r.ok)).toBe(true);
            expect(findInvisible(r.ok)).toBeNull();
            expect(normaliseAddress(r.ok)).toBe(r.ok);
          }
        }),
        runs(2000),
      );
    },
  );
});
