#!/usr/bin/env bash
# Runs the engine tests (test/engine) against the newest imapflow on the registry, in a
# temporary copy of the checkout, so that a release renaming or reshaping one of the
# private fields the engine reads through engine/connectors/imap/imapflow-bridge.ts fails
# here (test/engine/imapflow-bridge.test.ts checks the shape), not in a customer's
# migration. The checkout itself keeps the pinned version (package.json).
# Needs `npm ci` to have run in the checkout first (its node_modules are copied).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/mailferry-imapflow-latest.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
cd "$root"
# The tracked files and the installed packages; no data, no local settings.
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$tmp"
cp -a node_modules "$tmp/"
cd "$tmp"
npm install --no-save --no-audit --no-fund imapflow@latest >/dev/null
pinned="$(node -p "require('$root/node_modules/imapflow/package.json').version")"
latest="$(node -p "require('./node_modules/imapflow/package.json').version")"
echo "engine tests against imapflow@latest: $latest (pinned: $pinned)"
node scripts/prisma-generate.mjs >/dev/null
npx vitest run test/engine
