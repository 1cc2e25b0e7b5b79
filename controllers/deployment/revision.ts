// Revisions and the annotations a Deployment's ReplicaSets carry, pure, as Kubernetes' deployment util
// keeps them: each new template is revision max+1 (a template rolled back to takes the next number and
// remembers its old ones in revision-history), the Deployment's annotations are copied onto its new
// ReplicaSet (kubernetes.io/change-cause, which `kubectl rollout history` prints, among them), and old
// ReplicaSets scaled to 0 beyond revisionHistoryLimit are deleted, lowest revision first.
import { byCreation, type Deployment, type ReplicaSet } from './model.js';

export const REVISION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas';
export const CHANGE_CAUSE = 'kubernetes.io/change-cause';
/** maxRevHistoryLengthInChars: about 100 revisions. */
export const MAX_REVISION_HISTORY_CHARS = 2000;

/** annotationsToSkip: what is never copied between a Deployment and its ReplicaSets. */
const SKIP = new Set(['kubectl.kubernetes.io/last-applied-configuration', REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, 'deprecated.deployment.rollback.to']);

/** Pure: the revision a ReplicaSet carries: 0 without one, undefined when it is not a number (such a one is skipped). */
export function revisionOf(rs: ReplicaSet): number | undefined {
  const v = rs.annotations[REVISION];
  if (v === undefined) return 0;
  return /^-?\d+$/.test(v) ? Number(v) : undefined;
}

/** Pure: MaxRevision of the ReplicaSets. */
export const maxRevision = (rss: readonly ReplicaSet[]): number => rss.reduce((m, r) => Math.max(m, revisionOf(r) ?? 0), 0);

/**
 * Pure: SetNewReplicaSetAnnotations: the new ReplicaSet's annotations with the Deployment's copied,
 * its revision raised to `newRevision` when lower (the old one appended to revision-history), and,
 * for a ReplicaSet about to be created, the replica annotations. `changed` says whether they differ.
 */
export function newReplicaSetAnnotations(
  d: Deployment,
  current: Readonly<Record<string, string>>,
  newRevision: number,
  exists: boolean,
  replicas: Readonly<Record<string, string>>,
): { annotations: Record<string, string>; changed: boolean } {
  const a: Record<string, string> = { ...current };
  let changed = false;
  for (const [k, v] of Object.entries(d.annotations)) {
    if (SKIP.has(k) || a[k] === v) continue;
    a[k] = v;
    changed = true;
  }
  const old = a[REVISION];
  let oldRev = 0;
  if (old !== undefined && old !== '') {
    if (!/^-?\d+$/.test(old)) return { annotations: a, changed };
    oldRev = Number(old);
  }
  if (oldRev < newRevision) {
    a[REVISION] = String(newRevision);
    changed = true;
    if (old !== undefined) {
      const hist = a[REVISION_HISTORY] ?? '';
      if (hist === '') a[REVISION_HISTORY] = old;
      else {
        const parts = hist.split(',');
        let total = hist.length + old.length + 1;
        let start = 0;
        while (total > MAX_REVISION_HISTORY_CHARS && start < parts.length) total -= parts[start++]!.length + 1;
        if (total <= MAX_REVISION_HISTORY_CHARS) a[REVISION_HISTORY] = [...parts.slice(start), old].join(',');
      }
    }
  }
  if (!exists) {
    for (const [k, v] of Object.entries(replicas)) {
      if (a[k] !== v) {
        a[k] = v;
        changed = true;
      }
    }
  }
  return { annotations: a, changed };
}

/** Pure: ReplicaSetsByRevision: lowest revision first, then oldest. */
export function byRevision(a: ReplicaSet, b: ReplicaSet): number {
  const ra = revisionOf(a) ?? 0;
  const rb = revisionOf(b) ?? 0;
  return ra !== rb ? ra - rb : byCreation(a, b);
}

/**
 * Pure: cleanupDeployment: the old ReplicaSets to delete so that at most revisionHistoryLimit remain,
 * lowest revision first, skipping any that still has (or wants) pods or whose spec its controller has
 * not seen yet.
 */
export function historyToDelete(d: Deployment, oldRSs: readonly ReplicaSet[]): ReplicaSet[] {
  if (d.revisionHistoryLimit === undefined) return [];
  const alive = oldRSs.filter((r) => !r.deleting);
  const diff = alive.length - d.revisionHistoryLimit;
  if (diff <= 0) return [];
  return [...alive]
    .sort(byRevision)
    .slice(0, diff)
    .filter((r) => r.status.replicas === 0 && r.replicas === 0 && r.generation <= r.status.observedGeneration);
}
