import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../../harness/app.ts';
import { serveHttp } from '../../../bot/app.ts';
import { teamsPlugin } from '../../../adapters/teams/plugin.ts';
import { itemRef } from '../../../engine/engine.ts';
import { ConnectorRecorder, channelMessage, postActivity } from './teams-harness.ts';
import { testDbUrl } from '../../harness/test-db.ts';
import { defined } from '../../harness/defined.ts';

const ADMIN_AAD = '6f1c2a3b-0000-4000-8000-00000000ada1';
const THREAD = '19:migrations0channel0id@thread.tacv2;messageid=8000';

describe('Teams thread posts survive a restart', () => {
  const rec = new ConnectorRecorder();
  let first: TestApp | undefined;
  let second: TestApp | undefined;
  afterAll(async () => {
    await second?.close();
    if (first) rmSync(first.dir, { recursive: true, force: true });
    await rec.close();
  });

  it(
    'a new process (a worker, with no HTTP) posts into the thread from ' +
      'the stored reference, and keeps editing the same progress card',
    async () => {
      await rec.start();
      const env = { MAILFERRY_DEV: '1', MAILFERRY_ADMINS: `teams:${ADMIN_AAD}` };
      first = await makeTestApp(env);
      teamsPlugin(first.app, 'serve', { retry: { baseDelayMs: 5 } });
      const base = `http://127.0.0.1:${(await serveHttp(first.app)).port}`;
      await postActivity(
        base,
        channelMessage(
          rec.url,
          'project create acme --source imaps://old.example:993 --destination imaps://new.example:993',
          { id: '7900' },
        ),
      );
      await postActivity(base, channelMessage(rec.url, 'add alice@old.example', { id: '8000' }));
      const item = await first.app.db.item.findFirstOrThrow({ where: { sourceAddress: 'alice@old.example' } });
      const figures = {
        messagesFound: 100,
        bytesFound: 1000,
        messagesCopied: 10,
        bytesCopied: 100,
        messagesPresent: 0,
        messagesSkipped: 0,
        durationMs: 1000,
      };
      first.app.bus.emit({
        type: 'item.progress',
        item: itemRef((await first.app.engine.itemById(item.id))!),
        figures,
      });
      await first.app.bus.idle();
      await first.app.close();

      // Same database, new process: only what was stored is known.
      second = await makeTestApp({ ...env, DATABASE_URL: testDbUrl(first.dir) });
      teamsPlugin(second.app, 'worker', { retry: { baseDelayMs: 5 } });
      const again = (await second.app.engine.itemById(item.id))!;
      const before = rec.calls.length;
      second.app.bus.emit({ type: 'item.progress', item: itemRef(again), figures: { ...figures, messagesCopied: 50 } });
      second.app.bus.emit({
        type: 'item.status',
        item: itemRef(again),
        actor: { surface: 'system', id: 'mailferry' },
        from: 'Running',
        to: 'Completed',
        figures: { ...figures, messagesCopied: 100 },
      });
      await second.app.bus.idle();
      const calls = rec.calls.slice(before);
      expect(calls.map((c) => [c.method, c.conversationId])).toEqual([
        ['PUT', THREAD],
        ['POST', THREAD],
      ]);
      const firstProgress = rec.calls
        .slice(0, before)
        .find(
          (c) =>
            c.conversationId === THREAD &&
            c.method === 'POST' &&
            /%/.test(ConnectorRecorder.cardText(ConnectorRecorder.card(c))),
        );
      // The card posted before the restart is the one edited after it.
      expect(defined(calls[0]).activityId).toBe(firstProgress?.responseId);
      expect(ConnectorRecorder.cardText(ConnectorRecorder.card(defined(calls[0])))).toContain('50%');
      expect(ConnectorRecorder.cardText(ConnectorRecorder.card(defined(calls[1])))).toContain(
        'alice@old.example** completed',
      );
    },
  );
});
