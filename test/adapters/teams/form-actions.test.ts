import { describe, expect, it } from 'vitest';
import {
  addCommand,
  bulkCommand,
  field,
  projectCommand,
  type FormCommand,
} from '../../../adapters/teams/form-actions.ts';
import type { Dispatcher, DispatchResult } from '../../../bot/dispatch.ts';

/** What a form would run: the command's name and the typed input the dispatcher gets (no command line). */
async function ran(cmd: FormCommand): Promise<{ command: string; input: unknown }> {
  if ('error' in cmd) throw new Error(`form refused: ${cmd.error}`);
  let seen: { command: string; input: unknown } | undefined;
  const recorder: Pick<Dispatcher, 'run'> = {
    run: async (def, input): Promise<DispatchResult> => {
      seen = { command: def.name, input };
      return { ok: true, command: def.name };
    },
  };
  await cmd.run(recorder, { surface: 'teams', userId: 'u', channelRef: 'c', threadRef: null, reply: async () => {} });
  if (!seen) throw new Error('nothing ran');
  return seen;
}

describe('Teams form values → the command they run, with typed input', () => {
  it('"default" choices mean no option', () => {
    expect(field({ ask: 'default' }, 'ask')).toBe('');
    expect(field({ n: 3 }, 'n')).toBe('3');
    expect(field({}, 'x')).toBe('');
  });

  it('one address line is an add, several are a bulk with CSV lines', async () => {
    expect(
      await ran(addCommand({ addresses: ' alice@old.example ', ask: 'both', notify: 'default', project: '' })),
    ).toEqual({
      command: 'add',
      input: {
        args: { SOURCE_ADDRESS: 'alice@old.example', DESTINATION_ADDRESS: undefined },
        opts: { ask: 'both', notify: undefined, project: undefined },
      },
    });
    expect(
      await ran(
        addCommand({
          addresses: 'a@x.example → b@y.example\r\n\r\nc@x.example; d@y.example\ne@x.example',
          notify: 'chat',
          project: 'acme',
        }),
      ),
    ).toEqual({
      command: 'bulk',
      input: {
        args: {},
        opts: { ask: undefined, notify: 'chat', project: 'acme' },
        body: 'a@x.example,b@y.example\nc@x.example,d@y.example\ne@x.example',
      },
    });
    expect(addCommand({ addresses: '  ' })).toEqual({
      error: 'Enter at least one mailbox address.',
      field: 'addresses',
    });
    expect(addCommand({ addresses: 'a@x b@y c@z' })).toMatchObject({
      error: expect.stringContaining('Line 1'),
      field: 'addresses',
    });
  });

  it("a choice that is not one of the command's is refused at its input", () => {
    expect(addCommand({ addresses: 'a@x.example', ask: 'everyone' })).toEqual({
      error: expect.stringContaining('--ask must be one of source, destination, both'),
      field: 'ask',
    });
    expect(
      projectCommand({ name: 'acme', source: 'imaps://a:993', destination: 'imaps://b:993', selfService: 'nobody' }),
    ).toMatchObject({ field: 'selfService' });
  });

  it('bulk and project forms', async () => {
    expect(await ran(bulkCommand({ csv: 'a,b\nc,d', ask: 'source' }))).toEqual({
      command: 'bulk',
      input: { args: {}, opts: { ask: 'source', notify: undefined, project: undefined }, body: 'a,b\nc,d' },
    });
    expect(bulkCommand({ csv: '' })).toMatchObject({ error: expect.any(String), field: 'csv' });
    expect(
      await ran(
        projectCommand({
          name: 'acme corp',
          source: 'imaps://a:993',
          destination: 'm365://tenant',
          selfService: 'both',
          notify: 'email',
          licenses: '',
        }),
      ),
    ).toEqual({
      command: 'project create',
      input: {
        args: { NAME: 'acme corp' },
        opts: {
          source: 'imaps://a:993',
          destination: 'm365://tenant',
          'self-service': 'both',
          notify: 'email',
          licenses: undefined,
        },
      },
    });
    expect(
      await ran(projectCommand({ name: 'acme', source: 'imaps://a:993', destination: 'imaps://b:993', licenses: 25 })),
    ).toMatchObject({ input: { opts: { licenses: 25 } } });
    expect(projectCommand({ name: '', source: '', destination: 'x' })).toEqual({
      error: 'Give a name, the source server.',
    });
    expect(projectCommand({ name: 'acme', source: '', destination: 'x' })).toEqual({
      error: 'Give the source server.',
      field: 'source',
    });
  });
});
