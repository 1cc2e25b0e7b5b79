import { describe, expect, it } from 'vitest';
import { effectiveTaints, filterNode, fitErrorMessage, nodeInfoOf, NodeUsage, podInfoOf, podRequests, schedulePod, spreadSelectors, termMatches, tolerates, withUnschedulable, controllerSelectorOf, type NodeSelectorRequirement, type NodeSelectorTerm } from '../scheduler/index.js';

type Obj = Record<string, unknown>;
const node = (name: string, o: { cpu?: string; memory?: string; pods?: string; labels?: Record<string, string>; ready?: string; unschedulable?: boolean; taints?: Obj[] } = {}): Obj => ({
  metadata: { name, labels: o.labels ?? {} },
  spec: { ...(o.unschedulable && { unschedulable: true }), ...(o.taints && { taints: o.taints }) },
  status: { allocatable: { cpu: o.cpu ?? '2', memory: o.memory ?? '4Gi', pods: o.pods ?? '110' }, conditions: [{ type: 'Ready', status: o.ready ?? 'True' }] },
});
const pod = (name: string, spec: Obj = {}, meta: Obj = {}): Obj => ({ metadata: { name, namespace: 'default', uid: `u-${name}`, ...meta }, spec: { containers: [{ name: 'c', image: 'i' }], ...spec } });
const req = (cpu: string, memory?: string): Obj => ({ containers: [{ name: 'c', image: 'i', resources: { requests: { cpu, ...(memory && { memory }) } } }] });
const P = (name: string, spec: Obj = {}, meta: Obj = {}) => podInfoOf(`/registry/pods/default/${name}`, pod(name, spec, meta));

describe('requests', () => {
  it('sums containers and takes the largest init container when larger, per resource', () => {
    const spec = {
      containers: [
        { resources: { requests: { cpu: '100m', memory: '100Mi' } } },
        { resources: { requests: { cpu: '200m', memory: '50Mi' } } },
      ],
      initContainers: [{ resources: { requests: { cpu: '500m', memory: '10Mi' } } }],
    };
    expect(podRequests(spec)).toEqual({ milliCpu: 500, memory: 150 * 2 ** 20 });
    expect(podRequests({ containers: [{}] }, true)).toEqual({ milliCpu: 100, memory: 200 * 2 ** 20 });
    expect(podRequests({ containers: [{ resources: { limits: { cpu: '1' } } }] })).toEqual({ milliCpu: 1000, memory: 0 });
  });
});

