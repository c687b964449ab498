import { connect as netConnect, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, rootCertificates, type TLSSocket } from 'node:tls';
import { request } from 'node:https';
import { parseImapUrl } from './imap/parse-imap-url.ts';
import { parseM365Url } from './m365/parse-m365-url.ts';
import type { M365Settings } from './m365/types.ts';

/** What a look at one server found: whether it can serve a migration, and each finding in words. */
export interface ServerProbe {
  /** The server answered as an IMAP server should (and, for m365://, the tenant exists). */
  ok: boolean;
  /** `host:port` (and the authority for m365://). */
  where: string;
  /** Findings in order: connection, TLS, greeting, capabilities; problems say what to check. */
  findings: string[];
}

/** Settings of a probe. */
export interface ProbeOptions {
  /** Give up on each step after this long (ms). Default 5 s. */
  timeoutMs?: number;
  /** Extra CA (PEM) trusted besides the system's. */
  ca?: string;
  /** Where Microsoft's identity platform is, for m365:// URLs. */
  m365?: M365Settings;
}

// RFC 2606 / RFC 6761: names under these never resolve to a real server.
const RESERVED_TLD = /\.(example|invalid|test)$|^example\.(com|net|org)$/i;

/**
 * Looks at the server of a connector URL without logging in: TCP connection, TLS (implicit
 * for imaps://, STARTTLS for imap:// when offered, RFC 3501 §6.2.1), the IMAP greeting and
 * CAPABILITY (RFC 3501 §7.1.1, §6.1.1), and for m365:// the tenant's OpenID metadata at the
 * authority. Never throws: an unreachable or odd server is a finding, for the admin to read
 * while setting a project up.
 */
export async function probeServer(url: string, opts: ProbeOptions = {}): Promise<ServerProbe> {
  let addr: ReturnType<typeof parseImapUrl>;
  try {
    addr = parseImapUrl(url);
  } catch (e) {
    return { ok: false, where: url, findings: [`not a server URL: ${e instanceof Error ? e.message : String(e)}`] };
  }
  const where = `${addr.host}:${addr.port}`;
  const findings: string[] = [];
  let ok = true;
  if (/^m365:/i.test(url)) {
    const tenant = await probeAuthority(parseM365Url(url).tenantId, opts);
    findings.push(tenant.finding);
    ok = tenant.ok;
  }
  if (RESERVED_TLD.test(addr.host))
    return {
      ok: false,
      where,
      findings: [
        ...findings,
        `${addr.host} is a reserved example name: no server answers there; give the real host name`,
      ],
    };
  // An m365:// side's IMAP host is trusted with the Microsoft settings' CA too.
  const imap = await probeImap(addr.host, addr.port, addr.secure, {
    ...opts,
    ca: opts.ca ?? (/^m365:/i.test(url) ? opts.m365?.ca : undefined),
  });
  return { ok: ok && imap.ok, where, findings: [...findings, ...imap.findings] };
}

