// The garbage collector: dependents (ownerReferences) go with their owners; foreground and orphaning deletions.
export {
  FINALIZER_ORPHAN,
  FINALIZER_FOREGROUND,
  type OwnerReference,
  type GraphNode,
  type OwnerState,
  type Action,
  ownerRefsOf,
  graphNodeOf,
  ownerState,
  decide,
  blockingDependents,
  removeOwnersPatch,
  removeFinalizerPatch,
} from './logic.js';
export { GarbageCollector, type GarbageCollectorOptions } from './controller.js';
