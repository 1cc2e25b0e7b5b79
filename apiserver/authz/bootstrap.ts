// The ClusterRoles and ClusterRoleBindings Kubernetes ships (plugin/pkg/auth/authorizer/rbac/bootstrappolicy),
// for the resources this project serves and the daemons it runs; created by the apiserver at start when absent.
// admin, edit and view are aggregated from system:aggregate-to-{admin,edit,view}, as in Kubernetes.
import { isObject } from '../../core/index.js';
import { uncoveredRules } from './escalation.js';
import { type PolicyRule, ruleJson, ruleOf } from './rules.js';

const RBAC = 'rbac.authorization.k8s.io';
const READ = ['get', 'list', 'watch'];
const WRITE = ['create', 'delete', 'deletecollection', 'patch', 'update'];
const READ_WRITE = [...READ, ...WRITE];

const r = (verbs: string[], groups: string[], resources: string[], names: string[] = []): PolicyRule => ({ verbs, apiGroups: groups, resources, resourceNames: names, nonResourceURLs: [] });
const urls = (verbs: string[], nonResourceURLs: string[]): PolicyRule => ({ verbs, apiGroups: [], resources: [], resourceNames: [], nonResourceURLs });
const events = (): PolicyRule => r(['create', 'patch', 'update'], ['', 'events.k8s.io'], ['events']);

export const AGGREGATE_TO = (role: 'admin' | 'edit' | 'view'): string => `${RBAC}/aggregate-to-${role}`;

