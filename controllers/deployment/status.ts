// A Deployment's status and conditions, pure, at a given time: the counts over its ReplicaSets,
// Available (MinimumReplicasAvailable / MinimumReplicasUnavailable), Progressing (NewReplicaSetCreated,
// FoundNewReplicaSet, ReplicaSetUpdated, NewReplicaSetAvailable, ProgressDeadlineExceeded,
// DeploymentPaused / DeploymentResumed), and when to look again for a deadline, as Kubernetes' sync.go
// and progress.go decide them. Times are RFC 3339 to the second, as metav1.Time writes them.
import { canonicalJson } from './hash.js';
import { actualReplicas, availableReplicas, type Condition, type Deployment, type DeploymentStatus, readyReplicas, type ReplicaSet, specReplicas } from './model.js';
import { maxUnavailable } from './rollout.js';

export const PROGRESSING = 'Progressing';
export const AVAILABLE = 'Available';
export const REPLICA_FAILURE = 'ReplicaFailure';

export const REASON = {
  replicaSetUpdated: 'ReplicaSetUpdated',
  failedRSCreate: 'ReplicaSetCreateError',
  newReplicaSet: 'NewReplicaSetCreated',
  foundNewRS: 'FoundNewReplicaSet',
  newRSAvailable: 'NewReplicaSetAvailable',
  timedOut: 'ProgressDeadlineExceeded',
  paused: 'DeploymentPaused',
  resumed: 'DeploymentResumed',
  minimumAvailable: 'MinimumReplicasAvailable',
  minimumUnavailable: 'MinimumReplicasUnavailable',
} as const;

/** Pure: metav1.Time of `ms`: RFC 3339, whole seconds. */
export const timeOf = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Pure: NewDeploymentCondition at `now`. */
export const newCondition = (type: string, status: Condition['status'], reason: string, message: string, now: number): Condition => ({
  type,
  status,
  lastUpdateTime: timeOf(now),
  lastTransitionTime: timeOf(now),
  reason,
  message,
});

export const conditionOf = (s: DeploymentStatus, type: string): Condition | undefined => s.conditions?.find((c) => c.type === type);

/** Pure: SetDeploymentCondition: unchanged when status and reason are the same; the transition time kept when the status is. */
export function setCondition(s: DeploymentStatus, c: Condition): DeploymentStatus {
  const cur = conditionOf(s, c.type);
  if (cur && cur.status === c.status && cur.reason === c.reason) return s;
  const next = cur && cur.status === c.status && cur.lastTransitionTime !== undefined ? { ...c, lastTransitionTime: cur.lastTransitionTime } : c;
  return { ...s, conditions: [...(s.conditions ?? []).filter((x) => x.type !== c.type), next] };
}

export function removeCondition(s: DeploymentStatus, type: string): DeploymentStatus {
  if (!s.conditions?.some((c) => c.type === type)) return s;
  const conditions = s.conditions.filter((c) => c.type !== type);
  const { conditions: _drop, ...rest } = s;
  return conditions.length ? { ...rest, conditions } : rest;
}

/** Pure: calculateStatus: the counts over the ReplicaSets and the Available condition. */
export function calculateStatus(all: readonly ReplicaSet[], newRS: ReplicaSet | undefined, d: Deployment, now: number): DeploymentStatus {
  const available = availableReplicas(all);
  const status: DeploymentStatus = {
    observedGeneration: d.generation,
    replicas: actualReplicas(all),
    updatedReplicas: actualReplicas([newRS]),
    readyReplicas: readyReplicas(all),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, specReplicas(all) - available),
    ...(d.status.conditions && { conditions: d.status.conditions }),
    ...(d.status.collisionCount !== undefined && { collisionCount: d.status.collisionCount }),
  };
  return available >= d.replicas - maxUnavailable(d)
    ? setCondition(status, newCondition(AVAILABLE, 'True', REASON.minimumAvailable, 'Deployment has minimum availability.', now))
    : setCondition(status, newCondition(AVAILABLE, 'False', REASON.minimumUnavailable, 'Deployment does not have minimum availability.', now));
}

/** Pure: DeploymentComplete: every desired replica updated and available, no old one left, this generation seen. */
export const deploymentComplete = (d: Deployment, s: DeploymentStatus): boolean =>
  s.updatedReplicas === d.replicas && s.replicas === d.replicas && s.availableReplicas === d.replicas && (s.observedGeneration ?? 0) >= d.generation;

/** Pure: DeploymentProgressing: more updated, fewer old, more ready or more available than the stored status says. */
export function deploymentProgressing(d: Deployment, s: DeploymentStatus): boolean {
  const o = d.status;
  const oldOld = (o.replicas ?? 0) - (o.updatedReplicas ?? 0);
  const newOld = (s.replicas ?? 0) - (s.updatedReplicas ?? 0);
  return (s.updatedReplicas ?? 0) > (o.updatedReplicas ?? 0) || newOld < oldOld || (s.readyReplicas ?? 0) > (o.readyReplicas ?? 0) || (s.availableReplicas ?? 0) > (o.availableReplicas ?? 0);
}

