export { FlannelError, isTransient, errorMessage } from './errors.js';
export { createLogger, silentLogger, type Logger } from './log.js';
export { AsyncQueue } from './queue.js';
export {
  addEtcdOptions,
  createEtcdClient,
  DEFAULT_ETCD_ENDPOINTS,
  type EndpointFailure,
  etcdClientFromFlags,
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
  type Family,
  type IpAddr,
  type Cidr,
  AddressError,
  parseIp,
  isIp,
  formatIp,
  canonicalIp,
  parseCidr,
  parseCidrOrIp,
  formatCidr,
  ipToBytes,
  ipFromBytes,
  hostMask,
  blockSize,
  networkOf,
  hasHostBits,
  addIp,
  contains,
  overlaps,
  ipEqual,
  cidrEqual,
  familyBits,
} from './net.js';
export { writeFileAtomic } from './fs.js';
export {
  type JsonValue,
  type JsonObject,
  type JsonReaders,
  type FieldErrorFactory,
  isObject,
  isJsonObject,
  jsonField,
  jsonKey,
  jsonReaders,
  fieldPath,
  indexPath,
} from './json.js';
export { parseDuration, DurationError } from './duration.js';
export { withTimeout, mapLimit } from './async.js';
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
