// Reading JSON documents that Go programs (flannel, the CNI plugins) also read, so that a document is read the
// same way here as there. Keys match as Go's encoding/json matches a struct field: exactly or ignoring case,
// and when several keys match, the last one in the document wins (Go decodes the keys in order, each one
// overwriting the field). A JSON null leaves the field unset, as it leaves a Go value at its zero value.
// The typed readers name the field's path (`ipam.ranges[0][1].rangeStart`) in the error the caller makes.

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | JsonObject;
export interface JsonObject {
  readonly [key: string]: JsonValue;
}

/** A plain object (not null, not an array): what a JSON object parses to. */
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A parsed JSON object; the same test as isObject, typed for JSON values. */
export const isJsonObject = isObject as (v: unknown) => v is JsonObject;

// Go's case folding (bytes.EqualFold) also folds the Kelvin sign to k (toLowerCase does that) and the long s
// "ſ" to s (toLowerCase does not). Field names are ASCII, so this is all the folding a match can need, and a
// key of another length cannot match (the first test, which keeps lease listing fast).
const fold = (s: string): string => s.toLowerCase().replaceAll('\u017f', 's');
const same = (k: string, name: string, folded: string): boolean => k === name || (k.length === name.length && fold(k) === folded);

/**
 * The last key Go would decode into the field `name`, nulls included: for a field whose type has its own
 * UnmarshalJSON (flannel's IP4Net), a null is not a no-op, so the caller must see it.
 */
export function jsonKey(o: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const want = fold(name);
  let found: string | undefined;
  for (const k of Object.keys(o)) if (same(k, name, want)) found = k;
  return found;
}

/** The value Go would decode into the field `name`: the last matching key's, skipping nulls (a null changes nothing). */
export function jsonField<T>(o: Readonly<Record<string, T>>, name: string): T | undefined {
  const want = fold(name);
  let found: T | undefined;
  for (const k of Object.keys(o)) {
    const v = o[k] as T;
    if (v !== null && same(k, name, want)) found = v;
  }
  return found;
}

/** `a.b`, or `b` at the top level. */
export const fieldPath = (path: string, key: string): string => (path ? `${path}.${key}` : key);
export const indexPath = (path: string, i: number): string => `${path}[${i}]`;

/** Makes the error a reader throws: the field's path, the value found there, and what is wrong with it. */
export type FieldErrorFactory = (path: string, value: unknown, reason: string) => Error;

export interface JsonReaders {
  optString(o: JsonObject, key: string, path: string): string | undefined;
  optBool(o: JsonObject, key: string, path: string): boolean | undefined;
  optInt(o: JsonObject, key: string, path: string, min: number, max: number): number | undefined;
  optObject(o: JsonObject, key: string, path: string): JsonObject | undefined;
  optArray(o: JsonObject, key: string, path: string): readonly JsonValue[] | undefined;
  /** An array element that must be an object. */
  objectAt(v: JsonValue, path: string): JsonObject;
  stringAt(v: JsonValue, path: string): string;
}

/** The typed field readers, each throwing the caller's error type (a ConfigError, a pod's validation error). */
export function jsonReaders(fail: FieldErrorFactory): JsonReaders {
  const opt = <T>(o: JsonObject, key: string, path: string, ok: (v: JsonValue) => v is JsonValue & T, reason: string): T | undefined => {
    const v = jsonField(o, key);
    if (v === undefined) return undefined;
    if (!ok(v)) throw fail(fieldPath(path, key), v, reason);
    return v;
  };
  const isString = (v: JsonValue): v is string => typeof v === 'string';
  const isBool = (v: JsonValue): v is boolean => typeof v === 'boolean';
  const isArray = (v: JsonValue): v is readonly JsonValue[] => Array.isArray(v);
  return {
    optString: (o, key, path) => opt(o, key, path, isString, 'must be a string'),
    optBool: (o, key, path) => opt(o, key, path, isBool, 'must be true or false'),
    optInt: (o, key, path, min, max) =>
      opt(
        o,
        key,
        path,
        (v): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max,
        `must be an integer in ${min}..${max}`,
      ),
    optObject: (o, key, path) => opt(o, key, path, isJsonObject, 'must be an object'),
    optArray: (o, key, path) => opt(o, key, path, isArray, 'must be an array'),
    objectAt(v, path) {
      if (!isJsonObject(v)) throw fail(path, v, 'must be an object');
      return v;
    },
    stringAt(v, path) {
      if (typeof v !== 'string') throw fail(path, v, 'must be a string');
      return v;
    },
  };
}
