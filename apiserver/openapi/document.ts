// The OpenAPI documents kubectl reads: /openapi/v2 (Swagger 2.0; kubectl 1.20 validates manifests
// with it and computes `apply` patches from its x-kubernetes-patch-* extensions) and /openapi/v3
// (a root listing one document per group version; newer kubectl's `explain` and its check that the
// server takes `fieldValidation`, after which it leaves validation to the server).

import { createHash } from 'node:crypto';
import { DEFINITIONS, type Definition, type FieldType, PRIMITIVE_DEFINITIONS } from './definitions.js';

export const KUBERNETES_VERSION = 'v1.32.0';

/** A served resource, for the `paths` kubectl looks up by group-version-kind. */
export interface OpenApiResource {
  readonly group: string;
  readonly version: string;
  /** Plural, as in the URL. */
  readonly resource: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /** The definition that describes it. */
  readonly definition: string;
  /** It has a `scale` subresource (an autoscaling/v1 Scale). */
  readonly scale?: boolean;
}

const SCALE = 'io.k8s.api.autoscaling.v1.Scale';
const SCALE_GVK = { group: 'autoscaling', kind: 'Scale', version: 'v1' };

const C = 'io.k8s.api.core.v1.';
export const OPENAPI_RESOURCES: readonly OpenApiResource[] = [
  { group: '', version: 'v1', resource: 'namespaces', kind: 'Namespace', namespaced: false, definition: `${C}Namespace` },
  { group: '', version: 'v1', resource: 'nodes', kind: 'Node', namespaced: false, definition: `${C}Node` },
  { group: '', version: 'v1', resource: 'pods', kind: 'Pod', namespaced: true, definition: `${C}Pod` },
  { group: '', version: 'v1', resource: 'services', kind: 'Service', namespaced: true, definition: `${C}Service` },
  { group: '', version: 'v1', resource: 'endpoints', kind: 'Endpoints', namespaced: true, definition: `${C}Endpoints` },
  { group: '', version: 'v1', resource: 'replicationcontrollers', kind: 'ReplicationController', namespaced: true, definition: `${C}ReplicationController`, scale: true },
  { group: '', version: 'v1', resource: 'secrets', kind: 'Secret', namespaced: true, definition: `${C}Secret` },
  { group: '', version: 'v1', resource: 'configmaps', kind: 'ConfigMap', namespaced: true, definition: `${C}ConfigMap` },
  { group: '', version: 'v1', resource: 'events', kind: 'Event', namespaced: true, definition: `${C}Event` },
  { group: '', version: 'v1', resource: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true, definition: `${C}ServiceAccount` },
  { group: '', version: 'v1', resource: 'limitranges', kind: 'LimitRange', namespaced: true, definition: `${C}LimitRange` },
  { group: '', version: 'v1', resource: 'resourcequotas', kind: 'ResourceQuota', namespaced: true, definition: `${C}ResourceQuota` },
  { group: '', version: 'v1', resource: 'componentstatuses', kind: 'ComponentStatus', namespaced: false, definition: `${C}ComponentStatus` },
  { group: 'apps', version: 'v1', resource: 'deployments', kind: 'Deployment', namespaced: true, definition: 'io.k8s.api.apps.v1.Deployment', scale: true },
  { group: 'apps', version: 'v1', resource: 'replicasets', kind: 'ReplicaSet', namespaced: true, definition: 'io.k8s.api.apps.v1.ReplicaSet', scale: true },
  { group: 'apps', version: 'v1', resource: 'daemonsets', kind: 'DaemonSet', namespaced: true, definition: 'io.k8s.api.apps.v1.DaemonSet' },
  { group: 'batch', version: 'v1', resource: 'jobs', kind: 'Job', namespaced: true, definition: 'io.k8s.api.batch.v1.Job' },
  { group: 'batch', version: 'v1', resource: 'cronjobs', kind: 'CronJob', namespaced: true, definition: 'io.k8s.api.batch.v1.CronJob' },
  { group: 'networking.k8s.io', version: 'v1', resource: 'networkpolicies', kind: 'NetworkPolicy', namespaced: true, definition: 'io.k8s.api.networking.v1.NetworkPolicy' },
  { group: 'networking.k8s.io', version: 'v1', resource: 'ingresses', kind: 'Ingress', namespaced: true, definition: 'io.k8s.api.networking.v1.Ingress' },
  { group: 'apps', version: 'v1beta1', resource: 'deployments', kind: 'Deployment', namespaced: true, definition: 'io.k8s.api.apps.v1beta1.Deployment' },
  { group: 'batch', version: 'v1beta1', resource: 'cronjobs', kind: 'CronJob', namespaced: true, definition: 'io.k8s.api.batch.v1beta1.CronJob' },
  { group: 'extensions', version: 'v1beta1', resource: 'deployments', kind: 'Deployment', namespaced: true, definition: 'io.k8s.api.extensions.v1beta1.Deployment' },
  { group: 'extensions', version: 'v1beta1', resource: 'replicasets', kind: 'ReplicaSet', namespaced: true, definition: 'io.k8s.api.extensions.v1beta1.ReplicaSet' },
  { group: 'extensions', version: 'v1beta1', resource: 'daemonsets', kind: 'DaemonSet', namespaced: true, definition: 'io.k8s.api.extensions.v1beta1.DaemonSet' },
  { group: 'extensions', version: 'v1beta1', resource: 'networkpolicies', kind: 'NetworkPolicy', namespaced: true, definition: 'io.k8s.api.extensions.v1beta1.NetworkPolicy' },
  { group: 'extensions', version: 'v1beta1', resource: 'ingresses', kind: 'Ingress', namespaced: true, definition: 'io.k8s.api.extensions.v1beta1.Ingress' },
  { group: 'coordination.k8s.io', version: 'v1', resource: 'leases', kind: 'Lease', namespaced: true, definition: 'io.k8s.api.coordination.v1.Lease' },
  { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'clusterrolebindings', kind: 'ClusterRoleBinding', namespaced: false, definition: 'io.k8s.api.rbac.v1.ClusterRoleBinding' },
  { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'clusterroles', kind: 'ClusterRole', namespaced: false, definition: 'io.k8s.api.rbac.v1.ClusterRole' },
  { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'rolebindings', kind: 'RoleBinding', namespaced: true, definition: 'io.k8s.api.rbac.v1.RoleBinding' },
  { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'roles', kind: 'Role', namespaced: true, definition: 'io.k8s.api.rbac.v1.Role' },
];

