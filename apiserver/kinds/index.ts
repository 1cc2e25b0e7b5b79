// The per-kind strategies of the API server: pure (no I/O). The server (apiserver/) decodes a body, calls
// defaults, prepareForCreate/Update, validate/validateUpdate, stores the object, and prints tables with
// tableColumns/tableRow; field selectors read fieldValue.
export type { FieldError, FieldErrorType, KubeObject, ResourceDef, ScaleAccess, Strategy, TableCell, TableColumn } from './types.js';
export {
  aggregateMessage,
  errorBody,
  errorString,
  InvalidKindObjectError,
  type InvalidStatus,
  invalidMessage,
  invalidStatus,
  qualifiedKind,
  type StatusCause,
} from './field-errors.js';
export { isDns1035Label, isDns1123Label, isDns1123Subdomain, isQualifiedName, isValidLabelValue } from './names.js';
export { formatLabels, formatLabelSelector, humanDuration, labelSelectorString, since } from './humanize.js';
export { ALL_STRATEGIES, createKindRegistry, groupVersion, type KindRegistry, storageKey, storagePrefix } from './registry.js';
export { bindPod, podDisplayStatus, podStrategy } from './pod.js';
export { defaultPullPolicy } from './podspec.js';
export {
  componentStatusStrategy,
  configMapStrategy,
  endpointsStrategy,
  eventStrategy,
  NAMESPACE_NAME_LABEL,
  namespaceStrategy,
  nodeStrategy,
  secretStrategy,
  serviceAccountStrategy,
  serviceStrategy,
} from './core.js';
export { cronJobStrategy, cronScheduleError, daemonSetStrategy, deploymentStrategy, JOB_LABELS, jobStrategy, labelSelectorMatches, replicaSetStrategy, replicationControllerStrategy } from './workloads.js';
export { ingressStrategy, leaseStrategy, networkPolicyStrategy } from './networking.js';
export { clusterRoleBindingStrategy, clusterRoleStrategy, nameIsPathSegment, roleBindingStrategy, roleStrategy, selfSubjectAccessReviewStrategy, subjectAccessReviewStrategy } from './rbac.js';
export { AUTHENTICATION_GROUP, selfSubjectReviewStrategy, tokenReviewStrategy } from './authentication.js';
export { applyScale, scaleOf, validateScale } from './scale.js';
export { matchRequestNamespace, NAMESPACE_MISMATCH } from './meta.js';
