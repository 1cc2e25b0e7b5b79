// The DaemonSet controller's pure decisions: which nodes run the daemon pod (selector, affinity,
// taints against the daemon tolerations), the pod for a node, creates and deletes, the rolling
// update under maxUnavailable, OnDelete, and the status.
import { describe, expect, it } from 'vitest';
import { daemonset } from '../controllers/index.js';

const { daemonSetOf, daemonPodOf, daemonPodFor, nodeShouldRunDaemonPod, planDaemonSet, templateHash, daemonTolerations, scaledValue } = daemonset;

const T0 = Date.parse('2024-03-05T10:00:00Z');
const at = (s: number): string => new Date(T0 + s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

const TEMPLATE = { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'agent', image: 'agent:1' }], restartPolicy: 'Always' } };
const DS = (spec: Record<string, unknown> = {}) =>
  daemonSetOf({
    metadata: { name: 'agent', namespace: 'kube-system', uid: 'ds-uid', generation: 2 },
    spec: { selector: { matchLabels: { app: 'agent' } }, template: TEMPLATE, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } }, ...spec },
  });
const NODE = (name: string, extra: { labels?: Record<string, string>; taints?: unknown[]; unschedulable?: boolean } = {}) => ({
  metadata: { name, labels: { 'kubernetes.io/hostname': name, ...extra.labels } },
  spec: { ...(extra.taints && { taints: extra.taints }), ...(extra.unschedulable && { unschedulable: true }) },
  status: { conditions: [{ type: 'Ready', status: 'True' }] },
});
let n = 0;
/** A daemon pod on `node` (bound) of template `hash`, ready since `readyAt` s. */
const POD = (node: string, hash: string, o: { readyAt?: number; phase?: string; created?: number; deleting?: boolean; bound?: boolean } = {}) => {
  const d = DS();
  const raw = daemonPodFor(d, node, hash) as { metadata: Record<string, unknown>; spec: Record<string, unknown> };
  return daemonPodOf({
    ...raw,
    metadata: { ...raw.metadata, name: `agent-${n}`, uid: `u${n++}`, creationTimestamp: at(o.created ?? 0), ...(o.deleting && { deletionTimestamp: at(1) }) },
    spec: { ...raw.spec, ...(o.bound !== false && { nodeName: node }) },
    status: { phase: o.phase ?? 'Running', ...(o.readyAt !== undefined && { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: at(o.readyAt) }] }) },
  });
};

