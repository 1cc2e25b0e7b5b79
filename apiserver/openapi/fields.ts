// Which fields of a request body the served schema does not know, as kube-apiserver's strict decoding
// reports them (`unknown field "spec.template.spec.containers[0].foo"`), and which JSON object keys
// appear twice (`duplicate field "replicas"`). The schemas are the ones /openapi/v2 and /openapi/v3
// publish (definitions.ts), so the server refuses exactly what `kubectl --validate` would. Pure.
import { DEFINITIONS, type FieldType, PRIMITIVE_DEFINITIONS } from './definitions.js';
import { OPENAPI_RESOURCES } from './document.js';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The definition that describes a kind (`io.k8s.api.apps.v1.Deployment`), or undefined when none is published. */
export function definitionOf(group: string, version: string, kind: string): string | undefined {
  const r = OPENAPI_RESOURCES.find((x) => x.group === group && x.version === version && x.kind === kind);
  if (r) return r.definition;
  const gvk = Object.entries(DEFINITIONS).find(([, d]) => d.gvk && d.gvk[0] === group && d.gvk[1] === version && d.gvk[2] === kind);
  return gvk?.[0];
}

interface Walk {
  readonly dups: ReadonlySet<string>;
  readonly out: string[];
  /** Unknown fields are removed as they are found (what decoding into the typed object does). */
  readonly prune: boolean;
}

/** A value the schema leaves open (or does not describe): only its duplicate keys are reported. */
function walkOpen(v: unknown, path: string, w: Walk): void {
  if (Array.isArray(v)) v.forEach((e, i) => walkOpen(e, `${path}[${i}]`, w));
  else if (isObj(v)) {
    for (const [k, e] of Object.entries(v)) {
      const p = path ? `${path}.${k}` : k;
      if (w.dups.has(p)) w.out.push(`duplicate field ${JSON.stringify(p)}`);
      walkOpen(e, p, w);
    }
  }
}

function walkType(t: FieldType, v: unknown, path: string, w: Walk): void {
  if (v === null || v === undefined) return;
  if (Array.isArray(t)) {
    const [shape, inner] = t as readonly ['array' | 'map', FieldType];
    if (shape === 'array' && Array.isArray(v)) v.forEach((e, i) => walkType(inner, e, `${path}[${i}]`, w));
    else if (shape === 'map' && isObj(v)) {
      for (const [k, e] of Object.entries(v)) {
        if (w.dups.has(`${path}.${k}`)) w.out.push(`duplicate field ${JSON.stringify(`${path}.${k}`)}`);
        walkType(inner, e, `${path}.${k}`, w);
      }
    }
    return;
  }
  const s = t as string;
  if (s.startsWith('#')) walkDefinition(s.slice(1), v, path, w);
  else if (s === 'object' || s === 'any') walkOpen(v, path, w);
}

function walkDefinition(name: string, v: unknown, path: string, w: Walk): void {
  if (PRIMITIVE_DEFINITIONS[name] !== undefined || !isObj(v)) return;
  const d = DEFINITIONS[name];
  if (d === undefined) return walkOpen(v, path, w);
  for (const [k, e] of Object.entries(v)) {
    const p = path ? `${path}.${k}` : k;
    if (w.dups.has(p)) w.out.push(`duplicate field ${JSON.stringify(p)}`);
    const t = d.properties[k];
    if (t === undefined) {
      w.out.push(`unknown field ${JSON.stringify(p)}`);
      if (w.prune) delete v[k];
    } else walkType(t, e, p, w);
  }
}

/**
 * What strict decoding reports about a body, in document order: `unknown field "spec.foo"` for a field
 * the kind's schema does not have, `duplicate field "spec.replicas"` for a key that `text` (the body as
 * sent, when JSON) has twice in one object. A kind without a published schema has no unknown fields.
 * With `prune`, the unknown fields are also removed from `body`, as kube-apiserver drops them when it
 * decodes a body it accepts (fieldValidation Warn or Ignore).
 */
export function strictDecodingErrors(definition: string | undefined, body: unknown, text?: string, prune = false): string[] {
  const w: Walk = { dups: new Set(text === undefined ? [] : duplicateFields(text)), out: [], prune };
  if (definition === undefined) walkOpen(body, '', w);
  else walkDefinition(definition, body, '', w);
  return w.out;
}

/**
 * The keys that appear more than once in one JSON object of `text`, with their paths as strict decoding
 * names them (`spec.replicas`). A scanner of its own: JSON.parse keeps the last of duplicate keys silently,
 * and no parser in our dependencies reports them. Text that is not JSON yields [] (the parse reports it).
 */
export function duplicateFields(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  const n = text.length;
  const ws = (): void => {
    while (i < n && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  };
  const str = (): string => {
    const start = i;
    i++; // opening quote
    while (i < n && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      throw new SyntaxError('bad string');
    }
  };
  // Bounded: every step advances i, and nesting recurses at most once per character.
  const value = (path: string): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const seen = new Set<string>();
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      while (i < n) {
        ws();
        if (text[i] !== '"') throw new SyntaxError('key expected');
        const k = str();
        const p = path ? `${path}.${k}` : k;
        if (seen.has(k)) out.push(p);
        seen.add(k);
        ws();
        if (text[i] !== ':') throw new SyntaxError('colon expected');
        i++;
        value(p);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return;
        } else throw new SyntaxError('comma expected');
      }
      throw new SyntaxError('unterminated object');
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (let idx = 0; i < n; idx++) {
        value(`${path}[${idx}]`);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return;
        } else throw new SyntaxError('comma expected');
      }
      throw new SyntaxError('unterminated array');
    } else if (c === '"') str();
    else {
      const start = i;
      while (i < n && !',}] \n\r\t'.includes(text[i]!)) i++;
      if (i === start) throw new SyntaxError('value expected');
    }
  };
  try {
    value('');
  } catch (e) {
    if (e instanceof SyntaxError) return [];
    throw e;
  }
  return out;
}
