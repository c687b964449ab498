#!/usr/bin/env node
// Builds the Teams app package an admin uploads (Teams admin center → Manage apps →
// Upload, or Teams → Apps → Manage your apps → Upload an app):
//   npm run package:teams [-- --app-id GUID] [--public-url https://…] [--app-version X.Y.Z] [--out FILE] [--icons]
// (npm keeps flags given before `--` for itself; they are recovered from npm_config_*.)
// The zip holds manifest.json (manifest/teams/manifest.json with the bot's app id, the
// public host as valid domain, and the command list derived from the command definitions),
// color.png (192×192) and outline.png (32×32, white on transparent).
// --icons regenerates manifest/teams/{color,outline}.png. No dependency: PNG and zip are
// written with node:zlib (deflate, crc32).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { crc32, deflateRawSync, deflateSync } from 'node:zlib';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const MANIFEST_DIR = join(ROOT, 'manifest/teams');
/** Teams' limits for bot command lists (manifest schema v1.22). */
export const MAX_COMMANDS = 10;
/** The commands suggested in Teams' compose box, most useful first (at most 10). */
export const SUGGESTED = [
  'help',
  'project create',
  'add',
  'bulk',
  'status',
  'start',
  'stop',
  'resend',
  'form',
  'digest',
];
const ACCENT = [0x0f, 0x6c, 0xbd];

// ---------- PNG (RFC 2083 / PNG spec: signature, IHDR, IDAT, IEND; CRC-32 per chunk) ----------

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

/** Encodes RGBA pixels (Uint8Array, width*height*4) as a PNG (8-bit RGBA, no filter). */
export function encodePng(width, height, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // colour type: RGBA
  const raw = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 4 + 1)] = 0; // filter: none
    Buffer.from(rgba.buffer, rgba.byteOffset + y * width * 4, width * 4).copy(raw, y * (width * 4 + 1) + 1);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** The MailFerry glyph: an envelope (outline and flap) riding a wave, in a size×size box. */
function glyph(size, inset) {
  const on = new Uint8Array(size * size);
  const set = (x, y) => {
    x = Math.round(x);
    y = Math.round(y);
    if (x >= 0 && y >= 0 && x < size && y < size) on[y * size + x] = 1;
  };
  const t = Math.max(1, Math.round(size / 16)); // stroke width
  const l = inset,
    r = size - 1 - inset;
  const top = Math.round(size * 0.22),
    bottom = Math.round(size * 0.62);
  for (let k = 0; k < t; k++) {
    for (let x = l; x <= r; x++) {
      set(x, top + k);
      set(x, bottom - k);
    }
    for (let y = top; y <= bottom; y++) {
      set(l + k, y);
      set(r - k, y);
    }
  }
  // The flap: two lines from the top corners to the middle.
  const midX = (l + r) / 2,
    midY = (top + bottom) / 2 + size * 0.04;
  for (let i = 0; i <= 400; i++) {
    const f = i / 400;
    for (let k = 0; k < t; k++) {
      set(l + (midX - l) * f, top + k + (midY - top) * f);
      set(r - (r - midX) * f, top + k + (midY - top) * f);
    }
  }
  // The wave under it (the ferry's water).
  const waveY = Math.round(size * 0.78);
  for (let x = l; x <= r; x++) {
    const y = waveY + Math.sin(((x - l) / (r - l)) * Math.PI * 4) * size * 0.04;
    for (let k = 0; k < t; k++) set(x, y + k);
  }
  return on;
}

/** The colour icon: white glyph on the accent colour, 192×192. */
export function colorIcon() {
  const size = 192;
  const g = glyph(size, 36);
  const px = new Uint8Array(size * size * 4);
  for (let i = 0; i < size * size; i++) {
    const [r, gg, b] = g[i] ? [255, 255, 255] : ACCENT;
    px.set([r, gg, b, 255], i * 4);
  }
  return encodePng(size, size, px);
}

