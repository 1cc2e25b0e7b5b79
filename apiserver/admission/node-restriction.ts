// NodeRestriction (plugin/pkg/admission/noderestriction): the writes the Node authorizer lets a kubelet make
// are kept to its own objects. A node creates only mirror pods bound to itself, owned by its Node and naming
// no secret, config map, claim or service account; deletes and evicts only its own pods; updates only its own
// pods' status (not their labels); creates and updates only its own Node (no configSource, no taint changes,
// no node-restriction.kubernetes.io/ or unknown kubernetes.io labels); touches only its own Lease in
// kube-node-lease; and asks tokens only for service accounts bound to its own pods. Users that are not nodes pass.
import { isObject } from '../../core/index.js';
import { NODE_LEASE_NAMESPACE, nodeIdentity, podReferences } from '../authz/index.js';
import { forbidden } from '../errors.js';
import type { Obj } from '../object.js';
import type { AdmissionAttributes, AdmissionPlugin } from './types.js';

/** How the plugin reads what it checks against (the apiserver's storage); undefined when absent. */
export interface NodeRestrictionLookups {
  node(name: string): Promise<Obj | undefined>;
  pod(namespace: string, name: string): Promise<Obj | undefined>;
}

const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';
const NODE_RESTRICTION_LABELS = 'node-restriction.kubernetes.io';

const obj = (o: unknown, k: string): Obj | undefined => (isObject(o) && isObject(o[k]) ? o[k] : undefined);
const str = (o: unknown, k: string): string => (isObject(o) && typeof o[k] === 'string' ? o[k] : '');
const strMap = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  if (isObject(v)) for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
};
const labelsOf = (o: unknown): Record<string, string> => strMap(obj(o, 'metadata')?.labels);

/** The labels a kubelet may set on its Node (kubelet/pkg/apis IsKubeletLabel). */
const KUBELET_LABELS = new Set([
  'kubernetes.io/hostname',
  'topology.kubernetes.io/zone',
  'topology.kubernetes.io/region',
  'failure-domain.beta.kubernetes.io/zone',
  'failure-domain.beta.kubernetes.io/region',
  'beta.kubernetes.io/instance-type',
  'node.kubernetes.io/instance-type',
  'kubernetes.io/os',
  'kubernetes.io/arch',
  'beta.kubernetes.io/os',
  'beta.kubernetes.io/arch',
]);
const KUBELET_LABEL_NAMESPACES = ['kubelet.kubernetes.io', 'node.kubernetes.io'];

const labelNamespace = (key: string): string => (key.includes('/') ? key.slice(0, key.indexOf('/')) : '');
const inNamespace = (ns: string, base: string): boolean => ns === base || ns.endsWith(`.${base}`);
const isKubeletLabel = (key: string): boolean => KUBELET_LABELS.has(key) || KUBELET_LABEL_NAMESPACES.some((n) => inNamespace(labelNamespace(key), n));
const isKubernetesLabel = (key: string): boolean => inNamespace(labelNamespace(key), 'kubernetes.io') || inNamespace(labelNamespace(key), 'k8s.io');

/** The keys whose value differs between the two label maps (added, removed or changed). */
export function modifiedLabels(a: Record<string, string>, b: Record<string, string>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => a[k] !== b[k]);
}

/** The labels of `modified` a node may not set: node-restriction ones, and kubernetes.io / k8s.io ones that are not the kubelet's. Sorted. */
export function forbiddenNodeLabels(modified: readonly string[]): string[] {
  return modified.filter((k) => inNamespace(labelNamespace(k), NODE_RESTRICTION_LABELS) || (isKubernetesLabel(k) && !isKubeletLabel(k))).sort();
}

/** Semantic equality as apimachinery's: an absent list or map equals an empty one. */
function semanticEqual(a: unknown, b: unknown): boolean {
  const empty = (v: unknown): boolean => v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);
  if (empty(a) && empty(b)) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => semanticEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].every((k) => semanticEqual(a[k], b[k]));
  }
  return a === b;
}

/** admission.NewForbidden: the request's name, else the object's (or its generateName), else Unknown. */
function refuse(a: AdmissionAttributes, why: string): never {
  const meta = obj(a.object, 'metadata');
  const name = a.name || str(meta, 'name') || str(meta, 'generateName') || 'Unknown';
  throw forbidden(a.resource.group, a.resource.resource, name, why);
}

