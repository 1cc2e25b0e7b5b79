// The rollout arithmetic of Kubernetes' deployment controller, pure: maxSurge and maxUnavailable
// resolved against the replica count (surge rounds up, unavailable down, never both 0), how far the
// new ReplicaSet may grow, how far the old ones may shrink (unhealthy replicas first, then down to the
// minimum available), the proportional split of a scaling event across the active ReplicaSets, and
// Recreate's order. Each plan is the list of scalings to apply, in order; the controller writes them.
import { activeOf, availableReplicas, byCreation, bySizeNewer, bySizeOlder, type Deployment, type IntOrString, type ReplicaSet, specReplicas } from './model.js';
import { DESIRED_REPLICAS, MAX_REPLICAS } from './revision.js';

export class IntOrPercentError extends Error {
  constructor(readonly value: IntOrString) {
    super(`invalid value for IntOrString: invalid value ${JSON.stringify(value)}: a number or a percentage ("25%") is expected`);
  }
}

/** Pure: GetScaledValueFromIntOrPercent: an int as is, a percentage of `total` rounded up or down. */
export function scaledValue(v: IntOrString, total: number, roundUp: boolean): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (!m) throw new IntOrPercentError(v);
  const x = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(x) : Math.floor(x);
}

/** Pure: ResolveFenceposts: [maxSurge, maxUnavailable] for `desired` replicas; both 0 makes unavailable 1. */
export function resolveFenceposts(maxSurge: IntOrString, maxUnavailable: IntOrString, desired: number): [number, number] {
  const surge = scaledValue(maxSurge, desired, true);
  let unavailable = scaledValue(maxUnavailable, desired, false);
  // Rounding down may make both 0; then one pod may be unavailable, as surge may be blocked by quota.
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return [surge, unavailable];
}

export const maxSurge = (d: Deployment): number => (d.strategy !== 'RollingUpdate' ? 0 : resolveFenceposts(d.maxSurge, d.maxUnavailable, d.replicas)[0]);

export function maxUnavailable(d: Deployment): number {
  if (d.strategy !== 'RollingUpdate' || d.replicas === 0) return 0;
  return Math.min(d.replicas, resolveFenceposts(d.maxSurge, d.maxUnavailable, d.replicas)[1]);
}

/** Pure: NewRSNewReplicas: the size the new ReplicaSet may have now. */
export function newRSNewReplicas(d: Deployment, all: readonly ReplicaSet[], newRS: ReplicaSet): number {
  if (d.strategy === 'Recreate') return d.replicas;
  const surge = scaledValue(d.maxSurge, d.replicas, true);
  const current = specReplicas(all);
  const maxTotal = d.replicas + surge;
  if (current >= maxTotal) return newRS.replicas;
  return newRS.replicas + Math.min(maxTotal - current, d.replicas - newRS.replicas);
}

/** Pure: IsSaturated: the new ReplicaSet holds all the replicas, believes so, and all are available. */
export function isSaturated(d: Deployment, rs: ReplicaSet | undefined): boolean {
  if (!rs) return false;
  const desired = rs.annotations[DESIRED_REPLICAS];
  if (desired === undefined || !/^-?\d+$/.test(desired)) return false;
  return rs.replicas === d.replicas && Number(desired) === d.replicas && rs.status.availableReplicas === d.replicas;
}

/** Pure: FindActiveOrLatest: the only active ReplicaSet, or the newest when none is active; undefined when several are. */
export function findActiveOrLatest(newRS: ReplicaSet | undefined, oldRSs: readonly ReplicaSet[]): ReplicaSet | undefined {
  if (!newRS && oldRSs.length === 0) return undefined;
  const olds = [...oldRSs].sort(byCreation).reverse();
  const active = activeOf([...olds, newRS]);
  if (active.length === 0) return newRS ?? olds[0];
  if (active.length === 1) return active[0];
  return undefined;
}

export interface Scaling {
  readonly rs: ReplicaSet;
  readonly to: number;
  /** Only an explicit 'up'/'down' (the proportional path) writes the annotations when the size stays. */
  readonly operation?: 'up' | 'down';
}

/** Pure: GetProportion (and getReplicaSetFraction): this ReplicaSet's share of the replicas to add (or remove). */
export function proportion(rs: ReplicaSet, d: Deployment, toAdd: number, added: number): number {
  if (rs.replicas === 0 || toAdd === 0 || toAdd === added) return 0;
  let fraction: number;
  if (d.replicas === 0) fraction = -rs.replicas;
  else {
    const deploymentReplicas = d.replicas + maxSurge(d);
    const ann = rs.annotations[MAX_REPLICAS];
    // Without the annotation, the deployment's current size (an estimate; the min/max below keep it in bounds).
    const annotated = ann !== undefined && /^\d+$/.test(ann) ? Number(ann) : (d.status.replicas ?? 0);
    const size = (rs.replicas * deploymentReplicas) / annotated;
    // integer.RoundToInt32: half away from zero.
    fraction = (size < 0 ? -Math.round(-size) : Math.round(size)) - rs.replicas;
  }
  const allowed = toAdd - added;
  return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
}

/**
 * Pure: the `scale` step of a scaling event or a paused deployment: the one active (or newest)
 * ReplicaSet to the full count; else, with the new one saturated, the old ones to 0; else, for a
 * rolling deployment, the replicas to add or remove spread across the active ReplicaSets in proportion
 * to their size (leftovers to the largest).
 */
