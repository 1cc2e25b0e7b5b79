export type { BackendContext, BackendFactory, ExternalInterface, Network } from './types.js';
export { BackendRegistry } from './registry.js';
export { allocBackend } from './alloc.js';