export function nodeRestriction(lookups: NodeRestrictionLookups): AdmissionPlugin {
  return {
    name: 'NodeRestriction',
    operations: ['CREATE', 'UPDATE', 'DELETE'],
    // Kubernetes runs it in the mutating phase; the chain here has only a validating one on deletes.
    admit: (a) => (a.operation === 'DELETE' ? undefined : check(a)),
    validate: (a) => (a.operation === 'DELETE' ? check(a) : undefined),
  };

  async function check(a: AdmissionAttributes): Promise<void> {
    const id = nodeIdentity(a.user);
    if (!id.isNode) return;
    const node = id.nodeName;
    if (node === '') refuse(a, `could not determine node from user ${JSON.stringify(a.user.name)}`);
    const { group, resource } = a.resource;
    if (group === '' && resource === 'pods') {
      if (a.subresource === '') return admitPod(a, node, lookups);
      if (a.subresource === 'status') return admitPodStatus(a, node);
      if (a.subresource === 'eviction') return admitEviction(a, node, lookups);
      refuse(a, `unexpected pod subresource ${JSON.stringify(a.subresource)}, only 'status' and 'eviction' are allowed`);
    }
    if (group === '' && resource === 'nodes') return admitNode(a, node);
    if (group === '' && resource === 'persistentvolumeclaims') return admitClaim(a, node);
    if (group === '' && resource === 'serviceaccounts') return admitTokenRequest(a, node, lookups);
    if (group === 'coordination.k8s.io' && resource === 'leases') return admitLease(a, node);
  }
}

async function admitPod(a: AdmissionAttributes, node: string, lookups: NodeRestrictionLookups): Promise<void> {
  if (a.operation === 'DELETE') {
    const existing = a.oldObject ?? (await lookups.pod(a.namespace, a.name));
    if (existing && str(obj(existing, 'spec'), 'nodeName') !== node) refuse(a, `node ${JSON.stringify(node)} can only delete pods with spec.nodeName set to itself`);
    return;
  }
  if (a.operation !== 'CREATE') refuse(a, `unexpected operation ${JSON.stringify(a.operation)}, node ${JSON.stringify(node)} can only create and delete mirror pods`);
  const pod = a.object;
  const q = JSON.stringify(node);
  if (!(MIRROR_ANNOTATION in strMap(obj(pod, 'metadata')?.annotations))) refuse(a, `pod does not have "${MIRROR_ANNOTATION}" annotation, node ${q} can only create mirror pods`);
  if (str(obj(pod, 'spec'), 'nodeName') !== node) refuse(a, `node ${q} can only create pods with spec.nodeName set to itself`);
  const owners = (Array.isArray(obj(pod, 'metadata')?.ownerReferences) ? (obj(pod, 'metadata')!.ownerReferences as unknown[]) : []).filter(isObject);
  if (owners.length > 1) refuse(a, `node ${q} can only create pods with a single owner reference set to itself`);
  if (owners.length === 0) refuse(a, `node ${q} can only create pods with an owner reference set to itself`);
  const owner = owners[0]!;
  if (owner.apiVersion !== 'v1' || owner.kind !== 'Node' || owner.name !== node) refuse(a, `node ${q} can only create pods with an owner reference set to itself`);
  if (owner.controller !== true) refuse(a, `node ${q} can only create pods with a controller owner reference set to itself`);
  if (owner.blockOwnerDeletion === true) refuse(a, `node ${q} must not set blockOwnerDeletion on an owner reference`);
  const stored = await lookups.node(node);
  if (!stored) refuse(a, `error looking up node ${node} to verify uid: nodes ${q} not found`);
  const uid = str(obj(stored, 'metadata'), 'uid');
  if (str(owner, 'uid') !== uid) refuse(a, `node ${node} UID mismatch: expected ${str(owner, 'uid')} got ${uid}`);
  const refs = podReferences(pod);
  if (refs.serviceAccount !== '') refuse(a, `node ${q} can not create pods that reference a service account`);
  if (refs.secrets.length) refuse(a, `node ${q} can not create pods that reference secrets`);
  if (refs.configMaps.length) refuse(a, `node ${q} can not create pods that reference configmaps`);
  if (refs.claims.length) refuse(a, `node ${q} can not create pods that reference persistentvolumeclaims`);
}

function admitPodStatus(a: AdmissionAttributes, node: string): void {
  if (a.operation !== 'UPDATE') refuse(a, `unexpected operation ${JSON.stringify(a.operation)}`);
  if (str(obj(a.oldObject, 'spec'), 'nodeName') !== node) refuse(a, `node ${JSON.stringify(node)} can only update pod status for pods with spec.nodeName set to itself`);
  if (modifiedLabels(labelsOf(a.oldObject), labelsOf(a.object)).length) refuse(a, `node ${JSON.stringify(node)} cannot update labels through pod status`);
}

