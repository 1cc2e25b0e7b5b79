// authentication.k8s.io/v1 TokenRequest (POST .../serviceaccounts/<name>/token): its spec read and checked
// as kube-apiserver's ValidateTokenRequest and TokenREST do (audiences defaulted to --api-audiences,
// expirationSeconds 3600 by default, at least 10 minutes, capped by --service-account-max-token-expiration,
// boundObjectRef a Pod or a Secret), and the answer built. Pure.

/** What a FieldError of the apiserver needs (errors.ts builds the 422 from these). */
export interface SpecProblem {
  readonly field: string;
  readonly value: unknown;
  readonly detail: string;
}

export interface BoundRef {
  readonly kind: 'Pod' | 'Secret';
  readonly apiVersion: string;
  readonly name: string;
  readonly uid?: string;
}

export interface TokenRequestSpec {
  readonly audiences: readonly string[];
  readonly expirationSeconds: number;
  readonly boundObjectRef?: BoundRef;
}

export const DEFAULT_EXPIRATION_SECONDS = 3600;
export const MIN_EXPIRATION_SECONDS = 600;
const MAX_EXPIRATION_SECONDS = 2 ** 32;

const isRec = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (o: unknown, k: string): string => (isRec(o) && typeof o[k] === 'string' ? o[k] : '');

export type SpecResult = { readonly spec: TokenRequestSpec } | { readonly problems: readonly SpecProblem[] } | { readonly badRequest: string };

/** The request's spec, defaulted; its problems (422), or a bound kind that cannot be bound (400, as TokenREST answers). */
export function tokenRequestSpec(body: Record<string, unknown>, apiAudiences: readonly string[], maxExpirationSeconds: number | undefined): SpecResult {
  const spec = isRec(body.spec) ? body.spec : {};
  const problems: SpecProblem[] = [];
  const rawAud = Array.isArray(spec.audiences) ? spec.audiences : [];
  const audiences = rawAud.filter((a): a is string => typeof a === 'string' && a !== '');
  let exp = DEFAULT_EXPIRATION_SECONDS;
  if (spec.expirationSeconds !== undefined && spec.expirationSeconds !== null) {
    const v = spec.expirationSeconds;
    if (typeof v !== 'number' || !Number.isInteger(v)) problems.push({ field: 'spec.expirationSeconds', value: v, detail: 'must be a whole number of seconds' });
    else if (v < MIN_EXPIRATION_SECONDS) problems.push({ field: 'spec.expirationSeconds', value: v, detail: 'may not specify a duration less than 10 minutes' });
    else if (v > MAX_EXPIRATION_SECONDS) problems.push({ field: 'spec.expirationSeconds', value: v, detail: 'may not specify a duration larger than 2^32 seconds' });
    else exp = v;
  }
  if (problems.length) return { problems };
  // As TokenREST: a longer request is shortened to the maximum, not refused.
  if (maxExpirationSeconds !== undefined && maxExpirationSeconds > 0 && exp > maxExpirationSeconds) exp = maxExpirationSeconds;
  let boundObjectRef: BoundRef | undefined;
  if (isRec(spec.boundObjectRef)) {
    const r = spec.boundObjectRef;
    const kind = str(r, 'kind');
    const apiVersion = str(r, 'apiVersion');
    const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
    if (group !== '' || (kind !== 'Pod' && kind !== 'Secret')) {
      const version = apiVersion.includes('/') ? apiVersion.slice(apiVersion.indexOf('/') + 1) : apiVersion;
      return { badRequest: `cannot bind token to object of type ${group ? `${group}/` : ''}${version}, Kind=${kind}` };
    }
    if (str(r, 'name') === '') return { problems: [{ field: 'spec.boundObjectRef.name', value: '', detail: 'Required value' }] };
    const uid = str(r, 'uid');
    boundObjectRef = { kind, apiVersion: apiVersion || 'v1', name: str(r, 'name'), ...(uid && { uid }) };
  }
  return { spec: { audiences: audiences.length ? audiences : [...apiAudiences], expirationSeconds: exp, ...(boundObjectRef && { boundObjectRef }) } };
}

/** The TokenRequest as answered: the request's metadata, the spec as applied, the token and when it expires. */
export function tokenRequestAnswer(body: Record<string, unknown>, spec: TokenRequestSpec, token: string, expiresAt: Date): Record<string, unknown> {
  const meta = isRec(body.metadata) ? body.metadata : {};
  return {
    kind: 'TokenRequest',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { ...meta, creationTimestamp: null },
    spec: { audiences: [...spec.audiences], expirationSeconds: spec.expirationSeconds, boundObjectRef: spec.boundObjectRef ?? null },
    status: { token, expirationTimestamp: expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z') },
  };
}
