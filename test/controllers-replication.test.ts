// The replication manager's pure decisions: claims (adoption, release), creations from the template,
// the deletion order, the status, slow-start batches, expectations, the work queue and --controllers.
import { describe, expect, it } from 'vitest';
import {
  adoptPatch,
  claimPods,
  controllersOf,
  Expectations,
  EXPECTATIONS_TTL_MS,
  ownerOf,
  podFromTemplate,
  podOf,
  podsToDelete,
  releasePatch,
  replicaDiff,
  slowStartBatch,
  statusChanged,
  statusOf,
  WorkQueue,
} from '../controllers/index.js';

type Obj = Record<string, unknown>;

const rcObj = (over: Obj = {}): Obj => ({
  apiVersion: 'v1',
  kind: 'ReplicationController',
  metadata: { name: 'db', namespace: 'default', uid: 'rc-uid', generation: 3, resourceVersion: '10' },
  spec: { replicas: 2, selector: { name: 'db' }, template: { metadata: { labels: { name: 'db', tier: 'backend' }, annotations: { a: 'b' } }, spec: { containers: [{ name: 'db', image: 'redis' }] } } },
  ...over,
});
const rc = (replicas = 2, extra: Obj = {}) => ownerOf('ReplicationController', { ...rcObj(), spec: { ...(rcObj().spec as Obj), replicas, ...extra } });
const myRef = { apiVersion: 'v1', kind: 'ReplicationController', name: 'db', uid: 'rc-uid', controller: true, blockOwnerDeletion: true };

interface P {
  name: string;
  labels?: Record<string, string>;
  ref?: Obj | null;
  node?: string;
  phase?: string;
  ready?: string; // lastTransitionTime of Ready=True
  created?: string;
  deleting?: boolean;
  restarts?: number;
  ns?: string;
}
const pod = (p: P) =>
  podOf({
    metadata: {
      name: p.name,
      namespace: p.ns ?? 'default',
      uid: `uid-${p.name}`,
      resourceVersion: '5',
      labels: p.labels ?? { name: 'db', tier: 'backend' },
      ...(p.ref !== null && { ownerReferences: [p.ref ?? myRef] }),
      creationTimestamp: p.created ?? '2026-01-01T00:00:00Z',
      ...(p.deleting && { deletionTimestamp: '2026-01-01T01:00:00Z' }),
    },
    spec: { ...(p.node && { nodeName: p.node }) },
    status: {
      phase: p.phase ?? 'Running',
      ...(p.ready && { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: p.ready }] }),
      containerStatuses: [{ restartCount: p.restarts ?? 0 }],
    },
  });

describe('claimPods', () => {
  it('keeps owned matching pods, adopts matching orphans, releases owned pods that stopped matching, ignores others', () => {
    const c = claimPods(rc(), [
      pod({ name: 'owned' }),
      pod({ name: 'orphan', ref: null }),
      pod({ name: 'relabelled', labels: { name: 'other' } }),
      pod({ name: 'foreign', ref: { ...myRef, uid: 'other-uid', name: 'x' } }),
      pod({ name: 'orphan-nomatch', ref: null, labels: { name: 'web' } }),
      pod({ name: 'other-ns', ref: null, ns: 'kube-system' }),
      pod({ name: 'terminating', deleting: true }),
      pod({ name: 'done', phase: 'Succeeded' }),
    ]);
    expect(c.owned.map((p) => p.name)).toEqual(['owned', 'orphan']);
    expect(c.adopt.map((p) => p.name)).toEqual(['orphan']);
    expect(c.release.map((p) => p.name)).toEqual(['relabelled']);
  });

  it('an owner being deleted adopts nothing and releases nothing', () => {
    const o = ownerOf('ReplicationController', { ...rcObj(), metadata: { ...(rcObj().metadata as Obj), deletionTimestamp: '2026-01-01T00:00:00Z' } });
    const c = claimPods(o, [pod({ name: 'orphan', ref: null }), pod({ name: 'relabelled', labels: { x: 'y' } })]);
    expect(c.adopt).toEqual([]);
    expect(c.release).toEqual([]);
  });

  it('a ReplicaSet matches with matchLabels and matchExpressions; an RC without a selector uses its template labels', () => {
    const rs = ownerOf('ReplicaSet', {
      metadata: { name: 'cache', namespace: 'default', uid: 'rs-uid' },
      spec: { replicas: 1, selector: { matchLabels: { app: 'cache' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['x'] }] }, template: { metadata: { labels: { app: 'cache' } } } },
    });
    const c = claimPods(rs, [pod({ name: 'a', ref: null, labels: { app: 'cache' } }), pod({ name: 'b', ref: null, labels: { app: 'cache', tier: 'x' } })]);
    expect(c.adopt.map((p) => p.name)).toEqual(['a']);
    const bare = ownerOf('ReplicationController', { ...rcObj(), spec: { replicas: 1, template: { metadata: { labels: { name: 'db' } } } } });
    expect(claimPods(bare, [pod({ name: 'o', ref: null, labels: { name: 'db' } })]).adopt).toHaveLength(1);
  });

  it('the adopt and release patches keep the other references and carry the resourceVersion', () => {
    const other = { apiVersion: 'v1', kind: 'ConfigMap', name: 'c', uid: 'c-uid' };
    const orphan = pod({ name: 'o', ref: other });
    expect(adoptPatch(rc(), orphan)).toEqual({ metadata: { resourceVersion: '5', ownerReferences: [other, myRef] } });
    expect(releasePatch(rc(), pod({ name: 'r' }))).toEqual({ metadata: { resourceVersion: '5', ownerReferences: [] } });
  });
});

