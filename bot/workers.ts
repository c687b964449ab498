import type { Plugin } from './app.ts';
import { Runner } from '../engine/runner/runner.ts';
import { runPass } from '../engine/copy/index.ts';
import { createPrismaCheckpointStore } from '../engine/store/folder-state.ts';

/**
 * The engine workers, in every mode: `serve` and `worker` work the shared queue, the
 * console runs the migrations it starts so it can be tried end to end on one machine.
 */
export const workersPlugin: Plugin = async (app) => {
  const runner = new Runner(
    app.engine,
    createPrismaCheckpointStore(app.db),
    runPass,
    app.log.child({ part: 'runner' }),
    { concurrency: app.config.concurrency },
  );
  await runner.start();
  app.onClose(() => runner.stop());
};
