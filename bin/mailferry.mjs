#!/usr/bin/env node
// MailFerry's command line. Sources are TypeScript run through tsx's loader, so there is
// no build step between `npm install` and `npm start`.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../bot/cli.ts');
process.exitCode = await main(process.argv.slice(2));
