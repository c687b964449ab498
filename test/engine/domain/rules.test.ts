import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../../harness/app.ts';
import { createLink, findOpenLink } from '../../../engine/links.ts';
import type { EngineEvent } from '../../../engine/events.ts';
import { LEASE_OWNER, leaseHolderGone } from '../../../engine/engine.ts';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';

/** The pid of a process that has exited (its pid is not reused this soon). */
async function deadPid(): Promise<number> {
  const c = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => c.on('exit', r));
  return c.pid!;
}

// Every domain rule of an item (its statuses and transitions), through the commands
// a user types, on a fresh SQLite file per test.
let t: TestApp;
let events: EngineEvent[];
beforeEach(async () => {
  t = await makeTestApp();
  events = [];
  t.app.bus.on((e) => void events.push(e));
  await t.run(
    'project create acme --source imaps://old.example:993 --destination imaps://new.example:993 --licenses 3',
  );
});
afterEach(async () => t.close());

const item = (address: string) => t.app.db.item.findFirstOrThrow({ where: { sourceAddress: address } });
const project = () => t.app.db.project.findFirstOrThrow({ where: { name: 'acme' } });
const history = async (address: string) =>
  (await t.app.db.itemEvent.findMany({ where: { address }, orderBy: { id: 'asc' } })).map((e) => e.kind);

