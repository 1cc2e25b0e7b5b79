// LimitRanger: the LimitRanges of a pod's namespace give its containers their default requests and limits
// (type Container: default, defaultRequest) when it is created, then refuse it when a container or the
// whole pod (type Pod) is outside min/max or bursts beyond maxLimitRequestRatio. Pure apart from the
// lister it is given. As kube-apiserver's: pods only, and not their updates (containers cannot change).
import { isObject } from '../../core/index.js';
import { addQuantity, cmpQuantity, formatQuantity, milliOf, type Quantity, resourceList } from '../kinds/index.js';
import { forbidden } from '../errors.js';
import type { Obj } from '../object.js';
import type { AdmissionPlugin } from './types.js';

export const LIMIT_RANGER_ANNOTATION = 'kubernetes.io/limit-ranger';

/** The LimitRanges of a namespace (the server's live list). */
export type LimitRangeLister = (namespace: string) => Promise<Obj[]>;

type Json = Record<string, unknown>;
const items = (lr: Obj): Json[] => {
  const spec = isObject(lr.spec) ? lr.spec : {};
  return Array.isArray(spec.limits) ? spec.limits.filter(isObject) : [];
};
const podSpec = (pod: Obj): Json => (isObject(pod.spec) ? pod.spec : {});
const containersOf = (pod: Obj, key: 'containers' | 'initContainers'): Json[] => {
  const v = podSpec(pod)[key];
  return Array.isArray(v) ? v.filter(isObject) : [];
};
const nameOfObj = (o: Json): string => (typeof o.name === 'string' ? o.name : '');

/** The defaults of the Container items: limits from `default`, requests from `defaultRequest` (the last item naming a resource wins). */
function containerDefaults(lr: Obj): { limits: Json; requests: Json } {
  const limits: Json = {};
  const requests: Json = {};
  for (const item of items(lr)) {
    if (item.type !== 'Container') continue;
    for (const [k, q] of resourceList(item.default)) limits[k] = formatQuantity(q);
    for (const [k, q] of resourceList(item.defaultRequest)) requests[k] = formatQuantity(q);
  }
  return { limits, requests };
}

/** Sets what a container lacks; returns the annotation parts (`cpu, memory request for container web`). */
function mergeContainer(c: Json, d: { limits: Json; requests: Json }, prefix: string): string[] {
  const res = isObject(c.resources) ? c.resources : (c.resources = {});
  const set = (field: 'limits' | 'requests', defaults: Json): string[] => {
    const have = isObject(res[field]) ? res[field] : {};
    const added = Object.keys(defaults).filter((k) => have[k] === undefined).sort();
    if (added.length) res[field] = { ...have, ...Object.fromEntries(added.map((k) => [k, defaults[k]])) };
    return added;
  };
  const limits = set('limits', d.limits);
  const requests = set('requests', d.requests);
  const out: string[] = [];
  if (requests.length) out.push(`${requests.join(', ')} request for ${prefix} ${nameOfObj(c)}`);
  if (limits.length) out.push(`${limits.join(', ')} limit for ${prefix} ${nameOfObj(c)}`);
  return out;
}

/** The mutating half: every LimitRange's Container defaults merged into the pod, noted in its annotation. */
export function applyLimitRangeDefaults(pod: Obj, ranges: readonly Obj[]): void {
  for (const lr of ranges) {
    const d = containerDefaults(lr);
    if (Object.keys(d.limits).length === 0 && Object.keys(d.requests).length === 0) continue;
    const notes = [...containersOf(pod, 'containers').flatMap((c) => mergeContainer(c, d, 'container')), ...containersOf(pod, 'initContainers').flatMap((c) => mergeContainer(c, d, 'init container'))];
    if (notes.length === 0) continue;
    if (!isObject(pod.metadata)) pod.metadata = {};
    const meta = pod.metadata as Json;
    const annotations = isObject(meta.annotations) ? meta.annotations : (meta.annotations = {});
    annotations[LIMIT_RANGER_ANNOTATION] = `LimitRanger plugin set: ${notes.join('; ')}`;
  }
}

type List = Map<string, Quantity>;

function minConstraint(type: string, name: string, enforced: Quantity, req: List, lim: List): string | undefined {
  const r = req.get(name);
  const l = lim.get(name);
  const e = formatQuantity(enforced);
  if (!r) return `minimum ${name} usage per ${type} is ${e}.  No request is specified`;
  if (cmpQuantity(r, enforced) < 0) return `minimum ${name} usage per ${type} is ${e}, but request is ${formatQuantity(r)}`;
  if (l && cmpQuantity(l, enforced) < 0) return `minimum ${name} usage per ${type} is ${e}, but limit is ${formatQuantity(l)}`;
  return undefined;
}

