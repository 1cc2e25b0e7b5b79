// Which lists a strategic merge patch merges, and by which key: the `patchStrategy:"merge"` and
// `patchMergeKey` struct tags of the Kubernetes API types, as data. A path is the dotted chain of
// field names from the object's root, list elements being transparent (`spec.containers.ports` is
// the ports of every container). A path absent from a kind's table is a list the patch replaces.
// `key` absent: a list of scalars merged as a set (finalizers). Maps always merge.

export interface ListStrategy {
  /** The field that identifies an element; absent for a list of scalars. */
  readonly key?: string;
}
export type MergeKeyTable = Readonly<Record<string, ListStrategy>>;

const byName: ListStrategy = { key: 'name' };
const byType: ListStrategy = { key: 'type' };
const scalars: ListStrategy = {};

function under(prefix: string, table: MergeKeyTable): Record<string, ListStrategy> {
  return Object.fromEntries(Object.entries(table).map(([p, s]) => [`${prefix}.${p}`, s]));
}

const objectMeta: MergeKeyTable = {
  'metadata.finalizers': scalars,
  'metadata.ownerReferences': { key: 'uid' },
};

const container: MergeKeyTable = {
  ports: { key: 'containerPort' },
  env: byName,
  volumeMounts: { key: 'mountPath' },
  volumeDevices: { key: 'devicePath' },
};

/** core/v1 PodSpec. */
const podSpec: MergeKeyTable = {
  ...under('containers', container),
  containers: byName,
  ...under('initContainers', container),
  initContainers: byName,
  ...under('ephemeralContainers', container),
  ephemeralContainers: byName,
  volumes: byName,
  imagePullSecrets: byName,
  hostAliases: { key: 'ip' },
  topologySpreadConstraints: { key: 'topologyKey' },
  schedulingGates: byName,
  resourceClaims: byName,
};

const podTemplate = (prefix: string): Record<string, ListStrategy> => ({
  ...under(`${prefix}.metadata`, { finalizers: scalars, ownerReferences: { key: 'uid' } }),
  ...under(`${prefix}.spec`, podSpec),
});

const conditions: MergeKeyTable = { 'status.conditions': byType };

/** Keyed by `apiVersion/kind` (`v1/Pod`, `apps/v1/Deployment`). */
export const MERGE_KEYS: Readonly<Record<string, MergeKeyTable>> = {
  'v1/Pod': {
    ...objectMeta,
    ...under('spec', podSpec),
    ...conditions,
    'status.podIPs': { key: 'ip' },
    'status.hostIPs': { key: 'ip' },
  },
  'v1/Service': { ...objectMeta, 'spec.ports': { key: 'port' }, ...conditions },
  'v1/Node': { ...objectMeta, 'spec.podCIDRs': scalars, ...conditions, 'status.addresses': byType },
  'v1/Namespace': { ...objectMeta, ...conditions },
  'v1/Endpoints': objectMeta,
  'v1/ReplicationController': { ...objectMeta, ...podTemplate('spec.template'), ...conditions },
  'v1/Secret': objectMeta,
  'v1/ConfigMap': objectMeta,
  'v1/Event': objectMeta,
  'v1/ServiceAccount': { ...objectMeta, secrets: byName },
  'v1/ComponentStatus': { ...objectMeta, conditions: byType },
  'apps/v1/Deployment': { ...objectMeta, ...podTemplate('spec.template'), ...conditions },
  'apps/v1/ReplicaSet': { ...objectMeta, ...podTemplate('spec.template'), ...conditions },
  'apps/v1/DaemonSet': { ...objectMeta, ...podTemplate('spec.template'), ...conditions },
  'batch/v1/Job': { ...objectMeta, ...podTemplate('spec.template'), ...conditions },
  'batch/v1/CronJob': {
    ...objectMeta,
    ...under('spec.jobTemplate.metadata', { finalizers: scalars, ownerReferences: { key: 'uid' } }),
    ...podTemplate('spec.jobTemplate.spec.template'),
  },
  // The older versions served as views of the current kinds: their lists merge as the current ones do.
  'apps/v1beta1/Deployment': { ...objectMeta, ...podTemplate('spec.template'), ...conditions },
  'extensions/v1beta1/Deployment': { ...objectMeta, ...podTemplate('spec.template'), ...conditions },
  'extensions/v1beta1/ReplicaSet': { ...objectMeta, ...podTemplate('spec.template'), ...conditions },
  'extensions/v1beta1/DaemonSet': { ...objectMeta, ...podTemplate('spec.template'), ...conditions },
  'extensions/v1beta1/NetworkPolicy': objectMeta,
  'extensions/v1beta1/Ingress': objectMeta,
  'batch/v1beta1/CronJob': {
    ...objectMeta,
    ...under('spec.jobTemplate.metadata', { finalizers: scalars, ownerReferences: { key: 'uid' } }),
    ...podTemplate('spec.jobTemplate.spec.template'),
  },
  'networking.k8s.io/v1/NetworkPolicy': objectMeta,
  'networking.k8s.io/v1/Ingress': objectMeta,
  'coordination.k8s.io/v1/Lease': objectMeta,
  'autoscaling/v1/Scale': objectMeta,
};

/** The table for a kind; an unknown kind merges only what every object has (metadata). */
export function mergeKeysFor(apiVersion: string, kind: string): MergeKeyTable {
  return MERGE_KEYS[`${apiVersion}/${kind}`] ?? objectMeta;
}