/** The outline icon: white glyph on transparent, 32×32 (Teams requires exactly that). */
export function outlineIcon() {
  const size = 32;
  const g = glyph(size, 3);
  const px = new Uint8Array(size * size * 4);
  for (let i = 0; i < size * size; i++) if (g[i]) px.set([255, 255, 255, 255], i * 4);
  return encodePng(size, size, px);
}

// ---------- zip (APPNOTE.TXT: local headers, central directory, end record; deflate) ----------

/** A zip archive of `files` ({name, data}), deflated, with CRC-32s. */
export function zip(files) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  // DOS date/time of 2026-01-01 00:00 (fixed, so the package is reproducible).
  const dosTime = 0,
    dosDate = ((2026 - 1980) << 9) | (1 << 5) | 1;
  for (const f of files) {
    const name = Buffer.from(f.name, 'utf8');
    const data = Buffer.from(f.data);
    const packed = deflateRawSync(data, { level: 9 });
    const crc = crc32(data) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt16LE(dosTime, 10);
    local.writeUInt16LE(dosDate, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, packed);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4); // made by
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt16LE(dosTime, 12);
    central.writeUInt16LE(dosDate, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(packed.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + packed.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

// ---------- manifest ----------

/** Teams' command list from the command definitions' help entries (title ≤ 32, description ≤ 128). */
export function commandList(entries) {
  const byName = new Map(entries.map((e) => [e.name, e]));
  return SUGGESTED.filter((n) => byName.has(n))
    .slice(0, MAX_COMMANDS)
    .map((n) => {
      const e = byName.get(n);
      const description =
        e.summary.length > 128 ? `${e.summary.slice(0, e.summary.lastIndexOf(' ', 126))}…` : e.summary;
      return { title: `migrate ${n}`.slice(0, 32), description };
    });
}

/** The manifest for one installation: app id, version, public host, command list. */
export function buildManifest(template, { appId, publicUrl, entries, version }) {
  const m = structuredClone(template);
  m.id = appId;
  // Teams refuses to update an app whose manifest version did not change.
  if (version) m.version = version;
  for (const b of m.bots) {
    b.botId = appId;
    for (const list of b.commandLists) list.commands = commandList(entries);
  }
  if (publicUrl) {
    const host = new URL(publicUrl).host;
    m.validDomains = [...new Set([host, ...(m.validDomains ?? []).filter((d) => d !== 'mailferry.example')])];
    if (publicUrl.startsWith('https://')) {
      // The organisation's own server stands in for the publisher's pages (an in-house app).
      m.developer.websiteUrl = `${publicUrl}/`;
      m.developer.privacyUrl = `${publicUrl}/`;
      m.developer.termsOfUseUrl = `${publicUrl}/`;
    }
  }
  return m;
}

/** The help entries of the command definitions (loads the TypeScript sources through tsx). */
export async function loadHelpEntries() {
  const { register } = await import('tsx/esm/api');
  const unregister = register();
  try {
    const { COMMANDS } = await import(pathToFileURL(join(ROOT, 'bot/commands/index.ts')).href);
    const { helpEntries } = await import(pathToFileURL(join(ROOT, 'bot/commands/help.ts')).href);
    return helpEntries(COMMANDS);
  } finally {
    await unregister();
  }
}

function arg(argv, name) {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** The flags that take a value, and the shape of a value that can only be theirs. */
const VALUE_FLAGS = {
  '--app-id': /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  '--public-url': /^https?:\/\//i,
  '--app-version': /^\d+\.\d+\.\d+$/,
  '--out': /\.zip$/i,
};

/**
 * The arguments as if they had been given after `--`. `npm run package:teams --app-id X`
 * keeps `--app-id` for npm: the script then sees `npm_config_app_id=true` and `X` as a bare
 * argument (or `npm_config_app_id=X` for `--app-id=X`). Each lost flag gets back the bare
 * argument of its shape (a GUID, an http(s) URL, x.y.z, a .zip); one that cannot be told
 * apart is refused with the `--` spelling.
 */
export function npmArgs(argv, env = process.env) {
  const out = [...argv];
  const bare = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] in VALUE_FLAGS) i++;
    else if (!argv[i].startsWith('--')) bare.push(argv[i]);
  }
  const lost = [];
  for (const flag of Object.keys(VALUE_FLAGS)) {
    const v = env[`npm_config_${flag.slice(2).replace(/-/g, '_')}`];
    if (v === undefined || v === '' || out.includes(flag)) continue;
    if (v === 'true') lost.push(flag);
    else out.push(flag, v);
  }
  for (const flag of lost) {
    const i = bare.findIndex((b) => VALUE_FLAGS[flag].test(b));
    if (i < 0)
      throw new Error(
        `npm kept ${flag} for itself and its value could not be told apart: run \`npm ` +
          `run package:teams -- ${flag} VALUE\` (the \`--\` passes the flags to the script).`,
      );
    out.push(flag, bare.splice(i, 1)[0]);
  }
  if (env.npm_config_icons === 'true' && !out.includes('--icons')) out.push('--icons');
  return out;
}

