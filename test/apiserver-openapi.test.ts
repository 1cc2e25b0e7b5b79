import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import {
  DEFINITIONS,
  type FieldType,
  OPENAPI_RESOURCES,
  OPENAPI_V2_PROTOBUF,
  PATCH_META,
  encodeOpenApiV2,
  openApiV2,
  openApiV2Document,
  openApiV3,
  openApiV3Document,
  openApiV3GroupVersions,
  openApiV3Root,
  wantsOpenApiV2Protobuf,
} from '../apiserver/openapi/index.js';
import { mergeKeysFor } from '../apiserver/patch/index.js';

type Obj = Record<string, unknown>;

// ---- a decoder of gnostic messages back to Swagger JSON, written against the fixture .proto ----
const root = protobuf.loadSync(fileURLToPath(new URL('./fixtures/openapiv2-subset.proto', import.meta.url)));
const Document = root.lookupType('openapi.v2.Document');

const ext = (list: Obj[] | undefined): Obj =>
  Object.fromEntries((list ?? []).map((na) => [na['name'] as string, JSON.parse(((na['value'] as Obj)['yaml'] as string).trim())]));

function schemaJson(s: Obj): Obj {
  const out: Obj = {};
  if (s['description']) out['description'] = s['description'];
  if (s['_ref']) out['$ref'] = s['_ref'];
  if (s['format']) out['format'] = s['format'];
  const type = (s['type'] as Obj | undefined)?.['value'] as string[] | undefined;
  if (type?.length) out['type'] = type[0];
  if ((s['required'] as string[] | undefined)?.length) out['required'] = s['required'];
  const props = (s['properties'] as Obj | undefined)?.['additionalProperties'] as Obj[] | undefined;
  if (props) out['properties'] = Object.fromEntries(props.map((p) => [p['name'] as string, schemaJson(p['value'] as Obj)]));
  const items = (s['items'] as Obj | undefined)?.['schema'] as Obj[] | undefined;
  if (items?.length) out['items'] = schemaJson(items[0]!);
  const ap = (s['additionalProperties'] as Obj | undefined)?.['schema'] as Obj | undefined;
  if (ap) out['additionalProperties'] = schemaJson(ap);
  Object.assign(out, ext(s['vendorExtension'] as Obj[] | undefined));
  return out;
}

function paramJson(pi: Obj): Obj {
  const p = pi['parameter'] as Obj;
  const body = p['bodyParameter'] as Obj | undefined;
  if (body) return { name: body['name'], in: body['in'], required: body['required'], schema: schemaJson(body['schema'] as Obj) };
  const nb = p['nonBodyParameter'] as Obj;
  const sub = (nb['queryParameterSubSchema'] ?? nb['pathParameterSubSchema']) as Obj;
  return {
    uniqueItems: sub['uniqueItems'],
    type: sub['type'],
    name: sub['name'],
    in: sub['in'],
    description: sub['description'],
    ...(sub['required'] ? { required: true } : {}),
  };
}

function operationJson(op: Obj): Obj {
  const responses = Object.fromEntries(
    ((op['responses'] as Obj)['responseCode'] as Obj[]).map((r) => {
      const resp = (r['value'] as Obj)['response'] as Obj;
      const schema = (resp['schema'] as Obj | undefined)?.['schema'] as Obj | undefined;
      return [r['name'] as string, { description: resp['description'], ...(schema ? { schema: schemaJson(schema) } : {}) }];
    }),
  );
  return {
    description: op['description'],
    consumes: op['consumes'],
    produces: op['produces'],
    schemes: op['schemes'],
    tags: op['tags'],
    operationId: op['operationId'],
    parameters: ((op['parameters'] as Obj[] | undefined) ?? []).map(paramJson),
    responses,
    ...ext(op['vendorExtension'] as Obj[] | undefined),
  };
}

