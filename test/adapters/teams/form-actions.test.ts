import { describe, expect, it } from 'vitest';
import { addCommand, bulkCommand, field, projectCommand, projectOption, quote } from '../../../adapters/teams/form-actions.ts';
import { tokenize } from '../../../bot/parse/tokenize.ts';

describe('Teams form values → command lines', () => {
  it('quotes only what the tokenizer would split, and round-trips through it', () => {
    expect(quote('acme')).toBe('acme');
    for (const w of ['two words', 'say "hi"', "it's", 'back\\slash']) expect(tokenize(`x ${quote(w)}`)).toEqual(['x', w]);
  });

  it('"default" choices mean no option', () => {
    expect(field({ ask: 'default' }, 'ask')).toBe('');
    expect(field({ n: 3 }, 'n')).toBe('3');
    expect(field({}, 'x')).toBe('');
  });

  it('one address line is an add, several are a bulk with CSV lines', () => {
    expect(addCommand({ addresses: ' alice@old.example ', ask: 'both', notify: 'default', project: '' })).toEqual({ text: 'add alice@old.example --ask both' });
    expect(addCommand({ addresses: 'a@x.example → b@y.example\r\n\r\nc@x.example; d@y.example\ne@x.example', notify: 'chat', project: 'acme' })).toEqual({
      text: 'bulk --notify chat --project acme\na@x.example,b@y.example\nc@x.example,d@y.example\ne@x.example',
    });
    expect(addCommand({ addresses: '  ' })).toEqual({ error: 'Enter at least one mailbox address.' });
    expect(addCommand({ addresses: 'a@x b@y c@z' })).toMatchObject({ error: expect.stringContaining('Line 1') });
  });

  it('bulk and project forms', () => {
    expect(bulkCommand({ csv: 'a,b\nc,d', ask: 'source' })).toEqual({ text: 'bulk --ask source\na,b\nc,d' });
    expect(bulkCommand({ csv: '' })).toMatchObject({ error: expect.any(String) });
    expect(projectCommand({ name: 'acme corp', source: 'imaps://a:993', destination: 'm365://tenant', selfService: 'both', notify: 'email', licenses: '' })).toEqual({
      text: 'project create "acme corp" --source imaps://a:993 --destination m365://tenant --self-service both --notify email',
    });
    expect(projectCommand({ name: '', source: '', destination: 'x' })).toEqual({ error: 'Give a name, the source server.' });
    expect(projectOption({ project: 'a b' })).toBe(' --project "a b"');
  });
});
