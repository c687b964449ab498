#!/usr/bin/env node
// MailFerry's command line. It runs the JavaScript compiled at install (dist/, see
// scripts/build.mjs) while that matches the TypeScript sources, and the sources themselves
// through tsx's loader otherwise (an edited checkout, or no build): there is no build step
// a user must remember between `npm install` and `npm start`. MAILFERRY_FROM_SOURCES=1
// always runs the sources.
// Production runs node with --max-semi-space-size=2 (MiB): V8's young generation otherwise
// grows to 16 MiB per semi-space; with the copy engine's many short-lived objects that is
// ~60 MiB of RSS for nothing (measured by `npm run bench`: peak 220 → 160 MiB, same
// speed). `npm start` passes it (package.json, where the benchmark reads it too); started
// otherwise, set NODE_OPTIONS=--max-semi-space-size=2. (A V8 flag cannot be set from here:
// the heap is sized before this file runs, and `env -S` in the shebang is not portable.)
import { compiledCli } from './compiled.mjs';

const compiled = process.env.MAILFERRY_FROM_SOURCES === '1' ? undefined : compiledCli();
let cli;
if (compiled) cli = await import(compiled);
else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import('../bot/cli.ts');
}
process.exitCode = await cli.main(process.argv.slice(2));