function documentJson(bytes: Uint8Array): Obj {
  const d = Document.toObject(Document.decode(bytes), { defaults: false }) as Obj;
  const paths: Obj = {};
  for (const np of (d['paths'] as Obj)['path'] as Obj[]) {
    const item = np['value'] as Obj;
    const out: Obj = {};
    for (const verb of ['get', 'put', 'post', 'delete', 'patch']) if (item[verb]) out[verb] = operationJson(item[verb] as Obj);
    out['parameters'] = ((item['parameters'] as Obj[] | undefined) ?? []).map(paramJson);
    paths[np['name'] as string] = out;
  }
  const definitions = Object.fromEntries(
    ((d['definitions'] as Obj)['additionalProperties'] as Obj[]).map((ns) => [ns['name'] as string, schemaJson(ns['value'] as Obj)]),
  );
  return { swagger: d['swagger'], info: d['info'], paths, definitions };
}

function refsOf(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) v.forEach((x) => refsOf(x, out));
  else if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      if (k === '$ref' && typeof x === 'string') out.push(x);
      else refsOf(x, out);
    }
  }
  return out;
}

describe('/openapi/v2', () => {
  const doc = openApiV2();

  it('round-trips through protobuf: decoding the gnostic message gives the JSON document back', () => {
    const bytes = encodeOpenApiV2(doc);
    expect(bytes.length).toBeGreaterThan(10_000);
    // JSON.parse(JSON.stringify()) drops the `required: undefined` our decoder leaves for absent booleans.
    expect(JSON.parse(JSON.stringify(documentJson(bytes)))).toEqual(JSON.parse(JSON.stringify(doc)));
  });

  it('resolves every $ref to a definition', () => {
    const defs = doc['definitions'] as Obj;
    const refs = refsOf(doc);
    expect(refs.length).toBeGreaterThan(50);
    for (const r of refs) {
      expect(r.startsWith('#/definitions/')).toBe(true);
      expect(defs[r.slice('#/definitions/'.length)], r).toBeDefined();
    }
  });

  it('names each served kind once with x-kubernetes-group-version-kind, and a PATCH path for it taking fieldValidation', () => {
    const defs = doc['definitions'] as Record<string, Obj>;
    for (const r of OPENAPI_RESOURCES) {
      const gvks = Object.values(defs).flatMap((d) => (d['x-kubernetes-group-version-kind'] as Obj[] | undefined) ?? []);
      expect(gvks.filter((g) => g['kind'] === r.kind && g['group'] === r.group && g['version'] === r.version)).toHaveLength(1);
      const patchOps = Object.values(doc['paths'] as Record<string, Obj>)
        .map((p) => p['patch'] as Obj | undefined)
        .filter((op) => op !== undefined && JSON.stringify(op['x-kubernetes-group-version-kind']) === JSON.stringify({ group: r.group, kind: r.kind, version: r.version }));
      expect(patchOps).toHaveLength(1);
      expect((patchOps[0]!['parameters'] as Obj[]).map((p) => p['name'])).toContain('fieldValidation');
    }
  });

  it('describes what kubectl checks client-side: required containers and container names', () => {
    const defs = doc['definitions'] as Record<string, Obj>;
    expect(defs['io.k8s.api.core.v1.PodSpec']!['required']).toEqual(['containers']);
    expect(defs['io.k8s.api.core.v1.Container']!['required']).toEqual(['name']);
    expect((defs['io.k8s.api.core.v1.ServicePort']!['properties'] as Obj)['targetPort']).toEqual({ $ref: '#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString' });
    expect(defs['io.k8s.apimachinery.pkg.util.intstr.IntOrString']).toMatchObject({ type: 'string', format: 'int-or-string' });
  });

  it('serves protobuf only when Accept names it', () => {
    expect(wantsOpenApiV2Protobuf(OPENAPI_V2_PROTOBUF)).toBe(true);
    expect(wantsOpenApiV2Protobuf('application/com.github.proto-openapi.spec.v2.v1.0+protobuf')).toBe(true);
    expect(wantsOpenApiV2Protobuf(`${OPENAPI_V2_PROTOBUF}, application/json`)).toBe(true);
    expect(wantsOpenApiV2Protobuf(`application/json, ${OPENAPI_V2_PROTOBUF}`)).toBe(false);
    expect(wantsOpenApiV2Protobuf('*/*')).toBe(false);
    expect(wantsOpenApiV2Protobuf(undefined)).toBe(false);
    expect(openApiV2Document(OPENAPI_V2_PROTOBUF).contentType).toBe('application/com.github.proto-openapi.spec.v2.v1.0+protobuf');
    const json = openApiV2Document('application/json');
    expect(json.contentType).toBe('application/json');
    expect(JSON.parse(new TextDecoder().decode(json.body))['swagger']).toBe('2.0');
    expect(openApiV2Document(undefined).etag).toBe(json.etag);
  });
});

