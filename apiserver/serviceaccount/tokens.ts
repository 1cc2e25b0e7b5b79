// Service-account tokens made and checked: the issuer signs the claims of a binding; the authenticator
// verifies a bearer token (signature, issuer, time, audience) and then that what it is bound to still
// exists with the same uid: the account, and the pod or secret. Those lookups are cached briefly (a
// token is presented on every request of a client) so a deleted object stops authenticating within
// LOOKUP_TTL_MS; absent objects are never cached.
import { randomUUID, type KeyObject } from 'node:crypto';
import type { UserInfo } from '../auth.js';
import { checkClaims, issuedBy, makeClaims, serviceAccountUser, type TokenBinding } from './claims.js';
import { decodeJwt, signJwt, verifyJwtSignature } from './jwt.js';

export const LOOKUP_TTL_MS = 2_000;

export interface TokenConfig {
  /** --service-account-issuer: the first is written into tokens, every one is accepted. */
  readonly issuers: readonly string[];
  /** --api-audiences: what a token must be for to authenticate to this API. */
  readonly apiAudiences: readonly string[];
}

export class TokenIssuer {
  constructor(
    private readonly key: KeyObject,
    private readonly cfg: TokenConfig,
    private readonly now: () => number = Date.now,
  ) {}

  issue(binding: TokenBinding, audiences: readonly string[], expirationSeconds: number): { token: string; expiresAt: Date } {
    const nowSec = Math.floor(this.now() / 1000);
    const claims = makeClaims({ issuer: this.cfg.issuers[0]!, audiences, binding, nowSec, expirationSeconds, jti: randomUUID() });
    return { token: signJwt(claims, this.key), expiresAt: new Date((nowSec + expirationSeconds) * 1000) };
  }
}

/** The uid of an object now, or undefined when it does not exist (the storage, read live). */
export type UidLookup = (resource: 'serviceaccounts' | 'pods' | 'secrets', namespace: string, name: string) => Promise<string | undefined>;

/** A token's answer: its user, a reason it is refused, or undefined when it is not a token of ours (another authenticator's). */
export type TokenAnswer = { readonly user: UserInfo; readonly audiences: readonly string[] } | { readonly failure: string } | undefined;

export class ServiceAccountTokenAuthenticator {
  private readonly cache = new Map<string, { uid: string; at: number }>();

  constructor(
    private readonly keys: readonly KeyObject[],
    private readonly cfg: TokenConfig,
    private readonly lookup: UidLookup,
    private readonly now: () => number = Date.now,
  ) {}

  /** `audiences`: a TokenReview's, or the API's when absent. */
  async authenticate(token: string, audiences: readonly string[] = this.cfg.apiAudiences): Promise<TokenAnswer> {
    const jwt = decodeJwt(token);
    if (!jwt || !issuedBy(jwt.payload, this.cfg.issuers)) return undefined;
    if (!verifyJwtSignature(jwt, this.keys)) return { failure: 'invalid bearer token, square/go-jose: error in cryptographic primitive' };
    const c = checkClaims(jwt.payload, { issuers: this.cfg.issuers, audiences, nowSec: Math.floor(this.now() / 1000) });
    if (!c.ok) return { failure: `invalid bearer token, ${c.reason}` };
    const b = c.binding;
    const checks: [Parameters<UidLookup>[0], string, string][] = [['serviceaccounts', b.serviceAccount.name, b.serviceAccount.uid]];
    if (b.pod) checks.push(['pods', b.pod.name, b.pod.uid]);
    if (b.secret) checks.push(['secrets', b.secret.name, b.secret.uid]);
    for (const [resource, name, uid] of checks) {
      const now = await this.uidOf(resource, b.namespace, name);
      if (now === undefined) return { failure: `invalid bearer token, ${resource.replace(/s$/, '')} ${b.namespace}/${name} has been deleted` };
      if (now !== uid) return { failure: `invalid bearer token, ${resource.replace(/s$/, '')} ${b.namespace}/${name} uid (${uid}) does not match its current uid (${now})` };
    }
    return { user: serviceAccountUser(b, c.jti), audiences: c.audiences };
  }

  private async uidOf(resource: Parameters<UidLookup>[0], ns: string, name: string): Promise<string | undefined> {
    const key = `${resource}/${ns}/${name}`;
    const hit = this.cache.get(key);
    const t = this.now();
    if (hit && t - hit.at < LOOKUP_TTL_MS) return hit.uid;
    const uid = await this.lookup(resource, ns, name);
    if (uid === undefined) this.cache.delete(key);
    else this.cache.set(key, { uid, at: t });
    // Bounded: entries past their TTL are dropped once the map grows.
    if (this.cache.size > 10_000) for (const [k, v] of this.cache) if (t - v.at >= LOOKUP_TTL_MS) this.cache.delete(k);
    return uid;
  }
}
