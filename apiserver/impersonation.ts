// Impersonation (kube-apiserver's WithImpersonation filter): `Impersonate-User`, `Impersonate-Group`,
// `Impersonate-Uid` and `Impersonate-Extra-<key>` headers make the request run as another user, once the
// requester is authorized to `impersonate` each of them (users, groups, serviceaccounts, uids, userextras).
import type { UserInfo } from './auth.js';
import type { Attributes, Authorizer } from './authz/index.js';
import { forbiddenStatus } from './authz/index.js';
import { ApiError, internalError } from './errors.js';

/** One thing the headers ask to act as. */
export type ImpersonationRequest =
  | { readonly kind: 'User'; readonly name: string }
  | { readonly kind: 'ServiceAccount'; readonly namespace: string; readonly name: string }
  | { readonly kind: 'Group'; readonly name: string }
  | { readonly kind: 'Uid'; readonly name: string }
  | { readonly kind: 'UserExtra'; readonly key: string; readonly name: string };

const EXTRA_PREFIX = 'impersonate-extra-';
const SA_PREFIX = 'system:serviceaccount:';

/** `system:serviceaccount:<ns>:<name>` split, or undefined for any other user name. */
export function splitServiceAccount(user: string): { namespace: string; name: string } | undefined {
  if (!user.startsWith(SA_PREFIX)) return undefined;
  const parts = user.slice(SA_PREFIX.length).split(':');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  return { namespace: parts[0], name: parts[1] };
}

/**
 * What the headers (each name lower case, every value apart) ask for; an error text when they ask for groups,
 * extras or a uid without a user, as buildImpersonationRequests refuses.
 */
export function impersonationRequests(headers: Readonly<Record<string, readonly string[] | undefined>>): ImpersonationRequest[] | string {
  const out: ImpersonationRequest[] = [];
  const user = headers['impersonate-user']?.[0] ?? '';
  if (user) {
    const sa = splitServiceAccount(user);
    out.push(sa ? { kind: 'ServiceAccount', ...sa } : { kind: 'User', name: user });
  }
  for (const g of headers['impersonate-group'] ?? []) out.push({ kind: 'Group', name: g });
  for (const [h, values] of Object.entries(headers)) {
    if (!h.startsWith(EXTRA_PREFIX) || !values) continue;
    // The key is percent-encoded in the header name (RFC 7230 tokens), as kubectl sends it.
    let key = h.slice(EXTRA_PREFIX.length);
    try {
      key = decodeURIComponent(key);
    } catch {
      // kept as sent
    }
    for (const v of values) out.push({ kind: 'UserExtra', key, name: v });
  }
  const uid = headers['impersonate-uid']?.[0] ?? '';
  if (uid) out.push({ kind: 'Uid', name: uid });
  if (!user && out.length) return `requested ${out.map(describe).join(', ')} without impersonating a user`;
  return out;
}

const describe = (r: ImpersonationRequest): string => (r.kind === 'ServiceAccount' ? `ServiceAccount ${r.namespace}/${r.name}` : r.kind === 'UserExtra' ? `UserExtra ${r.key}=${r.name}` : `${r.kind} ${r.name}`);

/** The authorization each request needs: verb impersonate on users, groups, serviceaccounts, uids or userextras/<key>. */
export function impersonationAttributes(requester: UserInfo, r: ImpersonationRequest): Attributes {
  const base = { user: requester, verb: 'impersonate', resourceRequest: true, apiVersion: '', subresource: '', namespace: '', name: r.name, path: '' };
  switch (r.kind) {
    case 'User':
      return { ...base, apiGroup: '', resource: 'users' };
    case 'Group':
      return { ...base, apiGroup: '', resource: 'groups' };
    case 'ServiceAccount':
      return { ...base, apiGroup: '', resource: 'serviceaccounts', namespace: r.namespace };
    case 'Uid':
      return { ...base, apiGroup: 'authentication.k8s.io', resource: 'uids' };
    case 'UserExtra':
      return { ...base, apiGroup: 'authentication.k8s.io', resource: 'userextras', subresource: r.key };
  }
}

/** The user the requests make, with the groups kube-apiserver adds (system:authenticated, a service account's). */
export function impersonatedUser(requests: readonly ImpersonationRequest[]): UserInfo {
  let name = '';
  let uid: string | undefined;
  const groups: string[] = [];
  const extra: Record<string, string[]> = {};
  const groupsGiven = requests.some((r) => r.kind === 'Group');
  for (const r of requests) {
    if (r.kind === 'User') name = r.name;
    else if (r.kind === 'ServiceAccount') {
      name = `${SA_PREFIX}${r.namespace}:${r.name}`;
      if (!groupsGiven) groups.push('system:serviceaccounts', `system:serviceaccounts:${r.namespace}`);
    } else if (r.kind === 'Group') groups.push(r.name);
    else if (r.kind === 'Uid') uid = r.name;
    else (extra[r.key] ??= []).push(r.name);
  }
  if (name !== 'system:anonymous') {
    if (!groups.includes('system:authenticated') && !groups.includes('system:unauthenticated')) groups.push('system:authenticated');
  } else if (!groups.includes('system:unauthenticated')) groups.push('system:unauthenticated');
  return { name, groups, ...(uid !== undefined && { uid }), ...(Object.keys(extra).length && { extra }) };
}

/**
 * The user a request runs as: the requester when it impersonates no one; else the impersonated user once every
 * request is allowed. Throws the 403 of the first refused one (or the 500 of headers without a user).
 */
export async function impersonate(authz: Authorizer, requester: UserInfo, headers: Readonly<Record<string, readonly string[] | undefined>>): Promise<UserInfo> {
  const requests = impersonationRequests(headers);
  if (typeof requests === 'string') throw internalError(requests);
  if (requests.length === 0) return requester;
  for (const r of requests) {
    const a = impersonationAttributes(requester, r);
    const d = await authz.authorize(a);
    if (d.decision === 'allow') continue;
    const s = forbiddenStatus(a, d.reason);
    throw new ApiError(403, 'Forbidden', s.message, s.details);
  }
  return impersonatedUser(requests);
}