async function admitEviction(a: AdmissionAttributes, node: string, lookups: NodeRestrictionLookups): Promise<void> {
  if (a.operation !== 'CREATE') refuse(a, `unexpected operation ${a.operation}`);
  const podName = a.name || str(obj(a.object, 'metadata'), 'name');
  if (podName === '') refuse(a, 'could not determine pod from request data');
  const existing = await lookups.pod(a.namespace, podName);
  if (existing && str(obj(existing, 'spec'), 'nodeName') !== node) refuse(a, `node ${node} can only evict pods with spec.nodeName set to itself`);
}

function admitNode(a: AdmissionAttributes, node: string): void {
  const q = JSON.stringify(node);
  if (a.name !== node) refuse(a, `node ${q} is not allowed to modify node ${JSON.stringify(a.name)}`);
  const spec = obj(a.object, 'spec');
  if (a.operation === 'CREATE') {
    if (spec?.configSource !== undefined && spec.configSource !== null) refuse(a, `node ${q} is not allowed to create pods with a non-nil configSource`);
    const bad = forbiddenNodeLabels(modifiedLabels(labelsOf(a.object), {}));
    if (bad.length) refuse(a, `node ${q} is not allowed to set the following labels: ${bad.join(', ')}`);
  } else if (a.operation === 'UPDATE') {
    const old = obj(a.oldObject, 'spec');
    if (spec?.configSource !== undefined && spec.configSource !== null && !semanticEqual(spec.configSource, old?.configSource)) refuse(a, `node ${q} is not allowed to update configSource to a new non-nil configSource`);
    if (!semanticEqual(spec?.taints, old?.taints)) refuse(a, `node ${q} is not allowed to modify taints`);
    const bad = forbiddenNodeLabels(modifiedLabels(labelsOf(a.object), labelsOf(a.oldObject)));
    if (bad.length) refuse(a, `is not allowed to modify labels: ${bad.join(', ')}`);
  }
}

function admitClaim(a: AdmissionAttributes, node: string): void {
  if (a.subresource !== 'status') refuse(a, 'may only update PVC status');
  if (a.operation !== 'UPDATE') refuse(a, `unexpected operation ${JSON.stringify(a.operation)}`);
  const strip = (o: unknown): Obj => {
    const c = structuredClone(isObject(o) ? o : {});
    if (isObject(c.metadata)) {
      delete c.metadata.resourceVersion;
      delete c.metadata.managedFields;
    }
    if (isObject(c.status)) {
      delete c.status.capacity;
      delete c.status.conditions;
    }
    return c;
  };
  if (!semanticEqual(strip(a.oldObject), strip(a.object))) refuse(a, `node ${JSON.stringify(node)} is not allowed to update fields other than status.capacity and status.conditions`);
}

async function admitTokenRequest(a: AdmissionAttributes, node: string, lookups: NodeRestrictionLookups): Promise<void> {
  if (a.operation !== 'CREATE' || a.subresource !== 'token') return;
  const ref = obj(obj(a.object, 'spec'), 'boundObjectRef');
  if (!ref || ref.apiVersion !== 'v1' || ref.kind !== 'Pod' || str(ref, 'name') === '') refuse(a, 'node requested token not bound to a pod');
  if (str(ref, 'uid') === '') refuse(a, 'node requested token with a pod binding without a uid');
  const pod = await lookups.pod(a.namespace, str(ref, 'name'));
  if (!pod) refuse(a, `pods ${JSON.stringify(str(ref, 'name'))} not found`);
  if (str(ref, 'uid') !== str(obj(pod, 'metadata'), 'uid')) {
    refuse(a, `the UID in the bound object reference (${str(ref, 'uid')}) does not match the UID in record. The object might have been deleted and then recreated`);
  }
  if (str(obj(pod, 'spec'), 'nodeName') !== node) refuse(a, 'node requested token bound to a pod scheduled on a different node');
}

function admitLease(a: AdmissionAttributes, node: string): void {
  if (a.namespace !== NODE_LEASE_NAMESPACE) refuse(a, `can only access leases in the ${JSON.stringify(NODE_LEASE_NAMESPACE)} system namespace`);
  const name = a.operation === 'CREATE' ? str(obj(a.object, 'metadata'), 'name') : a.name;
  if (name !== node) refuse(a, 'can only access node lease with the same name as the requesting node');
}
