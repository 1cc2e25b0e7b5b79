export type * from './types.js';
export { REGISTRY, keys, namespacedName } from './keys.js';
export { ObjectStore, ConflictError, type Stored, type Corrupt, type StoreWatchBatch } from './store.js';