/** kube-system service account → the rules of its system:controller:<name> role. */
const CONTROLLER_ROLES: readonly { sa: string; rules: PolicyRule[] }[] = [
  { sa: 'service-account-controller', rules: [r(['create'], [''], ['serviceaccounts']), events()] },
  { sa: 'root-ca-cert-publisher', rules: [r(['create', 'update'], [''], ['configmaps']), events()] },
  {
    sa: 'replication-controller',
    rules: [r(['get', 'list', 'watch', 'update'], [''], ['replicationcontrollers']), r(['update'], [''], ['replicationcontrollers/status', 'replicationcontrollers/finalizers']), r(['list', 'watch', 'patch', 'create', 'delete'], [''], ['pods']), events()],
  },
  {
    sa: 'replicaset-controller',
    rules: [r(['get', 'list', 'watch', 'update'], ['apps', 'extensions'], ['replicasets']), r(['update'], ['apps', 'extensions'], ['replicasets/status', 'replicasets/finalizers']), r(['list', 'watch', 'patch', 'create', 'delete'], [''], ['pods']), events()],
  },
  {
    sa: 'deployment-controller',
    rules: [
      r(['get', 'list', 'watch', 'update'], ['apps', 'extensions'], ['deployments']),
      r(['update'], ['apps', 'extensions'], ['deployments/status', 'deployments/finalizers']),
      r(['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], ['apps', 'extensions'], ['replicasets']),
      r(['get', 'list', 'watch', 'update'], [''], ['pods']),
      events(),
    ],
  },
  {
    sa: 'job-controller',
    rules: [r(['get', 'list', 'watch', 'update', 'patch'], ['batch'], ['jobs']), r(['update'], ['batch'], ['jobs/status', 'jobs/finalizers']), r(['list', 'watch', 'create', 'delete', 'patch'], [''], ['pods']), events()],
  },
  {
    sa: 'cronjob-controller',
    rules: [
      r(['get', 'list', 'watch', 'update'], ['batch'], ['cronjobs']),
      r(['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], ['batch'], ['jobs']),
      r(['update'], ['batch'], ['cronjobs/status', 'cronjobs/finalizers']),
      r(['delete', 'list'], [''], ['pods']),
      events(),
    ],
  },
  {
    sa: 'daemon-set-controller',
    rules: [
      r(['get', 'list', 'watch'], ['apps', 'extensions'], ['daemonsets']),
      r(['update'], ['apps', 'extensions'], ['daemonsets/status', 'daemonsets/finalizers']),
      r(['list', 'watch'], [''], ['nodes']),
      r(['list', 'watch', 'create', 'delete', 'patch'], [''], ['pods']),
      r(['create'], [''], ['pods/binding']),
      events(),
    ],
  },
  {
    sa: 'endpoint-controller',
    rules: [r(READ, [''], ['pods', 'services']), r(['create', 'delete', 'get', 'list', 'update'], [''], ['endpoints']), r(['create'], [''], ['endpoints/restricted']), events()],
  },
  { sa: 'generic-garbage-collector', rules: [r(['delete', 'get', 'list', 'patch', 'update', 'watch'], ['*'], ['*'])] },
  {
    sa: 'node-controller',
    rules: [r(['delete', 'get', 'list', 'patch', 'update'], [''], ['nodes']), r(['patch', 'update'], [''], ['nodes/status']), r(['patch', 'update'], [''], ['pods/status']), r(['delete', 'list'], [''], ['pods']), events()],
  },
  { sa: 'service-controller', rules: [r(READ, [''], ['services', 'nodes', 'endpoints']), r(['patch', 'update'], [''], ['services/status']), events()] },
  { sa: 'pod-garbage-collector', rules: [r(['delete', 'list', 'watch'], [''], ['pods']), r(['get', 'list'], [''], ['nodes']), r(['patch'], [''], ['pods/status'])] },
];

interface RoleSpec {
  readonly name: string;
  readonly rules?: readonly PolicyRule[];
  readonly labels?: Record<string, string>;
  /** The labels of the ClusterRoles it aggregates. */
  readonly aggregate?: readonly Record<string, string>[];
}

const NODE_RULES: PolicyRule[] = [
  r(['create'], ['authentication.k8s.io'], ['tokenreviews']),
  r(['create'], ['authorization.k8s.io'], ['localsubjectaccessreviews', 'subjectaccessreviews']),
  r(READ, [''], ['services']),
  r(['create', 'get', 'list', 'watch'], [''], ['nodes']),
  r(['patch', 'update'], [''], ['nodes/status']),
  r(['patch', 'update'], [''], ['nodes']),
  events(),
  r(READ, [''], ['pods']),
  r(['create', 'delete'], [''], ['pods']),
  r(['patch', 'update'], [''], ['pods/status']),
  r(['create'], [''], ['pods/eviction']),
  r(READ, [''], ['configmaps', 'secrets']),
  r(['get'], [''], ['persistentvolumeclaims', 'persistentvolumes']),
  r(['get'], [''], ['endpoints']),
  r(['create', 'get', 'list', 'watch'], ['certificates.k8s.io'], ['certificatesigningrequests']),
  r(['create', 'delete', 'get', 'patch', 'update'], ['coordination.k8s.io'], ['leases']),
  r(['create'], [''], ['serviceaccounts/token']),
];

/** The system:node ClusterRole's rules, which the Node authorizer also grants every node (its static rules). */
export const nodeRules = (): readonly PolicyRule[] => NODE_RULES;

const ROLES: readonly RoleSpec[] = [
  { name: 'cluster-admin', rules: [r(['*'], ['*'], ['*']), urls(['*'], ['*'])] },
  { name: 'system:discovery', rules: [urls(['get'], ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'])] },
  { name: 'system:monitoring', rules: [urls(['get'], ['/healthz', '/healthz/*', '/livez', '/livez/*', '/metrics', '/metrics/slis', '/readyz', '/readyz/*'])] },
  { name: 'system:basic-user', rules: [r(['create'], ['authorization.k8s.io'], ['selfsubjectaccessreviews', 'selfsubjectrulesreviews']), r(['create'], ['authentication.k8s.io'], ['selfsubjectreviews'])] },
  { name: 'system:auth-delegator', rules: [r(['create'], ['authentication.k8s.io'], ['tokenreviews']), r(['create'], ['authorization.k8s.io'], ['subjectaccessreviews'])] },
  { name: 'system:public-info-viewer', rules: [urls(['get'], ['/healthz', '/livez', '/readyz', '/version', '/version/'])] },
  { name: 'admin', aggregate: [{ [AGGREGATE_TO('admin')]: 'true' }] },
  { name: 'edit', labels: { [AGGREGATE_TO('admin')]: 'true' }, aggregate: [{ [AGGREGATE_TO('edit')]: 'true' }] },
  { name: 'view', labels: { [AGGREGATE_TO('edit')]: 'true' }, aggregate: [{ [AGGREGATE_TO('view')]: 'true' }] },
  {
    name: 'system:aggregate-to-admin',
    labels: { [AGGREGATE_TO('admin')]: 'true' },
    rules: [r(['create'], ['authorization.k8s.io'], ['localsubjectaccessreviews']), r(READ_WRITE, [RBAC], ['rolebindings', 'roles'])],
  },
  {
    name: 'system:aggregate-to-edit',
    labels: { [AGGREGATE_TO('edit')]: 'true' },
    rules: [
      r(READ, [''], ['pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy', 'secrets', 'services/proxy']),
      r(['impersonate'], [''], ['serviceaccounts']),
      r(WRITE, [''], ['pods', 'pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy']),
      r(['create'], [''], ['pods/eviction']),
      r(WRITE, [''], ['configmaps', 'events', 'persistentvolumeclaims', 'replicationcontrollers', 'replicationcontrollers/scale', 'secrets', 'serviceaccounts', 'services', 'services/proxy']),
      r(['create'], [''], ['serviceaccounts/token']),
      r(WRITE, ['apps'], ['daemonsets', 'deployments', 'deployments/rollback', 'deployments/scale', 'replicasets', 'replicasets/scale', 'statefulsets', 'statefulsets/scale']),
      r(WRITE, ['autoscaling'], ['horizontalpodautoscalers']),
      r(WRITE, ['batch'], ['cronjobs', 'jobs']),
      r(WRITE, ['extensions'], ['daemonsets', 'deployments', 'deployments/rollback', 'deployments/scale', 'ingresses', 'networkpolicies', 'replicasets', 'replicasets/scale', 'replicationcontrollers/scale']),
      r(WRITE, ['policy'], ['poddisruptionbudgets']),
      r(WRITE, ['networking.k8s.io'], ['ingresses', 'networkpolicies']),
      r(READ_WRITE, ['coordination.k8s.io'], ['leases']),
    ],
  },
  {
    name: 'system:aggregate-to-view',
    labels: { [AGGREGATE_TO('view')]: 'true' },
    rules: [
      r(READ, [''], ['configmaps', 'endpoints', 'persistentvolumeclaims', 'persistentvolumeclaims/status', 'pods', 'replicationcontrollers', 'replicationcontrollers/scale', 'serviceaccounts', 'services', 'services/status']),
      r(READ, [''], ['bindings', 'events', 'limitranges', 'namespaces/status', 'pods/log', 'pods/status', 'replicationcontrollers/status', 'resourcequotas', 'resourcequotas/status']),
      r(READ, [''], ['namespaces']),
      r(READ, ['discovery.k8s.io'], ['endpointslices']),
      r(READ, ['apps'], ['controllerrevisions', 'daemonsets', 'daemonsets/status', 'deployments', 'deployments/scale', 'deployments/status', 'replicasets', 'replicasets/scale', 'replicasets/status', 'statefulsets', 'statefulsets/scale', 'statefulsets/status']),
      r(READ, ['autoscaling'], ['horizontalpodautoscalers', 'horizontalpodautoscalers/status']),
      r(READ, ['batch'], ['cronjobs', 'cronjobs/status', 'jobs', 'jobs/status']),
      r(READ, ['extensions'], ['daemonsets', 'daemonsets/status', 'deployments', 'deployments/scale', 'deployments/status', 'ingresses', 'ingresses/status', 'networkpolicies', 'replicasets', 'replicasets/scale', 'replicasets/status', 'replicationcontrollers/scale']),
      r(READ, ['policy'], ['poddisruptionbudgets', 'poddisruptionbudgets/status']),
      r(READ, ['networking.k8s.io'], ['ingresses', 'ingresses/status', 'networkpolicies']),
    ],
  },
  { name: 'system:node', rules: NODE_RULES },
  // Full use of the kubelets' API (bound to the apiserver's --kubelet-client-certificate user by the cluster's installer).
  { name: 'system:kubelet-api-admin', rules: [r(READ, [''], ['nodes']), r(['proxy'], [''], ['nodes']), r(['*'], [''], ['nodes/proxy', 'nodes/metrics', 'nodes/stats', 'nodes/log'])] },
  { name: 'system:node-proxier', rules: [r(['list', 'watch'], [''], ['endpoints', 'services']), r(READ, [''], ['nodes']), events(), r(['list', 'watch'], ['discovery.k8s.io'], ['endpointslices'])] },
  {
    name: 'system:kube-scheduler',
    rules: [
      events(),
      r(['create'], ['coordination.k8s.io'], ['leases']),
      r(['get', 'list', 'update', 'watch'], ['coordination.k8s.io'], ['leases'], ['kube-scheduler']),
      r(READ, [''], ['nodes']),
      r(['delete', 'get', 'list', 'watch'], [''], ['pods']),
      r(['create'], [''], ['bindings', 'pods/binding']),
      r(['patch', 'update'], [''], ['pods/status']),
      r(READ, [''], ['replicationcontrollers', 'services']),
      r(READ, ['apps', 'extensions'], ['replicasets']),
      r(READ, ['apps'], ['statefulsets']),
      r(READ, ['policy'], ['poddisruptionbudgets']),
      r(READ, [''], ['persistentvolumeclaims', 'persistentvolumes']),
      r(['create'], ['authentication.k8s.io'], ['tokenreviews']),
      r(['create'], ['authorization.k8s.io'], ['subjectaccessreviews']),
      r(READ, [''], ['namespaces']),
    ],
  },
  {
    name: 'system:kube-controller-manager',
    rules: [
      events(),
      r(['create'], ['coordination.k8s.io'], ['leases']),
      r(['get', 'update'], ['coordination.k8s.io'], ['leases'], ['kube-controller-manager']),
      r(['create'], [''], ['secrets', 'serviceaccounts']),
      r(['delete'], [''], ['secrets']),
      r(['get'], [''], ['configmaps', 'namespaces', 'secrets', 'serviceaccounts']),
      r(['update'], [''], ['secrets', 'serviceaccounts']),
      r(['create'], ['authentication.k8s.io'], ['tokenreviews']),
      r(['create'], ['authorization.k8s.io'], ['subjectaccessreviews']),
      r(['list', 'watch'], ['*'], ['*']),
      r(['create'], [''], ['serviceaccounts/token']),
    ],
  },
  { name: 'system:kube-dns', rules: [r(['list', 'watch'], [''], ['endpoints', 'services'])] },
  // The controllers' own roles (bootstrappolicy's controller roles), for a controller manager that runs
  // each controller as its service account in kube-system.
  ...CONTROLLER_ROLES.map(({ sa, rules }) => ({ name: `system:controller:${sa}`, rules })),
];

type Subject = { kind: 'User' | 'Group' | 'ServiceAccount'; name: string; namespace?: string };
const BINDINGS: readonly { name: string; role?: string; subjects: Subject[] }[] = [
  { name: 'cluster-admin', subjects: [{ kind: 'Group', name: 'system:masters' }] },
  { name: 'system:monitoring', subjects: [{ kind: 'Group', name: 'system:monitoring' }] },
  { name: 'system:discovery', subjects: [{ kind: 'Group', name: 'system:authenticated' }] },
  { name: 'system:basic-user', subjects: [{ kind: 'Group', name: 'system:authenticated' }] },
  { name: 'system:public-info-viewer', subjects: [{ kind: 'Group', name: 'system:authenticated' }, { kind: 'Group', name: 'system:unauthenticated' }] },
  { name: 'system:node-proxier', subjects: [{ kind: 'User', name: 'system:kube-proxy' }] },
  { name: 'system:kube-controller-manager', subjects: [{ kind: 'User', name: 'system:kube-controller-manager' }] },
  { name: 'system:kube-dns', subjects: [{ kind: 'ServiceAccount', name: 'kube-dns', namespace: 'kube-system' }] },
  { name: 'system:kube-scheduler', subjects: [{ kind: 'User', name: 'system:kube-scheduler' }] },
  ...CONTROLLER_ROLES.map(({ sa }) => ({ name: `system:controller:${sa}`, subjects: [{ kind: 'ServiceAccount' as const, name: sa, namespace: 'kube-system' }] })),
  // Kept with no subjects, as Kubernetes has it since the Node authorizer: nodes get their rights from that.
  { name: 'system:node', subjects: [] },
  // This project's: its kube-controller-manager runs every controller with its own credentials (there is no
  // --use-service-account-credentials), which Kubernetes says must then hold the controllers' roles.
  ...CONTROLLER_ROLES.map(({ sa }) => ({ name: `system:kube-controller-manager:${sa}`, role: `system:controller:${sa}`, subjects: [{ kind: 'User' as const, name: 'system:kube-controller-manager' }] })),
];

/**
 * The Roles Kubernetes ships in kube-system for leader election, and this project's one for kube-proxy's: the
 * elected endpoints maintainer's Lease (kube-system/kube-proxy-endpoints), by name except the create (whose name
 * RBAC cannot see).
 */
const NAMESPACED_ROLES: readonly (RoleSpec & { namespace: string; subjects: Subject[] })[] = [
  // Kubernetes' leader-locking Roles, for the controller manager and the scheduler run as service accounts.
  {
    name: 'system::leader-locking-kube-controller-manager',
    namespace: 'kube-system',
    rules: [r(['watch'], [''], ['configmaps']), r(['get', 'update'], [''], ['configmaps'], ['kube-controller-manager'])],
    subjects: [{ kind: 'ServiceAccount', name: 'kube-controller-manager', namespace: 'kube-system' }],
  },
  {
    name: 'system::leader-locking-kube-scheduler',
    namespace: 'kube-system',
    rules: [r(['watch'], [''], ['configmaps']), r(['get', 'update'], [''], ['configmaps'], ['kube-scheduler'])],
    subjects: [{ kind: 'ServiceAccount', name: 'kube-scheduler', namespace: 'kube-system' }],
  },
];

/** The bootstrap Roles (in their namespaces). */
export function bootstrapRoles(): Record<string, unknown>[] {
  return NAMESPACED_ROLES.map((s) => ({
    apiVersion: `${RBAC}/v1`,
    kind: 'Role',
    metadata: { name: s.name, namespace: s.namespace, labels: { ...BOOTSTRAP_LABELS }, annotations: { ...AUTOUPDATE } },
    rules: (s.rules ?? []).map(ruleJson),
  }));
}

/** The bootstrap RoleBindings, each to the Role of its name in its namespace. */
export function bootstrapRoleBindings(): Record<string, unknown>[] {
  return NAMESPACED_ROLES.map((s) => ({
    apiVersion: `${RBAC}/v1`,
    kind: 'RoleBinding',
    metadata: { name: s.name, namespace: s.namespace, labels: { ...BOOTSTRAP_LABELS }, annotations: { ...AUTOUPDATE } },
    roleRef: { apiGroup: RBAC, kind: 'Role', name: s.name },
    subjects: s.subjects.map(subjectJson),
  }));
}

const subjectJson = (s: Subject): Record<string, string> => (s.kind === 'ServiceAccount' ? { kind: s.kind, name: s.name, namespace: s.namespace! } : { apiGroup: RBAC, kind: s.kind, name: s.name });

const BOOTSTRAP_LABELS = { 'kubernetes.io/bootstrapping': 'rbac-defaults' };
const AUTOUPDATE = { 'rbac.authorization.kubernetes.io/autoupdate': 'true' };

/** The bootstrap ClusterRoles as API objects (rbac.authorization.k8s.io/v1). */
export function bootstrapClusterRoles(): Record<string, unknown>[] {
  return ROLES.map((s) => ({
    apiVersion: `${RBAC}/v1`,
    kind: 'ClusterRole',
    metadata: { name: s.name, labels: { ...BOOTSTRAP_LABELS, ...s.labels }, annotations: { ...AUTOUPDATE } },
    ...(s.aggregate && { aggregationRule: { clusterRoleSelectors: s.aggregate.map((matchLabels) => ({ matchLabels })) } }),
    rules: (s.rules ?? []).map(ruleJson),
  }));
}

/** The bootstrap ClusterRoleBindings, each to the ClusterRole of its name. */
export function bootstrapClusterRoleBindings(): Record<string, unknown>[] {
  return BINDINGS.map((b) => ({
    apiVersion: `${RBAC}/v1`,
    kind: 'ClusterRoleBinding',
    metadata: { name: b.name, labels: { ...BOOTSTRAP_LABELS }, annotations: { ...AUTOUPDATE } },
    roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: b.role ?? b.name },
    ...(b.subjects.length && { subjects: b.subjects.map(subjectJson) }),
  }));
}

type Json = Record<string, unknown>;
const objs = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isObject) : []);
const strMap = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  if (isObject(v)) for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
};

/** Whether the stored object lets the apiserver reconcile it (kube-apiserver skips one annotated autoupdate=false). */
const metaOf = (o: Json): Json => (isObject(o.metadata) ? o.metadata : {});
const autoupdate = (stored: Json): boolean => strMap(metaOf(stored).annotations)['rbac.authorization.kubernetes.io/autoupdate'] !== 'false';

/** The stored metadata with the shipped labels and annotations it lacks; undefined when it lacks none. */
function mergedMeta(stored: Json, want: Json): Json | undefined {
  const m = metaOf(stored);
  const w = metaOf(want);
  const labels = { ...strMap(m.labels), ...strMap(w.labels) };
  const annotations = { ...strMap(w.annotations), ...strMap(m.annotations) };
  const same = JSON.stringify(labels) === JSON.stringify(strMap(m.labels)) && JSON.stringify(annotations) === JSON.stringify(strMap(m.annotations));
  return same ? undefined : { ...m, labels, annotations };
}

/**
 * Bootstrap reconciliation of a ClusterRole that exists (reconciliation.ReconcileRole, additive): the shipped
 * rules it does not cover are added, and its labels and annotations completed; undefined when nothing is missing
 * or it is annotated `rbac.authorization.kubernetes.io/autoupdate: "false"`. An aggregated role's rules are the
 * aggregation's business, not this.
 */
export function reconcileClusterRole(stored: Json, bootstrap: Json): Json | undefined {
  if (!autoupdate(stored) || isObject(bootstrap.aggregationRule)) return undefined;
  const have = objs(stored.rules).map(ruleOf);
  const missing = objs(bootstrap.rules).map(ruleOf).filter((r) => uncoveredRules(have, [r]).length > 0);
  const meta = mergedMeta(stored, bootstrap);
  if (missing.length === 0 && !meta) return undefined;
  return { ...stored, metadata: meta ?? metaOf(stored), rules: [...objs(stored.rules), ...missing.map(ruleJson)] };
}

/** The same for a ClusterRoleBinding: the shipped subjects it lacks are added (its roleRef is immutable and kept). */
export function reconcileClusterRoleBinding(stored: Json, bootstrap: Json): Json | undefined {
  if (!autoupdate(stored)) return undefined;
  const have = objs(stored.subjects);
  const key = (x: Json): string => `${String(x.kind)}/${String(x.namespace ?? '')}/${String(x.name)}`;
  const missing = objs(bootstrap.subjects).filter((w) => !have.some((h) => key(h) === key(w)));
  const meta = mergedMeta(stored, bootstrap);
  if (missing.length === 0 && !meta) return undefined;
  return { ...stored, metadata: meta ?? metaOf(stored), subjects: [...have, ...missing] };
}