/** A line-oriented reader of an IMAP connection (greeting, tagged answers). */
class Lines {
  private buf = '';
  private waiters: (() => void)[] = [];
  private ended?: Error;
  constructor(private sock: Socket | TLSSocket) {
    this.attach(sock);
  }
  attach(sock: Socket | TLSSocket): void {
    this.sock = sock;
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      this.buf += d;
      this.wake();
    });
    sock.on('error', (e) => this.end(e));
    sock.on('close', () => this.end(new Error('the server closed the connection')));
  }
  detach(): void {
    this.sock.removeAllListeners('data');
    this.sock.removeAllListeners('close');
    this.sock.removeAllListeners('error');
    this.sock.on('error', () => {});
  }
  private end(e: Error): void {
    this.ended ??= e;
    this.wake();
  }
  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  /** The next line (without CRLF); rejects on close, error or timeout. */
  async line(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.buf.indexOf('\n');
      if (i >= 0) {
        const l = this.buf.slice(0, i).replace(/\r$/, '');
        this.buf = this.buf.slice(i + 1);
        return l;
      }
      if (this.ended) throw this.ended;
      const left = deadline - Date.now();
      if (left <= 0)
        throw Object.assign(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`), { code: 'ETIMEDOUT' });
      await new Promise<void>((res) => {
        const t = setTimeout(res, left);
        this.waiters.push(() => {
          clearTimeout(t);
          res();
        });
      });
    }
  }
  /** Sends a tagged command and collects untagged lines up to its tagged answer. */
  async command(tag: string, cmd: string, timeoutMs: number): Promise<{ untagged: string[]; done: string }> {
    this.sock.write(`${tag} ${cmd}\r\n`);
    const untagged: string[] = [];
    for (;;) {
      const l = await this.line(timeoutMs);
      if (l.startsWith(`${tag} `)) return { untagged, done: l.slice(tag.length + 1) };
      untagged.push(l);
    }
  }
}

function describeNetError(e: unknown, host: string, port: number): string {
  const err = e as { code?: string; message?: string };
  switch (err?.code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the name ${host} does not resolve (${err.code}); check the host name`;
    case 'ECONNREFUSED':
      return `nothing listens on ${host}:${port} (connection refused); check the port and that the server runs`;
    case 'ETIMEDOUT':
      return `no answer from ${host}:${port} in time (${err.message ?? 'timeout'}); a firewall may drop the connection`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${host} cannot be reached from here (${err.code}); check the network route and firewall`;
    default:
      return `${host}:${port}: ${err?.message ?? String(e)}`;
  }
}

function connectTcp(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host, port });
    const t = setTimeout(() => {
      s.destroy();
      reject(Object.assign(new Error(`no connection within ${Math.round(timeoutMs / 1000)} s`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/** TLS over a connected socket; resolves with what the certificate check said (the handshake is not refused for it). */
function startTls(
  socket: Socket,
  host: string,
  opts: ProbeOptions,
  timeoutMs: number,
): Promise<{ tls: TLSSocket; finding: string; trusted: boolean }> {
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({
      socket,
      servername: /^[\d.:]+$/.test(host) ? undefined : host,
      rejectUnauthorized: false,
      ...(opts.ca ? { ca: [...rootCertificates, opts.ca] } : {}),
    });
    const t = setTimeout(() => {
      tls.destroy();
      reject(
        Object.assign(new Error(`no TLS handshake within ${Math.round(timeoutMs / 1000)} s`), { code: 'ETIMEDOUT' }),
      );
    }, timeoutMs);
    tls.once('secureConnect', () => {
      clearTimeout(t);
      const proto = tls.getProtocol() ?? 'TLS';
      // rejectUnauthorized is off so the handshake completes and can be described: check the chain and the name here.
      const nameErr = checkServerIdentity(host, tls.getPeerCertificate());
      const err = tls.authorizationError
        ? String((tls.authorizationError as Error & { code?: string }).code ?? tls.authorizationError)
        : nameErr
          ? `not issued for ${host}`
          : '';
      resolve({
        tls,
        trusted: !err,
        finding: err
          ? `${proto}, but the certificate is not trusted (${err}): logins will be refused ` +
            `until the server has a valid certificate (or its CA is trusted: NODE_EXTRA_CA_CERTS)`
          : `${proto}, certificate valid for ${host}`,
      });
    });
    tls.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/** The capabilities named in a CAPABILITY answer or a greeting's `[CAPABILITY …]` code. */
function capabilitiesIn(lines: string[]): string[] {
  for (const l of lines) {
    const caps = (/^\* CAPABILITY (.*)$/i.exec(l) ?? /\[CAPABILITY ([^\]]*)\]/i.exec(l))?.[1];
    if (caps !== undefined) return caps.trim().split(/\s+/);
  }
  return [];
}

function describeCaps(caps: string[]): string {
  const auth = caps.filter((c) => /^AUTH=/i.test(c)).map((c) => c.slice(5));
  const rest = caps.filter((c) => !/^AUTH=/i.test(c) && !/^(STARTTLS|LOGINDISABLED)$/i.test(c));
  const shown = rest.slice(0, 12).join(' ') + (rest.length > 12 ? ` (+${rest.length - 12} more)` : '');
  const logins = caps.some((c) => /^LOGINDISABLED$/i.test(c))
    ? 'disabled'
    : [...new Set([...auth, 'LOGIN'])].join(', ');
  return `capabilities ${shown || '(none)'}; logins ${logins}`;
}

/** A probe's connection: its socket (the TLS one once negotiated) and whether the certificate is trusted. */
interface ProbeConnection {
  sock: Socket | TLSSocket;
  trusted: boolean;
}

/**
 * Looks at an IMAP server without logging in: TCP, TLS (at once, or by STARTTLS), the greeting
 * and the capabilities. Not ok when a step fails or the certificate is not trusted.
 */
async function probeImap(
  host: string,
  port: number,
  secure: boolean,
  opts: ProbeOptions,
): Promise<{ ok: boolean; findings: string[] }> {
  const t = opts.timeoutMs ?? 5000;
  const findings: string[] = [];
  const fail = (finding: string) => ({ ok: false, findings: [...findings, finding] });
  let conn: ProbeConnection | undefined;
  try {
    try {
      conn = { sock: await connectTcp(host, port, t), trusted: true };
    } catch (e) {
      return fail(`not reachable: ${describeNetError(e, host, port)}`);
    }
    findings.push('reachable');
    const noTls = secure ? await tlsOnConnect(conn, host, port, opts, t, findings) : undefined;
    if (noTls) return fail(noTls);
    const lines = new Lines(conn.sock);
    const badGreeting = await greetingProblem(lines, secure, t, findings);
    if (badGreeting) return fail(badGreeting);
    let caps = capabilitiesIn((await lines.command('p1', 'CAPABILITY', t)).untagged);
    if (!secure) {
      if (caps.some((c) => /^STARTTLS$/i.test(c))) {
        const upgraded = await upgradeByStartTls(conn, lines, host, opts, t, findings);
        if ('refused' in upgraded) return fail(upgraded.refused);
        caps = upgraded.caps;
      } else {
        findings.push(
          'no STARTTLS: passwords would cross the network in clear; prefer imaps:// or enable STARTTLS on the server',
        );
      }
    } else conn.sock.write('p4 LOGOUT\r\n');
    findings.push(describeCaps(caps));
    if (!caps.some((c) => /^IMAP4REV[12]$/i.test(c))) return fail('the server does not say it speaks IMAP4rev1');
    return { ok: conn.trusted, findings };
  } catch (e) {
    return fail(`the server stopped answering: ${describeNetError(e, host, port)}`);
  } finally {
    conn?.sock.destroy();
  }
}

/** imaps://: TLS on the connection at once; what was wrong when the port does not speak it. */
async function tlsOnConnect(
  conn: ProbeConnection,
  host: string,
  port: number,
  opts: ProbeOptions,
  t: number,
  findings: string[],
): Promise<string | undefined> {
  try {
    const r = await startTls(conn.sock, host, opts, t);
    conn.sock = r.tls;
    conn.trusted = r.trusted;
    findings.push(r.finding);
    return undefined;
  } catch (e) {
    return (
      `no TLS on this port (${(e as Error).message}); for a server that starts in ` +
      `clear and offers STARTTLS use imap://${host}:${port === 993 ? 143 : port}`
    );
  }
}

