export type { BackendContext, BackendFactory, ExternalInterface, FamilyAddrs, LeaseChanges, Network, SkippedPeer } from './types.js';
export { BackendRegistry } from './registry.js';
export { allocBackend } from './alloc.js';
export {
  type KernelState,
  type MutableKernelState,
  type NeighEntry,
  type KernelOp,
  type ConvergeResult,
  type ConvergerOptions,
  Converger,
  emptyKernelState,
  addRoute,
  addNeigh,
  addFdb,
  routeKeyOf,
  neighKeyOf,
  fdbKeyOf,
  diffKernelState,
  describeOp,
  applyOps,
} from './kernel-state.js';
export { segmentOf, isPeerRoute, ownedRoutes, ensureSoleAddress, removeForeignDevices, watchDrift } from './routes.js';
export { type DesiredState, type FamilySync, type RouteFamily, RouteNetwork, SkippedPeerLog } from './route-network.js';
export { leaseSubnet, leasePublicIP, leaseBackendData, familyAttrs, publishedIPs } from './family.js';
