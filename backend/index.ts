export type { BackendContext, BackendFactory, ExternalInterface, LeaseChanges, Network } from './types.js';
export { BackendRegistry } from './registry.js';
export { allocBackend } from './alloc.js';
export {
  type KernelState,
  type MutableKernelState,
  type NeighEntry,
  type KernelOp,
  type ConvergeResult,
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
export { segmentOf, isPeerRoute, removeForeignDevices, watchDrift } from './routes.js';
