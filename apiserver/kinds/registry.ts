// Every kind the API serves, by (group, resource) and by (group, kind), in one explicit table (no import-time
// registration).
import { selfSubjectReviewStrategy, tokenReviewStrategy } from './authentication.js';
import { componentStatusStrategy, configMapStrategy, endpointsStrategy, eventStrategy, namespaceStrategy, nodeStrategy, secretStrategy, serviceAccountStrategy, serviceStrategy } from './core.js';
import { ingressStrategy, leaseStrategy, networkPolicyStrategy } from './networking.js';
import { podStrategy } from './pod.js';
import { limitRangeStrategy, resourceQuotaStrategy } from './policy.js';
import { clusterRoleBindingStrategy, clusterRoleStrategy, localSubjectAccessReviewStrategy, roleBindingStrategy, roleStrategy, selfSubjectAccessReviewStrategy, selfSubjectRulesReviewStrategy, subjectAccessReviewStrategy } from './rbac.js';
import type { ResourceDef, Strategy } from './types.js';
import { cronJobStrategy, daemonSetStrategy, deploymentStrategy, jobStrategy, replicaSetStrategy, replicationControllerStrategy } from './workloads.js';

export const ALL_STRATEGIES: readonly Strategy[] = [
  namespaceStrategy,
  nodeStrategy,
  podStrategy,
  serviceStrategy,
  endpointsStrategy,
  replicationControllerStrategy,
  secretStrategy,
  configMapStrategy,
  eventStrategy,
  serviceAccountStrategy,
  limitRangeStrategy,
  resourceQuotaStrategy,
  componentStatusStrategy,
  deploymentStrategy,
  replicaSetStrategy,
  daemonSetStrategy,
  jobStrategy,
  cronJobStrategy,
  networkPolicyStrategy,
  ingressStrategy,
  leaseStrategy,
  clusterRoleBindingStrategy,
  clusterRoleStrategy,
  roleBindingStrategy,
  roleStrategy,
  selfSubjectReviewStrategy,
  tokenReviewStrategy,
  localSubjectAccessReviewStrategy,
  selfSubjectAccessReviewStrategy,
  selfSubjectRulesReviewStrategy,
  subjectAccessReviewStrategy,
];

export interface KindRegistry {
  all(): readonly Strategy[];
  byResource(group: string, resource: string): Strategy | undefined;
  byKind(group: string, kind: string): Strategy | undefined;
  /** A resource as kubectl may name it: plural, singular or short name (`po`, `pod`, `pods`), any group. */
  lookup(name: string): Strategy[];
  /** The group/versions served, `v1` first, then `apps/v1`, ... in the order of the table. */
  groupVersions(): string[];
}

export const groupVersion = (d: ResourceDef): string => (d.group ? `${d.group}/${d.version}` : d.version);

export function createKindRegistry(strategies: readonly Strategy[] = ALL_STRATEGIES): KindRegistry {
  const byRes = new Map<string, Strategy>();
  const byKind = new Map<string, Strategy>();
  for (const s of strategies) {
    byRes.set(`${s.def.group}/${s.def.resource}`, s);
    byKind.set(`${s.def.group}/${s.def.kind}`, s);
  }
  return {
    all: () => strategies,
    byResource: (group, resource) => byRes.get(`${group}/${resource}`),
    byKind: (group, kind) => byKind.get(`${group}/${kind}`),
    lookup: (name) => {
      const n = name.toLowerCase();
      return strategies.filter((s) => s.def.resource === n || s.def.singular === n || s.def.shortNames.includes(n));
    },
    groupVersions: () => [...new Set(strategies.map((s) => groupVersion(s.def)))],
  };
}

/** The etcd key of an object of this kind (`/registry/minions/n1`, `/registry/pods/default/web`). */
export function storageKey(d: ResourceDef, prefix: string, namespace: string, name: string): string {
  return d.namespaced ? `${prefix}/${d.storage}/${namespace}/${name}` : `${prefix}/${d.storage}/${name}`;
}
/** The key prefix of a list: every namespace, or one. */
export function storagePrefix(d: ResourceDef, prefix: string, namespace?: string): string {
  return d.namespaced && namespace ? `${prefix}/${d.storage}/${namespace}/` : `${prefix}/${d.storage}/`;
}
