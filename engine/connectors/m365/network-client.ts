import { request } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';

/** Marks the failure of a request on a kept-alive connection the server had closed (sent again once). */
const STALE = Symbol('stale connection');

/**
 * msal-node's HTTP client, on node:https: trusts the extra CA of the M365 settings (a
 * private cloud's, a TLS-inspecting proxy's) on top of the system's, and keeps the last
 * network failure so a token error can say why the authority was unreachable (msal-node
 * replaces it with a bare `network_error`). Request and response bodies carry secrets and
 * tokens: nothing here logs.
 */
export class AuthorityHttpClient implements INetworkModule {
  /** The last transport failure (no HTTP answer at all), cleared by the next answer. */
  lastFailure?: { code?: string; message: string };
  constructor(
    private readonly ca?: string,
    private readonly timeoutMs = 30_000,
  ) {}

  sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> {
    return this.send<T>('GET', url, options, timeout);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('POST', url, options);
  }

  /**
   * One request; sent again, once, on a fresh connection when a kept-alive connection turned out
   * closed by the server as it was reused (ECONNRESET or EPIPE before any answer): the server
   * closes idle connections after a few seconds (Node's own default is 5 s), and a request that
   * crosses that close never reached it. Node leaves this retry to its callers.
   */
  private async send<T>(
    method: 'GET' | 'POST',
    url: string,
    options?: NetworkRequestOptions,
    timeout?: number,
  ): Promise<NetworkResponse<T>> {
    try {
      return await this.sendOnce<T>(method, url, options, timeout);
    } catch (e) {
      if (!(e instanceof Error && STALE in e)) throw e;
      return this.sendOnce<T>(method, url, options, timeout);
    }
  }

  private sendOnce<T>(
    method: 'GET' | 'POST',
    url: string,
    options?: NetworkRequestOptions,
    timeout?: number,
  ): Promise<NetworkResponse<T>> {
    return new Promise((resolve, reject) => {
      const body = method === 'POST' ? (options?.body ?? '') : undefined;
      const headers: Record<string, string | number> = { ...(options?.headers ?? {}) };
      if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
      let answered = false;
      const req = request(
        url,
        {
          method,
          headers,
          ...(this.ca ? { ca: [...rootCertificates, this.ca] } : {}),
          timeout: timeout ?? this.timeoutMs,
        },
        (res) => {
          answered = true;
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('error', (e) => this.failed(e, reject));
          res.on('end', () => {
            this.lastFailure = undefined;
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : {};
            } catch {
              // Not JSON (a proxy's HTML page): msal-node sees an empty body and the status.
              parsed = {};
            }
            const h: Record<string, string> = {};
            for (const [k, v] of Object.entries(res.headers))
              if (v !== undefined) h[k] = Array.isArray(v) ? v.join(', ') : v;
            resolve({ headers: h, body: parsed as T, status: res.statusCode ?? 0 });
          });
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error('no answer in time'), { code: 'ETIMEDOUT' })));
      req.on('error', (e: Error & { code?: string }) => {
        if (req.reusedSocket && !answered && (e.code === 'ECONNRESET' || e.code === 'EPIPE'))
          return reject(Object.assign(e, { [STALE]: true }));
        this.failed(e, reject);
      });
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  private failed(e: Error & { code?: string }, reject: (e: unknown) => void): void {
    this.lastFailure = { code: e.code, message: e.message };
    reject(e);
  }
}
