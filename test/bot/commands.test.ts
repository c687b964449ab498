import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../harness/app.ts';

let t: TestApp;
beforeEach(async () => {
  t = await makeTestApp({ MAILFERRY_ADMINS: 'test:admin,test-channel:CADMIN' });
});
afterEach(async () => t.close());

describe('commands', () => {
  it('project create validates connector URLs and names, and refuses duplicates', async () => {
    expect((await t.run('project create acme --source imaps://old.example --destination ftp://x')).text).toMatch(
      /unsupported scheme "ftp"/,
    );
    expect(
      (await t.run('project create acme --source imaps://u:p@old.example --destination imaps://new.example')).text,
    ).toMatch(/must not contain credentials/);
    expect(
      (await t.run('project create "a b" --source imaps://old.example --destination imaps://new.example')).text,
    ).toMatch(/not a valid project name/);
    expect((await t.run('project create acme --source imaps://old.example')).text).toMatch(
      /needs --source and --destination/,
    );
    const ok = await t.run(
      'project create acme --source imaps://old.example --destination imap://new.example:1143 --self-service both',
    );
    expect(ok.text).toMatch(/Project \*acme\* created/);
    expect(ok.text).toMatch(/imaps:\/\/old\.example:993/);
    expect(
      (await t.run('project create acme --source imaps://old.example --destination imaps://new.example')).text,
    ).toMatch(/already exists/);
    expect(await t.app.db.project.count()).toBe(1);
  });

  it('item commands need a project in the channel, or --project', async () => {
    const r = await t.run('add alice@old.example');
    expect(r.result.code).toBe('NO_PROJECT_HERE');
    expect(r.text).toMatch(/project create NAME/);
    await t.run('project create acme --source imaps://old.example --destination imaps://new.example', {
      channel: 'C2',
    });
    expect((await t.run('add alice@old.example --project nope')).text).toMatch(
      /There is no project named nope\. Known projects: acme\./,
    );
    expect((await t.run('add alice@old.example --project acme')).result.ok).toBe(true);
    await t.run('project create beta --source imaps://old.example --destination imaps://new.example', {
      channel: 'C2',
    });
    // Plain status shows an overview of each project; an item command still asks which.
    const overview = await t.run('status', { channel: 'C2' });
    expect(overview.result.ok).toBe(true);
    expect(overview.text).toContain('2 projects in this channel');
    expect(overview.text).toMatch(/acme.*1 mailbox — Not started 1; licenses 0 used/);
    expect(overview.text).toMatch(/beta.*0 mailboxes; licenses/);
    expect(overview.text).toContain('status --project acme');
    expect((await t.run('status --project beta', { channel: 'C2' })).text).toContain('Project beta');
    expect((await t.run('add bob@old.example', { channel: 'C2' })).result.code).toBe('SEVERAL_PROJECTS');
  });

  it(
    'bulk adds every good line, reports every bad one ' + 'with its line number, and writes nothing for the bad',
    async () => {
      await t.run('project create acme --source imaps://old.example --destination imaps://new.example');
      await t.run('add dup@old.example');
      const csv = [
        'source,destination',
        'a@old.example,a@new.example',
        'not-an-address',
        'b@gmail.com',
        'dup@old.example',
        'c@old.example',
        'c@old.example',
        ',x@new.example',
      ].join('\n');
      const r = await t.run(`bulk\n${csv}`);
      expect(r.text).toMatch(/2 mailboxes added to acme; 5 lines refused/);
      expect(r.text).toContain('line 3: "not-an-address" is not a valid source address');
      expect(r.text).toContain('line 4: b@gmail.com is a Google consumer account');
      expect(r.text).toContain('line 5: dup@old.example is already in project acme.');
      expect(r.text).toContain('line 7: c@old.example appears twice (first on line 6).');
      expect(r.text).toContain('line 8: the source address is missing');
      const items = await t.app.db.item.findMany({ orderBy: { sourceAddress: 'asc' } });
      expect(items.map((i) => `${i.sourceAddress}>${i.destinationAddress}`)).toEqual([
        'a@old.example>a@new.example',
        'c@old.example>c@old.example',
        'dup@old.example>dup@old.example',
      ]);
      // One thread for the whole batch.
      expect(new Set(items.filter((i) => i.sourceAddress !== 'dup@old.example').map((i) => i.threadRef)).size).toBe(1);
    },
  );

  it('bulk without CSV says how to give one', async () => {
    await t.run('project create acme --source imaps://old.example --destination imaps://new.example');
    expect((await t.run('bulk')).text).toMatch(/No CSV came with the command/);
  });

  it(
    'status lists counts per status, licenses, and each item ' +
      'with its status and reason; for one address, its history',
    async () => {
      await t.run('project create acme --source imaps://old.example --destination imaps://new.example --licenses 10');
      await t.run('bulk\na@old.example\nb@old.example\nc@old.example');
      await t.run('start b@old.example');
      const s = await t.run('status');
      expect(s.text).toMatch(/Mailboxes:\s+3: Not started 2 · Waiting for user 1/);
      expect(s.text).toMatch(/Licenses:\s+1 used, 9 left of 10/);
      expect(s.text).toMatch(/⏳ b@old\.example — Waiting for user/);
      expect(s.text).toMatch(/⚪ a@old\.example — Not started/);
      const one = await t.run('status b@old.example');
      expect(one.text).toMatch(/Status:\s+Waiting for user/);
      // History in words: who as a person, event keys as words.
      expect(one.text).toMatch(/started \(Not started → Waiting for user\) — admin \(test\)/);
      expect(one.text).toMatch(/credential request not delivered/);
      expect(one.text).not.toMatch(/request\.failed|test:admin/);
    },
  );

  it(
    'suggests what was meant: option values, project names, ' +
      'and an address of the project rather than adding the typo',
    async () => {
      await t.run('project create acme --source imaps://old.example --destination imaps://new.example');
      expect((await t.run('status')).text).toMatch(/Mailboxes:\s+none yet/);
      await t.run('add bob@old.example');
      expect((await t.run('add carol@old.example --ask sorce')).text).toContain(
        '--ask must be one of source, destination, both; got "sorce". Did you mean "source"?',
      );
      expect((await t.run('status --project acmee')).text).toContain(
        'There is no project named acmee. Did you mean acme?',
      );
      const typo = await t.run('resend bob@ol.example');
      expect(typo.text).toContain('bob@ol.example is not in project acme. Did you mean bob@old.example?');
      expect(typo.text).not.toContain('add bob@ol.example');
      expect((await t.run('resend zed@far.example')).text).toContain('Add it with');
    },
  );

  it('only admins run admin commands; non-admins get a clear refusal and a help without them', async () => {
    await t.run('project create acme --source imaps://old.example --destination imaps://new.example');
    const r = await t.run('add alice@old.example', { user: 'eve' });
    expect(r.result.code).toBe('NOT_ADMIN');
    expect(r.text).toMatch(/Only MailFerry admins can run "add"/);
    expect(await t.app.db.item.count()).toBe(0);
    const help = await t.run('help', { user: 'eve' });
    expect(help.text).not.toMatch(/\/migrate add/);
    expect(help.text).toMatch(/Only MailFerry admins can run migration commands/);
    // A channel listed as admin makes everyone in it an admin.
    expect((await t.run('add alice@old.example', { user: 'eve', channel: 'CADMIN' })).result.code).toBe(
      'NO_PROJECT_HERE',
    );
  });

  it('help is derived from the command definitions', async () => {
    const all = await t.run('help');
    for (const c of [
      'project create',
      'project set',
      'add',
      'bulk',
      'status',
      'start',
      'stop',
      'clear-credentials',
      'resend',
      'delete',
      'form',
      'digest',
      'help',
    ])
      expect(all.text).toContain(`/migrate ${c}`);
    const add = await t.run('help add');
    expect(add.text).toMatch(/--ask source\|destination\|both/);
    expect(add.text).toMatch(/Example: \/migrate add alice@old\.example/);
    expect((await t.run('help nope')).result.code).toBe('UNKNOWN_COMMAND');
  });

  it('project set refuses a bad schedule or time zone and records good changes', async () => {
    await t.run('project create acme --source imaps://old.example --destination imaps://new.example');
    expect((await t.run('project set acme --digest "every morning"')).result.code).toBe('BAD_SCHEDULE');
    expect((await t.run('project set acme --tz Mars/Olympus')).text).toMatch(/not a time zone I know/);
    const ok = await t.run('project set acme --digest "0 9 * * 1-5" --tz Europe/Berlin --licenses 5');
    expect(ok.text).toMatch(/digest "0 9 \* \* 1-5"; time zone Europe\/Berlin; license pool 5/);
    const p = await t.app.db.project.findFirstOrThrow();
    expect([p.digestCron, p.digestTz, p.licensesTotal]).toEqual(['0 9 * * 1-5', 'Europe/Berlin', 5]);
    expect((await t.run('project set acme --digest off')).result.ok).toBe(true);
    expect((await t.app.db.project.findFirstOrThrow()).digestCron).toBeNull();
  });

  it('start needs exactly one target', async () => {
    await t.run('project create acme --source imaps://old.example --destination imaps://new.example');
    expect((await t.run('start')).result.code).toBe('START_TARGET');
    expect((await t.run('start a@old.example --all')).result.code).toBe('START_TARGET');
    expect((await t.run('start --waiting')).text).toMatch(/No mailbox of acme is waiting/);
  });

  it('an unexpected failure gives the user a reference and logs the details', async () => {
    await t.run('project create acme --source imaps://old.example --destination imaps://new.example');
    await t.app.db.$executeRawUnsafe('DROP TABLE "ItemEvent"');
    const r = await t.run('add alice@old.example');
    expect(r.result.code).toBe('INTERNAL');
    const ref = /reference: ([0-9a-f]{8})/.exec(r.text)?.[1];
    expect(ref).toBeDefined();
    expect(t.logs.some((l) => l.includes(`ref=${ref}`) && l.includes('ERROR'))).toBe(true);
    // The failed command changed nothing.
    expect(await t.app.db.item.count()).toBe(0);
  });
});

