// The pod-template-hash, as Kubernetes' ComputeHash makes it: FNV-32a over the template, then the
// collisionCount (when set) as 8 little-endian bytes, the 32-bit sum written in decimal and each digit
// mapped onto rand's 27 safe characters (SafeEncodeString). Kubernetes hashes a spew dump of the Go
// struct; a byte-for-byte copy of that dump is out of reach from JSON, so the input here is the
// template's canonical JSON (keys sorted, empty maps and lists dropped as semantic equality ignores
// them). The hash is stable for a template and changes with it, which is what the controller needs.

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** The label that ties a ReplicaSet and its pods to one template of its Deployment. */
export const POD_TEMPLATE_HASH = 'pod-template-hash';

const SAFE = 'bcdfghjklmnpqrstvwxz2456789';

/** Pure: FNV-1a, 32 bits, over the bytes. */
export function fnv32a(bytes: Uint8Array, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Pure: SafeEncodeString: each character mapped onto the safe alphabet by its code. */
export const safeEncodeString = (s: string): string => [...s].map((c) => SAFE[c.codePointAt(0)! % SAFE.length]).join('');

/** Pure: a value with empty objects, empty lists and nulls dropped (Semantic.DeepEqual treats them as absent). */
export function normalize(v: unknown): Json | undefined {
  if (v === null || v === undefined) return undefined;
  if (Array.isArray(v)) {
    const out = v.map((x) => normalize(x) ?? null);
    return out.length ? out : undefined;
  }
  if (typeof v === 'object') {
    const out: { [k: string]: Json } = {};
    for (const k of Object.keys(v).sort()) {
      const n = normalize((v as Record<string, unknown>)[k]);
      if (n !== undefined) out[k] = n;
    }
    return Object.keys(out).length ? out : undefined;
  }
  return v as Json;
}

/** Pure: the canonical JSON of a value (sorted keys, empties dropped). */
export const canonicalJson = (v: unknown): string => JSON.stringify(normalize(v) ?? {});

/** Pure: ComputeHash of a pod template and the Deployment's collisionCount. */
export function computeHash(template: unknown, collisionCount?: number): string {
  const enc = new TextEncoder();
  let h = fnv32a(enc.encode(canonicalJson(template)));
  if (collisionCount !== undefined) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setUint32(0, collisionCount >>> 0, true);
    h = fnv32a(b, h);
  }
  return safeEncodeString(String(h));
}

/** Pure: the template without the pod-template-hash label. */
export function withoutHash(template: unknown): unknown {
  if (typeof template !== 'object' || template === null) return template;
  const t = template as Record<string, unknown>;
  const meta = (typeof t.metadata === 'object' && t.metadata !== null ? t.metadata : {}) as Record<string, unknown>;
  const labels = (typeof meta.labels === 'object' && meta.labels !== null ? { ...(meta.labels as Record<string, unknown>) } : {}) as Record<string, unknown>;
  delete labels[POD_TEMPLATE_HASH];
  return { ...t, metadata: { ...meta, labels } };
}

/** Pure: EqualIgnoreHash: two templates are the same but for their pod-template-hash labels. */
export const equalIgnoreHash = (a: unknown, b: unknown): boolean => canonicalJson(withoutHash(a)) === canonicalJson(withoutHash(b));
