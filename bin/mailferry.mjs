#!/usr/bin/env node
// MailFerry's command line. Sources are TypeScript run through tsx's loader, so there is
// no build step between `npm install` and `npm start`.
// Production runs node with --max-semi-space-size=2 (MiB): V8's young generation otherwise
// grows to 16 MiB per semi-space; with the copy engine's many short-lived objects that is
// ~60 MiB of RSS for nothing (measured by `npm run bench`: peak 220 → 160 MiB, same
// speed). `npm start` passes it (package.json, where the benchmark reads it too); started
// otherwise, set NODE_OPTIONS=--max-semi-space-size=2. (A V8 flag cannot be set from here:
// the heap is sized before this file runs, and `env -S` in the shebang is not portable.)
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../bot/cli.ts');
process.exitCode = await main(process.argv.slice(2));
