// How the server uses the per-kind strategies and the published schemas: strict decoding (unknown and
// duplicate fields, pruning), the fieldValidation directive and its Warning headers, the watch bookmark
// schedule, component statuses, and what the generic store's create makes of a body (no etcd involved:
// prepareCreate is pure).
import type { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import {
  ALL_STRATEGIES,
  ApiError,
  componentStatus,
  definitionOf,
  duplicateFields,
  fieldValidationOf,
  nextBookmarkAt,
  probeError,
  ServiceAllocation,
  Storage,
  strictDecodingErrors,
  type Strategy,
  warningHeader,
  parseServiceCidrs,
} from '../apiserver/index.js';
import { parsePortRange } from '../proxy/index.js';

const kind = (group: string, resource: string): Strategy => ALL_STRATEGIES.find((k) => k.def.group === group && k.def.resource === resource)!;

describe('strict decoding against the published schemas', () => {
  const DEPLOY = definitionOf('apps', 'v1', 'Deployment')!;

  it('finds the schema of each served kind and of Scale', () => {
    expect(DEPLOY).toBe('io.k8s.api.apps.v1.Deployment');
    for (const s of ALL_STRATEGIES) expect(definitionOf(s.def.group, s.def.version, s.def.kind), s.def.kind).toBeDefined();
    expect(definitionOf('autoscaling', 'v1', 'Scale')).toBe('io.k8s.api.autoscaling.v1.Scale');
    expect(definitionOf('apps', 'v1', 'Widget')).toBeUndefined();
  });

  it('names unknown fields by their path, nested in lists, in document order', () => {
    const body = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'x', labels: { a: 'b' }, colour: 'red' },
      spec: { foo: 1, selector: { matchLabels: { a: 'b' } }, template: { spec: { containers: [{ name: 'c', image: 'i' }, { name: 'd', image: 'i', imagee: 'j', ports: [{ containerPort: 80, hostport: 1 }] }] } } },
      status: { anything: true },
    };
    expect(strictDecodingErrors(DEPLOY, body)).toEqual([
      'unknown field "metadata.colour"',
      'unknown field "spec.foo"',
      'unknown field "spec.template.spec.containers[1].imagee"',
      'unknown field "spec.template.spec.containers[1].ports[0].hostport"',
    ]);
    expect(strictDecodingErrors(DEPLOY, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { replicas: 1 } })).toEqual([]);
    // A kind without a schema has no unknown fields.
    expect(strictDecodingErrors(undefined, { anything: 1 })).toEqual([]);
  });

  it('reports duplicate keys where they are, between the unknown fields', () => {
    const text = '{"kind":"ConfigMap","metadata":{"name":"a","name":"b"},"data":{"k":"1","k":"2"},"dta":{}}';
    expect(duplicateFields(text)).toEqual(['metadata.name', 'data.k']);
    expect(strictDecodingErrors(definitionOf('', 'v1', 'ConfigMap'), JSON.parse(text), text)).toEqual(['duplicate field "metadata.name"', 'duplicate field "data.k"', 'unknown field "dta"']);
    expect(duplicateFields('{"a":[{"b":1,"b":2}],"s":"x\\"y","e":{}, "l":[]}')).toEqual(['a[0].b']);
    expect(duplicateFields('{"a":')).toEqual([]);
    expect(duplicateFields('not json')).toEqual([]);
  });

  it('drops the unknown fields of an accepted body, keeping the rest', () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'nginx', imagee: 'x' }] } };
    expect(strictDecodingErrors(definitionOf('', 'v1', 'Pod'), pod, undefined, true)).toEqual(['unknown field "spec.containers[0].imagee"']);
    expect(pod.spec.containers[0]).toEqual({ name: 'c', image: 'nginx' });
  });
});