describe('creation', () => {
  it('the pod from the template: generateName, template labels and annotations, a controller reference', () => {
    expect(podFromTemplate(rc())).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { generateName: 'db-', namespace: 'default', labels: { name: 'db', tier: 'backend' }, annotations: { a: 'b' }, ownerReferences: [myRef] },
      spec: { containers: [{ name: 'db', image: 'redis' }] },
    });
    const rs = ownerOf('ReplicaSet', { metadata: { name: 'web', namespace: 'ns', uid: 'u' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: {} } } });
    expect((podFromTemplate(rs).metadata as Obj).ownerReferences).toEqual([{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'u', controller: true, blockOwnerDeletion: true }]);
  });

  it('the diff: replicas minus the owned, at most 500 either way', () => {
    expect(replicaDiff(rc(3), 1)).toBe(2);
    expect(replicaDiff(rc(1), 3)).toBe(-2);
    expect(replicaDiff(rc(2), 2)).toBe(0);
    expect(replicaDiff(rc(2000), 0)).toBe(500);
    expect(replicaDiff(rc(0), 900)).toBe(-500);
  });
});

describe('podsToDelete', () => {
  const names = (ps: { name: string }[]) => ps.map((p) => p.name);
  it('unassigned, then Pending < Unknown < Running, then not ready, then newer first', () => {
    const ps = [
      pod({ name: 'old-ready', node: 'n1', ready: '2026-01-01T00:00:10Z', created: '2026-01-01T00:00:00Z' }),
      pod({ name: 'new-ready', node: 'n2', ready: '2026-01-01T00:00:10Z', created: '2026-01-01T00:05:00Z' }),
      pod({ name: 'running-notready', node: 'n3' }),
      pod({ name: 'unknown', node: 'n4', phase: 'Unknown' }),
      pod({ name: 'pending', node: 'n5', phase: 'Pending' }),
      pod({ name: 'unassigned', phase: 'Pending', ready: '2026-01-01T00:00:10Z' }),
    ];
    expect(names(podsToDelete(ps, 6))).toEqual(['unassigned', 'pending', 'unknown', 'running-notready', 'new-ready', 'old-ready']);
    expect(names(podsToDelete(ps, 2))).toEqual(['unassigned', 'pending']);
    expect(podsToDelete(ps, 0)).toEqual([]);
  });

  it('among ready pods: doubled up on a node first, then ready for less time, then more restarts', () => {
    const t = '2026-01-01T00:00:10Z';
    expect(names(podsToDelete([pod({ name: 'alone', node: 'n1', ready: t }), pod({ name: 'twin1', node: 'n2', ready: t, created: '2026-01-01T00:00:01Z' }), pod({ name: 'twin2', node: 'n2', ready: t })], 1))).toEqual(['twin1']);
    expect(names(podsToDelete([pod({ name: 'long', node: 'n1', ready: '2026-01-01T00:00:01Z' }), pod({ name: 'short', node: 'n2', ready: '2026-01-01T00:09:00Z' })], 1))).toEqual(['short']);
    expect(names(podsToDelete([pod({ name: 'stable', node: 'n1', ready: t }), pod({ name: 'flappy', node: 'n2', ready: t, restarts: 4 })], 1))).toEqual(['flappy']);
  });
});

