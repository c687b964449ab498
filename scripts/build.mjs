// Compiles MailFerry's TypeScript to JavaScript in dist/ (run at install, after the Prisma
// client is generated; `npm run build` by hand). Each source becomes one module at the same
// relative path (its imports of other sources point at their .js), so paths a module
// resolves from its own location (the migrations, the Teams card templates, package.json)
// hold; those files are copied beside. bin/mailferry.mjs runs dist/ while it matches the
// sources and falls back to tsx otherwise. Starting compiled saves tsx's loader thread.
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ASSET_DIRS, DIST, FINGERPRINT_NAME, ROOT, fingerprint, sourceFiles } from '../bin/compiled.mjs';

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  console.log('mailferry build: esbuild is not installed; MailFerry runs its TypeScript through tsx');
  process.exit(0);
}

const files = sourceFiles();
const stamp = fingerprint(files);
const out = `${DIST}.building-${process.pid}`;
rmSync(out, { recursive: true, force: true });
const entries = files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).map((f) => join(ROOT, f));
await esbuild.build({
  entryPoints: entries,
  outdir: out,
  outbase: ROOT,
  bundle: true, // only to rewrite imports: every relative import stays a separate module
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
  plugins: [
    {
      name: 'sources-stay-modules',
      setup(b) {
        b.onResolve({ filter: /^\.\.?\/.*\.ts$/ }, (a) =>
          a.kind === 'entry-point' ? undefined : { path: a.path.replace(/\.ts$/, '.js'), external: true },
        );
      },
    },
  ],
});
// Files read at run time, at the same place relative to the modules that read them.
for (const f of files) if (f.endsWith('.json') && f !== 'package.json') cpSync(join(ROOT, f), join(out, f));
for (const d of ASSET_DIRS) if (existsSync(join(ROOT, d))) cpSync(join(ROOT, d), join(out, d), { recursive: true });
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
writeFileSync(
  join(out, 'package.json'),
  JSON.stringify({ name: `${pkg.name}-compiled`, version: pkg.version, private: true, type: 'module' }, null, 2) + '\n',
);
writeFileSync(join(out, FINGERPRINT_NAME), stamp + '\n');
mkdirSync(dirname(DIST), { recursive: true });
rmSync(DIST, { recursive: true, force: true });
renameSync(out, DIST);
console.log(`mailferry build: ${entries.length} modules compiled to dist/`);