describe('the x-kubernetes-patch extensions agree with the strategic merge patch table', () => {
  // Walks a kind's definitions, list elements transparent, and collects the paths whose fields carry
  // patch metadata, to compare with apiserver/patch's table for that kind.
  function patchPaths(defName: string, prefix: string, out: Map<string, string>): void {
    const d = DEFINITIONS[defName];
    if (d === undefined) return;
    for (const [field, t] of Object.entries(d.properties)) {
      const path = prefix === '' ? field : `${prefix}.${field}`;
      const meta = PATCH_META[`${defName}.${field}`];
      if (meta?.strategy.includes('merge')) out.set(path, meta.key ?? '');
      let inner: FieldType = t;
      while (Array.isArray(inner)) inner = (inner as readonly [string, FieldType])[1];
      if (typeof inner === 'string' && inner.startsWith('#')) patchPaths(inner.slice(1), path, out);
    }
  }

  it.each(OPENAPI_RESOURCES.map((r) => [r.kind, r] as const))('%s', (_k, r) => {
    const fromOpenApi = new Map<string, string>();
    patchPaths(r.definition, '', fromOpenApi);
    const table = mergeKeysFor(r.group === '' ? r.version : `${r.group}/${r.version}`, r.kind);
    // Every path the table merges and the schema describes (not status, which is left open) carries the same key.
    const described = Object.entries(table).filter(([p]) => !p.startsWith('status.') && !p.startsWith('conditions'));
    for (const [path, st] of described) {
      if (path.includes('ephemeralContainers.')) continue; // left open (object) in the schema
      expect(fromOpenApi.get(path), `${r.kind} ${path}`).toBe(st.key ?? '');
    }
    for (const [path, key] of fromOpenApi) expect(table[path]?.key ?? '', `${r.kind} ${path}`).toBe(key);
  });
});

describe('/openapi/v3', () => {
  it('lists a document per group version, with the hash of its content', () => {
    const rootDoc = openApiV3Root();
    expect(Object.keys(rootDoc.paths).sort()).toEqual(
      [
        'api/v1',
        'apis/apps/v1',
        'apis/apps/v1beta1',
        'apis/batch/v1',
        'apis/batch/v1beta1',
        'apis/coordination.k8s.io/v1',
        'apis/extensions/v1beta1',
        'apis/networking.k8s.io/v1',
        'apis/rbac.authorization.k8s.io/v1',
      ].sort(),
    );
    expect(rootDoc.paths['api/v1']!.serverRelativeURL).toMatch(/^\/openapi\/v3\/api\/v1\?hash=[0-9A-F]{128}$/);
  });

  it.each(openApiV3GroupVersions())('%s: refs resolve within its components, kinds carry their gvk', (gv) => {
    const doc = openApiV3(gv)!;
    const schemas = (doc['components'] as Obj)['schemas'] as Record<string, Obj>;
    for (const r of refsOf(doc)) {
      expect(r.startsWith('#/components/schemas/')).toBe(true);
      expect(schemas[r.slice('#/components/schemas/'.length)], r).toBeDefined();
    }
    for (const r of OPENAPI_RESOURCES.filter((x) => (x.group === '' ? `api/${x.version}` : `apis/${x.group}/${x.version}`) === gv)) {
      expect(schemas[r.definition]!['x-kubernetes-group-version-kind']).toEqual([{ group: r.group, kind: r.kind, version: r.version }]);
    }
    expect(openApiV3Document(gv)!.contentType).toBe('application/json');
  });

  it('has no document for a group version we do not serve', () => {
    expect(openApiV3('apis/extensions/v1beta2')).toBeUndefined();
    expect(openApiV3Document('apis/nope/v1')).toBeUndefined();
  });
});
