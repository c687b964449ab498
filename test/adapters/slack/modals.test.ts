import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockText, fixture, repliesAt, startSlackTest, type SlackTest } from './slack-harness.ts';
import { defined } from '../../harness/defined.ts';

type Values = Record<string, Record<string, Record<string, unknown>>>;

/** A view_submission payload as Slack sends it for one of our modals. */
function submission(callbackId: string, privateMetadata: string, values: Values, user = 'UADMIN'): unknown {
  const p = fixture('view-submission.json');
  p.user.id = user;
  p.view.callback_id = callbackId;
  p.view.private_metadata = privateMetadata;
  p.view.state.values = values;
  return p;
}

const text = (v: string) => ({ value: { type: 'plain_text_input', value: v } });
const radio = (v: string | null) => ({
  value: { type: 'radio_buttons', selected_option: v ? { text: { type: 'plain_text', text: v }, value: v } : null },
});
const none = () => ({ value: { type: 'plain_text_input', value: null } });

describe('modals', () => {
  let s: SlackTest;
  beforeAll(async () => {
    s = await startSlackTest();
    await s.command('project create acme --source imaps://old.example:993 --destination imaps://new.example:993');
    await s.settle();
  });
  afterAll(async () => s?.close());

  /** Opens a modal with a bare command; returns the view sent to views.open and its command's response path. */
  async function open(cmd: string) {
    const before = s.fake.of('views.open').length;
    const r = await s.command(cmd);
    expect(r.status).toBe(200);
    expect(r.ms).toBeLessThan(3000);
    await s.settle();
    const call = s.fake.of('views.open')[before];
    expect(call, `views.open after ${cmd}`).toBeDefined();
    return { view: defined(call).args.view, trigger: defined(call).args.trigger_id, responsePath: r.responsePath };
  }

  it(
    '/migrate add with no arguments opens "Add mailboxes" ' + 'with the trigger id and the channel in its metadata',
    async () => {
      const { view, trigger, responsePath } = await open('add');
      expect(trigger).toMatch(/^trigger-\d+$/);
      expect(view).toMatchObject({
        type: 'modal',
        callback_id: 'mf_add',
        title: { type: 'plain_text', text: 'Add mailboxes' },
      });
      expect(JSON.parse(view.private_metadata)).toEqual({ c: 'C1', t: 'T1', r: `${s.fake.base}${responsePath}` });
      expect(view.blocks.map((b: any) => b.block_id).filter(Boolean)).toEqual([
        'addresses',
        'ask',
        'notify',
        'project',
      ]);
      expect(view.blocks[0].element).toMatchObject({ type: 'plain_text_input', multiline: true, action_id: 'value' });
      expect(view.blocks[2].element.options.map((o: any) => o.value)).toEqual(['email', 'chat', 'both']);
    },
  );

  it('does not open a modal for a non-admin', async () => {
    const before = s.fake.of('views.open').length;
    const r = await s.command('add', { user: 'UNOBODY' });
    await s.settle();
    expect(s.fake.of('views.open').length).toBe(before);
    expect(defined(repliesAt(s.fake, r.responsePath)[0]).text).toContain('Only MailFerry admins can run "add"');
  });

  it('shows address problems on the field (response_action: errors) and adds nothing', async () => {
    const { view } = await open('add');
    const r = await s.interact(
      submission('mf_add', view.private_metadata, {
        addresses: { value: { type: 'plain_text_input', value: 'dave@old.example\nerin@gmail.com\nnot-an-address' } },
        ask: radio(null),
        notify: radio(null),
        project: none(),
      }),
    );
    expect(r.status).toBe(200);
    const body = JSON.parse(r.text);
    expect(body.response_action).toBe('errors');
    expect(Object.keys(body.errors)).toEqual(['addresses']);
    expect(body.errors.addresses).toMatch(/Line 2: .*gmail/i);
    expect(body.errors.addresses).toContain('Line 3: "not-an-address" is not a valid');
    await s.settle();
    const p = await s.t.app.engine.getProject('acme');
    await expect(s.t.app.engine.getItem(p, 'dave@old.example')).rejects.toThrow(/not in project/);
  });

  it('adds several mailboxes as one batch with one anchor, with the chosen ask and notify', async () => {
    const { view, responsePath } = await open('add');
    const before = s.fake.of('chat.postMessage').length;
    const r = await s.interact(
      submission('mf_add', view.private_metadata, {
        addresses: text('dave@old.example dave@new.example\nerin@old.example\nfrank@old.example, frank@new.example'),
        ask: radio('destination'),
        notify: radio('both'),
        project: none(),
      }),
    );
    expect(r.status).toBe(200);
    expect(r.text).toBe('');
    await s.settle();
    const posts = s.fake.of('chat.postMessage').slice(before);
    expect(posts).toHaveLength(1);
    expect(defined(posts[0]).args).toMatchObject({ channel: 'C1' });
    expect(defined(posts[0]).args.text).toContain('3 mailboxes added to acme');
    expect(blockText(defined(posts[0]).args.blocks)).toContain('frank@old.example → frank@new.example');
    const p = await s.t.app.engine.getProject('acme');
    const frank = await s.t.app.engine.getItem(p, 'frank@old.example');
    expect(frank).toMatchObject({
      destinationAddress: 'frank@new.example',
      ask: 'destination',
      notify: 'both',
      threadRef: `slack:T1/C1/${defined(posts[0]).result!.ts}`,
    });
    expect((await s.t.app.engine.getItem(p, 'dave@old.example')).threadRef).toBe(frank.threadRef);
    expect(repliesAt(s.fake, responsePath)).toEqual([]);
  });

  it('/migrate bulk opens a modal with a CSV file_input and a paste box', async () => {
    const { view } = await open('bulk --notify chat');
    expect(view.callback_id).toBe('mf_bulk');
    const file = view.blocks.find((b: any) => b.block_id === 'file');
    expect(file.element).toEqual({ type: 'file_input', action_id: 'value', filetypes: ['csv', 'txt'], max_files: 1 });
    expect(view.blocks.find((b: any) => b.block_id === 'paste').element.multiline).toBe(true);
    // Options typed after the command are preselected.
    expect(view.blocks.find((b: any) => b.block_id === 'notify').element.initial_option.value).toBe('chat');
  });

  it('asks for a file or lines when the bulk modal is empty', async () => {
    const { view } = await open('bulk');
    const r = await s.interact(
      submission('mf_bulk', view.private_metadata, {
        file: { value: { type: 'file_input', files: [] } },
        paste: none(),
        ask: radio(null),
        notify: radio(null),
        project: none(),
      }),
    );
    expect(JSON.parse(r.text)).toEqual({
      response_action: 'errors',
      errors: { paste: 'Attach a CSV file above, or paste the lines here.' },
    });
  });

  it('downloads the uploaded CSV with the bot token and adds the batch under one anchor', async () => {
    const path = '/files/T1/F0CSV/mailboxes.csv';
    s.fake.files.set(path, {
      body:
        'source,destination\r\ngina@old.example,' +
        'gina@new.example\r\nhank@old.example,hank@new.example\r\n# done\r\n',
    });
    const { view } = await open('bulk');
    const before = s.fake.of('chat.postMessage').length;
    const files = [
      {
        id: 'F0CSV',
        name: 'mailboxes.csv',
        title: 'mailboxes.csv',
        mimetype: 'text/csv',
        filetype: 'csv',
        size: 80,
        url_private: `${s.fake.base}${path}`,
        url_private_download: `${s.fake.base}${path}`,
      },
    ];
    const r = await s.interact(
      submission('mf_bulk', view.private_metadata, {
        file: { value: { type: 'file_input', files } },
        paste: none(),
        ask: radio(null),
        notify: radio('email'),
        project: none(),
      }),
    );
    expect(r.status).toBe(200);
    expect(r.text).toBe('');
    await s.settle();
    expect(s.fake.fileGets.at(-1)).toEqual({ path, auth: 'Bearer xoxb-test-token' });
    const posts = s.fake.of('chat.postMessage').slice(before);
    expect(posts).toHaveLength(1);
    expect(defined(posts[0]).args.text).toContain('2 mailboxes added to acme');
  });

  it(
    'refuses a file on a host that is not Slack (the token ' + 'goes nowhere else) and a CSV without mailbox lines',
    async () => {
      const { view } = await open('bulk');
      const foreign = [{ id: 'F1', name: 'x.csv', url_private_download: 'https://files.evil.example/x.csv' }];
      const r = await s.interact(
        submission('mf_bulk', view.private_metadata, {
          file: { value: { type: 'file_input', files: foreign } },
          paste: none(),
          ask: radio(null),
          notify: radio(null),
          project: none(),
        }),
      );
      expect(JSON.parse(r.text).errors.file).toContain('unexpected file host files.evil.example');
      const r2 = await s.interact(
        submission('mf_bulk', view.private_metadata, {
          file: { value: { type: 'file_input', files: [] } },
          paste: text('"unterminated,quote'),
          ask: radio(null),
          notify: radio(null),
          project: none(),
        }),
      );
      expect(JSON.parse(r2.text).errors.paste).toMatch(/^No mailbox line found.*Line 1: a quote is not closed/);
    },
  );

  it('/migrate project create opens the project modal; refusals show on the right field', async () => {
    const { view } = await open('project create');
    expect(view.callback_id).toBe('mf_project');
    expect(view.blocks.map((b: any) => b.block_id)).toEqual([
      'name',
      'source',
      'destination',
      'self_service',
      'notify',
      'licenses',
    ]);
    const values = (name: string, src: string, dst: string): Values => ({
      name: text(name),
      source: text(src),
      destination: text(dst),
      self_service: radio('both'),
      notify: radio('chat'),
      licenses: { value: { type: 'number_input', value: '25' } },
    });
    const bad = await s.interact(
      submission('mf_project', view.private_metadata, values('gamma', 'ftp://old.example', 'imaps://new.example:993')),
    );
    expect(JSON.parse(bad.text)).toMatchObject({
      response_action: 'errors',
      errors: { source: expect.stringContaining('unsupported scheme "ftp"') },
    });
    const bad2 = await s.interact(
      submission(
        'mf_project',
        view.private_metadata,
        values('gamma', 'imaps://old.example:993', 'imaps://user:pw@new.example:993'),
      ),
    );
    expect(Object.keys(JSON.parse(bad2.text).errors)).toEqual(['destination']);
    const pool = await s.interact(
      submission('mf_project', view.private_metadata, {
        ...values('gamma', 'imaps://old.example:993', 'imaps://new.example:993'),
        licenses: { value: { type: 'number_input', value: '2000000' } },
      }),
    );
    expect(JSON.parse(pool.text).errors).toEqual({
      licenses: expect.stringContaining('--licenses must be a whole number from 0 to 1000000'),
    });
    // A radio value that is not one of the command's choices (a forged submission) is refused at its block.
    const forged = await s.interact(
      submission('mf_project', view.private_metadata, {
        ...values('gamma', 'imaps://old.example:993', 'imaps://new.example:993'),
        notify: radio('pigeon'),
      }),
    );
    expect(JSON.parse(forged.text).errors).toEqual({
      notify: expect.stringContaining('--notify must be one of email, chat, both'),
    });
    const dup = await s.interact(
      submission(
        'mf_project',
        view.private_metadata,
        values('acme', 'imaps://old.example:993', 'imaps://new.example:993'),
      ),
    );
    expect(JSON.parse(dup.text).errors.name).toContain('already exists');
    const ok = await s.interact(
      submission(
        'mf_project',
        view.private_metadata,
        values('gamma', 'imaps://old.example:993', 'imaps://new.example:993'),
      ),
    );
    expect(ok.status).toBe(200);
    expect(ok.text).toBe('');
    await s.settle();
    const p = await s.t.app.engine.getProject('gamma');
    expect(p).toMatchObject({ channelRef: 'slack:C1', selfService: 'both', notify: 'chat', licensesTotal: 25 });
    const meta = JSON.parse(view.private_metadata);
    const replies = s.fake.responses.filter((x) => `${s.fake.base}${x.path}` === meta.r).map((x) => x.body.text);
    expect(replies.some((t) => t.startsWith('Project gamma created'))).toBe(true);
    expect(s.t.logs.join('\n')).not.toContain('user:pw');
  });
});
