// /openapi/v2 as protobuf: the gnostic `openapi.v2.Document` message (google/gnostic
// openapiv2/OpenAPIv2.proto), which kubectl 1.20 asks for (Accept:
// application/com.github.proto-openapi.spec.v2@v1.0+protobuf) and decodes. Written by hand: only
// the messages our document uses, with their field numbers from that .proto. Vendor extensions,
// like gnostic's, are NamedAny{name, Any{yaml}}: JSON text, which is YAML, as kube-openapi parses it.

type JsonValue = unknown;
type Obj = Record<string, JsonValue>;

/** Protobuf wire format: varints, length-delimited fields, and nothing else that we need. */
class Writer {
  private readonly chunks: number[] = [];

  private varint(n: number): void {
    let v = n;
    while (v > 0x7f) {
      this.chunks.push((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    this.chunks.push(v);
  }
  private key(field: number, wire: 0 | 2): void {
    this.varint(field * 8 + wire);
  }
  string(field: number, s: unknown): this {
    if (typeof s !== 'string' || s === '') return this;
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }
  strings(field: number, list: unknown): this {
    if (Array.isArray(list)) for (const s of list) this.bytes(field, Buffer.from(String(s), 'utf8'));
    return this;
  }
  bool(field: number, b: unknown): this {
    if (b !== true) return this;
    this.key(field, 0);
    this.varint(1);
    return this;
  }
  int(field: number, n: unknown): this {
    if (typeof n !== 'number' || n === 0) return this;
    this.key(field, 0);
    this.varint(n);
    return this;
  }
  message(field: number, w: Writer | undefined): this {
    if (w === undefined) return this;
    return this.bytes(field, w.finish());
  }
  private bytes(field: number, b: Uint8Array): this {
    this.key(field, 2);
    this.varint(b.length);
    for (const x of b) this.chunks.push(x);
    return this;
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** NamedAny list for the `x-…` keys of a JSON object. */
function vendorExtensions(w: Writer, field: number, o: Obj): void {
  for (const [k, v] of Object.entries(o)) {
    if (!k.startsWith('x-')) continue;
    w.message(field, new Writer().string(1, k).message(2, new Writer().string(2, `${JSON.stringify(v)}\n`)));
  }
}

/** openapi.v2.Schema. */
function schema(s: Obj): Writer {
  const w = new Writer()
    .string(1, s['$ref'])
    .string(2, s['format'])
    .string(3, s['title'])
    .string(4, s['description'])
    .strings(19, s['required']);
  const ap = s['additionalProperties'];
  if (isObj(ap)) w.message(21, new Writer().message(1, schema(ap)));
  else if (typeof ap === 'boolean') w.message(21, new Writer().bool(2, ap));
  if (typeof s['type'] === 'string') w.message(22, new Writer().strings(1, [s['type']]));
  if (isObj(s['items'])) w.message(23, new Writer().message(1, schema(s['items'])));
  if (isObj(s['properties'])) {
    const props = new Writer();
    for (const [name, p] of Object.entries(s['properties'])) props.message(1, new Writer().string(1, name).message(2, schema(p as Obj)));
    w.message(25, props);
  }
  vendorExtensions(w, 31, s);
  return w;
}

/** openapi.v2.ParametersItem holding a Parameter (body, or a query/path NonBodyParameter). */
function parametersItem(p: Obj): Writer {
  let param: Writer;
  if (p['in'] === 'body') {
    const body = new Writer()
      .string(1, p['description'])
      .string(2, p['name'])
      .string(3, p['in'])
      .bool(4, p['required']);
    if (isObj(p['schema'])) body.message(5, schema(p['schema']));
    param = new Writer().message(1, body);
  } else {
    // QueryParameterSubSchema (3) and PathParameterSubSchema (4) differ in their field numbers
    // after `name`: the query one has allow_empty_value at 5.
    const query = p['in'] === 'query';
    const sub = new Writer()
      .bool(1, p['required'])
      .string(2, p['in'])
      .string(3, p['description'])
      .string(4, p['name'])
      .string(query ? 6 : 5, p['type'])
      .string(query ? 7 : 6, p['format'])
      .bool(query ? 20 : 19, p['uniqueItems']);
    param = new Writer().message(2, new Writer().message(query ? 3 : 4, sub));
  }
  return new Writer().message(1, param);
}

/** openapi.v2.Operation. */
function operation(op: Obj): Writer {
  const w = new Writer()
    .strings(1, op['tags'])
    .string(2, op['summary'])
    .string(3, op['description'])
    .string(5, op['operationId'])
    .strings(6, op['produces'])
    .strings(7, op['consumes']);
  for (const p of (op['parameters'] as Obj[] | undefined) ?? []) w.message(8, parametersItem(p));
  if (isObj(op['responses'])) {
    const rs = new Writer();
    for (const [code, r] of Object.entries(op['responses'] as Record<string, Obj>)) {
      const resp = new Writer().string(1, r['description']);
      if (isObj(r['schema'])) resp.message(2, new Writer().message(1, schema(r['schema'])));
      rs.message(1, new Writer().string(1, code).message(2, new Writer().message(1, resp)));
    }
    w.message(9, rs);
  }
  w.strings(10, op['schemes']);
  vendorExtensions(w, 13, op);
  return w;
}

const PATH_ITEM_FIELDS: Readonly<Record<string, number>> = { get: 2, put: 3, post: 4, delete: 5, options: 6, head: 7, patch: 8 };

/** Encodes a Swagger 2.0 document (as openApiV2 builds it) as a gnostic openapi.v2.Document. */
export function encodeOpenApiV2(doc: Obj): Uint8Array {
  const w = new Writer().string(1, doc['swagger']);
  const info = doc['info'] as Obj | undefined;
  if (info) w.message(2, new Writer().string(1, info['title']).string(2, info['version']).string(3, info['description']));
  const paths = new Writer();
  for (const [path, item] of Object.entries((doc['paths'] as Record<string, Obj> | undefined) ?? {})) {
    const pi = new Writer();
    for (const [verb, field] of Object.entries(PATH_ITEM_FIELDS)) if (isObj(item[verb])) pi.message(field, operation(item[verb]));
    for (const p of (item['parameters'] as Obj[] | undefined) ?? []) pi.message(9, parametersItem(p));
    paths.message(2, new Writer().string(1, path).message(2, pi));
  }
  w.message(8, paths);
  const defs = new Writer();
  for (const [name, s] of Object.entries((doc['definitions'] as Record<string, Obj> | undefined) ?? {})) defs.message(1, new Writer().string(1, name).message(2, schema(s)));
  w.message(9, defs);
  vendorExtensions(w, 16, doc);
  return w.finish();
}
