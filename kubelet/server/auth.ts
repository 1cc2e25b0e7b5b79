// Who may use the kubelet's server, as the kubelet's delegated authentication and authorization decide:
// a client certificate verified against --client-ca-file (CN the user, every O a group), else a bearer
// token the apiserver vouches for (a TokenReview, --authentication-token-webhook), else anonymous
// (system:anonymous) only under --anonymous-auth; then --authorization-mode: AlwaysAllow, or Webhook (a
// SubjectAccessReview per request for verb on nodes/<subresource> named this node). Answers are cached
// as the kubelet caches them (tokens 2m; allowed 5m, denied 30s by default).
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { NodeAttributes } from './paths.js';

export interface User {
  readonly name: string;
  readonly uid?: string;
  readonly groups: readonly string[];
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

export const ANONYMOUS: User = { name: 'system:anonymous', groups: ['system:unauthenticated'] };

/** What the kubelet asks the apiserver: its own credentials post the reviews. */
export interface ReviewClient {
  request(method: string, path: string, o: { body: unknown }): Promise<unknown>;
}

export interface AuthOptions {
  readonly anonymous: boolean;
  /** --authentication-token-webhook: bearer tokens are reviewed by the apiserver (absent: refused). */
  readonly tokenReviews?: ReviewClient;
  /** Webhook authorization through this client; absent: AlwaysAllow. */
  readonly accessReviews?: ReviewClient;
  readonly tokenTtlMs: number;
  readonly allowedTtlMs: number;
  readonly deniedTtlMs: number;
  readonly now?: () => number;
}

export type Authenticated = { readonly user: User } | { readonly failure: string };
export type Authorized = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

type Obj = Record<string, unknown>;
const objAt = (o: unknown, k: string): Obj => {
  const v = typeof o === 'object' && o !== null ? (o as Obj)[k] : undefined;
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {};
};
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** The user of a TokenReview's answer, or why it refused the token. Pure. */
export function tokenReviewUser(answer: unknown): Authenticated {
  const st = objAt(answer, 'status');
  if (st.authenticated !== true) return { failure: typeof st.error === 'string' && st.error ? st.error : 'token not authenticated' };
  const u = objAt(st, 'user');
  const name = typeof u.username === 'string' ? u.username : '';
  if (!name) return { failure: 'the token review named no user' };
  const extra: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(objAt(u, 'extra'))) extra[k] = strings(v);
  return { user: { name, ...(typeof u.uid === 'string' && u.uid && { uid: u.uid }), groups: strings(u.groups), ...(Object.keys(extra).length && { extra }) } };
}

/** The SubjectAccessReview asking whether `user` may do `a` with one subresource. Pure. */
export function accessReviewBody(user: User, a: NodeAttributes, subresource: string): Obj {
  return {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: {
      user: user.name,
      ...(user.uid && { uid: user.uid }),
      groups: [...user.groups],
      ...(user.extra && { extra: user.extra }),
      resourceAttributes: { verb: a.verb, group: '', version: 'v1', resource: a.resource, subresource, name: a.name },
    },
  };
}

/** The Forbidden text the kubelet answers (403). Pure. */
export const forbiddenText = (user: User, a: NodeAttributes): string =>
  `Forbidden (user=${user.name}, verb=${a.verb}, resource=${a.resource}, subresource(s)=[${a.subresources.join(' ')}])\n`;

class TtlCache<V> {
  private readonly m = new Map<string, { v: V; until: number }>();
  constructor(private readonly now: () => number) {}
  get(k: string): V | undefined {
    const e = this.m.get(k);
    if (!e) return undefined;
    if (e.until > this.now()) return e.v;
    this.m.delete(k);
    return undefined;
  }
  set(k: string, v: V, ttlMs: number): void {
    if (ttlMs <= 0) return;
    // Bounded: a flood of distinct tokens drops the oldest entries instead of growing without end.
    if (this.m.size >= 4096) this.m.delete(this.m.keys().next().value!);
    this.m.set(k, { v, until: this.now() + ttlMs });
  }
}

export class KubeletAuth {
  private readonly now: () => number;
  private readonly tokens: TtlCache<Authenticated>;
  private readonly decisions: TtlCache<Authorized>;

  constructor(private readonly o: AuthOptions) {
    this.now = o.now ?? Date.now;
    this.tokens = new TtlCache(this.now);
    this.decisions = new TtlCache(this.now);
  }

  get mode(): 'Webhook' | 'AlwaysAllow' {
    return this.o.accessReviews ? 'Webhook' : 'AlwaysAllow';
  }

  async authenticate(req: IncomingMessage): Promise<Authenticated> {
    const sock = req.socket as Partial<TLSSocket>;
    const cert = typeof sock.getPeerCertificate === 'function' ? sock.getPeerCertificate() : undefined;
    if (cert && Object.keys(cert).length > 0) {
      if (!sock.authorized) return { failure: `client certificate not verified: ${String(sock.authorizationError ?? 'unknown authority')}` };
      const subj = cert.subject as unknown as Record<string, string | string[] | undefined>;
      const cn = Array.isArray(subj.CN) ? subj.CN[0] : subj.CN;
      if (!cn) return { failure: 'client certificate has no common name' };
      const o = subj.O;
      return { user: { name: cn, groups: [...(o === undefined ? [] : Array.isArray(o) ? o : [o]), 'system:authenticated'] } };
    }
    const h = req.headers.authorization;
    if (h && /^bearer\s+/i.test(h)) return this.reviewToken(h.replace(/^bearer\s+/i, '').trim());
    return this.o.anonymous ? { user: ANONYMOUS } : { failure: 'no credentials' };
  }

  private async reviewToken(token: string): Promise<Authenticated> {
    if (!this.o.tokenReviews) return { failure: 'bearer tokens are not accepted (--authentication-token-webhook is off)' };
    const key = createHash('sha256').update(token).digest('hex');
    const hit = this.tokens.get(key);
    if (hit) return hit;
    const answer = await this.o.tokenReviews.request('POST', '/apis/authentication.k8s.io/v1/tokenreviews', { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } } });
    const got = tokenReviewUser(answer);
    // Only a verdict is cached; a failed review (thrown) is asked again next time.
    this.tokens.set(key, got, this.o.tokenTtlMs);
    return got;
  }

  async authorize(user: User, a: NodeAttributes): Promise<Authorized> {
    const client = this.o.accessReviews;
    if (!client) return { allowed: true };
    let reason = '';
    for (const sub of a.subresources) {
      const body = accessReviewBody(user, a, sub);
      const key = JSON.stringify(body.spec);
      let d = this.decisions.get(key);
      if (!d) {
        const st = objAt(await client.request('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', { body }), 'status');
        d = st.allowed === true ? { allowed: true } : { allowed: false, reason: typeof st.reason === 'string' ? st.reason : '' };
        this.decisions.set(key, d, d.allowed ? this.o.allowedTtlMs : this.o.deniedTtlMs);
      }
      if (d.allowed) return d;
      reason ||= d.reason;
    }
    return { allowed: false, reason };
  }
}
