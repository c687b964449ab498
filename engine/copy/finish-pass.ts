import type { PassState } from './pass-state.ts';
import type { PassResult } from './types.ts';

/**
 * The end of a pass: the final progress event, then the result. The first failure wins;
 * otherwise a stop that left work (a folder not begun or not finished) makes it `stopped`.
 */
export function finishPass(pass: PassState): PassResult {
  pass.emitProgress(true);
  const stats = pass.stats();
  const f = pass.failure;
  if (f) return { outcome: 'failed', reason: f.reason, detail: f.detail, stats };
  if (pass.stoppedWithWork || (pass.stopped && pass.foldersDone < pass.folders.length))
    return { outcome: 'stopped', stats };
  return { outcome: 'completed', stats };
}
