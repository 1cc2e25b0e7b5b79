// The deployment controller: its pure decisions (hashing, rollout arithmetic, revisions, status) and its loop.
export { POD_TEMPLATE_HASH, computeHash, canonicalJson, equalIgnoreHash, fnv32a, safeEncodeString } from './hash.js';
export { type Deployment, type ReplicaSet, type IntOrString, type Condition, type DeploymentStatus, deploymentOf, replicaSetOf } from './model.js';
export {
  IntOrPercentError,
  type Scaling,
  type PodPhase,
  scaledValue,
  resolveFenceposts,
  maxSurge,
  maxUnavailable,
  newRSNewReplicas,
  isSaturated,
  findActiveOrLatest,
  proportion,
  scalePlan,
  reconcileNewPlan,
  reconcileOldPlan,
  recreateDownPlan,
  oldPodsRunning,
  isScalingEvent,
  replicasAnnotations,
} from './rollout.js';
export { REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, CHANGE_CAUSE, revisionOf, maxRevision, newReplicaSetAnnotations, historyToDelete } from './revision.js';
export {
  PROGRESSING,
  AVAILABLE,
  REASON,
  timeOf,
  newCondition,
  conditionOf,
  setCondition,
  calculateStatus,
  rolloutStatus,
  deploymentComplete,
  deploymentProgressing,
  deploymentTimedOut,
  progressCheckAfter,
  pausedStatus,
  sameStatus,
  compactStatus,
} from './status.js';
export { DeploymentController, DEPLOYMENT_PREFIX, REPLICASET_PREFIX, type DeploymentControllerDeps } from './controller.js';
