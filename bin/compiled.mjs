// Where the compiled JavaScript of MailFerry lives (dist/, written by scripts/build.mjs at
// install) and whether it still matches the TypeScript sources. The command line runs the
// compiled tree when it matches and the sources through tsx otherwise, so an edited source
// is never shadowed by an old build.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The project's root folder. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The compiled tree: the same layout as the sources, `.ts` → `.js`. */
export const DIST = join(ROOT, 'dist');
/** Folders whose TypeScript is compiled. */
export const SOURCE_DIRS = ['adapters', 'bot', 'cards', 'engine', 'generated'];
/** Files the compiled code reads at run time, copied beside it (same relative paths as from the sources). */
export const ASSET_DIRS = ['prisma/migrations', 'prisma/migrations-postgresql'];
/** The file in dist/ holding the fingerprint of the sources it was built from. */
export const FINGERPRINT_NAME = '.sources';

/** Every file the build reads, relative to the root, sorted. */
export function sourceFiles() {
  const out = ['package.json'];
  const walk = (dir) => {
    for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const rel = join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else out.push(rel);
    }
  };
  for (const d of [...SOURCE_DIRS, ...ASSET_DIRS]) if (existsSync(join(ROOT, d))) walk(d);
  return out.sort();
}

/** A digest of the sources' names, sizes and modification times (a checkout or an edit changes it). */
export function fingerprint(files = sourceFiles()) {
  const h = createHash('sha256');
  for (const f of files) {
    const s = statSync(join(ROOT, f));
    h.update(`${f}\0${s.size}\0${s.mtimeMs}\n`);
  }
  return h.digest('hex');
}

/** The URL of the compiled command line when dist/ matches the sources, else undefined. */
export function compiledCli() {
  try {
    const made = readFileSync(join(DIST, FINGERPRINT_NAME), 'utf8').trim();
    if (made !== fingerprint()) return undefined;
    return pathToFileURL(join(DIST, 'bot', 'cli.js')).href;
  } catch {
    return undefined; // never built (or being rebuilt)
  }
}
