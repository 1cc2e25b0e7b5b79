// Strategic merge patch, as the apiserver applies it (k8s.io/apimachinery strategicpatch
// StrategicMergeMapPatch, MergeParallelList and IgnoreUnmatchedNulls on). What kubectl sends for
// `apply`, `set image`, `label`, `annotate`, `scale`, `edit` and `rollout undo`.
//
// - Maps merge key by key; null deletes a key; a value of another type replaces.
// - A list listed in the kind's merge-key table merges: elements with the same merge key merge
//   (recursively), new ones are added; a list of scalars is merged as a set. Any other list is
//   replaced by the patch's.
// - Directives: `$patch: replace` (this map or, as a list element, this list is the patch's),
//   `$patch: delete` (this map becomes empty; as a list element with the merge key, that element is
//   removed), `$setElementOrder/<list>` (the order of the merged list), `$retainKeys` (keys of the
//   original map not listed are dropped), `$deleteFromPrimitiveList/<list>` (scalars removed).
// - Order: items named by the patch come in the patch's order (or $setElementOrder's), interleaved
//   with the server-only items by their order on the server, new items first, as the real
//   implementation orders them (kubectl's docs show a new container placed before the old one).

import { type Json, type JsonMap, PatchError, goFormat, isMap } from './errors.js';
import type { MergeKeyTable } from './merge-keys.js';

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ORDER = '$setElementOrder/';
const DELETE_PRIMITIVE = '$deleteFromPrimitiveList/';

const bad = (message: string): never => {
  throw new PatchError('strategic', 400, message);
};
const unprocessable = (message: string): never => {
  throw new PatchError('strategic', 422, message);
};

const errNoMergeKey = (m: JsonMap, key: string): never => unprocessable(`map: ${goFormat(m)} does not contain declared merge key: ${key}`);
const errBadPatchType = (t: unknown, m: JsonMap): never => bad(`unknown patch type: ${goFormat(t)} in map: ${goFormat(m)}`);

interface Schema {
  readonly table: MergeKeyTable;
  readonly path: string;
}
const child = (s: Schema, k: string): Schema => ({ table: s.table, path: s.path === '' ? k : `${s.path}.${k}` });
/** The field's list strategy: merge (with its key, or none for scalars), or undefined for replace. */
const listStrategy = (s: Schema): { key: string } | undefined => {
  const st = s.table[s.path];
  return st === undefined ? undefined : { key: st.key ?? '' };
};

const kindOf = (v: Json): 'map' | 'list' | 'scalar' => (Array.isArray(v) ? 'list' : isMap(v) ? 'map' : 'scalar');

/** Applies a strategic merge patch to `original` (neither is changed). `table` is the kind's merge keys. */
export function applyStrategicMergePatch(original: Json, patch: unknown, table: MergeKeyTable): JsonMap {
  if (!isMap(patch)) return bad('invalid JSON document');
  const o = isMap(original) ? (structuredClone(original) as JsonMap) : {};
  return mergeMap(o, structuredClone(patch) as JsonMap, { table, path: '' });
}

function mergeMap(original: JsonMap, patch: JsonMap, schema: Schema): JsonMap {
  if (Object.hasOwn(patch, DIRECTIVE)) {
    const d = patch[DIRECTIVE];
    if (d === 'replace') {
      delete patch[DIRECTIVE];
      return mergeMap({}, patch, schema);
    }
    if (d === 'delete') return {};
    return errBadPatchType(d, patch);
  }
  applyRetainKeys(original, patch);
  mergeOrderedLists(original, patch, schema);

  for (const pk of Object.keys(patch)) {
    const patchV = patch[pk]!;
    let k = pk;
    let isDeleteList = false;
    if (pk.startsWith(DELETE_PRIMITIVE)) {
      k = extractKey(pk, DELETE_PRIMITIVE);
      isDeleteList = true;
      if (!Array.isArray(patchV)) bad('invalid patch format of primitive list');
      // Nothing to delete from a list that is not there (the Go code would add the items instead).
      if (!Object.hasOwn(original, k)) continue;
    }
    if (patchV === null) {
      delete original[k];
      continue;
    }
    if (!Object.hasOwn(original, k)) {
      original[k] = clean(patchV, child(schema, k));
      continue;
    }
    const origV = original[k]!;
    if (kindOf(origV) !== kindOf(patchV) || (kindOf(origV) === 'scalar' && typeof origV !== typeof patchV)) {
      original[k] = clean(patchV, child(schema, k));
      continue;
    }
    if (isMap(origV)) original[k] = mergeMap(origV, patchV as JsonMap, child(schema, k));
    else if (Array.isArray(origV)) original[k] = mergeListField(origV, patchV as Json[], child(schema, k), isDeleteList);
    else original[k] = patchV;
  }
  return original;
}

/**
 * A patch value taken whole (the original had no such key): merged into nothing, so its nulls and
 * directives do not reach the stored object, and its merged lists still collapse duplicates.
 */
