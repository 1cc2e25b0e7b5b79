// The three patch formats the apiserver accepts on PATCH, chosen by the request's Content-Type.
import { type Json, type JsonMap, type PatchType, PatchError } from './errors.js';
import { applyJsonPatch, decodeJsonPatch } from './json-patch.js';
import { applyMergePatchToObject } from './merge.js';
import { mergeKeysFor } from './merge-keys.js';
import { applyStrategicMergePatch } from './strategic.js';

export { type Json, type JsonMap, type PatchType, PatchError, deepEqual } from './errors.js';
export { applyMergePatch, applyMergePatchToObject } from './merge.js';
export { type JsonPatchOperation, MAX_JSON_PATCH_OPERATIONS, applyJsonPatch, decodeJsonPatch, parsePointer } from './json-patch.js';
export { applyStrategicMergePatch } from './strategic.js';
export { type ListStrategy, type MergeKeyTable, MERGE_KEYS, mergeKeysFor } from './merge-keys.js';

const contentTypes: Readonly<Record<string, PatchType>> = {
  'application/merge-patch+json': 'merge',
  'application/json-patch+json': 'json',
  'application/strategic-merge-patch+json': 'strategic',
};

/** The patch type of a Content-Type header (parameters ignored); undefined → the server answers 415. */
export function patchTypeOf(contentType: string | undefined): PatchType | undefined {
  const base = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  return contentTypes[base];
}

/** The Content-Types the server lists in its 415 answer. */
export const PATCH_CONTENT_TYPES: readonly string[] = Object.keys(contentTypes);

/**
 * Applies a decoded patch body to an object of `apiVersion`/`kind` (whose merge keys the strategic
 * patch uses). Throws PatchError with the status to answer.
 */
export function applyPatch(type: PatchType, original: JsonMap, patch: unknown, apiVersion: string, kind: string): Json {
  switch (type) {
    case 'merge':
      return applyMergePatchToObject(original, patch);
    case 'json':
      return applyJsonPatch(original, decodeJsonPatch(patch));
    case 'strategic':
      return applyStrategicMergePatch(original, patch, mergeKeysFor(apiVersion, kind));
    default:
      throw new PatchError(type, 400, `unknown patch type ${String(type)}`);
  }
}
