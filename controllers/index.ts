// kube-controller-manager: the replication manager (ReplicationController, ReplicaSet) and the deployment controller over the API, leader-elected on a Lease.
export {
  type OwnerKind,
  type Owner,
  type OwnerRef,
  type PodView,
  type Claim,
  type ReplicaStatus,
  OWNER_API_VERSION,
  BURST_REPLICAS,
  EXPECTATIONS_TTL_MS,
  ownerOf,
  podOf,
  isActive,
  controllerRefOf,
  ownerRefOf,
  claimPods,
  matchesOwner,
  adoptPatch,
  releasePatch,
  podFromTemplate,
  podsToDelete,
  replicaDiff,
  statusOf,
  statusChanged,
  slowStartBatch,
  Expectations,
  createdMessage,
  deletedMessage,
} from './replication/index.js';
export { ReplicationManager, OWNER_PREFIX, type ReplicationManagerDeps } from './replication/index.js';
export { WorkQueue } from './queue.js';
export { DEFAULT_ACCOUNT, defaultAccountToCreate, namespaceActive, PerNamespaceController, ROOT_CA_CONFIGMAP, ROOT_CA_DESCRIPTION, rootCaAction, rootCaPolicy, serviceAccountPolicy, type PerNamespaceDeps, type PerNamespacePolicy, type RootCaAction } from './serviceaccounts/index.js';
export { ControllerManager, type ControllerManagerConfig } from './manager.js';
export { addControllerManagerOptions, controllerManagerOptions, controllersOf, ControllersFlagError, KNOWN_CONTROLLERS, VERSION, type ControllerName, type ControllerManagerOptions } from './options.js';
export * from './deployment/index.js';
export * as job from './job/index.js';
export * as cronjob from './cronjob/index.js';
export * as daemonset from './daemonset/index.js';
export { type QueueController, type ControllerContext } from './controller.js';
export * from './endpoints/index.js';
export * from './nodelifecycle/index.js';
export * from './gc/index.js';
export { type ControllerDeps, type RunnableController, rfc3339, recordEvent } from './runtime.js';
export { desiredIngress, endpointNodes, isOurs as isServiceLbService, sameIngress, ServiceLbController, type LbIngress } from './servicelb/index.js';