function clean(v: Json, schema: Schema): Json {
  if (isMap(v)) return mergeMap({}, v, schema);
  if (Array.isArray(v) && listStrategy(schema) !== undefined) return mergeListField([], v, schema, false);
  if (Array.isArray(v)) return v.map((e) => (isMap(e) ? mergeMap({}, e, schema) : e));
  return v;
}

function extractKey(k: string, prefix: string): string {
  const rest = k.slice(prefix.length);
  if (rest === '') {
    return bad(prefix === SET_ORDER ? 'invalid patch format of setElementOrder list' : 'invalid patch format of primitive list');
  }
  return rest;
}

function applyRetainKeys(original: JsonMap, patch: JsonMap): void {
  if (!Object.hasOwn(patch, RETAIN_KEYS)) return;
  const list = patch[RETAIN_KEYS];
  delete patch[RETAIN_KEYS];
  if (!Array.isArray(list)) return bad('invalid patch format of retainKeys');
  const keep = new Set(list);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || k.startsWith(DELETE_PRIMITIVE) || k.startsWith(SET_ORDER)) continue;
    if (!keep.has(k)) bad('invalid patch format of retainKeys');
  }
  for (const k of Object.keys(original)) if (!keep.has(k)) delete original[k];
}

/** `$setElementOrder/<list>`: merges that list now and orders it by the directive. */
function mergeOrderedLists(original: JsonMap, patch: JsonMap, schema: Schema): void {
  for (const key of Object.keys(patch)) {
    if (!key.startsWith(SET_ORDER)) continue;
    const order = patch[key];
    delete patch[key];
    const k = extractKey(key, SET_ORDER);
    if (!Array.isArray(order)) return bad('invalid patch format of setElementOrder list');
    const s = child(schema, k);
    const mergeKey = listStrategy(s)?.key ?? '';
    const origList = Object.hasOwn(original, k) ? original[k] : undefined;
    const patchList = Object.hasOwn(patch, k) ? patch[k] : undefined;
    if (origList !== undefined && !Array.isArray(origList)) bad(`expected a []interface {}, but received a ${goType(origList)}`);
    if (patchList !== undefined && patchList !== null && !Array.isArray(patchList)) bad(`expected a []interface {}, but received a ${goType(patchList)}`);
    const o = (origList ?? []) as Json[];
    const p = (patchList ?? []) as Json[];
    validateWithSetOrder(p, order, mergeKey);
    let merged: Json[];
    if (origList !== undefined && patchList !== undefined && patchList !== null) merged = mergeListField(o, p, s, false);
    else if (patchList !== undefined && patchList !== null) merged = clean(p, s) as Json[];
    else if (origList !== undefined) merged = o;
    else continue;
    const isMapList = [...o, ...p].some(isMap);
    const [patchItems, serverOnly] = partition(merged, order, isMapList ? mergeKey : '');
    original[k] = normalizeElementOrder(patchItems, serverOnly, order, o, isMapList ? mergeKey : '');
    delete patch[k];
  }
}

const goType = (v: Json): string => (isMap(v) ? 'map[string]interface {}' : typeof v === 'string' ? 'string' : typeof v === 'number' ? 'float64' : 'bool');

/** Every item of the patch list must appear in the directive, in the same relative order. */
function validateWithSetOrder(patchList: Json[], order: Json[], mergeKey: string): void {
  if (order.length === 0 || patchList.length === 0) return;
  const nonDelete = mergeKey === '' ? patchList : patchList.filter((e) => !(isMap(e) && e[DIRECTIVE] === 'delete'));
  let pi = 0;
  let oi = 0;
  while (pi < nonDelete.length && oi < order.length) {
    const item = nonDelete[pi]!;
    if (isMap(item) && Object.hasOwn(item, DIRECTIVE)) {
      pi++;
      continue;
    }
    if (identity(item, mergeKey) === identity(order[oi]!, mergeKey)) pi++;
    oi++;
  }
  if (pi < nonDelete.length) {
    bad(`The order in patch list:\n${goFormat(patchList)}\n doesn't match ${SET_ORDER} list:\n${goFormat(order)}\n`);
  }
}

/** The value that identifies a list element: its merge key's value for maps, itself for scalars. */
function identity(v: Json, mergeKey: string): Json | undefined {
  if (mergeKey === '') return v;
  if (!isMap(v)) return undefined;
  return Object.hasOwn(v, mergeKey) ? v[mergeKey] : undefined;
}

function indexIn(list: readonly Json[], v: Json, mergeKey: string): number {
  const id = identity(v, mergeKey);
  return list.findIndex((e) => identity(e, mergeKey) === id);
}

function mergeListField(original: Json[], patch: Json[], schema: Schema, isDeleteList: boolean): Json[] {
  const st = listStrategy(schema);
  if (st === undefined && !isDeleteList) return patch.map((e) => clean(e, schema));
  return mergeSlice(original, patch, schema, st?.key ?? '', isDeleteList);
}