/**
 * The `x-kubernetes-patch-*` extensions, per definition field: what kubectl apply computes its
 * strategic merge patch from. Must agree with apiserver/patch's merge-key table (a test checks).
 */
export const PATCH_META: Readonly<Record<string, { readonly strategy: string; readonly key?: string }>> = {
  'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta.finalizers': { strategy: 'merge' },
  'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta.ownerReferences': { strategy: 'merge', key: 'uid' },
  [`${C}PodSpec.containers`]: { strategy: 'merge', key: 'name' },
  [`${C}PodSpec.initContainers`]: { strategy: 'merge', key: 'name' },
  [`${C}PodSpec.ephemeralContainers`]: { strategy: 'merge', key: 'name' },
  [`${C}PodSpec.volumes`]: { strategy: 'merge,retainKeys', key: 'name' },
  [`${C}PodSpec.imagePullSecrets`]: { strategy: 'merge', key: 'name' },
  [`${C}PodSpec.hostAliases`]: { strategy: 'merge', key: 'ip' },
  [`${C}PodSpec.topologySpreadConstraints`]: { strategy: 'merge', key: 'topologyKey' },
  [`${C}PodSpec.schedulingGates`]: { strategy: 'merge', key: 'name' },
  [`${C}PodSpec.resourceClaims`]: { strategy: 'merge,retainKeys', key: 'name' },
  [`${C}Container.ports`]: { strategy: 'merge', key: 'containerPort' },
  [`${C}Container.env`]: { strategy: 'merge', key: 'name' },
  [`${C}Container.volumeMounts`]: { strategy: 'merge', key: 'mountPath' },
  [`${C}Container.volumeDevices`]: { strategy: 'merge', key: 'devicePath' },
  [`${C}ServiceSpec.ports`]: { strategy: 'merge', key: 'port' },
  [`${C}NodeSpec.podCIDRs`]: { strategy: 'merge' },
  [`${C}ServiceAccount.secrets`]: { strategy: 'merge', key: 'name' },
  'io.k8s.api.apps.v1.DeploymentSpec.strategy': { strategy: 'retainKeys' },
  'io.k8s.api.apps.v1beta1.DeploymentSpec.strategy': { strategy: 'retainKeys' },
  'io.k8s.api.extensions.v1beta1.DeploymentSpec.strategy': { strategy: 'retainKeys' },
};

