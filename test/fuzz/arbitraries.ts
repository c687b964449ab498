import fc from 'fast-check';

/**
 * Shared settings and generators of the fuzz suite. A fixed seed makes every run of
 * `npm test` try the same inputs (a failure prints its seed and path to replay it); the
 * counts keep the suite to a few seconds per file.
 */
export const SEED = 20261129;

/** fast-check options with the suite's seed and a bounded count. */
export function runs(numRuns: number): { seed: number; numRuns: number } {
  return { seed: SEED, numRuns };
}

/** Characters chosen to hurt parsers: quotes, separators, escapes, bidi and zero-width, NUL, emoji, markup. */
const NASTY = [
  '"',
  "'",
  '\u201c',
  '\u201d',
  '\u2018',
  '\u2019',
  ',',
  ';',
  '\\',
  '\n',
  '\r',
  '\t',
  ' ',
  '\u00a0',
  '--',
  '=',
  '@',
  '#',
  '<',
  '>',
  '&',
  '\u202e',
  '\u200b',
  '\u2066',
  '\u00ad',
  '\ufeff',
  '\u0000',
  '😀',
  '/migrate',
  'mailto:',
  '<!channel>',
  '%',
  '+',
];

/** Words of our grammar, so generated lines reach deep into the parser, not only its first refusal. */
const WORDS = [
  'project',
  'create',
  'set',
  'list',
  'add',
  'bulk',
  'status',
  'start',
  'stop',
  'clear-credentials',
  'resend',
  'delete',
  'form',
  'digest',
  'help',
  'connect',
  '--source',
  '--destination',
  '--both',
  '--ask',
  '--notify',
  '--project',
  '--all',
  '--waiting',
  '--digest',
  '--tz',
  '--licenses',
  '--self-service',
  '--source-login',
  '--destination-login',
  'source',
  'destination',
  'both',
  'email',
  'chat',
  'off',
  '0 9 * * 1-5',
  'Europe/Paris',
  'acme',
  '3',
  '-1',
  '99999999999',
  'alice@old.example',
  'bob@new.example',
  'gmail.com',
  'x@gmail.com',
  'imaps://old.example:993',
  'imap://h:143',
  'm365://tenant',
  'ftp://x',
];

/** A word of the grammar, a nasty character, or any text. */
export const token = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...WORDS) },
  { weight: 2, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
);

/** A command line: tokens joined by spaces (sometimes none), optionally prefixed and followed by body lines. */
export const commandLine = fc
  .tuple(
    fc.constantFrom('', '/migrate ', 'migrate ', '  /MIGRATE\t'),
    fc.array(token, { maxLength: 8 }),
    fc.constantFrom(' ', '', '  '),
    fc.array(fc.string({ maxLength: 40 }), { maxLength: 3 }),
  )
  .map(([prefix, words, sep, body]) => prefix + words.join(sep) + (body.length ? '\n' + body.join('\n') : ''));

/** A cell of a CSV line: an address, a nasty fragment, quoted or not. */
const cell = fc.oneof(
  fc.constantFrom(
    'alice@old.example',
    'bob@new.example',
    'source',
    'destination',
    '',
    ' ',
    'x@gmail.com',
    'not-an-address',
    'dave@new.exam\u202eple',
  ),
  fc.string({ maxLength: 16 }),
  token,
  fc.string({ maxLength: 10 }).map((s) => `"${s}"`),
  fc.string({ maxLength: 10 }).map((s) => `"${s.replace(/"/g, '""')}"`),
);

/** CSV text: lines of cells joined by `,` or `;`, with comments, blanks, BOMs and CRLFs. */
export const csvText = fc
  .tuple(
    fc.array(
      fc.oneof(
        {
          weight: 6,
          arbitrary: fc
            .tuple(fc.array(cell, { minLength: 1, maxLength: 6 }), fc.constantFrom(',', ';'))
            .map(([cells, sep]) => cells.join(sep)),
        },
        { weight: 1, arbitrary: fc.constantFrom('', '# comment', 'source,destination', '   ', '"unterminated,quote') },
      ),
      { maxLength: 12 },
    ),
    fc.constantFrom('\n', '\r\n', '\r'),
    fc.boolean(),
  )
  .map(([lines, eol, bom]) => (bom ? '\ufeff' : '') + lines.join(eol));

/** Address-like strings: mostly near-valid, with one thing wrong (or nothing). */
export const addressish = fc.oneof(
  fc
    .tuple(
      fc.string({ maxLength: 10 }),
      fc.constantFrom('@', '@@', '', '＠'),
      fc.string({ maxLength: 12 }),
      fc.constantFrom('.example', '.com', '', '.', '..x'),
    )
    .map(([l, at, d, tld]) => `${l}${at}${d}${tld}`),
  fc
    .tuple(
      fc.constantFrom('alice', 'a.b', '.a', 'a.', 'a+b', 'ü'),
      fc.constantFrom(...NASTY, ''),
      fc.constantFrom('old.example', 'GMAIL.com', 'xn--mnchen-3ya.example', 'müller.example', 'a..b'),
      fc.nat(12),
    )
    .map(([l, n, d, at]) => {
      // The odd fragment lands somewhere in the local part or the domain.
      const s = `${l}@${d}`;
      const i = Math.min(at, s.length);
      return s.slice(0, i) + n + s.slice(i);
    }),
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);
