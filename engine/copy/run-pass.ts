import { errorDetail } from '../connectors/imap/classify-error.ts';
import { createFolders } from '../connectors/imap/create-folder.ts';
import { finishPass } from './finish-pass.ts';
import { folderJobs, type FolderJob } from './folder-jobs.ts';
import { guardStore } from './guard-store.ts';
import { LanePool, withRetry } from './lane.ts';
import { runLanes } from './lane-scheduler.ts';
import { listFolders, type MailFolder } from './list-folders.ts';
import { mapFolders, type FolderMapping, type FolderNamespaces } from './map-folders.ts';
import { personalNamespace } from './namespace.ts';
import { PassState, passSettings } from './pass-state.ts';
import { onSide } from './plan-folder.ts';
import { CopyError, type PassInput, type PassResult } from './types.ts';
import { auditDestinations } from './verify-folder.ts';

/**
 * Lists both sides (LIST-STATUS gives MESSAGES/UIDNEXT/UIDVALIDITY in one round trip) on
 * the pool's first lane and maps the folders; null when the pass must end.
 */
async function listAndMap(pass: PassState, pool: LanePool): Promise<FolderMapping[] | null> {
  let srcFolders: MailFolder[] = [];
  let destFolders: MailFolder[] = [];
  let namespaces: FolderNamespaces = {};
  const listed = await withRetry(pass, pool.add(), async ({ src, dest }) => {
    [srcFolders, destFolders] = await Promise.all([
      onSide('source', listFolders(src, true)),
      onSide('destination', listFolders(dest, true)),
    ]);
    // Personal namespace prefixes (RFC 2342, e.g. `INBOX.`): folder names are mapped without them.
    namespaces = { source: personalNamespace(src), destination: personalNamespace(dest) };
  });
  if (!listed) return null;
  return mapFolders(
    srcFolders.filter((f) => f.selectable),
    destFolders,
    pass.input.rules,
    namespaces,
  );
}

/** A settled promise's value, or its error thrown. */
function settledValue<T>(r: PromiseSettledResult<T>): T {
  if (r.status === 'rejected') throw r.reason;
  return r.value;
}

/**
 * The destination folders still missing are created as the lanes start, all in one round
 * trip on the listing's lane (createFolders, create-folder.ts), instead of a CREATE and a
 * SUBSCRIBE each as every folder is planned. Whatever this does not settle (a name sent
 * another way, a refusal, a lost connection) is left to the folder's own plan, as before.
 */
async function createDestinations(pass: PassState, pool: LanePool, jobs: FolderJob[]): Promise<void> {
  const dest = pool.lanes[0]?.dest;
  // Two source folders may land in one new destination folder: it is created once.
  const byName = new Map<string, FolderJob[]>();
  for (const j of jobs) {
    if (j.mapping.dest?.selectable) continue;
    const key = j.mapping.destSegments.join('\u0000');
    byName.set(key, [...(byName.get(key) ?? []), j]);
  }
  // One folder alone gains nothing: its own CREATE, with the SUBSCRIBE sent behind it.
  if (!dest?.usable || byName.size < 2 || pass.stopped) return;
  const groups = [...byName.values()];
  try {
    const outcomes = await createFolders(
      dest,
      groups.map((g) => g[0]?.mapping.destSegments ?? []),
    );
    outcomes?.forEach((o, i) => {
      if (o === 'created') for (const j of groups[i] ?? []) j.destCreated = true;
    });
  } catch {
    // Nothing is known: each folder's plan creates it (ALREADYEXISTS is fine there); a
    // broken connection is opened again by its lane.
  }
}

/** The steps of a pass, in order; the caller finishes it whatever happens. */
async function runSteps(pass: PassState, pool: LanePool): Promise<void> {
  const { input } = pass;
  // 1. List both sides; 2. map folders. The checkpoints are read meanwhile (nothing before
  // the folder jobs needs them); a store failure ends the pass once the listing is over.
  const [checkpoints, skipped, listed] = await Promise.allSettled([
    input.checkpoints.load(input.itemId),
    input.checkpoints.listSkipped(input.itemId),
    listAndMap(pass, pool),
  ]);
  pass.checkpoints = settledValue(checkpoints);
  pass.setSkipped(settledValue(skipped));
  const mappings = settledValue(listed);
  if (!mappings) return;
  // Destination folders holding fewer messages than were copied get a re-match checkpoint (verify-folder.ts).
  pass.missingAtStart = auditDestinations(mappings, pass.checkpoints, pass.skippedByFolder);
  // Folders unchanged since their checkpoint need no SELECT at all.
  const jobs = folderJobs(pass, mappings);
  // Missing destination folders are created while the first lane's source side plans its
  // first folder; every destination folder is opened after (never rejects).
  pass.destFoldersReady = createDestinations(pass, pool, jobs);
  pass.phase = 'copying';
  // 3. Copy: each lane takes the next folder; one folder is never shared by two lanes.
  await runLanes(pass, pool, jobs);
  await pass.destFoldersReady;
}

/**
 * Runs one pass of an item: lists both sides, maps folders, skips folders whose STATUS
 * matches the checkpoint, and copies the rest over several connection pairs, one folder
 * per pair, in MULTIAPPEND batches bounded by count and bytes. Every batch is bracketed by
 * checkpoint writes (intent before, confirmation after), so a crash at any moment resumes
 * without a duplicate or a loss. Dropped connections are retried with backoff; throttling
 * waits; refused messages are recorded and skipped; quota ends the pass. Never throws:
 * the outcome, failure reason and statistics come back as a {@link PassResult}.
 *
 * The parts: the pass's shared state (pass-state.ts), the retry policy (retry-policy.ts),
 * lanes and their retries (lane.ts), the folder copier (copy-folder.ts), the lane
 * scheduler (lane-scheduler.ts) and the finish (finish-pass.ts).
 */
export async function runPass(passInput: PassInput): Promise<PassResult> {
  const input: PassInput = { ...passInput, checkpoints: guardStore(passInput.checkpoints) };
  const pass = new PassState(input, passSettings(input.options));
  const timer = input.onProgress ? setInterval(() => pass.emitProgress(false), pass.settings.progressIntervalMs) : null;
  timer?.unref?.();
  const pool = new LanePool(input);
  try {
    await runSteps(pass, pool);
    return finishPass(pass);
  } catch (err) {
    // Store failures and bugs: the pass fails as Internal with the detail.
    pass.fail(err instanceof CopyError ? err.reason : 'Internal', errorDetail(err));
    return finishPass(pass);
  } finally {
    // After the result is made: closing the connections is not the pass's time.
    if (timer) clearInterval(timer);
    await pool.close();
  }
}