function mergeSlice(original: Json[], patch: Json[], schema: Schema, mergeKey: string, isDeleteList: boolean): Json[] {
  if (original.length === 0 && patch.length === 0) return original;
  const all = [...original, ...patch];
  if (all.some(Array.isArray)) bad('lists of lists are not supported');
  const maps = all.filter(isMap).length;
  if (maps !== 0 && maps !== all.length) unprocessable(`list element types are not identical: ${goFormat([original, patch])}`);

  if (maps === 0) {
    if (isDeleteList) {
      const del = new Set(patch);
      return original.filter((v) => !del.has(v));
    }
    const merged = dedupe(all);
    const [patchItems, serverOnly] = partition(merged, patch, '');
    return normalizeElementOrder(patchItems, serverOnly, patch, original, '');
  }

  if (mergeKey === '') unprocessable(`cannot merge lists without merge key for ${schema.path}`);
  let base = original;
  const plain: JsonMap[] = [];
  let replace = false;
  for (const v of patch as JsonMap[]) {
    if (!Object.hasOwn(v, DIRECTIVE)) {
      plain.push(v);
      continue;
    }
    const d = v[DIRECTIVE];
    if (d === 'delete') {
      if (!Object.hasOwn(v, mergeKey)) errNoMergeKey(v, mergeKey);
      const id = v[mergeKey];
      base = base.filter((e) => !(isMap(e) && Object.hasOwn(e, mergeKey) && e[mergeKey] === id));
    } else if (d === 'replace') {
      replace = true;
    } else if (d === 'merge') {
      bad('merging lists cannot yet be specified in the patch');
    } else {
      errBadPatchType(d, v);
    }
  }
  let server: Json[];
  let patchList: JsonMap[];
  if (replace) {
    server = plain;
    patchList = [];
  } else {
    server = base;
    patchList = plain;
  }
  const elemSchema = schema;
  const merged = [...server].map((e) => (replace && isMap(e) ? mergeMap({}, e, elemSchema) : e));
  for (const v of patchList) {
    if (!Object.hasOwn(v, mergeKey)) errNoMergeKey(v, mergeKey);
    const at = merged.findIndex((e) => isMap(e) && Object.hasOwn(e, mergeKey) && e[mergeKey] === v[mergeKey]);
    if (at >= 0) merged[at] = mergeMap(merged[at] as JsonMap, v, elemSchema);
    else merged.push(mergeMap({}, v, elemSchema));
  }
  const [patchItems, serverOnly] = partition(merged, patchList, mergeKey);
  return normalizeElementOrder(patchItems, serverOnly, patchList, server, mergeKey);
}

function dedupe(list: Json[]): Json[] {
  const seen = new Set<Json>();
  return list.filter((v) => (seen.has(v) ? false : (seen.add(v), true)));
}

/** Splits `list` into the items that `by` names and the others, keeping `list`'s order. */
function partition(list: Json[], by: readonly Json[], mergeKey: string): [Json[], Json[]] {
  const inBy: Json[] = [];
  const rest: Json[] = [];
  for (const v of list) {
    if (mergeKey !== '' && (!isMap(v) || !Object.hasOwn(v, mergeKey))) errNoMergeKey(isMap(v) ? v : {}, mergeKey);
    (indexIn(by, v, mergeKey) >= 0 ? inBy : rest).push(v);
  }
  return [inBy, rest];
}

/** Stable sort by position in `order` (items it does not name move to the front, as in Go). */
function sortByOrder(items: Json[], order: readonly Json[], mergeKey: string): Json[] {
  const s = [...items];
  const less = (a: Json, b: Json): boolean => {
    const ia = indexIn(order, a, mergeKey);
    if (ia < 0) return true;
    const ib = indexIn(order, b, mergeKey);
    return ib < 0 ? true : ia < ib;
  };
  for (let i = 1; i < s.length; i++) {
    for (let j = i; j > 0 && less(s[j]!, s[j - 1]!); j--) [s[j], s[j - 1]] = [s[j - 1]!, s[j]!];
  }
  return s;
}

/**
 * The patch items in `patchOrder`, the server-only items in `serverOrder`, then merged: a server
 * item goes first only when both it and the next patch item are on the server and it comes earlier.
 */
function normalizeElementOrder(patchItems: Json[], serverOnly: Json[], patchOrder: readonly Json[], serverOrder: readonly Json[], mergeKey: string): Json[] {
  const isDelete = (e: Json): boolean => mergeKey !== '' && isMap(e) && e[DIRECTIVE] === 'delete';
  const p = [...sortByOrder(patchItems.filter((e) => !isDelete(e)), patchOrder, mergeKey), ...patchItems.filter(isDelete)];
  const s = [...sortByOrder(serverOnly.filter((e) => !isDelete(e)), serverOrder, mergeKey), ...serverOnly.filter(isDelete)];
  const out: Json[] = [];
  let i = 0;
  let j = 0;
  while (i < s.length || j < p.length) {
    if (i >= s.length) out.push(p[j++]!);
    else if (j >= p.length) out.push(s[i++]!);
    else {
      const li = indexIn(serverOrder, s[i]!, mergeKey);
      const ri = indexIn(serverOrder, p[j]!, mergeKey);
      if (li >= 0 && ri >= 0 && li < ri) out.push(s[i++]!);
      else out.push(p[j++]!);
    }
  }
  return out;
}