describe('filters', () => {
  it('resources against allocatable minus what the node holds', () => {
    const n = nodeInfoOf(node('a', { cpu: '1', memory: '1Gi', pods: '2' }));
    const u = new NodeUsage();
    u.add(P('x', req('600m', '512Mi')));
    expect(filterNode(P('p', req('400m')), n, u)).toEqual([]);
    expect(filterNode(P('p', req('500m', '600Mi')), n, u)).toEqual(['Insufficient cpu', 'Insufficient memory']);
    u.add(P('y'));
    expect(filterNode(P('p'), n, u)).toEqual(['Too many pods']);
  });

  it('unschedulable, taints and not-ready nodes, with tolerations', () => {
    expect(filterNode(P('p'), nodeInfoOf(node('a', { unschedulable: true })))).toEqual(['node(s) were unschedulable']);
    expect(filterNode(P('p', { tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] }), nodeInfoOf(node('a', { unschedulable: true })))).toEqual([]);
    const tainted = nodeInfoOf(node('a', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] }));
    expect(filterNode(P('p'), tainted)).toEqual(['node(s) had untolerated taint {dedicated: db}']);
    expect(filterNode(P('p', { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db' }] }), tainted)).toEqual([]);
    expect(filterNode(P('p', { tolerations: [{ key: 'dedicated', value: 'web' }] }), tainted)).toHaveLength(1);
    expect(filterNode(P('p', { tolerations: [{ operator: 'Exists' }] }), tainted)).toEqual([]);
    expect(filterNode(P('p'), nodeInfoOf(node('a', { taints: [{ key: 'k', effect: 'PreferNoSchedule' }] })))).toEqual([]);
    expect(filterNode(P('p'), nodeInfoOf(node('a', { ready: 'False' })))).toEqual(['node(s) had untolerated taint {node.kubernetes.io/not-ready: }']);
    expect(filterNode(P('p'), nodeInfoOf(node('a', { ready: 'Unknown' })))).toEqual(['node(s) had untolerated taint {node.kubernetes.io/unreachable: }']);
    expect(effectiveTaints(nodeInfoOf(node('a')))).toEqual([]);
    expect(tolerates({ key: 'a', operator: 'Exists', effect: 'NoExecute' }, { key: 'a', effect: 'NoSchedule' })).toBe(false);
  });

  it('nodeSelector and required node affinity', () => {
    const n = nodeInfoOf(node('node-a', { labels: { disk: 'ssd', cores: '8' } }));
    expect(filterNode(P('p', { nodeSelector: { disk: 'ssd' } }), n)).toEqual([]);
    expect(filterNode(P('p', { nodeSelector: { disk: 'hdd' } }), n)).toEqual(["node(s) didn't match Pod's node affinity/selector"]);
    const term = (e: NodeSelectorRequirement[], f: NodeSelectorRequirement[] = []) => ({ matchExpressions: e, matchFields: f });
    const t = (op: string, values?: string[], key = 'cores') => termMatches(term([{ key, operator: op, ...(values && { values }) }]), n);
    expect([t('In', ['8']), t('NotIn', ['8']), t('Exists'), t('DoesNotExist'), t('Gt', ['4']), t('Lt', ['4']), t('Gt', ['x'])]).toEqual([true, false, true, false, true, false, false]);
    expect(t('NotIn', ['1'], 'absent')).toBe(true);
    expect(termMatches(term([], [{ key: 'metadata.name', operator: 'In', values: ['node-a'] }]), n)).toBe(true);
    expect(termMatches(term([]), n)).toBe(false);
    const aff = (terms: NodeSelectorTerm[]) => ({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } } });
    expect(filterNode(P('p', aff([term([{ key: 'disk', operator: 'In', values: ['hdd'] }]), term([{ key: 'cores', operator: 'Gt', values: ['2'] }])])), n)).toEqual([]);
    expect(filterNode(P('p', aff([term([{ key: 'disk', operator: 'In', values: ['hdd'] }])])), n)).toHaveLength(1);
  });

  it('host ports', () => {
    const n = nodeInfoOf(node('a'));
    const hp = (port: number, hostIP?: string, protocol?: string) => ({ containers: [{ name: 'c', ports: [{ containerPort: 80, hostPort: port, ...(hostIP && { hostIP }), ...(protocol && { protocol }) }] }] });
    const u = new NodeUsage();
    u.add(P('x', hp(8080, '10.0.0.1')));
    expect(filterNode(P('p', hp(8080)), n, u)).toEqual(["node(s) didn't have free ports for the requested pod ports"]);
    expect(filterNode(P('p', hp(8080, '10.0.0.2')), n, u)).toEqual([]);
    expect(filterNode(P('p', hp(8080, undefined, 'UDP')), n, u)).toEqual([]);
    expect(filterNode(P('p', hp(8081)), n, u)).toEqual([]);
  });
});

describe('FailedScheduling message', () => {
  it('counts and sorts the reasons as FitError does', () => {
    const m = new Map([
      ['b', ["node(s) didn't match Pod's node affinity/selector"]],
      ['a', ['Insufficient cpu']],
    ]);
    expect(fitErrorMessage(2, m)).toBe("0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node affinity/selector.");
    expect(fitErrorMessage(2, new Map([['a', ['Insufficient cpu']], ['b', ['Insufficient cpu']]]))).toBe('0/2 nodes are available: 2 Insufficient cpu.');
    expect(fitErrorMessage(0, new Map())).toBe('no nodes available to schedule pods');
  });

  it('one schedulePod cycle gives the reasons of every node', () => {
    const nodes = [nodeInfoOf(node('a', { cpu: '1', labels: { x: 'z' } })), nodeInfoOf(node('b', { labels: { x: 'y' } }))];
    const r = schedulePod(P('p', { ...req('1500m'), nodeSelector: { x: 'z' } }), nodes, () => undefined, []);
    expect(r.node).toBeUndefined();
    expect(fitErrorMessage(2, r.reasons)).toBe("0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node affinity/selector.");
  });
});

