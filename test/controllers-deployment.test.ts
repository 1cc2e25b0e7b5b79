// The deployment controller's pure decisions: hashing, fenceposts, the rolling-update and
// proportional-scaling arithmetic (cases after Kubernetes' own rolling_test.go and sync_test.go),
// revisions and history cleanup, and the status conditions at fixed clocks.
import { describe, expect, it } from 'vitest';
import {
  calculateStatus,
  computeHash,
  conditionOf,
  DESIRED_REPLICAS,
  type Deployment,
  deploymentOf,
  equalIgnoreHash,
  fnv32a,
  historyToDelete,
  isSaturated,
  isScalingEvent,
  MAX_REPLICAS,
  maxSurge,
  maxUnavailable,
  newReplicaSetAnnotations,
  newRSNewReplicas,
  oldPodsRunning,
  pausedStatus,
  progressCheckAfter,
  reconcileNewPlan,
  reconcileOldPlan,
  type ReplicaSet,
  replicaSetOf,
  resolveFenceposts,
  REVISION,
  REVISION_HISTORY,
  rolloutStatus,
  safeEncodeString,
  sameStatus,
  scaledValue,
  scalePlan,
  timeOf,
} from '../controllers/index.js';

type Obj = Record<string, unknown>;
const T0 = Date.parse('2024-05-01T10:00:00Z');

function deploy(replicas: number, o: { surge?: number | string; unavailable?: number | string; strategy?: string; status?: Obj; spec?: Obj; annotations?: Record<string, string>; generation?: number } = {}): Deployment {
  return deploymentOf({
    metadata: { name: 'web', namespace: 'default', uid: 'd-uid', generation: o.generation ?? 1, ...(o.annotations && { annotations: o.annotations }) },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] } },
      strategy: o.strategy === 'Recreate' ? { type: 'Recreate' } : { type: 'RollingUpdate', rollingUpdate: { maxSurge: o.surge ?? 0, maxUnavailable: o.unavailable ?? 0 } },
      progressDeadlineSeconds: 600,
      revisionHistoryLimit: 10,
      ...o.spec,
    },
    ...(o.status && { status: o.status }),
  });
}

let seq = 0;
function rs(name: string, replicas: number, o: { available?: number; actual?: number; ready?: number; created?: number; annotations?: Record<string, string>; image?: string } = {}): ReplicaSet {
  seq++;
  return replicaSetOf({
    metadata: { name, namespace: 'default', uid: `${name}-uid`, generation: 1, creationTimestamp: new Date(o.created ?? T0 + seq * 1000).toISOString(), annotations: o.annotations ?? {} },
    spec: { replicas, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: o.image ?? 'nginx:1' }] } } },
    status: { replicas: o.actual ?? replicas, readyReplicas: o.ready ?? o.available ?? replicas, availableReplicas: o.available ?? replicas, observedGeneration: 1 },
  });
}

describe('pod-template-hash', () => {
  it('is FNV-32a (the published test vectors) written in the safe alphabet', () => {
    const enc = new TextEncoder();
    expect(fnv32a(enc.encode(''))).toBe(0x811c9dc5);
    expect(fnv32a(enc.encode('a'))).toBe(0xe40c292c);
    expect(fnv32a(enc.encode('foobar'))).toBe(0xbf9cf968);
    expect(safeEncodeString('0123456789')).toBe('456789bcdf');
  });

  it('is stable for a template, changes with it and with collisionCount, and looks like Kubernetes hashes', () => {
    const t = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] } };
    const reordered = { spec: { containers: [{ image: 'nginx:1', name: 'c' }] }, metadata: { labels: { app: 'web' }, annotations: {} } };
    const h = computeHash(t);
    expect(h).toMatch(/^[456789bcdf]{6,10}$/);
    expect(computeHash(reordered)).toBe(h);
    expect(computeHash({ ...t, spec: { containers: [{ name: 'c', image: 'nginx:2' }] } })).not.toBe(h);
    expect(computeHash(t, 0)).not.toBe(h);
    expect(computeHash(t, 1)).not.toBe(computeHash(t, 0));
  });

  it('templates compare equal but for the hash label and empty fields', () => {
    const a = { metadata: { labels: { app: 'web', 'pod-template-hash': 'abc' } }, spec: { containers: [{ name: 'c', image: 'x' }] } };
    const b = { metadata: { labels: { app: 'web' }, annotations: {} }, spec: { containers: [{ name: 'c', image: 'x' }], volumes: [] } };
    expect(equalIgnoreHash(a, b)).toBe(true);
    expect(equalIgnoreHash(a, { ...b, spec: { containers: [{ name: 'c', image: 'y' }] } })).toBe(false);
  });
});

