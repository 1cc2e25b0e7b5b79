// Node lifecycle (heartbeats, conditions, taints, the taint manager's evictions), node IPAM and the
// pod garbage collector's orphan sweep.
export {
  TAINT_NOT_READY,
  TAINT_UNREACHABLE,
  TAINT_UNSCHEDULABLE,
  type Taint,
  type Toleration,
  type NodeHealth,
  type ZoneState,
  type RateConfig,
  taintsOf,
  tolerationsOf,
  readyOf,
  observeHealth,
  staleConditions,
  noExecuteTaintFor,
  noScheduleTaintsFor,
  nextTaints,
  zoneOf,
  zoneState,
  zoneRates,
  RateLimiter,
  tolerates,
  tolerationTimeMs,
  podNotReadyConditions,
} from './logic.js';
export { CidrAllocator } from './ipam.js';
export { NodeLifecycleController, NODE_LEASE_PREFIX, type NodeLifecycleOptions } from './controller.js';
export { NodeIpamController, type NodeIpamOptions } from './ipam-controller.js';
export { PodGcController, orphanedPods, type PodGcOptions } from './podgc.js';