export function scalePlan(d: Deployment, newRS: ReplicaSet | undefined, oldRSs: readonly ReplicaSet[]): Scaling[] {
  const one = findActiveOrLatest(newRS, oldRSs);
  if (one) return one.replicas === d.replicas ? [] : [{ rs: one, to: d.replicas }];
  if (isSaturated(d, newRS)) return activeOf(oldRSs).map((rs) => ({ rs, to: 0 }));
  if (d.strategy !== 'RollingUpdate') return [];
  const all = activeOf([...oldRSs, newRS]);
  const allowed = d.replicas > 0 ? d.replicas + maxSurge(d) : 0;
  const toAdd = allowed - specReplicas(all);
  let operation: 'up' | 'down' | undefined;
  if (toAdd > 0) {
    all.sort(bySizeNewer);
    operation = 'up';
  } else if (toAdd < 0) {
    all.sort(bySizeOlder);
    operation = 'down';
  }
  let added = 0;
  const sizes = all.map((rs) => {
    if (toAdd === 0) return rs.replicas;
    const p = proportion(rs, d, toAdd, added);
    added += p;
    return rs.replicas + p;
  });
  if (all.length && toAdd !== 0) sizes[0] = Math.max(0, sizes[0]! + toAdd - added);
  return all.map((rs, i) => ({ rs, to: sizes[i]!, ...(operation && { operation }) }));
}

/** Pure: reconcileNewReplicaSet: the new ReplicaSet's next size in a rolling update, when it changes. */
export function reconcileNewPlan(d: Deployment, all: readonly ReplicaSet[], newRS: ReplicaSet): Scaling[] {
  if (newRS.replicas === d.replicas) return [];
  if (newRS.replicas > d.replicas) return [{ rs: newRS, to: d.replicas }];
  const to = newRSNewReplicas(d, all, newRS);
  return to === newRS.replicas ? [] : [{ rs: newRS, to }];
}

/**
 * Pure: reconcileOldReplicaSets: how far the old ReplicaSets shrink now. At most
 * all − minAvailable − (new replicas not yet available); unhealthy replicas of the old ones go first
 * (oldest ReplicaSet first), then available ones while more than the minimum are available. A
 * ReplicaSet may appear twice (cleaned, then scaled down further), as Kubernetes writes it twice.
 */
export function reconcileOldPlan(d: Deployment, all: readonly ReplicaSet[], activeOld: readonly ReplicaSet[], newRS: ReplicaSet): Scaling[] {
  if (specReplicas(activeOld) === 0) return [];
  const minAvailable = d.replicas - maxUnavailable(d);
  const newUnavailable = newRS.replicas - newRS.status.availableReplicas;
  const maxScaledDown = specReplicas(all) - minAvailable - newUnavailable;
  if (maxScaledDown <= 0) return [];
  const out: Scaling[] = [];
  // cleanupUnhealthyReplicas
  const olds = [...activeOld].sort(byCreation);
  const size = new Map(olds.map((r) => [r.uid, r.replicas]));
  let cleaned = 0;
  for (const rs of olds) {
    if (cleaned >= maxScaledDown) break;
    const cur = size.get(rs.uid)!;
    if (cur === 0 || cur === rs.status.availableReplicas) continue;
    const n = Math.min(maxScaledDown - cleaned, cur - rs.status.availableReplicas);
    if (n <= 0) continue;
    size.set(rs.uid, cur - n);
    out.push({ rs, to: cur - n });
    cleaned += n;
  }
  // scaleDownOldReplicaSetsForRollingUpdate, over the old ones as cleaned and the new one
  const available = availableReplicas([...olds, newRS]);
  if (available > minAvailable) {
    const total = available - minAvailable;
    let scaled = 0;
    for (const rs of olds) {
      if (scaled >= total) break;
      const cur = size.get(rs.uid)!;
      if (cur === 0) continue;
      const n = Math.min(cur, total - scaled);
      size.set(rs.uid, cur - n);
      out.push({ rs, to: cur - n });
      scaled += n;
    }
  }
  return out;
}

/** Pure: scaleDownOldReplicaSetsForRecreate: every active old ReplicaSet to 0. */
export const recreateDownPlan = (activeOld: readonly ReplicaSet[]): Scaling[] => activeOld.map((rs) => ({ rs, to: 0 }));

/** A pod as oldPodsRunning reads it. */
export interface PodPhase {
  readonly ownerUid: string;
  readonly phase: string;
}

/** Pure: oldPodsRunning: an old ReplicaSet still has pods, or a pod of one has not finished. */
export function oldPodsRunning(newRS: ReplicaSet | undefined, oldRSs: readonly ReplicaSet[], pods: readonly PodPhase[]): boolean {
  if (oldRSs.some((r) => r.status.replicas > 0)) return true;
  return pods.some((p) => (!newRS || p.ownerUid !== newRS.uid) && p.phase !== 'Succeeded' && p.phase !== 'Failed');
}

/** Pure: the desired and max replicas a ReplicaSet of `d` carries in its annotations (SetReplicasAnnotations). */
export const replicasAnnotations = (d: Deployment): Record<string, string> => ({ [DESIRED_REPLICAS]: String(d.replicas), [MAX_REPLICAS]: String(d.replicas + maxSurge(d)) });

/** Pure: isScalingEvent: an active ReplicaSet was told another desired count than the deployment's. */
export function isScalingEvent(d: Deployment, all: readonly (ReplicaSet | undefined)[]): boolean {
  return activeOf(all).some((rs) => {
    const v = rs.annotations[DESIRED_REPLICAS];
    return v !== undefined && /^-?\d+$/.test(v) && Number(v) !== d.replicas;
  });
}
