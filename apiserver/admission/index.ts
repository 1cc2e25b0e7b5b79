// Admission: the plugins a write passes after decoding and before storage, and the chain that runs them.
export { type AdmissionAttributes, type AdmissionPlugin, type AdmissionResource, type Operation, type WriteAdmission } from './types.js';
export { AdmissionChain, AdmissionConfigError, enabledPlugins, DEFAULT_ON, NO_ADMISSION, ORDERED_PLUGINS, type EnabledPlugins, type PluginName } from './chain.js';
export { namespaceLifecycle, type NamespaceCheck } from './namespace-lifecycle.js';
export { addDefaultTolerations, defaultTolerationSeconds, type DefaultTolerationSecondsOptions, NOT_READY_TAINT, UNREACHABLE_TAINT } from './default-toleration-seconds.js';
export { admissionName, aggregate, applyLimitRangeDefaults, LIMIT_RANGER_ANNOTATION, type LimitRangeLister, limitRanger, limitRangeViolations } from './limit-ranger.js';
export { checkQuota, podConstraints, type QuotaStore, recalculatedStatus, recalculateQuotas, resourceQuota, type ResourceQuotaOptions } from './resource-quota.js';
export { countName, kindOfQuotaResource, matchesScopes, podCounts, prettyUsage, sumUsage, type Usage, usageJson, usageOf } from './quota-usage.js';
export { forbiddenNodeLabels, modifiedLabels, nodeRestriction, type NodeRestrictionLookups } from './node-restriction.js';
export { apiAccessVolume, DEFAULT_SERVICE_ACCOUNT, mountApiAccess, PROJECTED_TOKEN_SECONDS, randomSuffix, ROOT_CA_CONFIGMAP, serviceAccountAdmission, TOKEN_MOUNT_PATH, type ServiceAccountGetter } from './service-account.js';
export { EmptyListCache } from './empty-lists.js';