describe('statusOf', () => {
  it('counts replicas, fully labelled, ready and available (minReadySeconds), and the observed generation', () => {
    const now = Date.parse('2026-01-01T00:01:00Z');
    const owned = [
      pod({ name: 'a', ready: '2026-01-01T00:00:00Z' }),
      pod({ name: 'b', ready: '2026-01-01T00:00:50Z' }),
      pod({ name: 'c', labels: { name: 'db' } }),
    ];
    expect(statusOf(rc(3, { minReadySeconds: 30 }), owned, now)).toEqual({ replicas: 3, fullyLabeledReplicas: 2, readyReplicas: 2, availableReplicas: 1, observedGeneration: 3 });
    expect(statusOf(rc(3), owned, now).availableReplicas).toBe(2);
  });

  it('a status is written only when it changed', () => {
    const o = ownerOf('ReplicationController', { ...rcObj(), status: { replicas: 2, fullyLabeledReplicas: 2, readyReplicas: 0, availableReplicas: 0, observedGeneration: 3 } });
    expect(statusChanged(o, { replicas: 2, fullyLabeledReplicas: 2, readyReplicas: 0, availableReplicas: 0, observedGeneration: 3 })).toBe(false);
    expect(statusChanged(o, { replicas: 2, fullyLabeledReplicas: 2, readyReplicas: 1, availableReplicas: 0, observedGeneration: 3 })).toBe(true);
  });
});

describe('slowStartBatch', () => {
  it('runs all of them when nothing fails', async () => {
    let calls = 0;
    const r = await slowStartBatch(10, 1, () => {
      calls++;
      return Promise.resolve();
    });
    expect(r).toEqual({ successes: 10 });
    expect(calls).toBe(10);
    expect(await slowStartBatch(0, 1, () => Promise.reject(new Error('never')))).toEqual({ successes: 0 });
  });

  it('stops after the first batch with a failure', async () => {
    let calls = 0;
    const r = await slowStartBatch(100, 1, () => {
      calls++;
      return calls === 5 ? Promise.reject(new Error('quota')) : Promise.resolve();
    });
    // Batches 1, 2, 4: the 5th call is in the third batch, which finishes; nothing after it starts.
    expect(calls).toBe(7);
    expect(r.successes).toBe(6);
    expect((r.error as Error).message).toBe('quota');
  });

  it('batch sizes are 1, 2, 4, 8 then the rest', async () => {
    const sizes: number[] = [];
    let inBatch = 0;
    await slowStartBatch(20, 1, async () => {
      inBatch++;
      await new Promise((r) => setImmediate(r));
      if (inBatch > 0) sizes.push(inBatch);
      inBatch = 0;
    });
    expect(sizes).toEqual([1, 2, 4, 8, 5]);
  });
});

describe('Expectations', () => {
  it('an owner waits for its creations and deletions to be seen, or for the TTL', () => {
    let now = 0;
    const e = new Expectations(() => now);
    expect(e.satisfied('ns/a')).toBe(true);
    e.expectCreations('ns/a', 2);
    e.creationObserved('ns/a');
    expect(e.satisfied('ns/a')).toBe(false);
    e.creationObserved('ns/a');
    expect(e.satisfied('ns/a')).toBe(true);
    e.expectDeletions('ns/a', ['u1', 'u2']);
    e.deletionObserved('ns/a', 'u1');
    e.deletionObserved('ns/a', 'u1');
    expect(e.satisfied('ns/a')).toBe(false);
    now += EXPECTATIONS_TTL_MS + 1;
    expect(e.satisfied('ns/a')).toBe(true);
  });
});

describe('WorkQueue', () => {
  it('a key is queued once; re-added while processed, it comes back after done', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('a');
    q.add('b');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('a');
    q.add('a');
    expect(q.length).toBe(1);
    expect(await q.get()).toBe('b');
    q.done('a');
    expect(await q.get()).toBe('a');
    q.shutDown();
    expect(await q.get()).toBeUndefined();
  });

  it('rate-limited retries double per key until forgotten', () => {
    const q = new WorkQueue(5, 40);
    expect(q.backoffOf('k')).toBe(5);
    q.addRateLimited('k');
    q.addRateLimited('k');
    expect(q.backoffOf('k')).toBe(20);
    q.addRateLimited('k');
    q.addRateLimited('k');
    expect(q.backoffOf('k')).toBe(40);
    q.forget('k');
    expect(q.backoffOf('k')).toBe(5);
    q.shutDown();
  });
});

describe('--controllers', () => {
  it('* enables all, -name disables, a name enables, unknown is refused', () => {
    expect([...controllersOf('*')].sort()).toEqual(['replicaset', 'replicationcontroller', 'root-ca-cert-publisher', 'serviceaccount']);
    expect([...controllersOf('*,-replicaset')]).toEqual(['replicationcontroller', 'serviceaccount', 'root-ca-cert-publisher']);
    expect([...controllersOf('replicaset')]).toEqual(['replicaset']);
    expect(() => controllersOf('*,bogus')).toThrow(/bogus/);
  });
});
