// JSON patch (RFC 6902) over JSON pointers (RFC 6901): add, remove, replace, move, copy, test,
// applied in order to a copy, all or nothing. What `kubectl patch --type json` sends.
//
// Written here rather than taken from npm because the project cannot add a dependency from this
// worktree; the operations are the RFC's and the error texts follow evanphx/json-patch, the library
// the real apiserver uses, so that kubectl users read the same failures.

import { type Json, type JsonMap, PatchError, deepEqual, isMap } from './errors.js';

export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  from?: string;
  value?: Json;
}

/** The real apiserver refuses longer patches with a 413 (maxJSONPatchOperations). */
export const MAX_JSON_PATCH_OPERATIONS = 10_000;

const fail = (status: 400 | 422, message: string): never => {
  throw new PatchError('json', status, message);
};

/** Checks the shape of a decoded patch document: an array of operations with the members each needs. */
export function decodeJsonPatch(doc: unknown): JsonPatchOperation[] {
  if (!Array.isArray(doc)) return fail(400, 'json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  if (doc.length > MAX_JSON_PATCH_OPERATIONS) {
    throw new PatchError('json', 413, `The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${doc.length}`);
  }
  return doc.map((raw: unknown) => {
    if (!isMap(raw)) return fail(400, 'json: cannot unmarshal into Go value of type jsonpatch.Operation');
    const op = raw['op'];
    if (typeof op !== 'string') return fail(400, 'Unexpected kind: unknown');
    if (!['add', 'remove', 'replace', 'move', 'copy', 'test'].includes(op)) return fail(400, `Unexpected kind: ${op}`);
    const path = raw['path'];
    if (typeof path !== 'string') return fail(400, `operation missing path: ${op}`);
    const out: JsonPatchOperation = { op: op as JsonPatchOperation['op'], path };
    if (op === 'move' || op === 'copy') {
      const from = raw['from'];
      if (typeof from !== 'string') return fail(400, `operation missing from: ${op}`);
      out.from = from;
    }
    if (op === 'add' || op === 'replace' || op === 'test') {
      if (!Object.hasOwn(raw, 'value')) return fail(400, `operation missing value: ${op}`);
      out.value = raw['value'] as Json;
    }
    return out;
  });
}

/** RFC 6901: "" is the whole document; otherwise "/a/b~1c" → ["a", "b/c"]. */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) return fail(422, `JSON pointer must be empty or start with a "/": ${pointer}`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
}

type Container = JsonMap | Json[];

function arrayIndex(arr: Json[], token: string, forAdd: boolean, path: string): number {
  if (forAdd && token === '-') return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(token)) return fail(422, `Unable to access invalid index: ${token}: ${path}`);
  const i = Number(token);
  if (i > arr.length || (!forAdd && i === arr.length)) return fail(422, `Unable to access invalid index: ${i}: ${path}`);
  return i;
}

/** The container holding the last token of `path`, and that token. */
function parentOf(doc: Json, tokens: string[], path: string): [Container, string] {
  let cur: Json = doc;
  for (const t of tokens.slice(0, -1)) {
    let next: Json | undefined;
    if (Array.isArray(cur)) next = cur[arrayIndex(cur, t, false, path)];
    else if (isMap(cur)) next = Object.hasOwn(cur, t) ? cur[t] : undefined;
    if (next === undefined || next === null || typeof next !== 'object') return fail(422, `doc is missing path: "${path}"`);
    cur = next;
  }
  if (typeof cur !== 'object' || cur === null) return fail(422, `doc is missing path: "${path}"`);
  return [cur, tokens[tokens.length - 1]!];
}

function get(doc: Json, path: string): Json {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return doc;
  const [c, t] = parentOf(doc, tokens, path);
  if (Array.isArray(c)) return c[arrayIndex(c, t, false, path)]!;
  if (!Object.hasOwn(c, t)) return fail(422, `doc is missing key: ${path}`);
  return c[t]!;
}

/** Returns the new document (a new root when the path is ""). */
function add(doc: Json, path: string, value: Json): Json {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return value;
  const [c, t] = parentOf(doc, tokens, path);
  if (Array.isArray(c)) c.splice(arrayIndex(c, t, true, path), 0, value);
  else c[t] = value;
  return doc;
}

function remove(doc: Json, path: string, op: string): Json {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return fail(422, `unable to ${op} the whole document: ${path}`);
  const [c, t] = parentOf(doc, tokens, path);
  if (Array.isArray(c)) {
    c.splice(arrayIndex(c, t, false, path), 1);
  } else {
    if (!Object.hasOwn(c, t)) return fail(422, `Unable to remove nonexistent key: ${t}: missing value`);
    delete c[t];
  }
  return doc;
}

function replace(doc: Json, path: string, value: Json): Json {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return value;
  const [c, t] = parentOf(doc, tokens, path);
  if (Array.isArray(c)) c[arrayIndex(c, t, false, path)] = value;
  else {
    if (!Object.hasOwn(c, t)) return fail(422, `replace operation does not apply: doc is missing key: ${path}: missing value`);
    c[t] = value;
  }
  return doc;
}

/** Applies the operations in order to a copy of `doc`; the original is unchanged, also on failure. */
export function applyJsonPatch(doc: Json, ops: readonly JsonPatchOperation[]): Json {
  let cur: Json = structuredClone(doc);
  for (const o of ops) {
    switch (o.op) {
      case 'add':
        cur = add(cur, o.path, structuredClone(o.value!));
        break;
      case 'remove':
        cur = remove(cur, o.path, 'remove');
        break;
      case 'replace':
        cur = replace(cur, o.path, structuredClone(o.value!));
        break;
      case 'move': {
        if (o.path === o.from || o.path.startsWith(`${o.from}/`)) {
          if (o.path !== o.from) fail(422, `Unable to move ${o.from} into one of its children: ${o.path}`);
          break;
        }
        const v = get(cur, o.from!);
        cur = remove(cur, o.from!, 'move');
        cur = add(cur, o.path, v);
        break;
      }
      case 'copy':
        cur = add(cur, o.path, structuredClone(get(cur, o.from!)));
        break;
      case 'test': {
        let actual: Json | undefined;
        try {
          actual = get(cur, o.path);
        } catch {
          actual = undefined;
        }
        // A missing member tests equal to null, as in evanphx/json-patch.
        if (!deepEqual(actual ?? null, o.value)) fail(422, `testing value ${o.path} failed: test failed`);
        break;
      }
    }
  }
  return cur;
}
