// The service proxy: ClusterIPs and node ports, load-balanced across ready pods in nftables.
export type { Protocol, ServiceName, ServicePortKey, ServicePortInfo, EndpointInfo } from './types.js';
export { ObjectSpecError, NftError, AllocationError } from './types.js';
export { parseService, parseEndpoints, portKey, endpointPortId, endpointId, ipToNum, numToIp, type EndpointsByPort, DEFAULT_AFFINITY_TIMEOUT } from './model.js';
export { ChangeTracker } from './tracker.js';
export { assignSlots } from './slots.js';
export {
  FAMILY,
  TABLE,
  SET,
  BASE_CHAINS,
  baseChains,
  chainDef,
  pickChainName,
  parsePickChain,
  renderFullSync,
  renderPartialSync,
  renderCleanup,
  setDecl,
  nftFamily,
  type IpFamilyNum,
  type RulesetConfig,
  type ChainDef,
} from './ruleset.js';
export { ProxyState, type SyncPlan, type ConntrackFlush } from './state.js';
export { Proxier, FULL_SYNC_PERIOD_MS, type ProxierOptions, type ProxierDeps } from './proxier.js';
export { GenerationTracker, type ForeignChanges, type GenerationSource } from './changes.js';
export { NftCli, type NftPort, contextLines, failingLine } from './nft.js';
export { ConntrackCli, ConntrackError, type ConntrackPort, conntrackArgs } from './conntrack.js';
export { computeEndpoints, sameEndpoints } from './endpoints.js';
export { EndpointsController } from './endpoints-controller.js';
export { LeaderElection, type LeaderFence, type FencedWriter, etcdFencedWriter, electionLease, holderOf, ETCD_LEASE_ANNOTATION } from './election.js';
export { LeaseElection, microTime } from './lease-election.js';
export {
  ServiceAllocator,
  RangeReconciler,
  planRanges,
  pickFree,
  allocationNeeds,
  parseServiceRange,
  parsePortRange,
  type IpRange,
  type PortRange,
} from './allocator.js';
export { proxyKeys, parseRangeOwner, type RangeOwner } from './keys.js';
export { ProxyServer, type ProxyServerOptions } from './server.js';
export { HealthCheckServers, healthCheckResponse, type HealthCheckTarget } from './healthcheck.js';
export { ProxyMetrics } from './metrics.js';
export { cidrList } from './model.js';
