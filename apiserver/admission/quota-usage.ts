// What an object counts for in a ResourceQuota (kube's quota evaluators): a pod its `pods`, `count/pods`
// and compute requests/limits (while it is not finished), a service its count, node ports and load
// balancers, any other object `count/<resource>.<group>` (and its legacy name for the core kinds quotas
// name bare: `secrets`, `configmaps`, ...). Pure.
import { isObject } from '../../core/index.js';
import { addQuantity, cmpQuantity, countQuantity, formatQuantity, maxQuantity, type Quantity, qosClass, resourceList } from '../kinds/index.js';
import type { Obj } from '../object.js';

export type Usage = Map<string, Quantity>;
type Json = Record<string, unknown>;

/** The core kinds a quota counts by their bare plural. */
const LEGACY_COUNTED = new Set(['pods', 'services', 'secrets', 'configmaps', 'replicationcontrollers', 'persistentvolumeclaims', 'resourcequotas']);
const COMPUTE = ['cpu', 'memory', 'ephemeral-storage'];

export const countName = (group: string, resource: string): string => (group ? `count/${resource}.${group}` : `count/${resource}`);

/** The kind (group, resource) whose objects a quota's resource name counts; undefined for names no evaluator has. */
export function kindOfQuotaResource(name: string): { group: string; resource: string } | undefined {
  if (name === 'pods' || COMPUTE.includes(name) || /^(requests|limits)\./.test(name)) return { group: '', resource: 'pods' };
  if (name === 'services.nodeports' || name === 'services.loadbalancers') return { group: '', resource: 'services' };
  if (LEGACY_COUNTED.has(name)) return { group: '', resource: name };
  const m = /^count\/([^.]+)(?:\.(.+))?$/.exec(name);
  if (m) return { group: m[2] ?? '', resource: m[1]! };
  return undefined;
}

/** Whether an object of this kind can count for the quota resource `name`. */
export const countsFor = (group: string, resource: string, name: string): boolean => {
  const k = kindOfQuotaResource(name);
  return k !== undefined && k.group === group && k.resource === resource;
};

const meta = (o: Obj): Json => (isObject(o.metadata) ? o.metadata : {});

/** QuotaV1Pod: a pod counts for compute (and `pods`) until it finishes, or its deletion grace has run out. */
export function podCounts(pod: Obj, nowMs: number): boolean {
  const phase = isObject(pod.status) ? pod.status.phase : undefined;
  if (phase === 'Succeeded' || phase === 'Failed') return false;
  const m = meta(pod);
  if (typeof m.deletionTimestamp === 'string' && typeof m.deletionGracePeriodSeconds === 'number') {
    const t = Date.parse(m.deletionTimestamp);
    if (!Number.isNaN(t) && nowMs > t + m.deletionGracePeriodSeconds * 1000) return false;
  }
  return true;
}

const containers = (pod: Obj, key: string): Json[] => {
  const spec = isObject(pod.spec) ? pod.spec : {};
  const v = spec[key];
  return Array.isArray(v) ? v.filter(isObject) : [];
};

/** A pod's effective requests or limits: containers summed, an init container taken when it is larger. */
function podResources(pod: Obj, field: 'requests' | 'limits'): Usage {
  const out: Usage = new Map();
  const of = (c: Json): Usage => resourceList(isObject(c.resources) ? c.resources[field] : undefined);
  for (const c of containers(pod, 'containers')) for (const [k, q] of of(c)) out.set(k, out.has(k) ? addQuantity(out.get(k)!, q) : q);
  for (const c of containers(pod, 'initContainers')) for (const [k, q] of of(c)) out.set(k, out.has(k) ? maxQuantity(out.get(k)!, q) : q);
  return out;
}

function podUsage(pod: Obj, nowMs: number): Usage {
  const u: Usage = new Map([['count/pods', countQuantity(1)]]);
  if (!podCounts(pod, nowMs)) return u;
  u.set('pods', countQuantity(1));
  for (const [k, q] of podResources(pod, 'requests')) {
    u.set(`requests.${k}`, q);
    if (COMPUTE.includes(k)) u.set(k, q);
  }
  for (const [k, q] of podResources(pod, 'limits')) u.set(`limits.${k}`, q);
  return u;
}

function serviceUsage(svc: Obj): Usage {
  const u: Usage = new Map([['services', countQuantity(1)], ['count/services', countQuantity(1)]]);
  const spec = isObject(svc.spec) ? svc.spec : {};
  const ports = Array.isArray(spec.ports) ? spec.ports : [];
  if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') u.set('services.nodeports', countQuantity(ports.length));
  if (spec.type === 'LoadBalancer') u.set('services.loadbalancers', countQuantity(1));
  return u;
}

/** Everything an object counts for. */
export function usageOf(group: string, resource: string, o: Obj, nowMs: number): Usage {
  if (group === '' && resource === 'pods') return podUsage(o, nowMs);
  if (group === '' && resource === 'services') return serviceUsage(o);
  const u: Usage = new Map([[countName(group, resource), countQuantity(1)]]);
  if (group === '' && LEGACY_COUNTED.has(resource)) u.set(resource, countQuantity(1));
  return u;
}

/** Whether a pod is in every scope of the quota (a quota with scopes counts pods only). */
export function matchesScopes(quota: Obj, group: string, resource: string, o: Obj): boolean {
  const spec = isObject(quota.spec) ? quota.spec : {};
  const scopes = Array.isArray(spec.scopes) ? spec.scopes.filter((s): s is string => typeof s === 'string') : [];
  if (scopes.length === 0) return true;
  if (group !== '' || resource !== 'pods') return false;
  const podSpec = isObject(o.spec) ? o.spec : {};
  const terminating = typeof podSpec.activeDeadlineSeconds === 'number' && podSpec.activeDeadlineSeconds >= 0;
  const bestEffort = qosClass(podSpec) === 'BestEffort';
  return scopes.every((s) => {
    switch (s) {
      case 'Terminating':
        return terminating;
      case 'NotTerminating':
        return !terminating;
      case 'BestEffort':
        return bestEffort;
      case 'NotBestEffort':
        return !bestEffort;
      default:
        // PriorityClass and CrossNamespacePodAffinity need a scopeSelector this apiserver does not evaluate.
        return false;
    }
  });
}

/** The sum of usages, for the names asked. */
export function sumUsage(usages: Iterable<Usage>, names: readonly string[]): Usage {
  const out: Usage = new Map();
  for (const u of usages) for (const n of names) {
    const q = u.get(n);
    if (q) out.set(n, out.has(n) ? addQuantity(out.get(n)!, q) : q);
  }
  return out;
}

/** `pods=1,requests.cpu=500m`: sorted, as kube's quota prettyPrint. */
export const prettyUsage = (u: Usage): string =>
  [...u.keys()]
    .sort()
    .map((k) => `${k}=${formatQuantity(u.get(k)!)}`)
    .join(',');

export const usageJson = (u: Usage): Record<string, string> => Object.fromEntries([...u.keys()].sort().map((k) => [k, formatQuantity(u.get(k)!)]));

export const exceeds = (a: Quantity, b: Quantity): boolean => cmpQuantity(a, b) > 0;