describe('configured license pool', () => {
  it('new projects get MAILFERRY_LICENSES unless --licenses says otherwise', async () => {
    const t2 = await makeTestApp({ MAILFERRY_LICENSES: '25' });
    try {
      await t2.run('project create a --source imaps://old.example --destination imaps://new.example');
      await t2.run('project create b --source imaps://old.example --destination imaps://new.example --licenses 4', {
        channel: 'C9',
      });
      const ps = await t2.app.db.project.findMany({ orderBy: { name: 'asc' } });
      expect(ps.map((p) => p.licensesTotal)).toEqual([25, 4]);
    } finally {
      await t2.close();
    }
  });
});

describe('project set: self-service settings', () => {
  it('sets reminders, attempts, link validity and credential wiping, and refuses a bad reminder list', async () => {
    const t2 = await makeTestApp();
    try {
      await t2.run('project create acme --source imaps://old.example --destination imaps://new.example');
      expect((await t2.run('project set acme --reminders "1,x"')).result.code).toBe('BAD_REMINDERS');
      const r = await t2.run('project set acme --reminders "7,1 3" --attempts 5 --link-hours 24 --wipe-credentials on');
      expect(r.text).toMatch(
        /reminders after 1, 3, 7 day\(s\); 5 form attempts; links valid 24 h; credentials wiped after completion/,
      );
      const o = JSON.parse((await t2.app.db.project.findFirstOrThrow()).options);
      expect(o).toEqual({ reminderDays: [1, 3, 7], maxAttempts: 5, linkTtlHours: 24, wipeCredentialsOnComplete: true });
      await t2.run('project set acme --reminders off');
      expect(JSON.parse((await t2.app.db.project.findFirstOrThrow()).options).reminderDays).toEqual([]);
    } finally {
      await t2.close();
    }
  });
});

