import { describe, expect, it } from 'vitest';
import { Logger, redact } from '../../bot/log.ts';

describe('log redaction', () => {
  it('never lets a link token, bearer token, Slack token or password through', () => {
    const token = 'Zx9_' + 'a'.repeat(39);
    const lines: string[] = [];
    const log = new Logger((l) => lines.push(l), 'debug');
    log.info(`sent https://mf.example/c/${token} to alice`, {
      password: 'hunter2',
      link: 'https://mf.example/c/abc',
      authorization: 'Bearer abc.def.ghi',
    });
    log.error('boom', {
      error: 'request failed: password=hunter2&user=alice Authorization: Bearer eyJhbGciOi.x.y xoxb-123-456-abcdef',
    });
    const all = lines.join('\n');
    for (const secret of [token, 'hunter2', 'eyJhbGciOi', 'xoxb-123-456-abcdef', 'abc.def.ghi'])
      expect(all).not.toContain(secret);
    expect(all).toContain('/c/[redacted]');
    expect(all).toContain('user=alice');
  });
  it('a copy pass number is not a password: pass=3 is logged as is, passwords still are not', () => {
    const lines: string[] = [];
    const log = new Logger((l) => lines.push(l), 'debug');
    log.info('pass started', { item: 'i1', pass: 3, appPassword: 'hunter2', passphrase: 'open sesame' });
    expect(lines[0]).toContain('pass=3');
    expect(lines[0]).not.toContain('hunter2');
    expect(lines[0]).not.toContain('sesame');
  });
  it('redact leaves ordinary text alone', () => {
    expect(redact('item alice@old.example completed in 3 s')).toBe('item alice@old.example completed in 3 s');
  });
});
