/**
 * The least IMAP work a copy from one IMAP account into another asks of the servers, and what it
 * costs the bench's Dovecot in CPU. A bare client (no parsing beyond what the replies need, no
 * checkpoints, no verification) copies each source mailbox into an empty destination account:
 * LOGIN on each side, LIST on each, CREATE and SUBSCRIBE of every folder the destination lacks,
 * then per folder EXAMINE and one UID FETCH of every body on the source and one MULTIAPPEND of
 * them on the destination (not selected), LOGOUT. Any IMAP-to-IMAP copier asks at least this.
 *
 * Where the copier and both servers share the machine's cores, that CPU bounds the copier's wall
 * time from below, however little CPU the copier itself takes.
 */
import { connect, type Socket } from 'node:net';

/** A bare IMAP client: one command at a time, literals of untagged replies collected. */
class BareImap {
  private chunks: Buffer[] = [];
  private size = 0;
  private wake: (() => void) | null = null;
  private failure: Error | null = null;
  private tags = 0;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.size += d.length;
      this.notify();
    });
    socket.on('error', (e) => {
      this.failure = e;
      this.notify();
    });
    socket.on('close', () => {
      this.failure ??= new Error('connection closed');
      this.notify();
    });
  }

  static async open(port: number): Promise<BareImap> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new BareImap(socket);
    await c.line();
    return c;
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private async more(): Promise<void> {
    if (this.failure) throw this.failure;
    await new Promise<void>((r) => (this.wake = r));
  }

  private joined(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  private take(n: number): Buffer {
    const all = this.joined();
    const out = all.subarray(0, n);
    this.chunks = [all.subarray(n)];
    this.size -= n;
    return out;
  }

  private async line(): Promise<string> {
    for (;;) {
      const at = this.size ? this.joined().indexOf('\r\n') : -1;
      if (at >= 0) return this.take(at + 2).toString('latin1', 0, at);
      await this.more();
    }
  }

  private async bytes(n: number): Promise<Buffer> {
    while (this.size < n) await this.more();
    return Buffer.from(this.take(n));
  }

  /** Sends one command (its parts written in one go); its untagged replies' lines and literals. */
  async command(parts: (string | Buffer)[]): Promise<{ lines: string[]; literals: Buffer[] }> {
    const tag = `f${++this.tags}`;
    this.socket.cork();
    this.socket.write(`${tag} `);
    for (const p of parts) this.socket.write(p);
    this.socket.write('\r\n');
    this.socket.uncork();
    const lines: string[] = [];
    const literals: Buffer[] = [];
    for (;;) {
      const l = await this.line();
      const m = /\{(\d+)\}$/.exec(l);
      if (m) literals.push(await this.bytes(Number(m[1])));
      else if (l.startsWith(`${tag} `)) {
        if (!l.startsWith(`${tag} OK`)) throw new Error(`${parts[0]}: ${l}`);
        return { lines, literals };
      } else lines.push(l);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The quoted form of a mailbox name (the bench's names are plain ASCII). */
const quoted = (name: string) => `"${name.replace(/["\\]/g, '\\$&')}"`;

/** The selectable folders a LIST reply names (quoted or atom names; the bench's are plain ASCII). */
function listed(lines: string[]): string[] {
  return lines.flatMap((line) => {
    const m = /^\* LIST \(([^)]*)\) (?:"[^"]*"|NIL) (.*)$/.exec(line);
    if (!m?.[2] || /\\Noselect|\\NonExistent/i.test(m[1] ?? '')) return [];
    const raw = m[2];
    return [raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw];
  });
}

/** Copies `source` into the empty account `destination` with the least IMAP work. */
export async function bareCopy(port: number, source: string, destination: string, password: string): Promise<void> {
  const src = await BareImap.open(port);
  const dst = await BareImap.open(port);
  try {
    await Promise.all([
      src.command([`LOGIN ${source} ${quoted(password)}`]),
      dst.command([`LOGIN ${destination} ${quoted(password)}`]),
    ]);
    const [srcList, dstList] = await Promise.all([src.command(['LIST "" "*"']), dst.command(['LIST "" "*"'])]);
    const folders = listed(srcList.lines);
    const present = new Set(listed(dstList.lines));
    for (const f of folders.filter((x) => !present.has(x))) {
      await dst.command([`CREATE ${quoted(f)}`]);
      await dst.command([`SUBSCRIBE ${quoted(f)}`]);
    }
    for (const f of folders) {
      await src.command([`EXAMINE ${quoted(f)}`]);
      const bodies = (await src.command(['UID FETCH 1:* (UID BODY.PEEK[])'])).literals;
      if (!bodies.length) continue;
      const parts: (string | Buffer)[] = [`APPEND ${quoted(f)}`];
      for (const b of bodies) parts.push(` () {${b.length}+}\r\n`, b);
      await dst.command(parts);
    }
    await Promise.all([src.command(['LOGOUT']), dst.command(['LOGOUT'])]);
  } finally {
    src.close();
    dst.close();
  }
}