describe('maxSurge and maxUnavailable', () => {
  it('percentages: surge rounds up, unavailable rounds down', () => {
    expect(scaledValue('25%', 10, true)).toBe(3);
    expect(scaledValue('25%', 10, false)).toBe(2);
    expect(resolveFenceposts('25%', '25%', 10)).toEqual([3, 2]);
    expect(resolveFenceposts('25%', '25%', 1)).toEqual([1, 0]);
    expect(() => scaledValue('ten', 10, true)).toThrow(/invalid value for IntOrString/);
  });

  it('both rounding to 0 makes one pod unavailable (ResolveFenceposts)', () => {
    expect(resolveFenceposts(0, '1%', 2)).toEqual([0, 1]);
    expect(resolveFenceposts('1%', '25%', 2)).toEqual([1, 0]);
    expect(resolveFenceposts(1, 0, 2)).toEqual([1, 0]);
  });

  it('MaxUnavailable is capped at the replicas and 0 for Recreate or no replicas (TestMaxUnavailable)', () => {
    expect(maxUnavailable(deploy(10, { unavailable: '25%', surge: '25%' }))).toBe(2);
    expect(maxUnavailable(deploy(2, { unavailable: 5, surge: 0 }))).toBe(2);
    expect(maxUnavailable(deploy(0, { unavailable: 1 }))).toBe(0);
    expect(maxUnavailable(deploy(10, { strategy: 'Recreate' }))).toBe(0);
    expect(maxSurge(deploy(10, { strategy: 'Recreate' }))).toBe(0);
    expect(maxSurge(deploy(10, { surge: '25%', unavailable: '25%' }))).toBe(3);
  });
});

