// Reading CNI network config JSON into typed values: common/json.ts's readers (Go's key matching,
// the field's path in the error), bound to ConfigError, so a netconf the Go plugins accept is read
// the same way here.
import { isJsonObject, jsonReaders, type JsonObject } from '../../core/index.js';
import { ConfigError } from '../config.js';

export { type JsonValue, type JsonObject, isJsonObject, jsonField, fieldPath, indexPath } from '../../core/index.js';

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

export const { optString, optBool, optInt, optObject, optArray, objectAt, stringAt } = jsonReaders(
  (path, value, reason) => new ConfigError(path, value, reason),
);