/** Pure: DeploymentTimedOut: the last progress (its Progressing condition's update time) is older than the deadline at `now`. */
export function deploymentTimedOut(d: Deployment, s: DeploymentStatus, now: number): boolean {
  if (d.progressDeadlineSeconds === undefined) return false;
  const c = conditionOf(s, PROGRESSING);
  if (!c) return false;
  if (c.reason === REASON.newRSAvailable) return false;
  if (c.reason === REASON.timedOut) return true;
  const from = Date.parse(c.lastUpdateTime ?? '');
  if (Number.isNaN(from)) return false;
  return from + d.progressDeadlineSeconds * 1000 < now;
}

/** Pure: syncRolloutStatus's new status: calculateStatus, then the Progressing condition, then ReplicaFailure from the ReplicaSets. */
export function rolloutStatus(all: readonly ReplicaSet[], newRS: ReplicaSet | undefined, d: Deployment, now: number): DeploymentStatus {
  let s = calculateStatus(all, newRS, d, now);
  if (d.progressDeadlineSeconds === undefined) s = removeCondition(s, PROGRESSING);
  const cur = conditionOf(d.status, PROGRESSING);
  const complete = s.replicas === s.updatedReplicas && cur?.reason === REASON.newRSAvailable;
  if (d.progressDeadlineSeconds !== undefined && !complete) {
    const subject = newRS ? `ReplicaSet "${newRS.name}"` : `Deployment "${d.name}"`;
    if (deploymentComplete(d, s)) {
      s = setCondition(s, newCondition(PROGRESSING, 'True', REASON.newRSAvailable, `${subject} has successfully progressed.`, now));
    } else if (deploymentProgressing(d, s)) {
      // Progress moves lastUpdateTime even with the same reason (the deadline counts from it).
      let c = newCondition(PROGRESSING, 'True', REASON.replicaSetUpdated, `${subject} is progressing.`, now);
      if (cur) {
        if (cur.status === 'True' && cur.lastTransitionTime !== undefined) c = { ...c, lastTransitionTime: cur.lastTransitionTime };
        s = removeCondition(s, PROGRESSING);
      }
      s = setCondition(s, c);
    } else if (deploymentTimedOut(d, s, now)) {
      s = setCondition(s, newCondition(PROGRESSING, 'False', REASON.timedOut, `${subject} has timed out progressing.`, now));
    }
  }
  const failure = replicaFailure(all, newRS);
  return failure ? setCondition(s, failure) : removeCondition(s, REPLICA_FAILURE);
}

/** Pure: getReplicaFailures: the new ReplicaSet's ReplicaFailure condition, else an old one's. */
function replicaFailure(all: readonly ReplicaSet[], newRS: ReplicaSet | undefined): Condition | undefined {
  const of = (rs: ReplicaSet | undefined): Condition | undefined => {
    const cs = (rs?.raw.status as { conditions?: unknown } | undefined)?.conditions;
    const c = Array.isArray(cs) ? (cs as Condition[]).find((x) => x.type === REPLICA_FAILURE) : undefined;
    return c && { type: REPLICA_FAILURE, status: c.status, ...(c.lastTransitionTime && { lastUpdateTime: c.lastTransitionTime, lastTransitionTime: c.lastTransitionTime }), ...(c.reason && { reason: c.reason }), ...(c.message && { message: c.message }) };
  };
  return of(newRS) ?? all.map(of).find((c) => c !== undefined);
}

/** Pure: requeueStuckDeployment: ms until the deadline check is due, or undefined when none is. */
export function progressCheckAfter(d: Deployment, s: DeploymentStatus, now: number): number | undefined {
  const c = conditionOf(d.status, PROGRESSING);
  if (d.progressDeadlineSeconds === undefined || !c) return undefined;
  if (deploymentComplete(d, s) || c.reason === REASON.timedOut) return undefined;
  const from = Date.parse(c.lastUpdateTime ?? '');
  if (Number.isNaN(from)) return undefined;
  const after = from + d.progressDeadlineSeconds * 1000 - now;
  // A second more, against the skew between the stored time (whole seconds) and the timer; under a
  // second, in a second (Kubernetes rate-limits that requeue), so a deadline just due cannot spin.
  return after < 1000 ? 1000 : after + 1000;
}

/** Pure: checkPausedConditions: the status with a DeploymentPaused or DeploymentResumed condition, or undefined when it needs none. */
export function pausedStatus(d: Deployment, now: number): DeploymentStatus | undefined {
  if (d.progressDeadlineSeconds === undefined) return undefined;
  const c = conditionOf(d.status, PROGRESSING);
  if (c?.reason === REASON.timedOut) return undefined;
  const pausedCond = c?.reason === REASON.paused;
  if (d.paused && !pausedCond) return setCondition(d.status, newCondition(PROGRESSING, 'Unknown', REASON.paused, 'Deployment is paused', now));
  if (!d.paused && pausedCond) return setCondition(d.status, newCondition(PROGRESSING, 'Unknown', REASON.resumed, 'Deployment is resumed', now));
  return undefined;
}

/** Pure: the status as Kubernetes writes it: its counts are omitempty, so a 0 is left out. */
export function compactStatus(s: DeploymentStatus): DeploymentStatus {
  return Object.fromEntries(Object.entries(s).filter(([, v]) => v !== 0 && v !== undefined)) as DeploymentStatus;
}

/** Pure: two statuses are the same as written (reflect.DeepEqual). */
export const sameStatus = (a: DeploymentStatus, b: DeploymentStatus): boolean => canonicalJson(compactStatus(a)) === canonicalJson(compactStatus(b));