/** The package's own version (package.json): the manifest version unless --app-version says otherwise. */
export function packageVersion() {
  return JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
}

/** Builds the package; returns the zip path. */
export async function packageTeams(rawArgv = [], env = process.env, entries = undefined) {
  const argv = npmArgs(rawArgv, env);
  if (argv.includes('--icons') || !existsSync(join(MANIFEST_DIR, 'color.png'))) {
    writeFileSync(join(MANIFEST_DIR, 'color.png'), colorIcon());
    writeFileSync(join(MANIFEST_DIR, 'outline.png'), outlineIcon());
  }
  const appId = arg(argv, '--app-id') ?? env.MicrosoftAppId;
  if (!appId || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(appId))
    throw new Error(
      "The Teams package needs the bot's Microsoft App ID (a GUID): set MicrosoftAppId " +
        'in the environment or .env, or pass --app-id GUID. See adapters/teams/README.md.',
    );
  const publicUrl = (arg(argv, '--public-url') ?? env.PUBLIC_URL ?? '').replace(/\/+$/, '') || undefined;
  if (publicUrl && !/^https:\/\//i.test(publicUrl))
    throw new Error(
      `PUBLIC_URL must start with https:// for Teams (got ${publicUrl.split('?')[0]}): Teams reaches bots and ` +
        `opens the app's links only over HTTPS, so the package would keep the mailferry.example placeholders. ` +
        `Put MailFerry behind a TLS reverse proxy and set PUBLIC_URL (or --public-url) to its https:// address.`,
    );
  const version = arg(argv, '--app-version') ?? packageVersion();
  if (!/^\d+\.\d+\.\d+$/.test(version))
    throw new Error(
      `The app version must be x.y.z (got ${version}); Teams needs a higher one for each update of the app.`,
    );
  const template = JSON.parse(readFileSync(join(MANIFEST_DIR, 'manifest.json'), 'utf8'));
  const manifest = buildManifest(template, {
    appId,
    publicUrl,
    version,
    entries: entries ?? (await loadHelpEntries()),
  });
  const out = resolve(arg(argv, '--out') ?? join(ROOT, 'data/mailferry-teams.zip'));
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    zip([
      { name: 'manifest.json', data: JSON.stringify(manifest, null, 2) },
      { name: 'color.png', data: readFileSync(join(MANIFEST_DIR, 'color.png')) },
      { name: 'outline.png', data: readFileSync(join(MANIFEST_DIR, 'outline.png')) },
    ]),
  );
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  if (existsSync('.env')) process.loadEnvFile('.env');
  try {
    const out = await packageTeams(process.argv.slice(2));
    if (!(process.env.PUBLIC_URL || npmArgs(process.argv.slice(2)).includes('--public-url')))
      console.error(
        'note: no PUBLIC_URL: the package keeps the mailferry.example ' +
          'placeholders for the developer links and valid domains.',
      );
    console.log(
      `wrote ${out}\nUpload it in the Teams admin center (Manage apps → ` +
        `Upload new app) or in Teams (Apps → Manage your apps → Upload an app).`,
    );
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(2);
  }
}
