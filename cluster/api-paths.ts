// The etcd key layout (keys.ts) mapped onto the Kubernetes API's paths, so that one key-based store
// interface serves both backends: `/registry/pods/<ns>/<name>` is `/api/v1/namespaces/<ns>/pods/<name>`,
// the prefix `/registry/pods/` is the all-namespaces collection `/api/v1/pods`, and an object the API
// returns has its key again from its metadata. Pure.
import { REGISTRY } from './keys.js';

export interface ApiResource {
  /** Under REGISTRY, with a trailing slash (`services/specs/`). */
  readonly keyPrefix: string;
  /** The API's collection base (`/api/v1`, `/apis/coordination.k8s.io/v1`). */
  readonly base: string;
  readonly resource: string;
  readonly namespaced: boolean;
  /** Has a `status` subresource (an update of the status goes through it). */
  readonly status: boolean;
}

// Longest key prefixes first, so `services/specs/` is never taken for another kind.
export const API_RESOURCES: readonly ApiResource[] = [
  { keyPrefix: 'services/endpoints/', base: '/api/v1', resource: 'endpoints', namespaced: true, status: false },
  { keyPrefix: 'services/specs/', base: '/api/v1', resource: 'services', namespaced: true, status: true },
  { keyPrefix: 'minions/', base: '/api/v1', resource: 'nodes', namespaced: false, status: true },
  { keyPrefix: 'pods/', base: '/api/v1', resource: 'pods', namespaced: true, status: true },
  { keyPrefix: 'secrets/', base: '/api/v1', resource: 'secrets', namespaced: true, status: false },
  { keyPrefix: 'configmaps/', base: '/api/v1', resource: 'configmaps', namespaced: true, status: false },
  { keyPrefix: 'controllers/', base: '/api/v1', resource: 'replicationcontrollers', namespaced: true, status: true },
  { keyPrefix: 'replicasets/', base: '/apis/apps/v1', resource: 'replicasets', namespaced: true, status: true },
  { keyPrefix: 'deployments/', base: '/apis/apps/v1', resource: 'deployments', namespaced: true, status: true },
  { keyPrefix: 'jobs/', base: '/apis/batch/v1', resource: 'jobs', namespaced: true, status: true },
  { keyPrefix: 'cronjobs/', base: '/apis/batch/v1', resource: 'cronjobs', namespaced: true, status: true },
  { keyPrefix: 'daemonsets/', base: '/apis/apps/v1', resource: 'daemonsets', namespaced: true, status: true },
  { keyPrefix: 'namespaces/', base: '/api/v1', resource: 'namespaces', namespaced: false, status: true },
  { keyPrefix: 'serviceaccounts/', base: '/api/v1', resource: 'serviceaccounts', namespaced: true, status: false },
  { keyPrefix: 'events/', base: '/api/v1', resource: 'events', namespaced: true, status: false },
  { keyPrefix: 'leases/', base: '/apis/coordination.k8s.io/v1', resource: 'leases', namespaced: true, status: false },
  { keyPrefix: 'networkpolicies/', base: '/apis/networking.k8s.io/v1', resource: 'networkpolicies', namespaced: true, status: false },
];

/** Where a key or a key prefix is in the API. */
export interface ApiTarget {
  readonly res: ApiResource;
  readonly namespace?: string;
  readonly name?: string;
}

export class UnmappedKeyError extends RangeError {
  constructor(readonly key: string) {
    super(`${key} is not a key of a kind the API serves`);
  }
}

const segment = /^[^/]+$/;

/** A key (`…/<ns>/<name>`) or a prefix (ending in `/`: a namespace's, or every namespace's) → its API target. */
export function apiTargetOf(key: string): ApiTarget {
  if (!key.startsWith(`${REGISTRY}/`)) throw new UnmappedKeyError(key);
  const rest = key.slice(REGISTRY.length + 1);
  const res = API_RESOURCES.find((r) => rest.startsWith(r.keyPrefix));
  if (!res) throw new UnmappedKeyError(key);
  const tail = rest.slice(res.keyPrefix.length);
  if (tail === '') return { res };
  const parts = tail.endsWith('/') ? [...tail.slice(0, -1).split('/'), ''] : tail.split('/');
  if (!parts.slice(0, -1).every((p) => segment.test(p))) throw new UnmappedKeyError(key);
  if (res.namespaced) {
    if (parts.length === 2 && parts[1] === '') return { res, namespace: parts[0]! };
    if (parts.length === 2 && segment.test(parts[1]!)) return { res, namespace: parts[0]!, name: parts[1]! };
  } else if (parts.length === 1 && segment.test(parts[0]!)) {
    return { res, name: parts[0]! };
  }
  throw new UnmappedKeyError(key);
}

/** The URL path of a target: the object's, or its collection's; `sub` a subresource of the object. */
export function apiPathOf(t: ApiTarget, sub?: 'status'): string {
  const ns = t.namespace === undefined ? '' : `/namespaces/${encodeURIComponent(t.namespace)}`;
  const coll = `${t.res.base}${ns}/${t.res.resource}`;
  if (t.name === undefined) return coll;
  return `${coll}/${encodeURIComponent(t.name)}${sub ? `/${sub}` : ''}`;
}

/** The key of an object of this kind, from its namespace and name (as the API returns them). */
export function keyOfApiObject(res: ApiResource, namespace: string | undefined, name: string): string {
  return res.namespaced ? `${REGISTRY}/${res.keyPrefix}${namespace ?? ''}/${name}` : `${REGISTRY}/${res.keyPrefix}${name}`;
}