describe('DaemonSet: the pod for a node', () => {
  it('is placed by a required node affinity on metadata.name, with the daemon tolerations and the revision labels', () => {
    const hash = templateHash(TEMPLATE);
    expect(hash).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
    expect(templateHash({ ...TEMPLATE })).toBe(hash);
    expect(templateHash({ ...TEMPLATE, spec: { ...TEMPLATE.spec, containers: [{ name: 'agent', image: 'agent:2' }] } })).not.toBe(hash);
    const pod = daemonPodFor(DS(), 'n1', hash) as { metadata: Record<string, unknown>; spec: Record<string, unknown> };
    expect(pod.metadata).toEqual({
      generateName: 'agent-',
      namespace: 'kube-system',
      labels: { app: 'agent', 'controller-revision-hash': hash, 'pod-template-generation': '2' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: 'ds-uid', controller: true, blockOwnerDeletion: true }],
    });
    expect(pod.spec.affinity).toEqual({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] }] } } });
    expect(pod.spec.nodeName).toBeUndefined();
    expect((pod.spec.tolerations as { key: string; effect: string }[]).map((t) => `${t.key}:${t.effect}`)).toEqual([
      'node.kubernetes.io/not-ready:NoExecute',
      'node.kubernetes.io/unreachable:NoExecute',
      'node.kubernetes.io/disk-pressure:NoSchedule',
      'node.kubernetes.io/memory-pressure:NoSchedule',
      'node.kubernetes.io/pid-pressure:NoSchedule',
      'node.kubernetes.io/unschedulable:NoSchedule',
    ]);
    expect(daemonTolerations(true).map((t) => t.key)).toContain('node.kubernetes.io/network-unavailable');
    // An unscheduled pod counts for the node its affinity names.
    expect(POD('n1', hash, { bound: false }).node).toBe('n1');
  });

  it('runs on nodes its selector and affinity match, not where an untolerated taint is; NoExecute evicts, NoSchedule only keeps new pods off', () => {
    const ds = DS();
    expect(nodeShouldRunDaemonPod(ds, NODE('a'))).toEqual({ shouldRun: true, shouldContinueRunning: true });
    expect(nodeShouldRunDaemonPod(ds, NODE('b', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] }))).toEqual({ shouldRun: false, shouldContinueRunning: true });
    expect(nodeShouldRunDaemonPod(ds, NODE('c', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoExecute' }] }))).toEqual({ shouldRun: false, shouldContinueRunning: false });
    // The daemon tolerations: an unschedulable or not-ready node still runs it.
    expect(nodeShouldRunDaemonPod(ds, NODE('d', { unschedulable: true, taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] })).shouldRun).toBe(true);
    expect(nodeShouldRunDaemonPod(ds, NODE('e', { taints: [{ key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' }] })).shouldRun).toBe(true);
    const sel = DS({ template: { ...TEMPLATE, spec: { ...TEMPLATE.spec, nodeSelector: { disk: 'ssd' } } } });
    expect(nodeShouldRunDaemonPod(sel, NODE('f')).shouldRun).toBe(false);
    expect(nodeShouldRunDaemonPod(sel, NODE('g', { labels: { disk: 'ssd' } })).shouldRun).toBe(true);
    const aff = DS({
      template: { ...TEMPLATE, spec: { ...TEMPLATE.spec, affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['x'] }] }] } } } } },
    });
    expect(nodeShouldRunDaemonPod(aff, NODE('h', { labels: { zone: 'y' } })).shouldRun).toBe(false);
    expect(nodeShouldRunDaemonPod(aff, NODE('i', { labels: { zone: 'x' } })).shouldRun).toBe(true);
    // A tolerated taint is no obstacle.
    const tol = DS({ template: { ...TEMPLATE, spec: { ...TEMPLATE.spec, tolerations: [{ key: 'dedicated', operator: 'Exists' }] } } });
    expect(nodeShouldRunDaemonPod(tol, NODE('j', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoExecute' }] })).shouldRun).toBe(true);
  });
});