describe('scores', () => {
  it('least allocated prefers the emptier node', () => {
    const nodes = [nodeInfoOf(node('a')), nodeInfoOf(node('b'))];
    const ua = new NodeUsage();
    ua.add(P('x', req('1', '1Gi')));
    expect(schedulePod(P('p', req('100m')), nodes, (n) => (n === 'a' ? ua : undefined), []).node).toBe('b');
  });

  it('spreads the pods of one RC (by its selector) across nodes, beating a small resource difference', () => {
    const nodes = [nodeInfoOf(node('a', { cpu: '8', memory: '8Gi' })), nodeInfoOf(node('b', { cpu: '2' }))];
    const owner = { ownerReferences: [{ kind: 'ReplicationController', name: 'web', controller: true }], labels: { app: 'web' } };
    const ua = new NodeUsage();
    ua.add(P('web-1', {}, owner));
    const p = P('web-2', {}, owner);
    const sels = spreadSelectors(p, { services: [], controllerSelector: (ns, kind, name) => (ns === 'default' && kind === 'ReplicationController' && name === 'web' ? controllerSelectorOf(kind, { selector: { app: 'web' } }) : undefined) });
    expect(sels).toHaveLength(1);
    expect(schedulePod(p, nodes, (n) => (n === 'a' ? ua : undefined), sels).node).toBe('b');
    // Without the selector the bigger node wins.
    expect(schedulePod(p, nodes, (n) => (n === 'a' ? ua : undefined), []).node).toBe('a');
    const svc = spreadSelectors(P('q', {}, { labels: { app: 'web' } }), { services: [{ namespace: 'default', selector: { app: 'web' } }, { namespace: 'other', selector: { app: 'web' } }, { namespace: 'default', selector: {} }], controllerSelector: () => undefined });
    expect(svc).toHaveLength(1);
    expect(controllerSelectorOf('ReplicaSet', { selector: { matchLabels: { a: 'b' } } })).toHaveLength(1);
  });

  it('preferred node affinity weights', () => {
    const nodes = [nodeInfoOf(node('a', { labels: { zone: 'x' } })), nodeInfoOf(node('b', { labels: { zone: 'y' } }))];
    const pref = (zone: string, weight: number) => ({ weight, preference: { matchExpressions: [{ key: 'zone', operator: 'In', values: [zone] }] } });
    const p = P('p', { affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [pref('x', 10), pref('y', 50)] } } });
    const r = schedulePod(p, nodes, () => undefined, []);
    expect(r.node).toBe('b');
    expect(r.scores.get('b')! - r.scores.get('a')!).toBe(2 * (100 - 20));
  });

  it('breaks ties at random among the best', () => {
    const nodes = [nodeInfoOf(node('a')), nodeInfoOf(node('b'))];
    expect(schedulePod(P('p'), nodes, () => undefined, [], () => 0).node).toBe('b');
    expect(schedulePod(P('p'), nodes, () => undefined, [], () => 0.99).node).toBe('a');
  });
});

describe('pod status', () => {
  it('PodScheduled=False once per message, keeping its transition time', () => {
    const p = pod('p');
    const a = withUnschedulable(p, 'm1', '2026-01-01T00:00:00Z')!;
    expect((a.status as { conditions: Obj[] }).conditions).toEqual([{ type: 'PodScheduled', status: 'False', lastProbeTime: null, lastTransitionTime: '2026-01-01T00:00:00Z', reason: 'Unschedulable', message: 'm1' }]);
    expect(withUnschedulable(a, 'm1', 'later')).toBeUndefined();
    const b = withUnschedulable(a, 'm2', 'later')!;
    expect((b.status as { conditions: Obj[] }).conditions[0]!.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
    expect(withUnschedulable({ ...p, spec: { nodeName: 'a' } }, 'm', 'x')).toBeUndefined();
  });
});