describe('project set: folder rules', () => {
  it('sets include, exclude and rename rules, turns them off, and refuses a rename without a target', async () => {
    const t2 = await makeTestApp();
    try {
      await t2.run('project create acme --source imaps://old.example --destination imaps://new.example');
      const r = await t2.run(
        'project set acme --exclude "Trash, Junk/ Spam ,Old/*" --rename "Old Archive = Archive/Old, Sent Items=Sent"',
      );
      expect(r.text).toMatch(
        /never Trash, Junk\/Spam, Old\/\*; folders renamed: Old Archive → Archive\/Old, Sent Items → Sent/,
      );
      let o = JSON.parse((await t2.app.db.project.findFirstOrThrow()).options);
      expect(o).toEqual({
        exclude: ['Trash', 'Junk/Spam', 'Old/*'],
        rename: { 'Old Archive': 'Archive/Old', 'Sent Items': 'Sent' },
      });
      await t2.run('project set acme --include "INBOX, Projects" --exclude off');
      o = JSON.parse((await t2.app.db.project.findFirstOrThrow()).options);
      expect(o).toEqual({
        include: ['INBOX', 'Projects'],
        exclude: [],
        rename: { 'Old Archive': 'Archive/Old', 'Sent Items': 'Sent' },
      });
      const bad = await t2.run('project set acme --rename "Old Archive"');
      expect(bad.result.code).toBe('BAD_RENAME');
      expect(bad.text).toMatch(/expected FROM=TO/);
      expect((await t2.run('project set acme --exclude " , "')).result.code).toBe('BAD_FOLDERS');
      expect((await t2.run('project set --help')).text).toMatch(/--exclude/);
      expect((await t2.run('project set acme --rate 3600')).text).toMatch(/at most 3600 messages an hour per mailbox/);
      expect(JSON.parse((await t2.app.db.project.findFirstOrThrow()).options).maxMessagesPerHour).toBe(3600);
      expect((await t2.run('project set acme --rate 5')).result.code).toBe('BAD_RATE');
      await t2.run('project set acme --rate off');
      expect(JSON.parse((await t2.app.db.project.findFirstOrThrow()).options).maxMessagesPerHour).toBe(0);
    } finally {
      await t2.close();
    }
  });
});
