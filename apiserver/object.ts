// Objects as the apiserver handles them: JSON objects of any kind, read through small typed accessors
// (the kinds' own parsers live with the kubelet and the proxy; the apiserver keeps every field).
export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The object's metadata, created when absent. */
export function metaOf(o: Obj): Obj {
  if (!isObj(o.metadata)) o.metadata = {};
  return o.metadata as Obj;
}

/** A nested object (`obj(o, 'spec', 'template')`), or an empty one when any step is missing. */
export function objAt(o: unknown, ...path: string[]): Obj {
  let cur: unknown = o;
  for (const p of path) cur = isObj(cur) ? cur[p] : undefined;
  return isObj(cur) ? cur : {};
}

export const strOf = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
export const arrOf = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const numOf = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

export function labelsOf(o: Obj): Record<string, string> {
  const l = objAt(o, 'metadata', 'labels');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(l)) if (typeof v === 'string') out[k] = v;
  return out;
}

export const nameOf = (o: Obj): string => strOf(objAt(o, 'metadata').name) ?? '';
export const namespaceOf = (o: Obj): string => strOf(objAt(o, 'metadata').namespace) ?? '';
