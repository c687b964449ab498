import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { crc32, inflateRawSync, inflateSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without type declarations
import { buildManifest, commandList, npmArgs, packageTeams } from '../../../scripts/package-teams.mjs';
import { AppManifestUtils } from '@microsoft/app-manifest';
import { createRequire } from 'node:module';
import { helpEntries } from '../../../bot/commands/help.ts';
import { COMMANDS } from '../../../bot/commands/index.ts';

const APP_ID = '12345678-1234-4234-8234-123456789abc';
const dir = mkdtempSync(join(tmpdir(), 'mailferry-teams-pkg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Reads a zip's entries through its central directory, checking every CRC-32. */
function unzip(buf: Buffer): Map<string, Buffer> {
  const end = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = buf.readUInt16LE(end + 10);
  let p = buf.readUInt32LE(end + 16);
  const out = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    expect(buf.readUInt32LE(p)).toBe(0x02014b50);
    const method = buf.readUInt16LE(p + 10);
    const crc = buf.readUInt32LE(p + 16);
    const size = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extra = buf.readUInt16LE(p + 30);
    const comment = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const packed = buf.subarray(start, start + size);
    const data = method === 8 ? inflateRawSync(packed) : packed;
    expect(crc32(data) >>> 0).toBe(crc);
    out.set(name, data);
    p += 46 + nameLen + extra + comment;
  }
  return out;
}

/** Width, height, colour type and RGBA pixels of an 8-bit RGBA PNG without filters other than none/sub/up. */
function readPng(buf: Buffer): { width: number; height: number; colorType: number; pixels: Buffer } {
  expect(buf.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  let p = 8;
  let width = 0,
    height = 0,
    colorType = 0;
  const idat: Buffer[] = [];
  while (p < buf.length) {
    const len = buf.readUInt32BE(p);
    const type = buf.subarray(p + 4, p + 8).toString('ascii');
    const data = buf.subarray(p + 8, p + 8 + len);
    expect(crc32(buf.subarray(p + 4, p + 8 + len)) >>> 0).toBe(buf.readUInt32BE(p + 8 + len));
    if (type === 'IHDR') [width, height, colorType] = [data.readUInt32BE(0), data.readUInt32BE(4), data.readUInt8(9)];
    if (type === 'IDAT') idat.push(data);
    p += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const pixels = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (width * 4 + 1)]).toBe(0);
    raw.copy(pixels, y * width * 4, y * (width * 4 + 1) + 1, (y + 1) * (width * 4 + 1));
  }
  return { width, height, colorType, pixels };
}

describe('Teams app package', () => {
  const entries = helpEntries(COMMANDS);

  it(
    'the committed manifest is schema v1.22 with a bot in team, ' +
      'personal and groupChat scopes and the derived command list',
    () => {
      const m = JSON.parse(readFileSync('manifest/teams/manifest.json', 'utf8'));
      expect(m.$schema).toBe('https://developer.microsoft.com/json-schemas/teams/v1.22/MicrosoftTeams.schema.json');
      expect(m.manifestVersion).toBe('1.22');
      expect(m.bots[0].scopes.sort()).toEqual(['groupChat', 'personal', 'team']);
      // Users may send a CSV to the bot in a 1:1 chat.
      expect(m.bots[0].supportsFiles).toBe(true);
      expect(m.icons).toEqual({ color: 'color.png', outline: 'outline.png' });
      // In sync with the command definitions (help is derived from the same source).
      expect(m.bots[0].commandLists[0].commands).toEqual(commandList(entries));
      expect(m.name.short.length).toBeLessThanOrEqual(30);
      expect(m.description.short.length).toBeLessThanOrEqual(80);
    },
  );

  it(
    'the committed manifest and a built one validate against the ' +
      'official v1.22 schema (shipped by @microsoft/app-manifest)',
    async () => {
      const schemaPath = createRequire(import.meta.url).resolve(
        '@microsoft/app-manifest/build/json-schemas/teams/v1.22/MicrosoftTeams.schema.json',
      );
      const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
      const template = JSON.parse(readFileSync('manifest/teams/manifest.json', 'utf8'));
      expect(await AppManifestUtils.validateAgainstSchema(template, schema)).toEqual([]);
      const built = buildManifest(template, { appId: APP_ID, publicUrl: 'https://mailferry.corp.example', entries });
      expect(await AppManifestUtils.validateAgainstSchema(built, schema)).toEqual([]);
      // Not vacuous: a version Teams would refuse is reported.
      const errors = (
        await AppManifestUtils.validateAgainstSchema({ ...built, id: 'not-a-guid', accentColor: undefined }, schema)
      ).join('\n');
      expect(errors).toMatch(/^\/id /m);
      expect(errors).toMatch(/accentColor/);
    },
  );

  it('the command list respects Teams limits and names real commands, help first', () => {
    const cmds = commandList(entries);
    expect(cmds.length).toBeLessThanOrEqual(10);
    expect(cmds[0].title).toBe('migrate help');
    for (const c of cmds) {
      expect(c.title.length).toBeLessThanOrEqual(32);
      expect(c.description.length).toBeLessThanOrEqual(128);
      expect(COMMANDS.some((d) => `migrate ${d.name}` === c.title)).toBe(true);
    }
  });

  it('npm run package:teams writes the zip an admin uploads', async () => {
    const out = join(dir, 'cli.zip');
    const { stdout } = await promisify(execFile)(process.execPath, ['scripts/package-teams.mjs', '--out', out], {
      env: { ...process.env, MicrosoftAppId: APP_ID, PUBLIC_URL: 'https://mailferry.corp.example' },
    });
    expect(stdout).toContain(out);
    const files = unzip(readFileSync(out));
    expect([...files.keys()].sort()).toEqual(['color.png', 'manifest.json', 'outline.png']);
    const m = JSON.parse(files.get('manifest.json')!.toString('utf8'));
    expect(m.id).toBe(APP_ID);
    expect(m.bots[0].botId).toBe(APP_ID);
    expect(m.validDomains).toEqual(['mailferry.corp.example']);
    const color = readPng(files.get('color.png')!);
    expect([color.width, color.height, color.colorType]).toEqual([192, 192, 6]);
    const outline = readPng(files.get('outline.png')!);
    expect([outline.width, outline.height]).toEqual([32, 32]);
    // Outline: white on transparent only, and not empty.
    let white = 0;
    for (let i = 0; i < outline.pixels.length; i += 4) {
      const [r, g, b, a] = outline.pixels.subarray(i, i + 4);
      if (a === 0) continue;
      expect([r, g, b, a]).toEqual([255, 255, 255, 255]);
      white++;
    }
    expect(white).toBeGreaterThan(50);
    expect(white).toBeLessThan(32 * 32 - 100);
  });

  it(
    'npm run package:teams --app-id … (without `--`) keeps ' +
      'its flags, and the manifest version follows package.json',
    async () => {
      const out = join(dir, 'npm.zip');
      const { stdout } = await promisify(execFile)(
        'npm',
        [
          'run',
          '--silent',
          'package:teams',
          '--app-id',
          APP_ID,
          '--public-url',
          'https://mf.corp.example',
          '--out',
          out,
        ],
        {
          env: { ...process.env, MicrosoftAppId: '', PUBLIC_URL: '' },
        },
      );
      expect(stdout).toContain(out);
      const m = JSON.parse(unzip(readFileSync(out)).get('manifest.json')!.toString('utf8'));
      expect(m.id).toBe(APP_ID);
      expect(m.validDomains).toEqual(['mf.corp.example']);
      expect(m.version).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
      // --app-version, and the `name=value` spelling npm passes whole.
      const v2 = join(dir, 'v2.zip');
      await expect(packageTeams([], { npm_config_app_id: APP_ID, npm_config_out: 'true' }, entries)).rejects.toThrow(
        /npm kept --out .*npm run package:teams -- --out VALUE/,
      );
      await packageTeams(
        [v2],
        {
          npm_config_app_id: APP_ID,
          npm_config_app_version: '2.3.4',
          npm_config_out: 'true',
          PUBLIC_URL: 'https://mf.corp.example',
        },
        entries,
      );
      expect(JSON.parse(unzip(readFileSync(v2)).get('manifest.json')!.toString('utf8')).version).toBe('2.3.4');
      expect(
        npmArgs(['https://x.example', APP_ID], { npm_config_app_id: 'true', npm_config_public_url: 'true' }),
      ).toEqual(['https://x.example', APP_ID, '--app-id', APP_ID, '--public-url', 'https://x.example']);
      await expect(packageTeams(['--app-version', 'v2'], { MicrosoftAppId: APP_ID }, entries)).rejects.toThrow(
        /x\.y\.z/,
      );
    },
  );

  it('refuses an http:// PUBLIC_URL instead of keeping the mailferry.example placeholders', async () => {
    await expect(
      packageTeams(
        ['--out', join(dir, 'http.zip')],
        { MicrosoftAppId: APP_ID, PUBLIC_URL: 'http://mailferry.corp.example:3978' },
        entries,
      ),
    ).rejects.toThrow(/PUBLIC_URL must start with https:\/\/ for Teams/);
  });

  it("refuses to build without the bot's app id", async () => {
    await expect(packageTeams(['--out', join(dir, 'x.zip')], {}, entries)).rejects.toThrow(/Microsoft App ID/);
    const m = buildManifest(JSON.parse(readFileSync('manifest/teams/manifest.json', 'utf8')), {
      appId: APP_ID,
      entries,
    });
    expect(m.validDomains).toEqual(['mailferry.example']);
  });
});
