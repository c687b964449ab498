import { describe, expect, it } from 'vitest';
import { HeaderScan, headerDigestOf, mungeEightBit, sha256Hex } from '../../engine/copy/header-digest.ts';

const head = 'From: Jürgen <j@example.test>\r\nSubject: Grüße\r\n\r\n';
const msg = Buffer.from(`${head}Body with ü too.\r\n`, 'utf8');
const header = Buffer.from(head, 'utf8');

describe('header digest (what the verification reads back for 8-bit headers)', () => {
  it('digests the header section up to and including the empty line, as BODY[HEADER] returns it', () => {
    const d = headerDigestOf(msg)!;
    expect(d.sha).toBe(sha256Hex(header));
    // What Cyrus stores: every 8-bit header byte as X, same length.
    expect(d.munged).toBe(sha256Hex(mungeEightBit(header)));
    expect(mungeEightBit(header).length).toBe(header.length);
    expect(mungeEightBit(header).toString('latin1')).toContain('From: JXXrgen');
  });

  it('gives the same digest however the bytes arrive (one byte at a time across socket chunks)', () => {
    const s = new HeaderScan();
    for (let i = 0; i < msg.length; i++) s.feed(msg.subarray(i, i + 1));
    expect(s.digest()).toEqual(headerDigestOf(msg));
  });

  it('a header without 8-bit bytes needs no check, even when the body has some; bare LF line ends work too', () => {
    expect(headerDigestOf(Buffer.from('Subject: plain\r\n\r\nGrüße\r\n', 'utf8'))).toBeUndefined();
    const lf = Buffer.from('Subject: Grüße\n\nbody\n', 'utf8');
    expect(headerDigestOf(lf)?.sha).toBe(sha256Hex(Buffer.from('Subject: Grüße\n\n', 'utf8')));
    // A message without a body: the whole message is its header.
    const noBody = Buffer.from('Subject: Grüße\r\n', 'utf8');
    expect(headerDigestOf(noBody)?.sha).toBe(sha256Hex(noBody));
  });
});
