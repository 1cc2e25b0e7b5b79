// The older group versions kube-apiserver no longer serves and the seeds' manifests still use, each a
// converted view of its current kind's stored objects (see types.ts). Pure.
import { appsV1beta1Deployment, extensionsV1beta1Deployment } from './deployment.js';
import { extensionsV1beta1Ingress } from './ingress.js';
import { batchV1beta1CronJob, extensionsV1beta1DaemonSet, extensionsV1beta1NetworkPolicy, extensionsV1beta1ReplicaSet } from './same-shape.js';
import type { VersionView } from './types.js';

export type { VersionView } from './types.js';
export { appsV1beta1Deployment, extensionsV1beta1Deployment, ROLLBACK_TO_ANNOTATION } from './deployment.js';
export { backendToV1, backendToV1beta1, extensionsV1beta1Ingress } from './ingress.js';
export { batchV1beta1CronJob, extensionsV1beta1DaemonSet, extensionsV1beta1NetworkPolicy, extensionsV1beta1ReplicaSet, TEMPLATE_GENERATION_ANNOTATION } from './same-shape.js';

/**
 * Every old version served, in discovery's order: extensions comes last among the groups, so that kubectl,
 * which takes the first group that has a resource, reads `deployments` and `ingresses` in their current groups.
 */
export const OLD_VERSIONS: readonly VersionView[] = [
  appsV1beta1Deployment,
  batchV1beta1CronJob,
  extensionsV1beta1Deployment,
  extensionsV1beta1ReplicaSet,
  extensionsV1beta1DaemonSet,
  extensionsV1beta1NetworkPolicy,
  extensionsV1beta1Ingress,
];
