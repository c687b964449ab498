import type { Plugin } from './app.ts';
import { Runner } from '../engine/runner/runner.ts';
import { runPass } from '../engine/copy/index.ts';

/**
 * The engine workers, in every mode: `serve` and `worker` work the shared queue, the
 * console runs the migrations it starts so it can be tried end to end on one machine. A
 * `serve` with MAILFERRY_CONCURRENCY=0 runs none (its chat acks never wait behind a copy).
 */
export const workersPlugin: Plugin = async (app, mode) => {
  if (app.config.concurrency === 0) {
    // A worker or the console without passes would do nothing: refused, not silently idle.
    if (mode !== 'serve')
      throw new Error(`MAILFERRY_CONCURRENCY=0 is for mailferry serve beside workers; a ${mode} needs at least 1`);
    app.log.info('this process copies nothing (MAILFERRY_CONCURRENCY=0): passes are run by mailferry worker processes');
    return;
  }
  const runner = new Runner(app.engine, app.engine.checkpointStore(), runPass, app.log.child({ part: 'runner' }), {
    concurrency: app.config.concurrency,
  });
  await runner.start();
  app.onClose(() => runner.stop());
};