describe('domain rules', () => {
  it('an item with unknown credentials goes to WaitingForUser when submitted, and a request goes out', async () => {
    await t.run('add alice@old.example');
    const r = await t.run('start alice@old.example');
    expect(r.result.ok).toBe(true);
    expect((await item('alice@old.example')).status).toBe('WaitingForUser');
    const needed = events.find((e) => e.type === 'item.credentials-needed');
    expect(needed && needed.type === 'item.credentials-needed' && needed.sides).toEqual(['source', 'destination']);
    // No SMTP configured: the thread and the history say the email could not be sent.
    const post = t.posts.find((p) => p.message.kind === 'item-credentials-requested');
    expect(post?.text).toMatch(/could not reach alice@old\.example by email: email is not configured/);
    expect(await history('alice@old.example')).toContain('request.failed');
  });

  it(
    'an item in WaitingForUser cannot be deleted; stop returns ' +
      'the license and cancels the open link, then delete works',
    async () => {
      await t.run('add alice@old.example');
      await t.run('start alice@old.example');
      expect((await project()).licensesUsed).toBe(1);
      const link = await t.app.db.credentialLink.findFirstOrThrow({
        where: { itemId: (await item('alice@old.example')).id },
      });
      expect(link.revokedAt).toBeNull();

      const del = await t.run('delete alice@old.example');
      expect(del.result.code).toBe('ITEM_WAITING');
      expect(del.text).toContain('alice@old.example is waiting for its user; stop it before deleting it.');
      expect(await t.app.db.item.count()).toBe(1);

      await t.run('stop alice@old.example');
      expect((await item('alice@old.example')).status).toBe('Stopped');
      expect((await project()).licensesUsed).toBe(0);
      expect((await t.app.db.credentialLink.findUniqueOrThrow({ where: { id: link.id } })).revokedAt).not.toBeNull();

      const ok = await t.run('delete alice@old.example');
      expect(ok.result.ok).toBe(true);
      expect(await t.app.db.item.count()).toBe(0);
    },
  );

  it('clear-credentials forgets stored credentials; a later start sends a new request', async () => {
    await t.run('add alice@old.example');
    const it1 = await t.app.engine.getItem(await project(), 'alice@old.example');
    await t.app.engine.setCredential({ surface: 'test', id: 'admin' }, it1, 'source', 'alice', {
      password: 'pw-src-123',
    });
    await t.app.engine.setCredential({ surface: 'test', id: 'admin' }, it1, 'destination', 'alice', {
      password: 'pw-dst-456',
    });
    expect(await t.app.db.credential.count()).toBe(2);
    const r = await t.run('clear-credentials alice@old.example --source');
    expect(r.result.ok).toBe(true);
    expect((await t.app.db.credential.findMany()).map((c) => c.side)).toEqual(['destination']);
    await t.run('start alice@old.example');
    expect((await item('alice@old.example')).status).toBe('WaitingForUser');
    const needed = events.filter((e) => e.type === 'item.credentials-needed');
    expect(needed.at(-1)).toMatchObject({ sides: ['source'] });
  });

  it('clear-credentials needs exactly one of --source, --destination, --both', async () => {
    await t.run('add alice@old.example');
    expect((await t.run('clear-credentials alice@old.example')).result.code).toBe('CLEAR_WHICH');
    expect((await t.run('clear-credentials alice@old.example --source --both')).result.code).toBe('CLEAR_WHICH');
  });

  it(
    'deleting an item deletes its statistics, not its ' + 'history, and a license consumed by a pass is not returned',
    async () => {
      await t.run('add alice@old.example');
      const it1 = await t.app.engine.getItem(await project(), 'alice@old.example');
      await t.app.engine.setCredential({ surface: 'test', id: 'admin' }, it1, 'source', 'alice', { password: 'x' });
      await t.app.engine.setCredential({ surface: 'test', id: 'admin' }, it1, 'destination', 'alice', {
        password: 'y',
      });
      await t.run('start alice@old.example');
      expect((await item('alice@old.example')).status).toBe('Queued');
      const claimed = await t.app.engine.claimNext();
      expect(claimed?.status).toBe('Running');
      await t.app.engine.markDataMoved(it1.id);
      await t.app.engine.finishPass(it1.id, 'completed', {
        messagesFound: 10,
        bytesFound: 1000,
        messagesCopied: 10,
        bytesCopied: 1000,
        messagesPresent: 0,
        messagesSkipped: 0,
        durationMs: 1200,
      });
      const done = await item('alice@old.example');
      expect(done.status).toBe('Completed');
      expect(done.messagesCopied).toBe(10);
      expect((await project()).licensesUsed).toBe(1);

      const r = await t.run('delete alice@old.example');
      expect(r.text).toContain('is not returned');
      expect(await t.app.db.item.count()).toBe(0);
      expect(await t.app.db.credential.count()).toBe(0);
      expect((await project()).licensesUsed).toBe(1);
      expect(await history('alice@old.example')).toEqual(
        expect.arrayContaining(['item.added', 'submit', 'claim', 'license.consumed', 'pass-completed', 'item.deleted']),
      );
    },
  );

  it('Google consumer accounts are refused at add time with an explanation', async () => {
    for (const addr of ['bob@gmail.com', 'Bob@GoogleMail.com']) {
      const r = await t.run(`add ${addr}`);
      expect(r.result.code).toBe('GOOGLE_CONSUMER');
      expect(r.text).toMatch(/Google consumer account.*Google's security policy/);
    }
    expect(await t.app.db.item.count()).toBe(0);
  });

  it('invalid credentials turn the item Failed with the side that was refused', async () => {
    await t.run('add alice@old.example');
    await t.run('start alice@old.example');
    const it1 = await t.app.engine.getItem(await project(), 'alice@old.example');
    await t.app.engine.failCredentials(it1, 'destination', 'AUTHENTICATIONFAILED Authentication failed.');
    await t.app.bus.idle();
    await t.app.notifier.idle();
    const failed = await item('alice@old.example');
    expect(failed.status).toBe('Failed');
    expect(failed.failureReason).toBe('DestinationCredentials');
    expect((await project()).licensesUsed).toBe(0);
    const post = t.posts.find((p) => p.message.kind === 'item-failed');
    expect(post?.text).toMatch(/destination server refused the credentials/);
    const s = await t.run('status');
    expect(s.text).toMatch(/alice@old\.example — Failed: The destination server refused the credentials/);
  });

  it('valid credentials submit a waiting item at once', async () => {
    await t.run('add alice@old.example');
    await t.run('start alice@old.example');
    const it1 = await t.app.engine.getItem(await project(), 'alice@old.example');
    await t.app.engine.setCredential({ surface: 'form', id: 'alice@old.example' }, it1, 'source', 'alice', {
      password: 'a',
    });
    expect((await item('alice@old.example')).status).toBe('WaitingForUser');
    await t.app.engine.setCredential({ surface: 'form', id: 'alice@old.example' }, it1, 'destination', 'alice', {
      password: 'b',
    });
    expect((await item('alice@old.example')).status).toBe('Queued');
  });

  it('the license pool is reserved at submit and refuses starts when empty', async () => {
    await t.run('project set acme --licenses 1');
    await t.run('bulk\na@old.example\nb@old.example');
    await t.run('start a@old.example');
    const r = await t.run('start b@old.example');
    expect(r.result.code).toBe('NO_LICENSES');
    expect(r.text).toMatch(/no license left \(1 of 1 used\)/);
    expect((await item('b@old.example')).status).toBe('NotStarted');
    expect((await t.run('status')).text).toMatch(/Licenses:\s+1 used, 0 left of 1/);
  });

  it('the license pool cannot shrink below what is used', async () => {
    await t.run('add a@old.example');
    await t.run('start a@old.example');
    const r = await t.run('project set acme --licenses 0');
    expect(r.result.code).toBe('LICENSES_BELOW_USED');
    expect((await project()).licensesTotal).toBe(3);
  });

  it('links die on stop, clear, delete and a newer request', async () => {
    await t.run('add alice@old.example');
    await t.run('start alice@old.example');
    const id = (await item('alice@old.example')).id;
    const { token: t1 } = await createLink(t.app.db, {
      itemId: id,
      sides: 'both',
      recipient: 'alice@old.example',
      ttlHours: 72,
    });
    expect(await findOpenLink(t.app.db, t1)).toBeDefined();
    await t.run('resend alice@old.example');
    expect(await findOpenLink(t.app.db, t1)).toBeUndefined();
    const { token: t2 } = await createLink(t.app.db, {
      itemId: id,
      sides: 'both',
      recipient: 'alice@old.example',
      ttlHours: 72,
    });
    await t.run('stop alice@old.example');
    expect(await findOpenLink(t.app.db, t2)).toBeUndefined();
  });

  it('the history records who did what and when, and survives a failed command unchanged', async () => {
    await t.run('add alice@old.example');
    const before = await t.app.db.itemEvent.count();
    await t.run('delete nobody@old.example');
    await t.run('add alice@old.example');
    expect(await t.app.db.itemEvent.count()).toBe(before);
    const s = await t.run('status alice@old.example');
    expect(s.text).toMatch(/added — admin \(test\)/);
  });

  it('a running item stops at the next message boundary; the runner records Stopped', async () => {
    await t.run('add alice@old.example');
    const it1 = await t.app.engine.getItem(await project(), 'alice@old.example');
    await t.app.engine.setCredential({ surface: 'test', id: 'admin' }, it1, 'source', 'alice', { password: 'x' });
    await t.app.engine.setCredential({ surface: 'test', id: 'admin' }, it1, 'destination', 'alice', { password: 'y' });
    await t.run('start alice@old.example');
    await t.app.engine.claimNext();
    const r = await t.run('stop alice@old.example');
    expect(r.text).toMatch(/stopping at the next message/);
    expect(await t.app.engine.stopRequested(it1.id)).toBe(true);
    await t.app.engine.finishPass(it1.id, 'stopped', {
      messagesFound: 5,
      bytesFound: 5,
      messagesCopied: 0,
      bytesCopied: 0,
      messagesPresent: 0,
      messagesSkipped: 0,
      durationMs: 5,
    });
    expect((await item('alice@old.example')).status).toBe('Stopped');
    // No data moved: the reservation goes back to the pool.
    expect((await project()).licensesUsed).toBe(0);
  });
});

describe('deleting an item', () => {
  it('removes its copy checkpoints and skipped-message records with its statistics', async () => {
    await t.run('add alice@old.example');
    const id = (await item('alice@old.example')).id;
    await t.app.db.copyCheckpoint.create({ data: { itemId: id, sourceFolder: 'INBOX', srcUidNext: 5 } });
    await t.app.db.skippedMessage.create({
      data: { itemId: id, sourceFolder: 'INBOX', uid: 7, size: 10, reason: 'too large' },
    });
    await t.run('delete alice@old.example');
    expect(await t.app.db.copyCheckpoint.count()).toBe(0);
    expect(await t.app.db.skippedMessage.count()).toBe(0);
  });
});

describe('passes of other processes', () => {
  async function running(): Promise<string> {
    await t.run('add alice@old.example');
    const it1 = await t.app.engine.getItem(await project(), 'alice@old.example');
    await t.app.engine.setCredential({ surface: 'test', id: 'admin' }, it1, 'source', 'alice', { password: 'x' });
    await t.app.engine.setCredential({ surface: 'test', id: 'admin' }, it1, 'destination', 'alice', { password: 'y' });
    await t.run('start alice@old.example');
    expect((await t.app.engine.claimNext())?.status).toBe('Running');
    return it1.id;
  }

  it('a pass whose process keeps its lease is left alone by a starting worker', async () => {
    const id = await running();
    expect(await t.app.engine.requeueOrphans()).toBe(0);
    await t.app.engine.renewLease(id);
    expect(await t.app.engine.requeueOrphans()).toBe(0);
    expect((await item('alice@old.example')).status).toBe('Running');
  });

  it('a pass whose process on this host is gone is queued again at once, without waiting for its lease', async () => {
    const id = await running();
    const host = hostname();
    // Another live process on this host (the test runner's parent) keeps its pass.
    await t.app.db.item.update({ where: { id }, data: { leaseOwner: `${host}:${process.ppid}:feed` } });
    expect(await t.app.engine.requeueOrphans()).toBe(0);
    // A process on another host cannot be checked from here: its lease decides.
    await t.app.db.item.update({ where: { id }, data: { leaseOwner: `elsewhere.example:${await deadPid()}:feed` } });
    expect(await t.app.engine.requeueOrphans()).toBe(0);
    // A process of this host that is gone (killed -9, say): its pass resumes now, lease or not.
    await t.app.db.item.update({ where: { id }, data: { leaseOwner: `${host}:${await deadPid()}:feed` } });
    expect((await t.app.db.item.findUniqueOrThrow({ where: { id } })).leaseUntil!.getTime()).toBeGreaterThan(
      Date.now() + 60_000,
    );
    expect(await t.app.engine.requeueOrphans()).toBe(1);
    expect((await item('alice@old.example')).status).toBe('Queued');
    expect(await history('alice@old.example')).toContain('recovered');
    // Claimed again: the lease names this process.
    await t.app.engine.claimNext();
    expect((await t.app.db.item.findUniqueOrThrow({ where: { id } })).leaseOwner).toBe(LEASE_OWNER);
    expect(await t.app.engine.requeueOrphans()).toBe(0);
  });

  it('who holds a lease: this process, a live or a gone process of this host, another host', async () => {
    const self = `${hostname()}:${process.pid}:aaaa`;
    expect(leaseHolderGone(null, self)).toBe(false);
    expect(leaseHolderGone(self, self)).toBe(false);
    expect(leaseHolderGone(`${hostname()}:${process.pid}:bbbb`, self)).toBe(true); // our pid, an earlier life
    expect(leaseHolderGone(`${hostname()}:${process.ppid}:bbbb`, self)).toBe(false);
    expect(leaseHolderGone(`${hostname()}:${await deadPid()}:bbbb`, self)).toBe(true);
    expect(leaseHolderGone(`other-host:${await deadPid()}:bbbb`, self)).toBe(false);
    expect(leaseHolderGone('garbage', self)).toBe(false);
  });

  it('a pass whose process died (lease expired) is queued again to resume, or stopped if an admin asked', async () => {
    const id = await running();
    await t.app.db.item.update({ where: { id }, data: { leaseUntil: new Date(Date.now() - 1000) } });
    expect(await t.app.engine.requeueOrphans()).toBe(1);
    expect((await item('alice@old.example')).status).toBe('Queued');
    expect(await history('alice@old.example')).toContain('recovered');

    await t.app.engine.claimNext();
    await t.run('stop alice@old.example');
    await t.app.db.item.update({ where: { id }, data: { leaseUntil: new Date(Date.now() - 1000) } });
    expect(await t.app.engine.requeueOrphans()).toBe(1);
    expect((await item('alice@old.example')).status).toBe('Stopped');
  });
});
