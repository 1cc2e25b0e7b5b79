// ResourceQuota: a create that would take a namespace's usage beyond a quota's `hard` is refused; one that
// fits raises the quota's status.used first, compare-and-swapped at the quota's resourceVersion and retried
// when another write moved it (so two creates racing for the last unit cannot both pass), as kube's quota
// evaluator does. There is no quota controller here: usage is also recalculated from a live list of the
// objects (when admitting, on the quota's own create and update, after deletes, and by the server's sweep).
import { isObject } from '../../core/index.js';
import { countQuantity, type Quantity, resourceList, zeroQuantity } from '../kinds/index.js';
import { ApiError, forbidden, qualified } from '../errors.js';
import type { Obj } from '../object.js';
import { admissionName } from './limit-ranger.js';
import { countsFor, exceeds, kindOfQuotaResource, matchesScopes, prettyUsage, sumUsage, type Usage, usageJson, usageOf } from './quota-usage.js';
import type { AdmissionAttributes, AdmissionPlugin } from './types.js';

/** Where the plugin reads quotas and objects and writes quota status (the server's storage). */
export interface QuotaStore {
  /** The ResourceQuotas of a namespace ('' for every namespace), with their resourceVersions. */
  quotas(namespace: string): Promise<Obj[]>;
  /** The objects of a kind in a namespace; none for a kind the server does not serve. */
  objects(group: string, resource: string, namespace: string): Promise<Obj[]>;
  /** Writes the quota's status at its resourceVersion; false when the quota moved since (a conflict). */
  writeStatus(quota: Obj, status: Obj): Promise<boolean>;
}

type Json = Record<string, unknown>;
const MAX_ATTEMPTS = 10;

const metaOf = (o: Obj): Json => (isObject(o.metadata) ? o.metadata : {});
const nameOf = (o: Obj): string => (typeof metaOf(o).name === 'string' ? (metaOf(o).name as string) : '');
const namespaceOf = (o: Obj): string => (typeof metaOf(o).namespace === 'string' ? (metaOf(o).namespace as string) : '');
const hardOf = (q: Obj): Usage => resourceList(isObject(q.spec) ? q.spec.hard : undefined);
const usedOf = (q: Obj): Usage => resourceList(isObject(q.status) ? q.status.used : undefined);
const byName = (a: Obj, b: Obj): number => nameOf(a).localeCompare(nameOf(b));

/** The quota's status from a live count of what it tracks: hard as in spec, used per hard resource. */
export async function recalculatedStatus(store: QuotaStore, quota: Obj, nowMs: number, cache = new Map<string, Promise<Obj[]>>()): Promise<Obj> {
  const hard = hardOf(quota);
  const ns = namespaceOf(quota);
  const used: Usage = new Map();
  for (const name of hard.keys()) {
    const kind = kindOfQuotaResource(name);
    if (!kind) continue;
    const key = `${kind.group}/${kind.resource}`;
    if (!cache.has(key)) cache.set(key, store.objects(kind.group, kind.resource, ns));
    const objs = (await cache.get(key)!).filter((o) => matchesScopes(quota, kind.group, kind.resource, o));
    used.set(name, sumUsage(objs.map((o) => usageOf(kind.group, kind.resource, o, nowMs)), [name]).get(name) ?? zeroQuantity(hard.get(name)!.format));
  }
  return { hard: usageJson(hard), used: usageJson(used) };
}

const sameStatus = (a: unknown, b: Obj): boolean => JSON.stringify(sortedStatus(a)) === JSON.stringify(sortedStatus(b));
function sortedStatus(s: unknown): unknown {
  if (!isObject(s)) return {};
  const pick = (v: unknown): Record<string, unknown> => (isObject(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : {});
  return { hard: pick(s.hard), used: pick(s.used) };
}

/**
 * Recalculates and writes the status of the namespace's quotas (every namespace's for ''), each only when it
 * differs; a quota that moved meanwhile is read and counted again. Returns how many were written.
 */
export async function recalculateQuotas(store: QuotaStore, namespace: string, nowMs: () => number = Date.now): Promise<number> {
  let written = 0;
  const quotas = await store.quotas(namespace);
  const caches = new Map<string, Map<string, Promise<Obj[]>>>();
  for (let q of quotas) {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const ns = namespaceOf(q);
      if (!caches.has(ns) || attempt > 0) caches.set(ns, new Map());
      const status = await recalculatedStatus(store, q, nowMs(), caches.get(ns));
      if (sameStatus(q.status, status)) break;
      if (await store.writeStatus(q, status)) {
        written++;
        break;
      }
      const fresh = (await store.quotas(ns)).find((x) => nameOf(x) === nameOf(q));
      if (!fresh) break;
      q = fresh;
    }
  }
  return written;
}

/** The "must specify" refusal: a quota on cpu or memory needs each container to say how much (podEvaluator.Constraints). */
export function podConstraints(pod: Obj, hard: Usage): string | undefined {
  const tracked = ['requests.cpu', 'requests.memory', 'limits.cpu', 'limits.memory', 'cpu', 'memory'].filter((r) => hard.has(r));
  if (tracked.length === 0) return undefined;
  const missing = new Map<string, string[]>();
  const spec = isObject(pod.spec) ? pod.spec : {};
  const cs = [...(Array.isArray(spec.containers) ? spec.containers : []), ...(Array.isArray(spec.initContainers) ? spec.initContainers : [])].filter(isObject);
  for (const c of cs) {
    const res = isObject(c.resources) ? c.resources : {};
    const req = isObject(res.requests) ? res.requests : {};
    const lim = isObject(res.limits) ? res.limits : {};
    for (const r of tracked) {
      const [field, name] = r.includes('.') ? (r.split('.') as [string, string]) : ['requests', r];
      if ((field === 'requests' ? req : lim)[name] !== undefined) continue;
      const names = missing.get(r) ?? [];
      names.push(typeof c.name === 'string' ? c.name : '');
      missing.set(r, names);
    }
  }
  if (missing.size === 0) return undefined;
  return `must specify ${[...missing.keys()].sort().map((r) => `${r} for: ${[...new Set(missing.get(r))].sort().join(',')}`).join('; ')}`;
}