type JsonSchema = Record<string, unknown>;

function fieldSchema(t: FieldType, refPrefix: string): JsonSchema {
  if (Array.isArray(t)) {
    const [shape, inner] = t as readonly ['array' | 'map', FieldType];
    return shape === 'array' ? { type: 'array', items: fieldSchema(inner, refPrefix) } : { type: 'object', additionalProperties: fieldSchema(inner, refPrefix) };
  }
  const s = t as string;
  if (s.startsWith('#')) return { $ref: `${refPrefix}${s.slice(1)}` };
  switch (s) {
    case 'int32':
    case 'int64':
      return { type: 'integer', format: s };
    case 'number':
      return { type: 'number', format: 'double' };
    case 'byte':
      return { type: 'string', format: 'byte' };
    case 'date-time':
      return { type: 'string', format: 'date-time' };
    case 'any':
      return {};
    default:
      return { type: s };
  }
}

function definitionSchema(name: string, d: Definition, refPrefix: string): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const [field, t] of Object.entries(d.properties)) {
    const s = fieldSchema(t, refPrefix);
    const meta = PATCH_META[`${name}.${field}`];
    if (meta !== undefined) {
      if (meta.key !== undefined) s['x-kubernetes-patch-merge-key'] = meta.key;
      s['x-kubernetes-patch-strategy'] = meta.strategy;
    }
    properties[field] = s;
  }
  return {
    description: d.description,
    type: 'object',
    ...(d.required ? { required: [...d.required] } : {}),
    properties,
    ...(d.gvk ? { 'x-kubernetes-group-version-kind': [{ group: d.gvk[0], kind: d.gvk[2], version: d.gvk[1] }] } : {}),
  };
}

function allDefinitions(refPrefix: string): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  for (const [name, p] of Object.entries(PRIMITIVE_DEFINITIONS)) out[name] = { ...p };
  for (const [name, d] of Object.entries(DEFINITIONS)) out[name] = definitionSchema(name, d, refPrefix);
  return out;
}