describe('rolling update arithmetic', () => {
  // After TestDeploymentController_reconcileNewReplicaSet.
  it.each([
    { d: 10, surge: 0, old: 10, now: 0, want: undefined },
    { d: 10, surge: 2, old: 10, now: 0, want: 2 },
    { d: 10, surge: 2, old: 5, now: 0, want: 7 },
    { d: 10, surge: 2, old: 10, now: 2, want: undefined },
    { d: 2, surge: 0, old: 0, now: 3, want: 2 },
  ])('new RS: $d desired, surge $surge, old $old, new $now → $want', ({ d, surge, old, now, want }) => {
    const dep = deploy(d, { surge, unavailable: 1 });
    const oldRS = rs('web-old', old);
    const newRS = rs('web-new', now, { image: 'nginx:2' });
    const plan = reconcileNewPlan(dep, [oldRS, newRS], newRS);
    expect(plan.length ? plan[0]!.to : undefined).toBe(want);
  });

  it('NewRSNewReplicas never exceeds desired + surge nor the desired count; Recreate takes all', () => {
    const d = deploy(10, { surge: 3, unavailable: 2 });
    expect(newRSNewReplicas(d, [rs('o', 8), rs('n', 3)], rs('n2', 3))).toBe(5);
    expect(newRSNewReplicas(d, [rs('o', 10), rs('n', 3)], rs('n2', 3))).toBe(3);
    expect(newRSNewReplicas(d, [rs('o', 0), rs('n', 9)], rs('n2', 9))).toBe(10);
    expect(newRSNewReplicas(deploy(4, { strategy: 'Recreate' }), [rs('o', 4)], rs('n', 0))).toBe(4);
  });

  it('old RSs: down to the minimum available, never below it', () => {
    const d = deploy(10, { surge: 3, unavailable: 2 });
    const newRS = rs('web-new', 0, { image: 'nginx:2' });
    const old = rs('web-old', 10);
    expect(reconcileOldPlan(d, [old, newRS], [old], newRS).map((s) => [s.rs.name, s.to])).toEqual([['web-old', 8]]);
  });

  it('old RSs: unhealthy replicas are cleaned up first, within the budget', () => {
    const d = deploy(10, { surge: 3, unavailable: 2 });
    const newRS = rs('web-new', 0, { image: 'nginx:2' });
    const old = rs('web-old', 10, { available: 7 });
    // Budget 10 − 8 − 0 = 2, all spent on 2 of the 3 unhealthy; then 7 available ≤ 8: nothing more.
    expect(reconcileOldPlan(d, [old, newRS], [old], newRS).map((s) => [s.rs.name, s.to])).toEqual([['web-old', 8]]);
  });

  it('old RSs: new pods not yet available block any scale down (the crash-looping new template)', () => {
    const d = deploy(10, { surge: 3, unavailable: 2 });
    const newRS = rs('web-new', 5, { available: 0, image: 'nginx:2' });
    const old = rs('web-old', 8);
    expect(reconcileOldPlan(d, [old, newRS], [old], newRS)).toEqual([]);
  });

  it('old RSs: the oldest goes first', () => {
    const d = deploy(10, { surge: 3, unavailable: 2 });
    const v1 = rs('web-v1', 2, { created: T0 });
    const v2 = rs('web-v2', 5, { created: T0 + 1000 });
    const v3 = rs('web-v3', 3, { created: T0 + 2000, image: 'nginx:2' });
    expect(reconcileOldPlan(d, [v1, v2, v3], [v1, v2], v3).map((s) => [s.rs.name, s.to])).toEqual([['web-v1', 0]]);
  });

  it('a whole rollout of 4 replicas, surge 1, unavailable 0, never exceeds 5 pods nor drops under 4 available', () => {
    const d = deploy(4, { surge: 1, unavailable: 0 });
    let oldN = 4;
    let newN = 0;
    // Pods become available as soon as they exist (a ready-at-once kubelet).
    for (let step = 0; step < 20 && !(oldN === 0 && newN === 4); step++) {
      const old = rs('web-old', oldN, { created: T0 });
      const nw = rs('web-new', newN, { created: T0 + 1000, image: 'nginx:2' });
      const up = reconcileNewPlan(d, [old, nw], nw);
      if (up.length) newN = up[0]!.to;
      else {
        const down = reconcileOldPlan(d, [old, nw], oldN ? [old] : [], nw);
        for (const s of down) oldN = s.to;
      }
      expect(oldN + newN).toBeLessThanOrEqual(5);
      expect(oldN + newN).toBeGreaterThanOrEqual(4);
    }
    expect([oldN, newN]).toEqual([0, 4]);
  });
});

describe('proportional scaling (TestScale)', () => {
  const withMax = (name: string, n: number, max: number, created: number) => rs(name, n, { created, annotations: { [DESIRED_REPLICAS]: String(max), [MAX_REPLICAS]: String(max) } });
  const sizes = (plan: ReturnType<typeof scalePlan>) => Object.fromEntries(plan.map((s) => [s.rs.name, s.to]));

  it.each([
    { name: '5 → 10', d: 10, was: 5, newRS: 2, old: [3], want: { 'foo-v2': 4, 'foo-v1': 6 } },
    { name: '5 → 3', d: 3, was: 5, newRS: 2, old: [3], want: { 'foo-v2': 1, 'foo-v1': 2 } },
    { name: '9 → 4', d: 4, was: 9, newRS: 8, old: [1], want: { 'foo-v2': 4, 'foo-v1': 0 } },
  ])('$name', ({ d, was, newRS, old, want }) => {
    const dep = deploy(d, { surge: 0, unavailable: 1 });
    const n = withMax('foo-v2', newRS, was, T0 + 10_000);
    expect(sizes(scalePlan(dep, n, old.map((x) => withMax('foo-v1', x, was, T0))))).toEqual(want);
  });

  it('7 → 10 and 13 → 8 over three ReplicaSets', () => {
    const up = scalePlan(deploy(10, { unavailable: 1 }), withMax('foo-v3', 2, 7, T0 + 2000), [withMax('foo-v2', 3, 7, T0 + 1000), withMax('foo-v1', 2, 7, T0)]);
    expect(sizes(up)).toEqual({ 'foo-v3': 3, 'foo-v2': 4, 'foo-v1': 3 });
    const down = scalePlan(deploy(8, { unavailable: 1 }), withMax('foo-v3', 2, 13, T0 + 2000), [withMax('foo-v2', 8, 13, T0 + 1000), withMax('foo-v1', 3, 13, T0)]);
    expect(sizes(down)).toEqual({ 'foo-v3': 1, 'foo-v2': 5, 'foo-v1': 2 });
  });

  it('one active ReplicaSet takes the whole count; a saturated new one empties the old', () => {
    const d = deploy(5, { unavailable: 1 });
    expect(sizes(scalePlan(d, rs('n', 3), [rs('o', 0)]))).toEqual({ n: 5 });
    const sat = rs('n', 5, { annotations: { [DESIRED_REPLICAS]: '5' } });
    expect(isSaturated(d, sat)).toBe(true);
    expect(sizes(scalePlan(d, sat, [rs('o', 2)]))).toEqual({ o: 0 });
  });

  it('a scaling event is an active ReplicaSet told another desired count', () => {
    const d = deploy(6);
    expect(isScalingEvent(d, [rs('a', 3, { annotations: { [DESIRED_REPLICAS]: '3' } })])).toBe(true);
    expect(isScalingEvent(d, [rs('a', 6, { annotations: { [DESIRED_REPLICAS]: '6' } }), rs('b', 0, { annotations: { [DESIRED_REPLICAS]: '2' } })])).toBe(false);
  });
});