describe('fieldValidation', () => {
  it('is Warn unless the query says Ignore or Strict, and a 400 when it says anything else', () => {
    expect(fieldValidationOf(new URLSearchParams())).toBe('Warn');
    expect(fieldValidationOf(new URLSearchParams('fieldValidation=Strict'))).toBe('Strict');
    expect(fieldValidationOf(new URLSearchParams('fieldValidation=Ignore'))).toBe('Ignore');
    let err: unknown;
    try {
      fieldValidationOf(new URLSearchParams('fieldValidation=strict'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).toStatus()).toMatchObject({ code: 400, reason: 'BadRequest' });
  });

  it('sends each warning as kube-apiserver words the header', () => {
    expect(warningHeader('unknown field "spec.foo"')).toBe('299 - "unknown field \\"spec.foo\\""');
  });
});

describe('watch bookmarks', () => {
  it('come every interval, then 2 s before the deadline, and not after it', () => {
    const min = 60_000;
    expect(nextBookmarkAt(0, 30 * min, min)).toBe(min);
    expect(nextBookmarkAt(0, 30_000, min)).toBe(28_000);
    expect(nextBookmarkAt(28_000, 30_000, min)).toBeUndefined();
    expect(nextBookmarkAt(0, 1_500, min)).toBeUndefined();
    expect(nextBookmarkAt(1_000, 10_000, 2_000)).toBe(3_000);
  });
});

describe('component statuses', () => {
  it('word a failed probe as Go\'s client does, and print as kubectl get cs shows them', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:10259'), { code: 'ECONNREFUSED' });
    expect(probeError('https://127.0.0.1:10259/healthz', refused)).toBe('Get "https://127.0.0.1:10259/healthz": dial tcp 127.0.0.1:10259: connect: connection refused');
    const cs = kind('', 'componentstatuses');
    expect(cs.def.storage).toBe('');
    expect(cs.tableRow(componentStatus('etcd-0', true, '{"health":"true","reason":""}', ''), 0)).toEqual(['etcd-0', 'Healthy', '{"health":"true","reason":""}', '']);
    expect(cs.tableRow(componentStatus('scheduler', false, '', 'boom'), 0)).toEqual(['scheduler', 'Unhealthy', '', 'boom']);
  });
});

describe('create as the generic store prepares it', () => {
  // prepareCreate reads no etcd: the client is never called.
  const noEtcd = {} as Etcd3;
  const log = pino({ level: 'silent' });
  const storage = new Storage({ client: noEtcd, prefix: '/registry', log, services: new ServiceAllocation(noEtcd, '/registry', parseServiceCidrs('10.254.0.0/16'), parsePortRange('30000-32767')), now: () => new Date('2025-01-01T00:00:00Z') });

  it('fills the system fields first, so a Job\'s generated selector is its uid', () => {
    const job = storage.prepareCreate(kind('batch', 'jobs'), 'default', { metadata: { name: 'pi' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'pi', image: 'perl' }] } } } });
    const uid = (job.metadata as { uid: string }).uid;
    expect(uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(job).toMatchObject({ metadata: { namespace: 'default', creationTimestamp: '2025-01-01T00:00:00Z', generation: 1 }, spec: { selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } } } });
  });

  it('defaults, sets generation and initial status, and refuses what the kind refuses', () => {
    const d = storage.prepareCreate(kind('apps', 'deployments'), 'team', { metadata: { generateName: 'web-' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } } });
    expect(d).toMatchObject({ metadata: { name: expect.stringMatching(/^web-[a-z0-9]{5}$/), namespace: 'team', generation: 1 }, spec: { replicas: 1, strategy: { type: 'RollingUpdate' } } });
    let err: unknown;
    try {
      storage.prepareCreate(kind('apps', 'deployments'), 'team', { metadata: { name: 'bad' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'c' } }, spec: { containers: [{ name: 'c' }] } } } });
    } catch (e) {
      err = e;
    }
    expect((err as ApiError).toStatus()).toMatchObject({ code: 422, reason: 'Invalid', details: { group: 'apps', kind: 'Deployment', causes: expect.arrayContaining([expect.objectContaining({ field: 'spec.template.spec.containers[0].image', reason: 'FieldValueRequired' })]) } });
    expect((err as ApiError).message).toMatch(/^Deployment\.apps "bad" is invalid: \[/);
  });
});

describe('the OpenAPI documents of .../scale', () => {
  it('describe GET, PUT and PATCH of each scale subresource with the autoscaling/v1 Scale', async () => {
    const { openApiV2, openApiV3 } = await import('../apiserver/openapi/index.js');
    const v2 = openApiV2() as { paths: Record<string, Record<string, { 'x-kubernetes-group-version-kind'?: unknown; parameters?: { in: string; schema?: unknown }[] }>> };
    const path = '/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale';
    expect(Object.keys(v2.paths[path]!).sort()).toEqual(['get', 'parameters', 'patch', 'put']);
    expect(v2.paths[path]!.put!['x-kubernetes-group-version-kind']).toEqual({ group: 'autoscaling', kind: 'Scale', version: 'v1' });
    expect(v2.paths[path]!.put!.parameters!.find((p) => p.in === 'body')!.schema).toEqual({ $ref: '#/definitions/io.k8s.api.autoscaling.v1.Scale' });
    expect(v2.paths['/api/v1/namespaces/{namespace}/replicationcontrollers/{name}/scale']).toBeDefined();
    expect(v2.paths['/apis/apps/v1/namespaces/{namespace}/daemonsets/{name}/scale']).toBeUndefined();
    const v3 = openApiV3('apis/apps/v1') as { paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
    expect(v3.paths['/apis/apps/v1/namespaces/{namespace}/replicasets/{name}/scale']).toBeDefined();
    expect(v3.components.schemas['io.k8s.api.autoscaling.v1.Scale']).toBeDefined();
  });
});