const gvPath = (r: OpenApiResource): string => (r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`);
const gvkExt = (r: OpenApiResource): JsonSchema => ({ group: r.group, kind: r.kind, version: r.version });
const camel = (s: string): string => s.replace(/(^|[.-])([a-z])/g, (_m, _p, c: string) => c.toUpperCase()).replaceAll('.', '');
const opName = (verb: string, r: OpenApiResource, collection = false): string =>
  `${verb}${camel(r.group === '' ? 'core' : r.group.replace(/\.k8s\.io$/, ''))}${camel(r.version)}${r.namespaced ? 'Namespaced' : ''}${r.kind}${collection ? 'Collection' : ''}`;

const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];
const PRODUCES = ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf'];

interface Param {
  name: string;
  in: 'query' | 'path' | 'body';
  description: string;
  required?: boolean;
}
const q = (name: string, description: string): Param => ({ name, in: 'query', description });
const dryRun = q('dryRun', 'When present, indicates that modifications should not be persisted.');
const fieldManager = q('fieldManager', 'fieldManager is a name associated with the actor or entity that is making these changes.');
const fieldValidation = q(
  'fieldValidation',
  'fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: Ignore, Warn, Strict.',
);

interface Op {
  verb: string;
  action: string;
  operationId: string;
  params: Param[];
  body: boolean;
  consumes?: string[];
  /** The definition of its body and answer, and its group-version-kind, when not the resource's (Scale). */
  definition?: string;
  gvk?: JsonSchema;
}

/** The operations on a resource, by path: the collection and the named object. */
function resourceOps(r: OpenApiResource): [string, Op[]][] {
  const base = r.namespaced ? `${gvPath(r)}/namespaces/{namespace}/${r.resource}` : `${gvPath(r)}/${r.resource}`;
  const write = [dryRun, fieldManager, fieldValidation];
  return [
    [
      base,
      [
        { verb: 'get', action: 'list', operationId: opName('list', r), params: [q('labelSelector', 'A selector to restrict the list of returned objects by their labels.')], body: false },
        { verb: 'post', action: 'post', operationId: opName('create', r), params: write, body: true },
        { verb: 'delete', action: 'deletecollection', operationId: opName('delete', r, true), params: [dryRun], body: false },
      ],
    ],
    [
      `${base}/{name}`,
      [
        { verb: 'get', action: 'get', operationId: opName('read', r), params: [], body: false },
        { verb: 'put', action: 'put', operationId: opName('replace', r), params: write, body: true },
        { verb: 'patch', action: 'patch', operationId: opName('patch', r), params: [...write, q('force', 'Force is going to "force" Apply requests.')], body: true, consumes: PATCH_TYPES },
        { verb: 'delete', action: 'delete', operationId: opName('delete', r), params: [dryRun], body: false },
      ],
    ],
    ...(r.scale
      ? ([
          [
            `${base}/{name}/scale`,
            [
              { verb: 'get', action: 'get', operationId: `${opName('read', r)}Scale`, params: [], body: false, definition: SCALE, gvk: SCALE_GVK },
              { verb: 'put', action: 'put', operationId: `${opName('replace', r)}Scale`, params: write, body: true, definition: SCALE, gvk: SCALE_GVK },
              { verb: 'patch', action: 'patch', operationId: `${opName('patch', r)}Scale`, params: [...write, q('force', 'Force is going to "force" Apply requests.')], body: true, consumes: PATCH_TYPES, definition: SCALE, gvk: SCALE_GVK },
            ],
          ],
        ] as [string, Op[]][])
      : []),
  ];
}

const pathParams = (path: string): Param[] => [
  { name: 'name', in: 'path', description: 'name of the object', required: true },
  { name: 'namespace', in: 'path', description: 'object name and auth scope, such as for teams and projects', required: true },
].filter((p) => path.includes(`{${p.name}}`)) as Param[];

/** The Swagger 2.0 document served at /openapi/v2, as JSON. */
export function openApiV2(): JsonSchema {
  const refPrefix = '#/definitions/';
  const paths: Record<string, JsonSchema> = {};
  for (const r of OPENAPI_RESOURCES) {
    for (const [path, ops] of resourceOps(r)) {
      const item: JsonSchema = {};
      for (const op of ops) {
        const parameters: JsonSchema[] = op.params.map((p) => ({ uniqueItems: true, type: 'string', name: p.name, in: p.in, description: p.description }));
        const def = op.definition ?? r.definition;
        if (op.body) parameters.unshift({ name: 'body', in: 'body', required: true, schema: { $ref: `${refPrefix}${def}` } });
        item[op.verb] = {
          description: `${op.action} ${r.kind}`,
          consumes: op.consumes ?? ['*/*'],
          produces: PRODUCES,
          schemes: ['https'],
          tags: [r.group === '' ? 'core_v1' : `${r.group.replaceAll('.', '_')}_${r.version}`],
          operationId: op.operationId,
          parameters,
          responses: {
            '200': { description: 'OK', ...(op.action === 'list' || op.action === 'deletecollection' ? {} : { schema: { $ref: `${refPrefix}${def}` } }) },
            '401': { description: 'Unauthorized' },
          },
          'x-kubernetes-action': op.action,
          'x-kubernetes-group-version-kind': op.gvk ?? gvkExt(r),
        };
      }
      item['parameters'] = [
        ...pathParams(path).map((p) => ({ uniqueItems: true, type: 'string', name: p.name, in: p.in, description: p.description, required: true })),
        { uniqueItems: true, type: 'string', name: 'pretty', in: 'query', description: "If 'true', then the output is pretty printed." },
      ];
      paths[path] = item;
    }
  }
  return { swagger: '2.0', info: { title: 'Kubernetes', version: KUBERNETES_VERSION }, paths, definitions: allDefinitions(refPrefix) };
}

/** The group versions that have an OpenAPI v3 document: `api/v1`, `apis/apps/v1`, … */
export function openApiV3GroupVersions(): string[] {
  return [...new Set(OPENAPI_RESOURCES.map((r) => gvPath(r).slice(1)))];
}

function reachable(roots: readonly string[], schemas: Record<string, JsonSchema>): Set<string> {
  const seen = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        if (k === '$ref' && typeof x === 'string') visit(x.slice(x.lastIndexOf('/') + 1));
        else walk(x);
      }
    }
  };
  const visit = (name: string): void => {
    if (seen.has(name) || schemas[name] === undefined) return;
    seen.add(name);
    walk(schemas[name]);
  };
  roots.forEach(visit);
  return seen;
}

/** The OpenAPI 3.0 document of one group version (`api/v1`, `apis/apps/v1`); undefined if we serve none. */
export function openApiV3(groupVersion: string): JsonSchema | undefined {
  const resources = OPENAPI_RESOURCES.filter((r) => gvPath(r).slice(1) === groupVersion);
  if (resources.length === 0) return undefined;
  const refPrefix = '#/components/schemas/';
  const all = allDefinitions(refPrefix);
  const paths: Record<string, JsonSchema> = {};
  for (const r of resources) {
    for (const [path, ops] of resourceOps(r)) {
      const item: JsonSchema = {};
      for (const op of ops) {
        const ref = { $ref: `${refPrefix}${op.definition ?? r.definition}` };
        item[op.verb] = {
          tags: [r.group === '' ? 'core_v1' : `${r.group.replaceAll('.', '_')}_${r.version}`],
          description: `${op.action} ${r.kind}`,
          operationId: op.operationId,
          parameters: op.params.map((p) => ({ name: p.name, in: p.in, description: p.description, schema: { type: 'string', uniqueItems: true } })),
          ...(op.body ? { requestBody: { content: Object.fromEntries((op.consumes ?? ['*/*']).map((c) => [c, { schema: ref }])), required: true } } : {}),
          responses: {
            '200': { description: 'OK', content: Object.fromEntries(PRODUCES.map((c) => [c, op.action === 'list' || op.action === 'deletecollection' ? { schema: { type: 'object' } } : { schema: ref }])) },
            '401': { description: 'Unauthorized' },
          },
          'x-kubernetes-action': op.action,
          'x-kubernetes-group-version-kind': op.gvk ?? gvkExt(r),
        };
      }
      item['parameters'] = [
        ...pathParams(path).map((p) => ({ name: p.name, in: p.in, description: p.description, required: true, schema: { type: 'string', uniqueItems: true } })),
        { name: 'pretty', in: 'query', description: "If 'true', then the output is pretty printed.", schema: { type: 'string', uniqueItems: true } },
      ];
      paths[path] = item;
    }
  }
  const keep = reachable([...resources.map((r) => r.definition), ...(resources.some((r) => r.scale) ? [SCALE] : [])], all);
  const schemas = Object.fromEntries(Object.entries(all).filter(([n]) => keep.has(n)));
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: KUBERNETES_VERSION }, paths, components: { schemas } };
}

/** A document's hash as the real server puts it in serverRelativeURL (uppercase hex SHA-512). */
export const documentHash = (body: string): string => createHash('sha512').update(body).digest('hex').toUpperCase();

/** /openapi/v3: where each group version's document is, with the hash of its content. */
export function openApiV3Root(): { paths: Record<string, { serverRelativeURL: string }> } {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const gv of openApiV3GroupVersions()) {
    paths[gv] = { serverRelativeURL: `/openapi/v3/${gv}?hash=${documentHash(JSON.stringify(openApiV3(gv)))}` };
  }
  return { paths };
}
