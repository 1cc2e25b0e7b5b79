// JSON merge patch (RFC 7386): objects merge key by key, null removes a key, anything else
// (arrays included) replaces. What `kubectl patch --type merge` sends.

import { type Json, PatchError, isMap } from './errors.js';

function mergeValue(target: Json | undefined, patch: Json): Json {
  if (!isMap(patch)) return structuredClone(patch);
  const out: { [k: string]: Json } = isMap(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergeValue(out[k], v);
  }
  return out;
}

/** Applies `patch` to `target` without changing either. A patch that is not an object replaces the document. */
export function applyMergePatch(target: Json, patch: Json): Json {
  return mergeValue(target, patch);
}

/** The server accepts only an object as a merge patch for an object. */
export function applyMergePatchToObject(target: Json, patch: unknown): Json {
  if (!isMap(patch)) throw new PatchError('merge', 400, 'json: cannot unmarshal into Go value of type map[string]interface {}: a merge patch must be a JSON object');
  return mergeValue(target, patch);
}
