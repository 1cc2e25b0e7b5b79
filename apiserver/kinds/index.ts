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
export { invalid as invalidField, notSupported as notSupportedField } from './field-errors.js';
export { isDns1035Label, isDns1123Label, isDns1123Subdomain, isQualifiedName, isValidLabelValue } from './names.js';
export { formatLabels, formatLabelSelector, humanDuration, labelSelectorString, since } from './humanize.js';
export { ALL_STRATEGIES, createKindRegistry, groupVersion, type KindRegistry, storageKey, storagePrefix } from './registry.js';
export { bindPod, podDisplayStatus, podStrategy } from './pod.js';
export { defaultPullPolicy, qosClass } from './podspec.js';
export {
  componentStatusStrategy,
  configMapStrategy,
  endpointsStrategy,
  eventStrategy,
  NAMESPACE_NAME_LABEL,
  namespaceStrategy,
  needsHealthCheck,
  nodeStrategy,
  secretStrategy,
  serviceAccountStrategy,
  serviceStrategy,
} from './core.js';
export { cronJobStrategy, cronScheduleError, daemonSetStrategy, deploymentStrategy, JOB_LABELS, jobStrategy, labelSelectorMatches, replicaSetStrategy, replicationControllerStrategy } from './workloads.js';
export { ingressStrategy, leaseStrategy, networkPolicyStrategy } from './networking.js';
export { clusterRoleBindingStrategy, clusterRoleStrategy, nameIsPathSegment, localSubjectAccessReviewStrategy, roleBindingStrategy, roleStrategy, selfSubjectAccessReviewStrategy, selfSubjectRulesReviewStrategy, subjectAccessReviewStrategy } from './rbac.js';
export { LIMIT_TYPES, limitRangeStrategy, QUOTA_SCOPES, quotaColumns, resourceQuotaStrategy } from './policy.js';
export { add as addQuantity, cmp as cmpQuantity, count as countQuantity, formatQuantity, maxOf as maxQuantity, milli as milliOf, parseQuantity as parseExactQuantity, type Quantity, type QuantityFormat, resourceList, sub as subQuantity, zero as zeroQuantity } from './quantity.js';
export { AUTHENTICATION_GROUP, selfSubjectReviewStrategy, tokenReviewStrategy } from './authentication.js';
export { applyScale, scaleOf, validateScale } from './scale.js';
export { matchRequestNamespace, NAMESPACE_MISMATCH } from './meta.js';