/** Reads the server's greeting; what is wrong with it, or undefined when it is an IMAP server's. */
async function greetingProblem(
  lines: Lines,
  secure: boolean,
  t: number,
  findings: string[],
): Promise<string | undefined> {
  let greeting: string;
  try {
    greeting = await lines.line(t);
  } catch (e) {
    return `no IMAP greeting (${(e as Error).message}); is this an IMAP port?`;
  }
  if (!/^\* (OK|PREAUTH)\b/i.test(greeting))
    return /^\* BYE/i.test(greeting)
      ? `the server refuses connections: "${greeting.slice(0, 160)}"`
      : `not an IMAP greeting: "${greeting.slice(0, 120)}"` +
          `${!secure && /^\x16|^[^\x20-\x7e]/.test(greeting) ? ' (TLS on this port? use imaps://)' : ''}`;
  findings.push(`IMAP greeting "${greeting.replace(/^\* (OK|PREAUTH)\s*(\[[^\]]*\]\s*)?/i, '').slice(0, 80)}"`);
  return undefined;
}

/** imap:// with STARTTLS offered: the upgrade, then the capabilities over TLS (or the server's refusal). */
async function upgradeByStartTls(
  conn: ProbeConnection,
  lines: Lines,
  host: string,
  opts: ProbeOptions,
  t: number,
  findings: string[],
): Promise<{ caps: string[] } | { refused: string }> {
  const r = await lines.command('p2', 'STARTTLS', t);
  if (!/^OK\b/i.test(r.done)) return { refused: `STARTTLS offered but refused: "${r.done.slice(0, 120)}"` };
  lines.detach();
  const tls = await startTls(conn.sock, host, opts, t);
  conn.sock = tls.tls;
  conn.trusted = tls.trusted;
  findings.push(`STARTTLS: ${tls.finding}`);
  const again = new Lines(conn.sock);
  const caps = capabilitiesIn((await again.command('p3', 'CAPABILITY', t)).untagged);
  conn.sock.write('p4 LOGOUT\r\n');
  return { caps };
}

/** GETs the tenant's OpenID metadata at the authority (`HOST/TENANT/v2.0/.well-known/openid-configuration`). */
function probeAuthority(tenantId: string, opts: ProbeOptions): Promise<{ ok: boolean; finding: string }> {
  const host = (opts.m365?.authorityHost ?? 'https://login.microsoftonline.com').replace(/\/+$/, '');
  const url = `${host}/${encodeURIComponent(tenantId)}/v2.0/.well-known/openid-configuration`;
  const ca = opts.ca ?? opts.m365?.ca;
  return new Promise((resolve) => {
    const req = request(
      url,
      { method: 'GET', timeout: opts.timeoutMs ?? 5000, ...(ca ? { ca: [...rootCertificates, ca] } : {}) },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body.length < 65536 ? (body += d) : undefined));
        res.on('end', () => {
          let meta: { issuer?: string; token_endpoint?: string; error_description?: string } = {};
          try {
            meta = JSON.parse(body);
          } catch {
            /* not JSON: said below */
          }
          if (res.statusCode === 200 && meta.token_endpoint)
            resolve({ ok: true, finding: `tenant ${tenantId} found at ${host}` });
          else
            resolve({
              ok: false,
              finding:
                `the authority ${host} does not know the tenant ${tenantId} ` +
                `(HTTP ${res.statusCode}` +
                (meta.error_description ? `: ${(meta.error_description.split(/\r?\n/)[0] ?? '').slice(0, 160)}` : '') +
                '); check the tenant id in the m365:// ' +
                `URL${host.includes('microsoftonline.com') ? '' : ' and MICROSOFT_AUTHORITY_HOST'}`,
            });
        });
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('no answer in time'), { code: 'ETIMEDOUT' })));
    req.on('error', (e) =>
      resolve({
        ok: false,
        finding: `the authority ${host} cannot be reached: ${describeNetError(e, new URL(host).hostname, 443)}`,
      }),
    );
    req.end();
  });
}
