export type * from './types.js';
export { REGISTRY, keys, namespacedName } from './keys.js';
export { ObjectStore, ConflictError, decodeObject, decodeValue, prefixSource, type ClusterStore, type ListOptions, type DeleteOptions, type Stored, type Corrupt, type StoreWatchBatch, type TxnCondition, type TxnWrite } from './store.js';
export {
  InvalidObjectError,
  type Parser,
  type Schema,
  parserOf,
  object,
  list,
  mapOf,
  opt,
  orNull,
  either,
  oneOf,
  str,
  num,
  bool,
  anyObject,
  isJsonObject,
  parsePodObject,
  parseServiceObject,
  parseEndpointsObject,
  parseNodeObject,
  parseSecretObject,
  parseConfigMapObject,
  parseJsonObject,
} from './parse.js';
export {
  type Operator,
  type Requirement,
  type LabelSelector,
  type LabelSelectorObject,
  type LabelSelectorRequirementObject,
  type FieldRequirement,
  LabelSelectorError,
  FieldSelectorError,
  newRequirement,
  parseLabelSelector,
  selectorFromSet,
  labelSelectorAsSelector,
  requirementMatches,
  matchesLabels,
  formatLabelSelector,
  qualifiedNameErrors,
  labelValueErrors,
  dns1123SubdomainErrors,
  parseFieldSelector,
  checkFieldSelector,
  matchesFields,
  escapeFieldValue,
  formatFieldSelector,
} from './labels.js';
export { KubeconfigError, type KubeconfigTarget, type Material, type ApiConnection, parseKubeconfig, loadKubeconfig, loadTarget, parseServerList } from './kubeconfig.js';
export { ApiClient, ApiStatusError, ApiUnreachableError, type WatchEvent, type RequestOptions, type ApiClientOptions, isStatus, queryString, statusOf } from './api-client.js';
export { API_RESOURCES, type ApiResource, type ApiTarget, UnmappedKeyError, apiTargetOf, apiPathOf, keyOfApiObject } from './api-paths.js';
export { ApiStore, type ApiStoreOptions } from './api-store.js';
export { FlagConflictError, FlagValueError, type ApiFlags, type OpenedStore, apiFlagsOf, openApiStore, openClusterStore } from './connect.js';
export { apiEventSink, CorrelatingEventRecorder, eventObject, involvedOf, storeEventSink, type EventRecorder, type EventSink, type EventSource, type EventType, type Involved } from './events.js';
export { InClusterError, type InClusterConfig, NOT_IN_CLUSTER, SERVICE_ACCOUNT_DIR, inClusterServer, loadInClusterConfig } from './in-cluster.js';
