import { describe, expect, it } from 'vitest';
import { tokenize } from '../../bot/parse/tokenize.ts';
import { parseCommand, usage } from '../../bot/parse/parse-command.ts';
import { parseBulkCsv } from '../../bot/parse/parse-csv.ts';
import { COMMANDS } from '../../bot/commands/index.ts';
import { UserError } from '../../engine/errors.ts';

function err(text: string, surface = 'slack'): UserError {
  try {
    parseCommand(text, COMMANDS, surface);
  } catch (e) {
    if (e instanceof UserError) return e;
    throw e;
  }
  throw new Error(`"${text}" parsed`);
}

describe('tokenize', () => {
  it('keeps quoted words together, including typographic quotes from chat clients', () => {
    expect(tokenize('project set acme --digest "0 9 * * 1-5" --tz Europe/Berlin')).toEqual([
      'project',
      'set',
      'acme',
      '--digest',
      '0 9 * * 1-5',
      '--tz',
      'Europe/Berlin',
    ]);
    expect(tokenize('set --digest \u201c0 9 * * *\u201d')).toEqual(['set', '--digest', '0 9 * * *']);
    expect(tokenize(`a 'b c' d\\ e`)).toEqual(['a', 'b c', 'd e']);
  });
  it('refuses an unclosed quote', () => {
    expect(() => tokenize('add "alice')).toThrow(/quote is not closed/);
  });
});

describe('parseCommand', () => {
  it('takes the line with or without the leading /migrate', () => {
    for (const line of [
      '/migrate add alice@old.example',
      'migrate add alice@old.example',
      'add alice@old.example',
      '  /MIGRATE add alice@old.example',
    ]) {
      const { def, input } = parseCommand(line, COMMANDS, 'console');
      expect(def.name).toBe('add');
      expect(input.args.SOURCE_ADDRESS).toBe('alice@old.example');
    }
  });
  it('an empty line is help', () => {
    expect(parseCommand('/migrate', COMMANDS, 'slack').def.name).toBe('help');
  });
  it('parses two-word commands, options with values, flags and --name=value', () => {
    const { def, input } = parseCommand(
      'project create acme --source=imaps://a:993 --destination imap://b --self-service BOTH',
      COMMANDS,
      'slack',
    );
    expect(def.name).toBe('project create');
    expect(input).toMatchObject({
      args: { NAME: 'acme' },
      opts: { source: 'imaps://a:993', destination: 'imap://b', 'self-service': 'both' },
    });
    expect(parseCommand('clear-credentials a@b.example --both', COMMANDS, 'slack').input.opts).toEqual({ both: true });
  });
  it('normalises the domain of addresses', () => {
    expect(parseCommand('add Alice@Old.Example', COMMANDS, 'slack').input.args.SOURCE_ADDRESS).toBe(
      'Alice@old.example',
    );
  });
  it('unknown command: says so and suggests the closest', () => {
    const e = err('strat alice@old.example');
    expect(e.code).toBe('UNKNOWN_COMMAND');
    expect(e.message).toBe('Unknown command "strat". Did you mean "start"?');
  });
  it('unknown sub-command of project', () => {
    expect(err('project creat acme').message).toBe('Unknown command "project creat". Did you mean "project create"?');
    expect(err('project').message).toMatch(/needs a sub-command: create, set, list/);
  });
  it('unknown option: names it, suggests, and gives the usage line', () => {
    const e = err('add alice@old.example --notfy email');
    expect(e.code).toBe('UNKNOWN_OPTION');
    expect(e.message).toBe('Unknown option --notfy for "add". Did you mean --notify?');
    expect(e.hint).toBe(`Usage: ${usage(COMMANDS.find((c) => c.name === 'add')!)}`);
  });
  it('missing address', () => {
    const e = err('add');
    expect(e.code).toBe('MISSING_ARGUMENT');
    expect(e.message).toBe('source address is missing.');
    expect(e.hint).toMatch(/^Usage: \/migrate add SOURCE_ADDRESS \[DESTINATION_ADDRESS\]/);
  });
  it('malformed address', () => {
    const e = err('add alice.old.example');
    expect(e.code).toBe('ADDRESS_MALFORMED');
    expect(e.message).toBe(
      '"alice.old.example" is not a valid source address: expected something like alice@old.example.',
    );
    expect(err('stop alice@@old.example').code).toBe('ADDRESS_MALFORMED');
    expect(err('add alice@old..example').code).toBe('ADDRESS_MALFORMED');
  });
  it('a Google consumer address is refused with the reason', () => {
    const e = err('add bob@gmail.com');
    expect(e.code).toBe('GOOGLE_CONSUMER');
    expect(e.message).toMatch(/free Google accounts \(gmail\.com, googlemail\.com\) cannot be migrated/);
    expect(err('add alice@old.example bob@googlemail.com').code).toBe('GOOGLE_CONSUMER');
  });
  it('bad option values', () => {
    expect(err('add a@b.example --ask sometimes').message).toBe(
      '--ask must be one of source, destination, both; got "sometimes".',
    );
    expect(err('add a@b.example --ask').message).toBe('--ask needs a value (source|destination|both).');
    expect(err('project set acme --licenses -4').message).toMatch(/whole number from 0/);
    expect(err('add a@b.example --ask source --ask both').code).toBe('REPEATED_OPTION');
  });
  it('too many arguments and a body where none is allowed', () => {
    expect(err('stop a@b.example c@d.example').message).toBe('Unexpected "c@d.example".');
    expect(err('status\nmore').code).toBe('UNEXPECTED_BODY');
  });
  it('options that read server files exist only in the console', () => {
    expect(err('bulk --file /etc/passwd', 'slack').code).toBe('OPTION_NOT_HERE');
    expect(parseCommand('bulk --file x.csv', COMMANDS, 'console').input.opts.file).toBe('x.csv');
  });
  it('bulk takes the lines under the command as its body', () => {
    const { input } = parseCommand(
      '/migrate bulk --ask both\na@old.example\nb@old.example,b@new.example',
      COMMANDS,
      'teams',
    );
    expect(input.body).toBe('a@old.example\nb@old.example,b@new.example');
  });
});

describe('parseBulkCsv', () => {
  it('reads rows with line numbers, skips a header, blanks and comments, and reports bad shapes', () => {
    const { rows, refused } = parseBulkCsv(
      '\uFEFFsource,destination\n# comment\na@old.example,a@new.example,' +
        'alogin,\n\n"b@old.example",\n,x@new.example\na,b,c,d,e\n"c@old.example',
    );
    expect(rows).toEqual([
      {
        source: 'a@old.example',
        destination: 'a@new.example',
        sourceLogin: 'alogin',
        destinationLogin: undefined,
        line: 3,
      },
      { source: 'b@old.example', destination: undefined, sourceLogin: undefined, destinationLogin: undefined, line: 5 },
    ]);
    expect(refused).toEqual([
      { line: 6, input: ',x@new.example', reason: 'the source address is missing' },
      {
        line: 7,
        input: 'a,b,c,d,e',
        reason: 'expected at most 4 columns (source,destination,source_login,destination_login), found 5',
      },
      { line: 8, input: '"c@old.example', reason: 'a quote is not closed' },
    ]);
  });
  it('accepts semicolons as spreadsheets export them', () => {
    expect(parseBulkCsv('a@old.example;a@new.example').rows[0]).toMatchObject({
      source: 'a@old.example',
      destination: 'a@new.example',
    });
  });
});
