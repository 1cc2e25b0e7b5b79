export {
  type Family,
  type IpAddr,
  type Cidr,
  AddressError,
  parseIp,
  isIp,
  formatIp,
  parseCidr,
  formatCidr,
  networkOf,
  contains,
  overlaps,
  addIp,
  blockSize,
  cidrEqual,
  ipEqual,
  familyBits,
} from './net.js';
export {
  type NetworkConfig,
  type FamilyNetwork,
  ConfigError,
  DEFAULT_BACKEND,
  parseNetworkConfig,
  renderNetworkConfig,
  configFamilies,
} from './config.js';
export {
  type Lease,
  type LeaseAttrs,
  CorruptLeaseError,
  parseLease,
  renderLeaseAttrs,
  subnetKeyName,
  leaseKeyName,
  parseSubnetKeyName,
  sameSubnets,
  describeLease,
} from './lease.js';
export { freeSubnets, pickFreeSubnet, subnetFitsConfig } from './allocate.js';
export type { SubnetRegistry, RegistryEvent, LeaseSnapshot, WatchBatch, RenewResult } from './registry.js';
export { EtcdRegistry, RegistryError, DEFAULT_ETCD_PREFIX } from './etcd-registry.js';
export { LeaseWatcher, type LeaseEvent, type WatchOutcome } from './lease-watcher.js';
export {
  LeaseManager,
  type AcquiredLease,
  type LeaseManagerOptions,
  OutOfSubnetsError,
  LeaseConflictError,
  DEFAULT_LEASE_TTL_SEC,
  DEFAULT_RENEW_MARGIN_SEC,
} from './lease-manager.js';
export {
  type SubnetEnv,
  subnetEnvFor,
  renderSubnetEnv,
  parseEnvFile,
  previousSubnets,
  readPreviousSubnets,
  writeFileAtomic,
} from './subnet-env.js';
