// Reading CNI network config JSON into typed values: one reader per field kind, each naming the
// field's path (`ipam.ranges[0][1].rangeStart`) in its ConfigError. Keys match as Go's
// encoding/json matches them (exact first, then case-insensitively), so a netconf the Go plugins
// accept is read the same way here.
import { ConfigError } from '../config.js';

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | JsonObject;
export interface JsonObject {
  readonly [key: string]: JsonValue;
}

export const isJsonObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses a JSON document that must be an object; a syntax error names `what`. */
export class JsonSyntaxError extends ConfigError {}

export function parseJsonObject(text: string, what: string): JsonObject {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new JsonSyntaxError(what, undefined, `is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isJsonObject(v)) throw new ConfigError(what, undefined, 'must be a JSON object');
  return v;
}

/** `a.b`, or `b` at the top level. */
export const fieldPath = (path: string, key: string): string => (path ? `${path}.${key}` : key);
export const indexPath = (path: string, i: number): string => `${path}[${i}]`;

/** The value of `key`: the exact key if present, else the first key equal to it ignoring case. */
export function jsonField(o: JsonObject, key: string): JsonValue | undefined {
  if (Object.hasOwn(o, key)) return o[key];
  const lower = key.toLowerCase();
  for (const k of Object.keys(o)) if (k.toLowerCase() === lower) return o[k];
  return undefined;
}

/** null counts as absent, as Go leaves the zero value for a JSON null. */
function present(o: JsonObject, key: string): JsonValue | undefined {
  const v = jsonField(o, key);
  return v === null ? undefined : v;
}

export function optString(o: JsonObject, key: string, path: string): string | undefined {
  const v = present(o, key);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new ConfigError(fieldPath(path, key), v, 'must be a string');
  return v;
}

export function optBool(o: JsonObject, key: string, path: string): boolean | undefined {
  const v = present(o, key);
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new ConfigError(fieldPath(path, key), v, 'must be true or false');
  return v;
}

export function optInt(o: JsonObject, key: string, path: string, min: number, max: number): number | undefined {
  const v = present(o, key);
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(fieldPath(path, key), v, `must be an integer in ${min}..${max}`);
  }
  return v;
}

export function optObject(o: JsonObject, key: string, path: string): JsonObject | undefined {
  const v = present(o, key);
  if (v === undefined) return undefined;
  if (!isJsonObject(v)) throw new ConfigError(fieldPath(path, key), v, 'must be an object');
  return v;
}

export function optArray(o: JsonObject, key: string, path: string): readonly JsonValue[] | undefined {
  const v = present(o, key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw new ConfigError(fieldPath(path, key), v, 'must be an array');
  return v;
}

/** An array element that must be an object. */
export function objectAt(v: JsonValue, path: string): JsonObject {
  if (!isJsonObject(v)) throw new ConfigError(path, v, 'must be an object');
  return v;
}

export function stringAt(v: JsonValue, path: string): string {
  if (typeof v !== 'string') throw new ConfigError(path, v, 'must be a string');
  return v;
}
