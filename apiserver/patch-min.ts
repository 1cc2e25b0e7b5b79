// JSON merge patch (RFC 7386), which kubectl label, annotate and patch --type=merge send. The other
// patch types (JSON patch, strategic merge) come with apiserver/patch. Pure.
import { isObj } from './object.js';

export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}