describe('Recreate', () => {
  it('waits while an old ReplicaSet or its pods still run', () => {
    const nw = rs('n', 0);
    expect(oldPodsRunning(nw, [rs('o', 0, { actual: 1 })], [])).toBe(true);
    expect(oldPodsRunning(nw, [rs('o', 0, { actual: 0 })], [{ ownerUid: 'o-uid', phase: 'Running' }])).toBe(true);
    expect(oldPodsRunning(nw, [rs('o', 0, { actual: 0 })], [{ ownerUid: 'o-uid', phase: 'Succeeded' }, { ownerUid: 'n-uid', phase: 'Running' }])).toBe(false);
  });
});

describe('revisions', () => {
  it('a new ReplicaSet gets max+1, the deployment annotations (change-cause) and the replica counts; never the skipped ones', () => {
    const d = deploy(3, { surge: 1, unavailable: 0, annotations: { 'kubernetes.io/change-cause': 'kubectl set image', [REVISION]: '4', 'kubectl.kubernetes.io/last-applied-configuration': '{}' } });
    const { annotations, changed } = newReplicaSetAnnotations(d, {}, 5, false, { [DESIRED_REPLICAS]: '3', [MAX_REPLICAS]: '4' });
    expect(changed).toBe(true);
    expect(annotations).toEqual({ 'kubernetes.io/change-cause': 'kubectl set image', [REVISION]: '5', [DESIRED_REPLICAS]: '3', [MAX_REPLICAS]: '4' });
  });

  it('a ReplicaSet rolled back to takes the next revision and remembers its old ones', () => {
    const d = deploy(3);
    const r1 = newReplicaSetAnnotations(d, { [REVISION]: '1' }, 3, true, {});
    expect(r1.annotations).toEqual({ [REVISION]: '3', [REVISION_HISTORY]: '1' });
    const r2 = newReplicaSetAnnotations(d, r1.annotations, 5, true, {});
    expect(r2.annotations).toEqual({ [REVISION]: '5', [REVISION_HISTORY]: '1,3' });
    expect(newReplicaSetAnnotations(d, r2.annotations, 5, true, {}).changed).toBe(false);
  });

  it('history cleanup deletes the lowest revisions beyond the limit, only when scaled to 0 and observed', () => {
    const d = deploy(3, { spec: { revisionHistoryLimit: 1 } });
    const old = [1, 2, 3].map((r) => rs(`web-r${r}`, 0, { annotations: { [REVISION]: String(r) } }));
    expect(historyToDelete(d, old).map((r) => r.name)).toEqual(['web-r1', 'web-r2']);
    const busy = [rs('web-r1', 1, { annotations: { [REVISION]: '1' } }), ...old.slice(1)];
    expect(historyToDelete(d, busy).map((r) => r.name)).toEqual(['web-r2']);
    expect(historyToDelete(deploy(3, { spec: { revisionHistoryLimit: 2147483647 } }), old)).toEqual([]);
  });
});