/** One quota's verdict on a delta: its new used (masked to what it limits), or the refusal message. */
export function checkQuota(quota: Obj, delta: Usage, liveUsed: Usage): { used: Usage; changed: boolean } | { refused: string } {
  const hard = hardOf(quota);
  const stored = usedOf(quota);
  const requested: Usage = new Map([...delta].filter(([k]) => hard.has(k)));
  const used: Usage = new Map();
  for (const k of hard.keys()) {
    // The larger of what status says and what is stored: status is ahead while admitted creates are being
    // written, the live count is ahead when status missed objects (made before the quota, or while it was off).
    const s = stored.get(k);
    const l = liveUsed.get(k);
    const v = s && l ? (exceeds(l, s) ? l : s) : (s ?? l);
    if (v) used.set(k, v);
  }
  const exceeded = [...requested.keys()].filter((k) => exceeds(addTo(used.get(k), requested.get(k)!), hard.get(k)!));
  if (exceeded.length) {
    const mask = (u: Usage): Usage => new Map(exceeded.sort().map((k) => [k, u.get(k) ?? countQuantity(0)]));
    return { refused: `exceeded quota: ${nameOf(quota)}, requested: ${prettyUsage(mask(requested))}, used: ${prettyUsage(mask(used))}, limited: ${prettyUsage(mask(hard))}` };
  }
  const next: Usage = new Map(used);
  for (const [k, q] of requested) next.set(k, addTo(used.get(k), q));
  return { used: next, changed: requested.size > 0 };
}

const addTo = (a: Quantity | undefined, b: Quantity): Quantity => (a ? { nano: a.nano + b.nano, format: a.nano === 0n ? b.format : a.format } : b);

export interface ResourceQuotaOptions {
  readonly now?: () => number;
}

export function resourceQuota(store: QuotaStore, o: ResourceQuotaOptions = {}): AdmissionPlugin {
  const now = o.now ?? Date.now;
  const refuse = (a: AdmissionAttributes, why: string): ApiError => {
    const name = admissionName(a.name, a.object);
    return name ? forbidden(a.resource.group, a.resource.resource, name, why) : new ApiError(403, 'Forbidden', `${qualified(a.resource.group, a.resource.resource)} is forbidden: ${why}`, { kind: a.resource.resource });
  };
  return {
    name: 'ResourceQuota',
    operations: ['CREATE', 'UPDATE'],
    async admit(a) {
      // A quota's own create or update: its status counted at once (what the quota controller would write).
      if (a.resource.group !== '' || a.resource.resource !== 'resourcequotas' || a.subresource !== '' || !a.object) return;
      const status = await recalculatedStatus(store, { ...a.object, metadata: { ...metaOf(a.object), namespace: a.namespace } }, now());
      a.object.status = status;
    },
    async validate(a) {
      if (a.operation !== 'CREATE' || a.subresource !== '' || !a.object || !a.resource.namespaced || a.namespace === '') return;
      const { group, resource } = a.resource;
      const delta: Usage = new Map([...usageOf(group, resource, a.object, now())].filter(([, q]) => q.nano !== 0n));
      if (delta.size === 0) return;
      const relevant = (qs: Obj[]): Obj[] => qs.filter((q) => matchesScopes(q, group, resource, a.object!) && [...hardOf(q).keys()].some((k) => countsFor(group, resource, k))).sort(byName);
      let quotas = relevant(await store.quotas(a.namespace));
      if (quotas.length === 0) return;
      const liveUsage = async (): Promise<Usage> => {
        const objs = await store.objects(group, resource, a.namespace);
        return sumUsage(
          objs.map((x) => usageOf(group, resource, x, now())),
          [...delta.keys()],
        );
      };
      for (let attempt = 0; attempt < MAX_ATTEMPTS && quotas.length; attempt++) {
        const live = await liveUsage();
        const writes: { quota: Obj; used: Usage }[] = [];
        for (const q of quotas) {
          if (group === '' && resource === 'pods') {
            const c = podConstraints(a.object, hardOf(q));
            if (c) throw refuse(a, `failed quota: ${nameOf(q)}: ${c}`);
          }
          const v = checkQuota(q, delta, live);
          if ('refused' in v) throw refuse(a, v.refused);
          if (v.changed) writes.push({ quota: q, used: v.used });
        }
        if (a.dryRun) return;
        const conflicted: string[] = [];
        for (const w of writes) {
          const status = { hard: usageJson(hardOf(w.quota)), used: usageJson(w.used) };
          if (!(await store.writeStatus(w.quota, status))) conflicted.push(nameOf(w.quota));
        }
        if (conflicted.length === 0) return;
        // Only the quotas that moved are checked again, at their new status.
        quotas = relevant(await store.quotas(a.namespace)).filter((q) => conflicted.includes(nameOf(q)));
      }
      if (quotas.length) throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on resourcequotas: the quota kept being changed by other writes; try again`);
    },
  };
}
