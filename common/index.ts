// core/ (errors, addresses, JSON readers, files, durations) comes through here too, so a daemon has one import.
export * from '../core/index.js';
export { createLogger, silentLogger, type Logger } from './log.js';
export { AsyncQueue } from './queue.js';
export {
  addEtcdOptions,
  createEtcdClient,
  DEFAULT_ETCD_ENDPOINTS,
  type EndpointFailure,
  etcdClientFromFlags,
  etcdOptionsFromFlags,
  EtcdError,
  EtcdFaults,
  etcdFlagValues,
  type EtcdFlagValues,
  type EtcdOptions,
  EtcdUnavailableError,
  HostBreaker,
} from './etcd.js';
export { sleep, Backoff } from './backoff.js';
export { SyncRunner, type SyncRunnerOptions } from './runner.js';
export { watchPrefix, listPrefix, type PrefixWatchBatch } from './etcd-watch.js';
export { listenHttp } from './http.js';
export { followPrefix, PrefixCache, type PrefixSource, type PrefixBatch, type PrefixEvent, type PrefixHandlers, type PrefixCorrupt, type FollowOptions } from './prefix-cache.js';
export {
  type FlagKind,
  type FlagSpec,
  type FlagTable,
  type GoFlagResult,
  FlagSyntaxError,
  flagTableOf,
  parseGoBool,
  parseGoFlags,
  normalizePflagArgs,
} from './cli-flags.js';
export { readEtcdV2Key, type V2Lookup } from './etcd-v2.js';
export { serveSecureHealthz, selfSignedPair, HealthzError, type SecureHealthzOptions } from './secure-healthz.js';
export { EtcdGateway, GatewayCallError, NoGatewayError, prefixRangeEnd, type KvPair, type GatewayWatchResponse } from './etcd-gateway.js';
export { watchPrefixViaGateway } from './etcd-gateway-watch.js';
