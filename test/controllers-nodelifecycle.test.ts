// The node lifecycle controller's pure part: stale heartbeats (by this controller's clock), the
// conditions a stale node gets, the taints conditions call for, zone states and tainting rates, the
// taint manager's toleration times, node IPAM's allocator, and the pod GC's orphans.
import { describe, expect, it } from 'vitest';
import type { Node, Pod } from '../cluster/index.js';
import {
  CidrAllocator,
  nextTaints,
  noExecuteTaintFor,
  observeHealth,
  orphanedPods,
  podNotReadyConditions,
  RateLimiter,
  staleConditions,
  tolerates,
  tolerationTimeMs,
  zoneOf,
  zoneRates,
  zoneState,
} from '../controllers/index.js';

const node = (name: string, ready: 'True' | 'False' | 'Unknown' | undefined, extra: Partial<Node['spec']> = {}, labels: Record<string, string> = {}): Node => ({
  metadata: { name, labels, creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: { ...extra },
  status: { conditions: ready ? [{ type: 'Ready', status: ready, reason: 'KubeletReady', lastHeartbeatTime: '2026-01-01T00:00:10Z', lastTransitionTime: '2026-01-01T00:00:05Z' }] : [] },
});

describe('node health', () => {
  it('counts the grace period from when this controller last saw the heartbeat or the lease change', () => {
    const n = node('a', 'True');
    let h = observeHealth(undefined, n, undefined, 1_000);
    expect(staleConditions(n, h, 50_000, 50_000, 60_000, 'now')).toBeUndefined();
    h = observeHealth(h, n, undefined, 51_001);
    expect(h.probeMs).toBe(1_000);
    // A lease renewal keeps it fresh even though the condition's heartbeat did not move.
    const renewed = observeHealth(h, n, '2026-01-01T00:00:50Z', 51_001);
    expect(renewed.probeMs).toBe(51_001);
    expect(staleConditions(n, renewed, 52_000, 50_000, 60_000, 'now')).toBeUndefined();
    const conds = staleConditions(n, h, 51_001, 50_000, 60_000, '2026-01-01T00:01:00Z')!;
    expect(conds).toEqual([
      { type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastHeartbeatTime: '2026-01-01T00:00:10Z', lastTransitionTime: '2026-01-01T00:01:00Z' },
    ]);
    // Once marked, nothing more to write.
    expect(staleConditions({ ...n, status: { conditions: conds } }, h, 99_000, 50_000, 60_000, 'x')).toBeUndefined();
  });

  it('gives a node that never posted its status the startup grace period, then Ready=Unknown (never updated)', () => {
    const n = node('a', undefined);
    const h = observeHealth(undefined, n, undefined, 0);
    expect(staleConditions(n, h, 55_000, 50_000, 60_000, 'x')).toBeUndefined();
    expect(staleConditions(n, h, 60_001, 50_000, 60_000, 't')).toEqual([
      { type: 'Ready', status: 'Unknown', reason: 'NodeStatusNeverUpdated', message: 'Kubelet never posted node status.', lastHeartbeatTime: '2026-01-01T00:00:00Z', lastTransitionTime: 't' },
    ]);
  });
});

describe('node taints', () => {
  it('taints an unreachable node NoSchedule and NoExecute, a not-ready one with not-ready, and none when Ready', () => {
    expect(noExecuteTaintFor(node('a', 'Unknown'))).toBe('node.kubernetes.io/unreachable');
    expect(noExecuteTaintFor(node('a', 'False'))).toBe('node.kubernetes.io/not-ready');
    expect(noExecuteTaintFor(node('a', 'True'))).toBeUndefined();
    const t = nextTaints(node('a', 'Unknown'), 'node.kubernetes.io/unreachable', 'T')!;
    expect(t).toEqual([
      { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' },
      { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: 'T' },
    ]);
    // Unchanged: nothing to write; the timeAdded stays.
    const tainted = node('a', 'Unknown', { taints: t });
    expect(nextTaints(tainted, 'node.kubernetes.io/unreachable', 'later')).toBeUndefined();
    // Recovered: its own taints go, another's stay.
    const recovered = node('a', 'True', { taints: [...t, { key: 'dedicated', value: 'db', effect: 'NoSchedule' }] });
    expect(nextTaints(recovered, undefined, 'x')).toEqual([{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }]);
    // Rate-limited: the NoExecute taint waits ('keep'), the NoSchedule one does not.
    expect(nextTaints(node('a', 'False'), 'keep', 'x')).toEqual([{ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }]);
    expect(nextTaints(node('a', 'True', { unschedulable: true }), undefined, 'x')).toEqual([{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }]);
  });

  it('computes zone states and rates: partial disruption slows tainting, all zones down stops it', () => {
    const zone = (z: string) => ({ 'topology.kubernetes.io/zone': z });
    expect(zoneOf(node('a', 'True', {}, zone('z1')))).toBe(':\u0000:z1');
    expect(zoneState([node('a', 'True'), node('b', 'Unknown')], 0.55)).toBe('Normal');
    expect(zoneState([node('a', 'True'), ...['b', 'c', 'd'].map((n) => node(n, 'Unknown'))], 0.55)).toBe('PartialDisruption');
    expect(zoneState([node('a', 'Unknown')], 0.55)).toBe('FullDisruption');
    const cfg = { evictionRate: 0.1, secondaryEvictionRate: 0.01, largeClusterThreshold: 50 };
    const rates = zoneRates(new Map([['z1', { state: 'Normal', size: 3 }], ['z2', { state: 'PartialDisruption', size: 60 }], ['z3', { state: 'PartialDisruption', size: 10 }]] as const), cfg);
    expect([...rates]).toEqual([['z1', 0.1], ['z2', 0.01], ['z3', 0]]);
    expect([...zoneRates(new Map([['z1', { state: 'FullDisruption', size: 3 }]] as const), cfg)]).toEqual([['z1', 0]]);
  });

  it('rate-limits with a burst of one', () => {
    const l = new RateLimiter(0.1, 0);
    expect(l.tryAccept(0)).toBe(true);
    expect(l.tryAccept(5_000)).toBe(false);
    expect(l.tryAccept(10_000)).toBe(true);
    l.setRate(0, 20_000);
    expect(l.tryAccept(100_000)).toBe(false);
  });
});

describe('the taint manager', () => {
  const unreachable = { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' };
  const notReady = { key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' };
  it('matches tolerations to taints as Kubernetes does', () => {
    expect(tolerates({ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' }, unreachable)).toBe(true);
    expect(tolerates({ operator: 'Exists' }, unreachable)).toBe(true);
    expect(tolerates({ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoSchedule' }, unreachable)).toBe(false);
    expect(tolerates({ key: 'k', value: 'v' }, { key: 'k', value: 'v', effect: 'NoExecute' })).toBe(true);
    expect(tolerates({ key: 'k', value: 'w' }, { key: 'k', value: 'v', effect: 'NoExecute' })).toBe(false);
  });

  it('evicts at once without a toleration, after the least tolerationSeconds, never when tolerated forever', () => {
    const def = [
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 5 },
    ];
    expect(tolerationTimeMs([], [unreachable])).toBe(0);
    expect(tolerationTimeMs(def, [unreachable])).toBe(5_000);
    expect(tolerationTimeMs(def, [unreachable, notReady])).toBe(5_000);
    expect(tolerationTimeMs([{ operator: 'Exists' }], [unreachable])).toBe(Infinity);
    expect(tolerationTimeMs(def, [{ key: 'other', effect: 'NoSchedule' }])).toBeUndefined();
    expect(tolerationTimeMs(def, [unreachable, { key: 'other', effect: 'NoExecute' }])).toBe(0);
  });

  it("sets a pod's Ready condition False on a node that stopped reporting", () => {
    const p: Pod = { metadata: { name: 'p' }, spec: { containers: [] }, status: { phase: 'Running', conditions: [{ type: 'Initialized', status: 'True' }, { type: 'Ready', status: 'True' }] } };
    expect(podNotReadyConditions(p, 'T')?.conditions).toEqual([{ type: 'Initialized', status: 'True' }, { type: 'Ready', status: 'False', lastTransitionTime: 'T' }]);
    expect(podNotReadyConditions({ ...p, status: podNotReadyConditions(p, 'T')! }, 'U')).toBeUndefined();
  });
});

describe('node IPAM', () => {
  it('hands out blocks in order, never one in use, and is rebuilt from the nodes after a restart', () => {
    const a = new CidrAllocator('10.244.0.0/16', 24);
    expect(a.size).toBe(256n);
    expect(a.occupy('10.244.1.0/24')).toBe(true);
    expect(a.occupy('192.168.0.0/24')).toBe(false);
    expect([a.allocate(), a.allocate()]).toEqual(['10.244.0.0/24', '10.244.2.0/24']);
    const restarted = new CidrAllocator('10.244.0.0/16', 24);
    for (const c of ['10.244.0.0/24', '10.244.1.0/24', '10.244.2.0/24']) restarted.occupy(c);
    expect(restarted.allocate()).toBe('10.244.3.0/24');
    const tiny = new CidrAllocator('10.0.0.0/23', 24);
    expect([tiny.allocate(), tiny.allocate(), tiny.allocate()]).toEqual(['10.0.0.0/24', '10.0.1.0/24', undefined]);
    tiny.release('10.0.0.0/24');
    expect(tiny.allocate()).toBe('10.0.0.0/24');
  });
});

describe('pod GC', () => {
  it('finds the pods of nodes missing for the quarantine', () => {
    const p = (name: string, nodeName?: string): Pod => ({ metadata: { name }, spec: { containers: [], ...(nodeName && { nodeName }) } });
    const missing = new Map<string, number>();
    const pods = [p('a', 'gone'), p('b', 'here'), p('c')];
    expect(orphanedPods(pods, new Set(['here']), missing, 0, 40_000)).toEqual([]);
    expect(orphanedPods(pods, new Set(['here']), missing, 39_000, 40_000)).toEqual([]);
    expect(orphanedPods(pods, new Set(['here']), missing, 40_000, 40_000).map((x) => x.metadata.name)).toEqual(['a']);
    // Back in time: the clock starts again.
    expect(orphanedPods(pods, new Set(['here', 'gone']), missing, 41_000, 40_000)).toEqual([]);
    expect(missing.size).toBe(0);
  });
});
