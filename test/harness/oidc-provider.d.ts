/**
 * The part of oidc-provider's API the test provider uses (the package ships no types;
 * @types/oidc-provider lags behind its major versions).
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';
  export type AdapterPayload = Record<string, unknown> & {
    grantId?: string;
    userCode?: string;
    uid?: string;
    clientId?: string;
    consumed?: number;
  };
  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void>;
    find(id: string): Promise<AdapterPayload | undefined>;
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
    findByUid(uid: string): Promise<AdapterPayload | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }
  export interface KoaContextWithOIDC {
    status: number;
    body: unknown;
    type: string;
    oidc?: { route?: string; client?: { clientId: string }; params?: Record<string, unknown> };
  }
  interface FoundToken {
    clientId: string;
    accountId?: string;
    scope?: string;
    isExpired: boolean;
  }
  interface TokenModel {
    find(value: string): Promise<FoundToken | undefined>;
  }
  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    use(mw: (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>): void;
    on(event: string, handler: (...args: unknown[]) => void): void;
    AccessToken: TokenModel;
    ClientCredentials: TokenModel;
    Client: { find(id: string): Promise<unknown> };
  }
}
