// Which garbage-collection finalizers a DELETE leaves on an object, as kube-apiserver's generic store
// decides (deletionFinalizersForGarbageCollection): the request's propagationPolicy (or the older
// orphanDependents), else a finalizer the object already carries, else the kind's default. Most kinds
// default to Background (no finalizer; the garbage collector deletes the dependents once the owner is
// gone); the versions that predate garbage collection keep orphaning for compatibility: v1
// ReplicationControllers, batch/v1 Jobs, batch/v1beta1 CronJobs, and the extensions/v1beta1,
// apps/v1beta1 and apps/v1beta2 workloads. Pure.
import type { ResourceDef } from './kinds/index.js';

export type PropagationPolicy = 'Orphan' | 'Background' | 'Foreground';
export const PROPAGATION_POLICIES: readonly PropagationPolicy[] = ['Foreground', 'Background', 'Orphan'];
export const FINALIZER_ORPHAN = 'orphan';
export const FINALIZER_FOREGROUND = 'foregroundDeletion';

const ORPHAN_BY_DEFAULT = new Set([
  '/v1/replicationcontrollers',
  'batch/v1/jobs',
  'batch/v1beta1/cronjobs',
  ...['replicasets', 'deployments', 'daemonsets', 'statefulsets'].flatMap((r) => [`extensions/v1beta1/${r}`, `apps/v1beta1/${r}`, `apps/v1beta2/${r}`]),
]);

/** The kind's DefaultGarbageCollectionPolicy in the version served. */
export function defaultPolicy(def: Pick<ResourceDef, 'group' | 'version' | 'resource'>): PropagationPolicy {
  return ORPHAN_BY_DEFAULT.has(`${def.group}/${def.version}/${def.resource}`) ? 'Orphan' : 'Background';
}

export interface GcDeleteOptions {
  readonly propagationPolicy?: PropagationPolicy;
  readonly orphanDependents?: boolean;
}

/** The object's finalizers after the DELETE: `orphan`/`foregroundDeletion` taken out, then put back as the policy says. */
export function deletionFinalizers(finalizers: readonly string[], o: GcDeleteOptions, def: Pick<ResourceDef, 'group' | 'version' | 'resource'>): string[] {
  let orphan: boolean;
  let foreground: boolean;
  if (o.orphanDependents !== undefined) {
    orphan = o.orphanDependents;
    foreground = false;
  } else if (o.propagationPolicy !== undefined) {
    orphan = o.propagationPolicy === 'Orphan';
    foreground = o.propagationPolicy === 'Foreground';
  } else if (finalizers.includes(FINALIZER_ORPHAN) || finalizers.includes(FINALIZER_FOREGROUND)) {
    orphan = finalizers.includes(FINALIZER_ORPHAN);
    foreground = !orphan && finalizers.includes(FINALIZER_FOREGROUND);
  } else {
    orphan = defaultPolicy(def) === 'Orphan';
    foreground = false;
  }
  const rest = finalizers.filter((f) => f !== FINALIZER_ORPHAN && f !== FINALIZER_FOREGROUND);
  return [...rest, ...(orphan ? [FINALIZER_ORPHAN] : []), ...(foreground ? [FINALIZER_FOREGROUND] : [])];
}
