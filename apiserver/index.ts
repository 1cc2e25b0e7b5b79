// kube-apiserver: the Kubernetes API over etcd.
export { ApiError, type Status, type StatusCause, type StatusDetails, type FieldError, invalid, notFound, alreadyExists, conflict, badRequest, unauthorized, forbidden } from './errors.js';
export { parseRequest, queryBool, type RequestInfo, type ResourceRequest, type NonResourceRequest, type Verb } from './request.js';
export { parseSelectors, selectorsMatch } from './selectors.js';
export { apiVersions, apiGroupList, apiGroupDoc, apiResourceList, servedGroupVersions, versionInfo, KUBE_VERSION } from './discovery.js';
export { ALL_STRATEGIES, createKindRegistry, type KindRegistry, type Strategy, type ResourceDef } from './kinds/index.js';
export { componentStatus, componentStatuses, probeError, PROBED_COMPONENTS } from './components.js';
export { definitionOf, duplicateFields, strictDecodingErrors } from './openapi/index.js';
export { buildTable, humanDuration, age, GENERIC_TABLE, strategyTable, type TableDef, type TableColumn, type IncludeObject } from './table.js';
export { Storage, type StorageOptions, type ListOptions, type ListResult, type WatchEvent, type Selectors, encodeContinue, decodeContinue, nameSuffix, rfc3339 } from './storage.js';
export { ServiceAllocation, firstServiceIp, type Reservation } from './services.js';
export { Authenticator, parseTokenFile, parseCsvLine, certUser, TokenFileError, type UserInfo, type AuthResult } from './auth.js';
export { ensureCa, ensureSigned, ensureServing, ensureAdminClient, ensureUserClient, servingSans, writeKubeconfig, writeUserKubeconfig, CertError, type KeyPair } from './certs.js';
export { ApiHandler, wantsTable, parseBody, MAX_BODY, fieldValidationOf, nextBookmarkAt, warningHeader, type FieldValidation, type HandlerOptions } from './server.js';
export { applyMergePatch } from './patch/index.js';
export { runApiServer, startApiServer, ApiServerConfigError, SYSTEM_NAMESPACES, type RunningApiServer } from './daemon.js';
export { addApiServerOptions, apiServerOptions, type ApiServerOptions, VERSION } from './options.js';
export type { Obj } from './object.js';
