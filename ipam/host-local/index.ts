// host-local pod address allocation (containernetworking/plugins' host-local, compatible on disk):
// the config and its range sets (pure), the round-robin allocator over the IpStore interface
// (pure), and the disk store with its directory lock (the edge). The CNI plugin is cni/host-local.ts.
export {
  type JsonValue,
  type JsonObject,
  JsonSyntaxError,
  isJsonObject,
  parseJsonObject,
  jsonField,
  fieldPath,
  indexPath,
  optString,
  optBool,
  optInt,
  optObject,
  optArray,
  objectAt,
  stringAt,
} from './json.js';
export {
  type IpRange,
  type IpRangeSet,
  type RangeFields,
  canonicalizeRange,
  canonicalizeRangeSet,
  rangeContains,
  rangeSetContains,
  rangeFor,
  rangesOverlap,
  rangeSetsOverlap,
  formatRange,
  formatRangeSet,
} from './range.js';
export {
  type IpamConfig,
  type IpamRoute,
  type IpamDns,
  DEFAULT_DATA_DIR as DEFAULT_IPAM_DATA_DIR,
  parseIpamConfig,
  parseCniArgs,
  parseRoute,
  parseRoutes,
  parseResolvConf,
} from './config.js';
export { type Candidate, type IpamAllocation, Allocator, rangeIter } from './allocator.js';
export type { IpStore, LockedStore } from './store.js';
export { DiskStore, type DiskStoreOptions, LAST_IP_FILE_PREFIX, LINE_BREAK, LOCK_FILE, DEFAULT_LOCK_TIMEOUT_MS } from './disk-store.js';
export { type FileLock, lockFile } from './lock.js';
export {
  AddressesExhaustedError,
  IpUnavailableError,
  DuplicateAllocationError,
  NoReservationError,
  LockTimeoutError,
  StoreError,
  CniArgsError,
} from './errors.js';
