export type { BackendContext, BackendFactory, ExternalInterface, Network } from './types.js';
export { BackendRegistry } from './registry.js';
export { allocBackend } from './alloc.js';
export {
  type KernelState,
  type KernelOp,
  emptyKernelState,
  addRoute,
  addNeigh,
  addFdb,
  diffKernelState,
  describeOp,
  applyOps,
} from './kernel-state.js';
export { segmentOf, isPeerRoute, removeForeignDevices, watchDrift } from './routes.js';