describe('status and conditions', () => {
  it('counts and the Available condition', () => {
    const d = deploy(4, { surge: 1, unavailable: 1 });
    const s = calculateStatus([rs('o', 2, { available: 2 }), rs('n', 2, { available: 1, ready: 1 })], rs('n', 2, { available: 1 }), d, T0);
    expect(s).toMatchObject({ observedGeneration: 1, replicas: 4, updatedReplicas: 2, readyReplicas: 3, availableReplicas: 3, unavailableReplicas: 1 });
    expect(conditionOf(s, 'Available')).toEqual({ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.', lastUpdateTime: timeOf(T0), lastTransitionTime: timeOf(T0) });
    const low = calculateStatus([rs('n', 4, { available: 2 })], undefined, d, T0);
    expect(conditionOf(low, 'Available')).toMatchObject({ status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' });
  });

  it('Progressing: progress renews lastUpdateTime, completion says NewReplicaSetAvailable, silence past the deadline times out', () => {
    const created = { type: 'Progressing', status: 'True', reason: 'NewReplicaSetCreated', message: 'Created new replica set "web-n"', lastUpdateTime: timeOf(T0), lastTransitionTime: timeOf(T0) };
    const d = deploy(2, { surge: 1, unavailable: 0, spec: { progressDeadlineSeconds: 30 }, status: { observedGeneration: 1, replicas: 2, updatedReplicas: 0, availableReplicas: 2, conditions: [created] } });
    const nw = rs('web-n', 1, { available: 0, ready: 0, image: 'nginx:2' });
    const old = rs('web-o', 2);
    const moving = rolloutStatus([old, nw], nw, d, T0 + 10_000);
    expect(conditionOf(moving, 'Progressing')).toEqual({ ...created, reason: 'ReplicaSetUpdated', message: 'ReplicaSet "web-n" is progressing.', lastUpdateTime: timeOf(T0 + 10_000) });
    // Nothing moves: no update, a check due at the deadline (+1 s), then a timeout.
    const still = deploymentOf({ ...d.raw, status: { ...moving } });
    const same = rolloutStatus([old, nw], nw, still, T0 + 20_000);
    expect(sameStatus(same, still.status)).toBe(true);
    expect(progressCheckAfter(still, same, T0 + 20_000)).toBe(21_000);
    const late = rolloutStatus([old, nw], nw, still, T0 + 41_000);
    expect(conditionOf(late, 'Progressing')).toMatchObject({ status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web-n" has timed out progressing.' });
    // Done: every replica new and available.
    const done = rolloutStatus([rs('web-o', 0, { actual: 0 }), rs('web-n', 2, { image: 'nginx:2' })], rs('web-n', 2, { image: 'nginx:2' }), still, T0 + 30_000);
    expect(conditionOf(done, 'Progressing')).toMatchObject({ status: 'True', reason: 'NewReplicaSetAvailable', message: 'ReplicaSet "web-n" has successfully progressed.' });
  });

  it('pause and resume set Progressing Unknown, unless it timed out', () => {
    const paused = deploy(1, { spec: { paused: true } });
    expect(conditionOf(pausedStatus(paused, T0)!, 'Progressing')).toMatchObject({ status: 'Unknown', reason: 'DeploymentPaused', message: 'Deployment is paused' });
    const resumed = deploymentOf({ ...paused.raw, spec: { ...(paused.raw.spec as Obj), paused: false }, status: pausedStatus(paused, T0) });
    expect(conditionOf(pausedStatus(resumed, T0)!, 'Progressing')).toMatchObject({ status: 'Unknown', reason: 'DeploymentResumed', message: 'Deployment is resumed' });
    expect(pausedStatus(deploy(1), T0)).toBeUndefined();
    const timedOut = deploy(1, { spec: { paused: true }, status: { conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }] } });
    expect(pausedStatus(timedOut, T0)).toBeUndefined();
  });
});
