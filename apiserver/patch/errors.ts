import { FlannelError } from '../../core/index.js';

export type PatchType = 'merge' | 'json' | 'strategic';

/**
 * A patch that cannot be applied. `status` is the HTTP status the real apiserver answers with:
 * 400 for a patch that is not well formed, 422 for one that does not apply to the object (a JSON
 * patch `test` that fails, a path that is not there), 413 for too many operations.
 */
export class PatchError extends FlannelError {
  readonly code = 'PatchInvalid';
  constructor(
    readonly patchType: PatchType,
    readonly status: 400 | 413 | 422,
    message: string,
  ) {
    super(message);
  }
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonMap = { [k: string]: Json };

export const isMap = (v: unknown): v is JsonMap => typeof v === 'object' && v !== null && !Array.isArray(v);

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isMap(a) && isMap(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** Go's %v of a decoded JSON value, for error texts that quote a map (map[a:1 b:x]). */
export function goFormat(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goFormat).join(' ')}]`;
  if (isMap(v)) {
    return `map[${Object.keys(v)
      .sort()
      .map((k) => `${k}:${goFormat(v[k])}`)
      .join(' ')}]`;
  }
  return String(v);
}