function maxConstraint(type: string, name: string, enforced: Quantity, req: List, lim: List): string | undefined {
  const r = req.get(name);
  const l = lim.get(name);
  const e = formatQuantity(enforced);
  if (!l) return `maximum ${name} usage per ${type} is ${e}.  No limit is specified`;
  if (cmpQuantity(l, enforced) > 0) return `maximum ${name} usage per ${type} is ${e}, but limit is ${formatQuantity(l)}`;
  if (r && cmpQuantity(r, enforced) > 0) return `maximum ${name} usage per ${type} is ${e}, but request is ${formatQuantity(r)}`;
  return undefined;
}

function ratioConstraint(type: string, name: string, enforced: Quantity, req: List, lim: List): string | undefined {
  const r = req.get(name);
  const l = lim.get(name);
  const e = formatQuantity(enforced);
  if (!r || r.nano === 0n) return `${name} max limit to request ratio per ${type} is ${e}, but no request is specified or request is 0`;
  if (!l || l.nano === 0n) return `${name} max limit to request ratio per ${type} is ${e}, but no limit is specified or limit is 0`;
  const ratio = milliOf(l) / milliOf(r);
  if (ratio * 1000 > milliOf(enforced)) return `${name} max limit to request ratio per ${type} is ${e}, but provided ratio is ${ratio.toFixed(6)}`;
  return undefined;
}

function checks(type: string, item: Json, req: List, lim: List): string[] {
  const out: string[] = [];
  const each = (field: string, f: typeof minConstraint): void => {
    for (const [k, q] of [...resourceList(item[field])].sort(([a], [b]) => a.localeCompare(b))) {
      const m = f(type, k, q, req, lim);
      if (m) out.push(m);
    }
  };
  each('min', minConstraint);
  each('max', maxConstraint);
  each('maxLimitRequestRatio', ratioConstraint);
  return out;
}

const requirements = (c: Json): { req: List; lim: List } => {
  const r = isObject(c.resources) ? c.resources : {};
  return { req: resourceList(r.requests), lim: resourceList(r.limits) };
};

/** A pod's requests or limits: its containers' summed, each init container's taken when larger (podRequests). */
function podTotal(pod: Obj, which: 'req' | 'lim'): List {
  const total: List = new Map();
  for (const c of containersOf(pod, 'containers')) for (const [k, q] of requirements(c)[which]) total.set(k, total.has(k) ? addQuantity(total.get(k)!, q) : q);
  for (const c of containersOf(pod, 'initContainers')) for (const [k, q] of requirements(c)[which]) if (!total.has(k) || cmpQuantity(q, total.get(k)!) > 0) total.set(k, q);
  return total;
}

/** The validating half: every violation of the LimitRanges, in their order (empty when the pod is within them). */
export function limitRangeViolations(pod: Obj, ranges: readonly Obj[]): string[] {
  const out: string[] = [];
  for (const lr of ranges) {
    for (const item of items(lr)) {
      if (item.type === 'Container') {
        for (const c of [...containersOf(pod, 'containers'), ...containersOf(pod, 'initContainers')]) {
          const { req, lim } = requirements(c);
          out.push(...checks('Container', item, req, lim));
        }
      } else if (item.type === 'Pod') out.push(...checks('Pod', item, podTotal(pod, 'req'), podTotal(pod, 'lim')));
    }
  }
  return [...new Set(out)];
}

/** utilerrors.NewAggregate's message: one error as it is, several in brackets. */
export const aggregate = (msgs: readonly string[]): string => (msgs.length === 1 ? msgs[0]! : `[${msgs.join(', ')}]`);

/** admission.NewForbidden's name: the object's, else its generateName, else "Unknown". */
export function admissionName(name: string, object: Obj | undefined): string {
  if (name) return name;
  const meta = object && isObject(object.metadata) ? object.metadata : {};
  if (typeof meta.name === 'string' && meta.name) return meta.name;
  if (typeof meta.generateName === 'string' && meta.generateName) return meta.generateName;
  return 'Unknown';
}

const byName = (a: Obj, b: Obj): number => {
  const n = (o: Obj): string => (isObject(o.metadata) && typeof o.metadata.name === 'string' ? o.metadata.name : '');
  return n(a).localeCompare(n(b));
};

export function limitRanger(list: LimitRangeLister): AdmissionPlugin {
  const applies = (a: { resource: { group: string; resource: string }; subresource: string; object: Obj | undefined }): boolean =>
    a.resource.group === '' && a.resource.resource === 'pods' && a.subresource === '' && a.object !== undefined;
  // One list per create: the mutating and validating halves see the same object, and the same ranges.
  const seen = new WeakMap<Obj, Obj[]>();
  return {
    name: 'LimitRanger',
    operations: ['CREATE'],
    async admit(a) {
      if (!applies(a)) return;
      const ranges = (await list(a.namespace)).sort(byName);
      seen.set(a.object!, ranges);
      if (ranges.length) applyLimitRangeDefaults(a.object!, ranges);
    },
    async validate(a) {
      if (!applies(a)) return;
      const ranges = seen.get(a.object!) ?? (await list(a.namespace)).sort(byName);
      const v = limitRangeViolations(a.object!, ranges);
      if (v.length) throw forbidden('', 'pods', admissionName(a.name, a.object), aggregate(v));
    },
  };
}
