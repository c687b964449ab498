import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import { makeTestApp, type TestApp } from '../harness/app.ts';
import { defineCommand, type InputOf } from '../../bot/commands/types.ts';
import { add } from '../../bot/commands/add.ts';
import { start } from '../../bot/commands/start.ts';
import { projectCreate } from '../../bot/commands/project-create.ts';
import type { projectSet } from '../../bot/commands/project-set.ts';
import { parseCommand } from '../../bot/parse/parse-command.ts';
import { COMMANDS } from '../../bot/commands/index.ts';

describe('defineCommand infers the handler input from the specs', () => {
  it('types each option kind, required and optional (checked by tsc)', () => {
    const demo = defineCommand({
      name: 'demo',
      summary: 'x',
      args: [
        { name: 'WHO', required: true },
        { name: 'WHERE', required: false },
      ],
      options: [
        { name: 'force', kind: 'flag', summary: 'x' },
        { name: 'label', kind: 'string', value: 'TEXT', summary: 'x', required: true },
        { name: 'size', kind: 'number', value: 'N', integer: { min: 1, max: 9 }, summary: 'x' },
        { name: 'mode', kind: 'enum', choices: ['fast', 'safe'], summary: 'x' },
        { name: 'tags', kind: 'list', value: 'A,B', summary: 'x' },
        { name: 'days', kind: 'list', value: 'D,D', parse: (raw: string) => raw.split(',').map(Number), summary: 'x' },
      ],
      examples: [],
      admin: false,
      async handler() {},
    });
    expectTypeOf<InputOf<typeof demo>['args']>().toEqualTypeOf<{ WHO: string; WHERE?: string }>();
    expectTypeOf<InputOf<typeof demo>['opts']>().toEqualTypeOf<{
      label: string;
      force?: boolean;
      size?: number;
      mode?: 'fast' | 'safe';
      tags?: string[];
      days?: number[];
    }>();
    expectTypeOf<InputOf<typeof add>['opts']['ask']>().toEqualTypeOf<'source' | 'destination' | 'both' | undefined>();
    expectTypeOf<InputOf<typeof start>['opts']['waiting']>().toEqualTypeOf<boolean | undefined>();
    expectTypeOf<InputOf<typeof projectCreate>['opts']['source']>().toEqualTypeOf<string>();
    expectTypeOf<InputOf<typeof projectSet>['opts']['reminders']>().toEqualTypeOf<number[] | undefined>();
    expectTypeOf<InputOf<typeof projectSet>['opts']['licenses']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<InputOf<typeof start>['opts']['prestage']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<InputOf<typeof start>['opts']['full']>().toEqualTypeOf<boolean | undefined>();
    expectTypeOf<InputOf<typeof start>['opts']['at']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<InputOf<typeof projectSet>['opts']['window']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<InputOf<typeof projectSet>['opts']['since']>().toEqualTypeOf<string | undefined>();
  });

  it('the text grammar parses into the same typed values, and names the field at fault', () => {
    const { input } = parseCommand(
      'project set acme --licenses 250 --reminders "3, 1" --include "Inbox, Sent" --wipe-credentials ON',
      COMMANDS,
      'console',
    );
    expect(input.opts).toEqual({
      licenses: 250,
      reminders: [1, 3],
      include: ['Inbox', 'Sent'],
      'wipe-credentials': 'on',
    });
    expect(parseCommand('start --waiting', COMMANDS, 'slack').input.opts).toEqual({ waiting: true });
    expect(parseCommand('start --all --prestage 30', COMMANDS, 'slack').input.opts).toEqual({
      all: true,
      prestage: 30,
    });
    expect(
      parseCommand('start --all --at "2026-12-05 22:00" --tz Europe/Berlin', COMMANDS, 'slack').input.opts,
    ).toEqual({ all: true, at: '2026-12-05 22:00', tz: 'Europe/Berlin' });
    const refusal = (line: string) => {
      try {
        parseCommand(line, COMMANDS, 'slack');
      } catch (e) {
        return e as { code: string; field?: string };
      }
      throw new Error(`accepted: ${line}`);
    };
    expect(refusal('add alice@gmail.com')).toMatchObject({ field: 'SOURCE_ADDRESS' });
    expect(refusal('add a@old.example --ask everyone')).toMatchObject({ code: 'OPTION_VALUE', field: 'ask' });
    expect(refusal('project set acme --attempts 99')).toMatchObject({ code: 'OPTION_VALUE', field: 'attempts' });
    expect(refusal('project set acme --include ","')).toMatchObject({ code: 'BAD_FOLDERS', field: 'include' });
    expect(refusal('project create acme --source imaps://a')).toMatchObject({
      code: 'MISSING_OPTION',
      field: 'destination',
    });
  });
});

describe("Dispatcher.run: a form's typed input, no command line", () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await makeTestApp({ MAILFERRY_ADMINS: 'test:admin' });
  });
  afterEach(async () => t.close());

  it('runs the handler with the checked input, and refuses as a typed line is refused, at the field', async () => {
    const who = { surface: 'test', userId: 'admin', channelRef: 'test:C1', threadRef: null, reply: async () => {} };
    const created = await t.app.dispatcher.run(
      projectCreate,
      {
        args: { NAME: 'acme' },
        opts: { source: 'imaps://old.example', destination: 'imaps://new.example', licenses: 5 },
      },
      who,
    );
    expect(created).toEqual({ ok: true, command: 'project create' });
    expect((await t.app.engine.getProject('acme')).licensesTotal).toBe(5);
    const added = await t.app.dispatcher.run(
      add,
      { args: { SOURCE_ADDRESS: 'Alice@Old.Example' }, opts: { ask: 'both' } },
      who,
    );
    expect(added.ok).toBe(true);
    // The address was normalised as the parser does it.
    expect((await t.app.engine.getItem(await t.app.engine.getProject('acme'), 'Alice@old.example')).sourceAddress).toBe(
      'Alice@old.example',
    );
    expect(await t.app.dispatcher.run(add, { args: { SOURCE_ADDRESS: 'bob@gmail.com' }, opts: {} }, who)).toMatchObject(
      { ok: false, field: 'SOURCE_ADDRESS' },
    );
    expect(
      await t.app.dispatcher.run(
        projectCreate,
        { args: { NAME: 'beta' }, opts: { source: 'imaps://old.example', destination: 'ftp://x' } },
        who,
      ),
    ).toMatchObject({ ok: false, code: 'CONNECTOR_URL', field: 'destination' });
    expect(
      await t.app.dispatcher.run(
        projectCreate,
        { args: { NAME: 'acme' }, opts: { source: 'imaps://old.example', destination: 'imaps://x' } },
        who,
      ),
    ).toMatchObject({ ok: false, code: 'PROJECT_EXISTS', field: 'NAME' });
    expect(
      await t.app.dispatcher.run(
        projectCreate,
        { args: { NAME: 'beta' }, opts: { source: 'imaps://old.example', destination: 'imaps://x', licenses: -1 } },
        who,
      ),
    ).toMatchObject({ ok: false, field: 'licenses' });
  });

  it('admin rules apply as for a typed line', async () => {
    const r = await t.app.dispatcher.run(
      start,
      { args: {}, opts: { all: true } },
      { surface: 'test', userId: 'someone', channelRef: 'test:C1', threadRef: null, reply: async () => {} },
    );
    expect(r).toMatchObject({ ok: false, code: 'NOT_ADMIN' });
  });
});
