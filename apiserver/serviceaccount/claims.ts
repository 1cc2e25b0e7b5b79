// The claims of a bound service-account token, as kube-apiserver's pkg/serviceaccount writes and checks
// them: iss, sub system:serviceaccount:<ns>:<name>, aud, exp/iat/nbf, jti, and the private
// `kubernetes.io` claim naming the namespace, the account and the object (pod or secret) the token is
// bound to, each with its uid. Pure: the caller gives the time and looks the objects up.
import type { UserInfo } from '../auth.js';

export const SA_USER_PREFIX = 'system:serviceaccount:';
export const SA_GROUP = 'system:serviceaccounts';
/** jwt.Expected's leeway in Kubernetes: a token a minute past exp (or before nbf) still passes, for clock skew. */
export const LEEWAY_SEC = 60;

export interface ObjectRef {
  readonly name: string;
  readonly uid: string;
}

export interface TokenBinding {
  readonly namespace: string;
  readonly serviceAccount: ObjectRef;
  readonly pod?: ObjectRef;
  readonly secret?: ObjectRef;
}

export interface ClaimsInput {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly binding: TokenBinding;
  readonly nowSec: number;
  readonly expirationSeconds: number;
  readonly jti: string;
}

export const serviceAccountUsername = (ns: string, name: string): string => `${SA_USER_PREFIX}${ns}:${name}`;

export function makeClaims(c: ClaimsInput): Record<string, unknown> {
  const b = c.binding;
  return {
    aud: [...c.audiences],
    exp: c.nowSec + c.expirationSeconds,
    iat: c.nowSec,
    iss: c.issuer,
    jti: c.jti,
    'kubernetes.io': {
      namespace: b.namespace,
      ...(b.pod && { pod: { name: b.pod.name, uid: b.pod.uid } }),
      ...(b.secret && { secret: { name: b.secret.name, uid: b.secret.uid } }),
      serviceaccount: { name: b.serviceAccount.name, uid: b.serviceAccount.uid },
    },
    nbf: c.nowSec,
    sub: serviceAccountUsername(b.namespace, b.serviceAccount.name),
  };
}

export interface ClaimsCheck {
  /** --service-account-issuer values: the first signs, any is accepted. */
  readonly issuers: readonly string[];
  /** The audiences the token must have one of (the API's, or a TokenReview's). */
  readonly audiences: readonly string[];
  readonly nowSec: number;
}

export type ClaimsResult =
  | { readonly ok: true; readonly binding: TokenBinding; readonly audiences: readonly string[]; readonly jti?: string }
  | { readonly ok: false; readonly reason: string };

const isRec = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const s = (o: unknown, k: string): string | undefined => (isRec(o) && typeof o[k] === 'string' ? o[k] : undefined);
const ref = (o: unknown): ObjectRef | undefined => {
  const name = s(o, 'name');
  const uid = s(o, 'uid');
  return name && uid ? { name, uid } : undefined;
};

/** Whether the issuer is ours: a token of another issuer is not a service-account token at all (another authenticator's). */
export const issuedBy = (payload: Record<string, unknown>, issuers: readonly string[]): boolean => issuers.includes(s(payload, 'iss') ?? '');

/** The claims checked as kube-apiserver's validator does (the signature is checked before, the objects after). */
export function checkClaims(p: Record<string, unknown>, c: ClaimsCheck): ClaimsResult {
  if (!issuedBy(p, c.issuers)) return { ok: false, reason: 'token issuer is not accepted' };
  const num = (k: string): number | undefined => (typeof p[k] === 'number' ? p[k] : undefined);
  const exp = num('exp');
  const nbf = num('nbf');
  if (exp === undefined) return { ok: false, reason: 'token has no expiry' };
  if (c.nowSec > exp + LEEWAY_SEC) return { ok: false, reason: 'token has expired' };
  if (nbf !== undefined && c.nowSec < nbf - LEEWAY_SEC) return { ok: false, reason: 'token is not valid yet' };
  const aud = typeof p.aud === 'string' ? [p.aud] : Array.isArray(p.aud) ? p.aud.filter((a): a is string => typeof a === 'string') : [];
  const audiences = c.audiences.filter((a) => aud.includes(a));
  if (audiences.length === 0) return { ok: false, reason: 'token audiences is invalid for the target audiences' };
  const k = p['kubernetes.io'];
  const namespace = s(k, 'namespace');
  const serviceAccount = ref(isRec(k) ? k.serviceaccount : undefined);
  if (!namespace || !serviceAccount) return { ok: false, reason: 'token has no kubernetes.io namespace and service account' };
  if (s(p, 'sub') !== serviceAccountUsername(namespace, serviceAccount.name)) return { ok: false, reason: 'token subject does not match its service account' };
  const pod = ref(isRec(k) ? k.pod : undefined);
  const secret = ref(isRec(k) ? k.secret : undefined);
  const jti = s(p, 'jti');
  return { ok: true, binding: { namespace, serviceAccount, ...(pod && { pod }), ...(secret && { secret }) }, audiences, ...(jti && { jti }) };
}

/** The user a valid token stands for: the account's name, its groups, and the pod it is bound to as extra. */
export function serviceAccountUser(b: TokenBinding, jti?: string): UserInfo {
  const extra: Record<string, string[]> = {};
  if (b.pod) {
    extra['authentication.kubernetes.io/pod-name'] = [b.pod.name];
    extra['authentication.kubernetes.io/pod-uid'] = [b.pod.uid];
  }
  if (jti) extra['authentication.kubernetes.io/credential-id'] = [`JTI=${jti}`];
  return {
    name: serviceAccountUsername(b.namespace, b.serviceAccount.name),
    uid: b.serviceAccount.uid,
    groups: [SA_GROUP, `${SA_GROUP}:${b.namespace}`, 'system:authenticated'],
    ...(Object.keys(extra).length && { extra }),
  };
}
