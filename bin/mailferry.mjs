#!/usr/bin/env -S node --max-semi-space-size=2
// MailFerry's command line. Sources are TypeScript run through tsx's loader, so there is
// no build step between `npm install` and `npm start`.
// --max-semi-space-size=2 (MiB): V8's young generation otherwise grows to 16 MiB per
// semi-space; with the copy engine's many short-lived objects that is ~60 MiB of RSS for
// nothing (measured by `npm run bench`: peak 220 → 160 MiB, same speed). The shebang
// needs `env -S` (coreutils ≥ 8.30); `npm start` passes the same flag, and the benchmark
// reads it from this line. Run it as `./bin/mailferry.mjs` (or `npx mailferry`), not
// `node bin/mailferry.mjs`, to keep it.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../bot/cli.ts');
process.exitCode = await main(process.argv.slice(2));
