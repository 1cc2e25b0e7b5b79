// A VersionView made from the current kind's strategy and the old version's few specific pieces.
import { groupVersion, type ResourceDef, type Strategy } from '../kinds/index.js';
import { isObj, metaOf, type Obj } from '../object.js';
import type { VersionView } from './types.js';

export interface ViewParts {
  readonly group: string;
  readonly version: string;
  /** The Kubernetes 1.x minor releases that deprecated and then removed this version. */
  readonly deprecated: readonly [number, number];
  /** The old version's defaults (none: the current kind's, which the store applies after conversion, are the same). */
  readonly defaults?: (o: Obj) => void;
  /** The spec (or whole object) changes between the versions, on a clone with apiVersion already set. */
  readonly toCurrent?: (o: Obj) => void;
  readonly fromCurrent?: (o: Obj) => void;
}

/**
 * The old version's discovery entry: the current kind's without short names and categories (kubectl would
 * warn that `deploy` also matches deployments.extensions, and `get all` would list every object twice, once
 * per group), and with `status` as its only subresource (its Scale was a kind of the old group, not served here).
 */
function oldDef(current: ResourceDef, group: string, version: string): ResourceDef {
  return { ...current, group, version, shortNames: [], categories: [], subresources: current.subresources.filter((s) => s === 'status') };
}

export function defineView(current: Strategy, p: ViewParts): VersionView {
  const def = oldDef(current.def, p.group, p.version);
  const convert = (o: Obj, apiVersion: string, change?: (o: Obj) => void): Obj => {
    const out = structuredClone(o);
    out.apiVersion = apiVersion;
    if (typeof out.kind !== 'string' || out.kind === '') out.kind = current.def.kind;
    change?.(out);
    return out;
  };
  const [since, removed] = p.deprecated;
  return {
    def,
    deprecation: `${groupVersion(def)} ${def.kind} is deprecated in v1.${since}+, unavailable in v1.${removed}+; use ${groupVersion(current.def)} ${current.def.kind}`,
    current: { group: current.def.group, version: current.def.version, resource: current.def.resource },
    defaults: (o) => p.defaults?.(o),
    toCurrent: (o) => convert(o, groupVersion(current.def), p.toCurrent),
    fromCurrent: (o) => convert(o, groupVersion(def), p.fromCurrent),
  };
}

/** metadata.annotations, created when absent. */
export function annotationsOf(o: Obj): Obj {
  const m = metaOf(o);
  if (!isObj(m.annotations)) m.annotations = {};
  return m.annotations as Obj;
}

/** Removes an annotation, and the annotations map when it is left empty (as it was before the conversion added it). */
export function dropAnnotation(o: Obj, key: string): void {
  const m = metaOf(o);
  if (!isObj(m.annotations)) return;
  delete m.annotations[key];
  if (Object.keys(m.annotations).length === 0) delete m.annotations;
}

/** Sets `key` when absent or null. */
export function setDefault(o: Obj, key: string, value: unknown): void {
  if (o[key] === undefined || o[key] === null) o[key] = value;
}

/** The object at `key`, created when absent (or not an object). */
export function ensure(o: Obj, key: string): Obj {
  if (!isObj(o[key])) o[key] = {};
  return o[key] as Obj;
}

/**
 * SetDefaults of the beta controllers (Deployment, ReplicaSet, DaemonSet): the selector, and the object's
 * own labels when it has none, are the pod template's labels.
 */
export function selectorFromTemplate(o: Obj): void {
  const spec = ensure(o, 'spec');
  const tpl = isObj(spec.template) ? spec.template : undefined;
  const labels = tpl && isObj(tpl.metadata) ? tpl.metadata.labels : undefined;
  if (!isObj(labels)) return;
  if (spec.selector === undefined || spec.selector === null) spec.selector = { matchLabels: structuredClone(labels) };
  const meta = metaOf(o);
  if (!isObj(meta.labels) || Object.keys(meta.labels).length === 0) meta.labels = structuredClone(labels);
}