describe('DaemonSet: the plan', () => {
  const hash = templateHash(TEMPLATE);
  const nodes = [NODE('n1'), NODE('n2'), NODE('n3'), NODE('tainted', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] })];

  it('one pod per matching node, none on the tainted one; the status counts them', () => {
    const p = planDaemonSet(DS(), nodes, [], T0);
    expect(p.create).toEqual(['n1', 'n2', 'n3']);
    expect(p.delete).toEqual([]);
    expect(p.status).toMatchObject({ desiredNumberScheduled: 3, currentNumberScheduled: 0, numberReady: 0, numberAvailable: 0, numberUnavailable: 3, observedGeneration: 2 });
    const pods = [POD('n1', hash, { readyAt: 1 }), POD('n2', hash, { readyAt: 1 }), POD('n3', hash)];
    const q = planDaemonSet(DS(), nodes, pods, T0 + 5000);
    expect(q.create).toEqual([]);
    expect(q.delete).toEqual([]);
    expect(q.status).toEqual({ desiredNumberScheduled: 3, currentNumberScheduled: 3, numberMisscheduled: 0, numberReady: 2, updatedNumberScheduled: 3, numberAvailable: 2, numberUnavailable: 1, observedGeneration: 2 });
  });

  it('a second pod on a node goes (the oldest stays); a failed one is replaced; a pod on a gone or NoExecute-tainted node goes', () => {
    const old = POD('n1', hash, { readyAt: 1, created: 0 });
    const dup = POD('n1', hash, { created: 5 });
    const failed = POD('n2', hash, { phase: 'Failed' });
    const gone = POD('n9', hash, { readyAt: 1 });
    const evicted = POD('x', hash, { readyAt: 1 });
    const p = planDaemonSet(DS(), [...nodes, NODE('x', { taints: [{ key: 'k', effect: 'NoExecute' }] })], [old, dup, failed, POD('n3', hash), gone, evicted], T0);
    expect(p.delete.map((x) => x.name).sort()).toEqual([dup.name, gone.name, evicted.name].sort());
    expect(p.failed).toEqual([failed]);
    expect(p.status.numberMisscheduled).toBe(1); // the pod on the NoExecute node
    // A pod on a NoSchedule-tainted node it was already on stays (misscheduled, not deleted).
    const stays = planDaemonSet(DS(), nodes, [POD('tainted', hash, { readyAt: 1 })], T0);
    expect(stays.delete).toEqual([]);
    expect(stays.status.numberMisscheduled).toBe(1);
  });

  it('a terminating pod keeps its node from getting a new one until it is gone', () => {
    const p = planDaemonSet(DS(), [NODE('n1')], [POD('n1', 'old', { deleting: true })], T0);
    expect(p.create).toEqual([]);
    expect(planDaemonSet(DS(), [NODE('n1')], [], T0).create).toEqual(['n1']);
  });

  it('RollingUpdate: at most maxUnavailable nodes without an available pod; unavailable old pods first', () => {
    const olds = ['n1', 'n2', 'n3'].map((nd) => POD(nd, 'old', { readyAt: 1 }));
    const p = planDaemonSet(DS(), nodes.slice(0, 3), olds, T0 + 5000);
    expect(p.delete).toHaveLength(1);
    expect(p.status.updatedNumberScheduled).toBe(0);
    // One node being replaced (its pod terminating): nothing more until it is back.
    const replacing = [POD('n1', 'old', { readyAt: 1, deleting: true }), olds[1]!, olds[2]!];
    expect(planDaemonSet(DS(), nodes.slice(0, 3), replacing, T0 + 5000).delete).toEqual([]);
    // Its new pod not ready yet: still nothing.
    const fresh = [POD('n1', hash), olds[1]!, olds[2]!];
    expect(planDaemonSet(DS(), nodes.slice(0, 3), fresh, T0 + 5000).delete).toEqual([]);
    // Ready: the next old one goes.
    const readyNew = [POD('n1', hash, { readyAt: 3 }), olds[1]!, olds[2]!];
    const next = planDaemonSet(DS(), nodes.slice(0, 3), readyNew, T0 + 5000);
    expect(next.delete.map((x) => x.node)).toHaveLength(1);
    expect(next.status.updatedNumberScheduled).toBe(1);
    // maxUnavailable 2 (or 67%): two at once; an old pod that is not available goes regardless.
    expect(planDaemonSet(DS({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 2 } } }), nodes.slice(0, 3), olds, T0 + 5000).delete).toHaveLength(2);
    expect(scaledValue('67%', 3)).toBe(3);
    expect(scaledValue('34%', 3)).toBe(2);
    const notReady = [POD('n1', 'old'), POD('n2', 'old'), olds[2]!];
    expect(planDaemonSet(DS(), nodes.slice(0, 3), notReady, T0 + 5000).delete).toHaveLength(2);
  });

  it('OnDelete: old pods stay until someone deletes them; their replacement is new', () => {
    const ds = DS({ updateStrategy: { type: 'OnDelete' } });
    const olds = ['n1', 'n2'].map((nd) => POD(nd, 'old', { readyAt: 1 }));
    expect(planDaemonSet(ds, nodes.slice(0, 2), olds, T0 + 5000).delete).toEqual([]);
    expect(planDaemonSet(ds, nodes.slice(0, 2), [olds[1]!], T0 + 5000).create).toEqual(['n1']);
  });

  it('minReadySeconds: ready but not yet available asks to look again', () => {
    const ds = DS({ minReadySeconds: 10 });
    const p = planDaemonSet(ds, [NODE('n1')], [POD('n1', hash, { readyAt: 2 })], T0 + 5000);
    expect(p.status).toMatchObject({ numberReady: 1, numberAvailable: 0, numberUnavailable: 1 });
    expect(p.requeueAfterMs).toBe(7000);
  });
});
