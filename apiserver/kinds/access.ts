// Checked reading of parsed JSON: each accessor returns the value when it has the expected JSON type and
// undefined otherwise, so no strategy casts client input. The setters create the objects on the way.
import { isObject } from '../../core/index.js';
import type { KubeObject } from './types.js';

export { isObject };

export const obj = (o: unknown, key: string): KubeObject | undefined => {
  const v = isObject(o) ? o[key] : undefined;
  return isObject(v) ? v : undefined;
};
export const str = (o: unknown, key: string): string | undefined => {
  const v = isObject(o) ? o[key] : undefined;
  return typeof v === 'string' ? v : undefined;
};
export const num = (o: unknown, key: string): number | undefined => {
  const v = isObject(o) ? o[key] : undefined;
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
};
export const bool = (o: unknown, key: string): boolean | undefined => {
  const v = isObject(o) ? o[key] : undefined;
  return typeof v === 'boolean' ? v : undefined;
};
export const list = (o: unknown, key: string): unknown[] | undefined => {
  const v = isObject(o) ? o[key] : undefined;
  return Array.isArray(v) ? v : undefined;
};
/** The object elements of a list (others skipped: validation reports them). */
export const objs = (o: unknown, key: string): KubeObject[] => (list(o, key) ?? []).filter(isObject);
export const strs = (o: unknown, key: string): string[] => (list(o, key) ?? []).filter((v): v is string => typeof v === 'string');
/** A map of strings (labels, selectors, data); non-string values skipped. */
export const strMap = (o: unknown, key: string): Record<string, string> => {
  const m = obj(o, key);
  const out: Record<string, string> = {};
  if (m) for (const [k, v] of Object.entries(m)) if (typeof v === 'string') out[k] = v;
  return out;
};
export const has = (o: unknown, key: string): boolean => isObject(o) && o[key] !== undefined && o[key] !== null;

/** Follows a dotted path of objects. */
export const at = (o: unknown, path: string): KubeObject | undefined => {
  let cur: unknown = o;
  for (const k of path.split('.')) cur = obj(cur, k);
  return isObject(cur) ? cur : undefined;
};

/** The object at `key`, created (or replacing a non-object) when absent. */
export function ensure(o: KubeObject, key: string): KubeObject {
  const v = o[key];
  if (isObject(v)) return v;
  const fresh: KubeObject = {};
  o[key] = fresh;
  return fresh;
}
/** Sets `key` to `value` when it is absent or null. */
export function setDefault(o: KubeObject, key: string, value: unknown): void {
  if (o[key] === undefined || o[key] === null) o[key] = value;
}
/** Sets a string field when it is absent, null or ''. */
export function setDefaultStr(o: KubeObject, key: string, value: string): void {
  if (o[key] === undefined || o[key] === null || o[key] === '') o[key] = value;
}

export const meta = (o: KubeObject): KubeObject => obj(o, 'metadata') ?? {};
export const nameOf = (o: KubeObject): string => str(meta(o), 'name') ?? '';
export const namespaceOf = (o: KubeObject): string => str(meta(o), 'namespace') ?? '';

/** Structural equality of JSON values (key order ignored). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

export const clone = <T>(v: T): T => structuredClone(v);
