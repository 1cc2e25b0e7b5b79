// The scheduler's pure part, as kube-scheduler's default plugins compute it: what a pod asks for and
// what a node offers (read from the API's JSON), the filters (NodeUnschedulable, TaintToleration,
// NodeAffinity, NodePorts, NodeResourcesFit: the first that fails a node gives its reasons), the
// scores (least allocated, selector spreading, preferred node affinity, each 0..100 and weighted),
// and the FailedScheduling message with its reasons counted and sorted as FitError.Error sorts them.
import { isObject } from '../common/index.js';
import { labelSelectorAsSelector, type LabelSelector, type LabelSelectorObject, matchesLabels } from '../cluster/index.js';
import { parseQuantity } from '../kubelet/index.js';

type Obj = Record<string, unknown>;

export const DEFAULT_SCHEDULER = 'default-scheduler';
/** The requests a container without any is counted with when scoring (schedutil.DefaultMilliCPURequest / DefaultMemoryRequest). */
export const DEFAULT_MILLI_CPU = 100;
export const DEFAULT_MEMORY = 200 * 1024 * 1024;
export const MAX_NODE_SCORE = 100;

export interface Resources {
  /** Millicores. */
  readonly milliCpu: number;
  /** Bytes. */
  readonly memory: number;
}

export interface HostPort {
  readonly ip: string;
  readonly protocol: string;
  readonly port: number;
}

export interface Toleration {
  readonly key?: string;
  readonly operator?: string;
  readonly value?: string;
  readonly effect?: string;
}

export interface Taint {
  readonly key: string;
  readonly value?: string;
  readonly effect: string;
}

export interface NodeSelectorRequirement {
  readonly key: string;
  readonly operator: string;
  readonly values?: readonly string[];
}

export interface NodeSelectorTerm {
  readonly matchExpressions?: readonly NodeSelectorRequirement[];
  readonly matchFields?: readonly NodeSelectorRequirement[];
}

export interface PodInfo {
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly nodeName: string;
  readonly schedulerName: string;
  readonly deleting: boolean;
  /** Succeeded or Failed: holds nothing on its node. */
  readonly terminated: boolean;
  readonly requests: Resources;
  /** The requests with the scoring defaults for containers that ask for nothing. */
  readonly nonZero: Resources;
  readonly hostPorts: readonly HostPort[];
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly requiredTerms?: readonly NodeSelectorTerm[];
  readonly preferredTerms: readonly { readonly weight: number; readonly preference: NodeSelectorTerm }[];
  readonly tolerations: readonly Toleration[];
  /** The controller owner reference (`ReplicationController`, `ReplicaSet`...). */
  readonly controller?: { readonly kind: string; readonly name: string };
}

export interface NodeInfo {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly unschedulable: boolean;
  /** The Ready condition's status (`True`, `False`, `Unknown`; `Unknown` when absent). */
  readonly ready: string;
  readonly taints: readonly Taint[];
  readonly allocatable: Resources & { readonly pods: number };
}

const strOf = (v: unknown): string => (typeof v === 'string' ? v : '');
const objOf = (v: unknown): Obj => (isObject(v) ? v : {});
const arrOf = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const strMap = (v: unknown): Record<string, string> => Object.fromEntries(Object.entries(objOf(v)).filter((e): e is [string, string] => typeof e[1] === 'string'));
const qty = (v: unknown): number => (typeof v === 'string' || typeof v === 'number' ? (parseQuantity(v) ?? 0) : 0);

/** Pure: one container's cpu (millicores) and memory (bytes) requests; limits stand in for absent requests, as the API defaults them. */
function containerRequests(c: Obj, nonZero: boolean): Resources {
  const res = objOf(c.resources);
  const req = objOf(res.requests);
  const lim = objOf(res.limits);
  const cpuQ = req.cpu ?? lim.cpu;
  const memQ = req.memory ?? lim.memory;
  const milliCpu = cpuQ === undefined ? (nonZero ? DEFAULT_MILLI_CPU : 0) : Math.ceil(qty(cpuQ) * 1000);
  const memory = memQ === undefined ? (nonZero ? DEFAULT_MEMORY : 0) : Math.ceil(qty(memQ));
  return { milliCpu, memory };
}

/** Pure: a pod's requests: the sum over its containers, or the largest init container's when larger (per resource), plus its overhead. */
export function podRequests(spec: Obj, nonZero = false): Resources {
  let milliCpu = 0;
  let memory = 0;
  for (const c of arrOf(spec.containers)) {
    const r = containerRequests(objOf(c), nonZero);
    milliCpu += r.milliCpu;
    memory += r.memory;
  }
  for (const c of arrOf(spec.initContainers)) {
    const r = containerRequests(objOf(c), nonZero);
    milliCpu = Math.max(milliCpu, r.milliCpu);
    memory = Math.max(memory, r.memory);
  }
  const overhead = objOf(spec.overhead);
  if (overhead.cpu !== undefined) milliCpu += Math.ceil(qty(overhead.cpu) * 1000);
  if (overhead.memory !== undefined) memory += Math.ceil(qty(overhead.memory));
  return { milliCpu, memory };
}

function selectorTerm(v: unknown): NodeSelectorTerm {
  const t = objOf(v);
  const reqs = (a: unknown): NodeSelectorRequirement[] =>
    arrOf(a).map((r) => {
      const o = objOf(r);
      return { key: strOf(o.key), operator: strOf(o.operator), values: arrOf(o.values).filter((x): x is string => typeof x === 'string') };
    });
  return { matchExpressions: reqs(t.matchExpressions), matchFields: reqs(t.matchFields) };
}

/** Pure: what the scheduler needs of a pod, from its API JSON. */
export function podInfoOf(key: string, raw: Obj): PodInfo {
  const meta = objOf(raw.metadata);
  const spec = objOf(raw.spec);
  const status = objOf(raw.status);
  const nodeAffinity = objOf(objOf(spec.affinity).nodeAffinity);
  const required = nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution;
  const hostPorts: HostPort[] = [];
  for (const c of [...arrOf(spec.containers), ...arrOf(spec.initContainers)]) {
    for (const p of arrOf(objOf(c).ports)) {
      const o = objOf(p);
      if (typeof o.hostPort === 'number' && o.hostPort > 0) hostPorts.push({ ip: strOf(o.hostIP) || '0.0.0.0', protocol: strOf(o.protocol) || 'TCP', port: o.hostPort });
    }
  }
  const owner = arrOf(meta.ownerReferences)
    .map(objOf)
    .find((r) => r.controller === true);
  const phase = strOf(status.phase);
  return {
    key,
    namespace: strOf(meta.namespace) || 'default',
    name: strOf(meta.name),
    uid: strOf(meta.uid),
    labels: strMap(meta.labels),
    nodeName: strOf(spec.nodeName),
    schedulerName: strOf(spec.schedulerName) || DEFAULT_SCHEDULER,
    deleting: strOf(meta.deletionTimestamp) !== '',
    terminated: phase === 'Succeeded' || phase === 'Failed',
    requests: podRequests(spec),
    nonZero: podRequests(spec, true),
    hostPorts,
    nodeSelector: strMap(spec.nodeSelector),
    ...(isObject(required) && { requiredTerms: arrOf(required.nodeSelectorTerms).map(selectorTerm) }),
    preferredTerms: arrOf(nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution).map((p) => {
      const o = objOf(p);
      return { weight: typeof o.weight === 'number' ? o.weight : 0, preference: selectorTerm(o.preference) };
    }),
    tolerations: arrOf(spec.tolerations).map((t) => {
      const o = objOf(t);
      return { key: strOf(o.key), operator: strOf(o.operator), value: strOf(o.value), effect: strOf(o.effect) };
    }),
    ...(owner && { controller: { kind: strOf(owner.kind), name: strOf(owner.name) } }),
  };
}

/** Pure: what the scheduler needs of a node, from its API JSON. */
export function nodeInfoOf(raw: Obj): NodeInfo {
  const meta = objOf(raw.metadata);
  const spec = objOf(raw.spec);
  const status = objOf(raw.status);
  const alloc = objOf(status.allocatable ?? status.capacity);
  const ready = arrOf(status.conditions)
    .map(objOf)
    .find((c) => c.type === 'Ready');
  return {
    name: strOf(meta.name),
    labels: strMap(meta.labels),
    unschedulable: spec.unschedulable === true,
    ready: strOf(ready?.status) || 'Unknown',
    taints: arrOf(spec.taints).map((t) => {
      const o = objOf(t);
      return { key: strOf(o.key), value: strOf(o.value), effect: strOf(o.effect) };
    }),
    allocatable: { milliCpu: Math.floor(qty(alloc.cpu) * 1000), memory: Math.floor(qty(alloc.memory)), pods: Math.floor(qty(alloc.pods)) },
  };
}

// ---------------------------------------------------------------- the pods already on a node

/** What the pods on one node (bound or assumed) hold: kept up to date pod by pod. */
export class NodeUsage {
  requested: Resources = { milliCpu: 0, memory: 0 };
  nonZero: Resources = { milliCpu: 0, memory: 0 };
  readonly pods = new Map<string, PodInfo>();

  add(p: PodInfo): void {
    this.remove(p.key);
    this.pods.set(p.key, p);
    this.requested = { milliCpu: this.requested.milliCpu + p.requests.milliCpu, memory: this.requested.memory + p.requests.memory };
    this.nonZero = { milliCpu: this.nonZero.milliCpu + p.nonZero.milliCpu, memory: this.nonZero.memory + p.nonZero.memory };
  }

  remove(key: string): void {
    const p = this.pods.get(key);
    if (!p) return;
    this.pods.delete(key);
    this.requested = { milliCpu: this.requested.milliCpu - p.requests.milliCpu, memory: this.requested.memory - p.requests.memory };
    this.nonZero = { milliCpu: this.nonZero.milliCpu - p.nonZero.milliCpu, memory: this.nonZero.memory - p.nonZero.memory };
  }
}

const EMPTY_USAGE = new NodeUsage();

// ---------------------------------------------------------------- filters

export const REASON = {
  unschedulable: 'node(s) were unschedulable',
  affinity: "node(s) didn't match Pod's node affinity/selector",
  ports: "node(s) didn't have free ports for the requested pod ports",
  tooManyPods: 'Too many pods',
  cpu: 'Insufficient cpu',
  memory: 'Insufficient memory',
  taint: (t: Taint) => `node(s) had untolerated taint {${t.key}: ${t.value ?? ''}}`,
} as const;

/** Pure: v1helper.TolerationsTolerateTaint for one toleration (an empty key with Exists tolerates every taint). */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  if (t.operator === 'Exists') return true;
  if (!t.key && t.operator !== 'Exists') return false;
  return (t.operator === '' || t.operator === undefined || t.operator === 'Equal') && (t.value ?? '') === (taint.value ?? '');
}

/**
 * Pure: the node's taints as the node lifecycle controller would have them: a node whose Ready is
 * False carries node.kubernetes.io/not-ready, one whose Ready is Unknown node.kubernetes.io/unreachable
 * (NoSchedule), whether or not a controller has added them yet.
 */
export function effectiveTaints(n: NodeInfo): Taint[] {
  const out = [...n.taints];
  const implied = n.ready === 'True' ? undefined : n.ready === 'False' ? 'node.kubernetes.io/not-ready' : 'node.kubernetes.io/unreachable';
  if (implied && !out.some((t) => t.key === implied && t.effect === 'NoSchedule')) out.push({ key: implied, value: '', effect: 'NoSchedule' });
  return out;
}

/** Pure: one node selector requirement (NodeSelectorRequirementsAsSelector's semantics) against a value. */
export function requirementHolds(r: NodeSelectorRequirement, has: boolean, value: string): boolean {
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return has && values.includes(value);
    case 'NotIn':
      return !has || !values.includes(value);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt': {
      const int = /^[+-]?\d+$/;
      if (!has || values.length !== 1 || !int.test(value) || !int.test(values[0]!)) return false;
      return r.operator === 'Gt' ? BigInt(value) > BigInt(values[0]!) : BigInt(value) < BigInt(values[0]!);
    }
    default:
      return false;
  }
}

/** Pure: a term holds when all of its expressions and fields do; a term with neither matches no node. */
export function termMatches(t: NodeSelectorTerm, n: NodeInfo): boolean {
  const exprs = t.matchExpressions ?? [];
  const fields = t.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  return (
    exprs.every((r) => requirementHolds(r, Object.hasOwn(n.labels, r.key), n.labels[r.key] ?? '')) &&
    fields.every((r) => r.key === 'metadata.name' && requirementHolds(r, true, n.name))
  );
}

/** Pure: nodeSelector and the required node affinity (any of its terms). */
export function matchesNodeAffinity(p: PodInfo, n: NodeInfo): boolean {
  for (const [k, v] of Object.entries(p.nodeSelector)) if (n.labels[k] !== v) return false;
  if (p.requiredTerms === undefined) return true;
  return p.requiredTerms.some((t) => termMatches(t, n));
}

/** Pure: two host ports clash (same protocol and port, and the same address or a wildcard). */
export function portsConflict(a: HostPort, b: HostPort): boolean {
  if (a.port !== b.port || a.protocol !== b.protocol) return false;
  return a.ip === b.ip || a.ip === '0.0.0.0' || b.ip === '0.0.0.0';
}

/** Pure: the reasons the pod does not fit the node (empty when it fits), from the first filter that fails. */
export function filterNode(p: PodInfo, n: NodeInfo, usage: NodeUsage = EMPTY_USAGE): string[] {
  // NodeUnschedulable
  if (n.unschedulable && !p.tolerations.some((t) => tolerates(t, { key: 'node.kubernetes.io/unschedulable', value: '', effect: 'NoSchedule' }))) return [REASON.unschedulable];
  // TaintToleration: the first NoSchedule/NoExecute taint no toleration covers.
  const untolerated = effectiveTaints(n).find((taint) => (taint.effect === 'NoSchedule' || taint.effect === 'NoExecute') && !p.tolerations.some((t) => tolerates(t, taint)));
  if (untolerated) return [REASON.taint(untolerated)];
  // NodeAffinity
  if (!matchesNodeAffinity(p, n)) return [REASON.affinity];
  // NodePorts
  if (p.hostPorts.length > 0) {
    for (const q of usage.pods.values()) if (q.hostPorts.some((a) => p.hostPorts.some((b) => portsConflict(a, b)))) return [REASON.ports];
  }
  // NodeResourcesFit
  const out: string[] = [];
  if (usage.pods.size + 1 > n.allocatable.pods) out.push(REASON.tooManyPods);
  if (p.requests.milliCpu > 0 && p.requests.milliCpu > n.allocatable.milliCpu - usage.requested.milliCpu) out.push(REASON.cpu);
  if (p.requests.memory > 0 && p.requests.memory > n.allocatable.memory - usage.requested.memory) out.push(REASON.memory);
  return out;
}

/**
 * Pure: FitError's message: `0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's
 * node affinity/selector.`: each reason with the number of nodes it failed, as `<count> <reason>`
 * strings in byte order (Go's sort.Strings); with no nodes at all, ErrNoNodesAvailable's text.
 */
export function fitErrorMessage(nodeCount: number, reasonsByNode: ReadonlyMap<string, readonly string[]>): string {
  if (nodeCount === 0) return 'no nodes available to schedule pods';
  const histogram = new Map<string, number>();
  for (const reasons of reasonsByNode.values()) for (const r of reasons) histogram.set(r, (histogram.get(r) ?? 0) + 1);
  const parts = [...histogram].map(([r, c]) => `${c} ${r}`).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `0/${nodeCount} nodes are available${parts.length ? `: ${parts.join(', ')}` : ''}.`;
}

// ---------------------------------------------------------------- scores

/** Pure: NodeResourcesLeastAllocated: the free share of cpu and memory after placing the pod, 0..100, the two weighted alike. */
export function leastAllocatedScore(p: PodInfo, n: NodeInfo, usage: NodeUsage = EMPTY_USAGE): number {
  const one = (requested: number, capacity: number): number => (capacity <= 0 || requested > capacity ? 0 : Math.floor(((capacity - requested) * MAX_NODE_SCORE) / capacity));
  const cpu = one(usage.nonZero.milliCpu + p.nonZero.milliCpu, n.allocatable.milliCpu);
  const mem = one(usage.nonZero.memory + p.nonZero.memory, n.allocatable.memory);
  return Math.floor((cpu + mem) / 2);
}

/** Pure: the pods of the same namespace that one of these selectors takes, on this node. */
export function matchingPodsOn(namespace: string, selectors: readonly LabelSelector[], usage: NodeUsage): number {
  if (selectors.length === 0) return 0;
  let count = 0;
  for (const q of usage.pods.values()) if (q.namespace === namespace && !q.deleting && selectors.some((s) => matchesLabels(s, q.labels))) count++;
  return count;
}

/** Pure: SelectorSpread's normalisation: 100 on the nodes with the fewest matching pods, falling linearly to 0 at the most. */
export function spreadScores(counts: readonly number[]): number[] {
  const max = Math.max(0, ...counts);
  return counts.map((c) => (max === 0 ? MAX_NODE_SCORE : Math.floor((MAX_NODE_SCORE * (max - c)) / max)));
}

/** Pure: the summed weights of the preferred node affinity terms the node matches. */
export function preferredAffinityRaw(p: PodInfo, n: NodeInfo): number {
  let s = 0;
  for (const t of p.preferredTerms) if (t.weight !== 0 && termMatches(t.preference, n)) s += t.weight;
  return s;
}

/** Pure: DefaultNormalizeScore: scaled so the largest is 100 (all 0 stay 0). */
export function normalize(raw: readonly number[]): number[] {
  const max = Math.max(0, ...raw);
  return raw.map((r) => (max === 0 ? 0 : Math.floor((MAX_NODE_SCORE * r) / max)));
}

/** The selectors a pod's spreading counts by: of the Services that select it and of its controller (RC / ReplicaSet). */
export interface SpreadSources {
  readonly services: Iterable<{ readonly namespace: string; readonly selector: Readonly<Record<string, string>> }>;
  readonly controllerSelector: (namespace: string, kind: string, name: string) => LabelSelector | undefined;
}

/** Pure: helper.DefaultSelector: the Services of its namespace whose selector takes the pod, then its RC's or ReplicaSet's. */
export function spreadSelectors(p: PodInfo, src: SpreadSources): LabelSelector[] {
  const out: LabelSelector[] = [];
  for (const s of src.services) {
    if (s.namespace !== p.namespace || Object.keys(s.selector).length === 0) continue;
    const sel = Object.entries(s.selector).map(([k, v]) => ({ key: k, operator: '=' as const, values: [v] }));
    if (matchesLabels(sel, p.labels)) out.push(sel);
  }
  if (p.controller && (p.controller.kind === 'ReplicationController' || p.controller.kind === 'ReplicaSet' || p.controller.kind === 'StatefulSet')) {
    const s = src.controllerSelector(p.namespace, p.controller.kind, p.controller.name);
    if (s) out.push(s);
  }
  return out;
}

/** Pure: a controller's selector: an RC's label map, or a ReplicaSet's LabelSelector; undefined when it has none. */
export function controllerSelectorOf(kind: string, spec: Obj): LabelSelector | undefined {
  const sel = spec.selector;
  if (!isObject(sel)) return undefined;
  if (kind === 'ReplicationController') {
    const m = strMap(sel);
    return Object.keys(m).length ? Object.entries(m).map(([k, v]) => ({ key: k, operator: '=' as const, values: [v] })) : undefined;
  }
  try {
    const s = labelSelectorAsSelector(sel as LabelSelectorObject);
    return s && s.length ? s : undefined;
  } catch {
    return undefined; // an invalid selector spreads by nothing
  }
}

export const SCORE_WEIGHTS = { leastAllocated: 1, spread: 2, nodeAffinity: 2 } as const;

export interface Placement {
  /** The chosen node, or undefined when none fits. */
  readonly node?: string;
  /** Why each node that does not fit was refused. */
  readonly reasons: ReadonlyMap<string, readonly string[]>;
  /** The feasible nodes with their total scores. */
  readonly scores: ReadonlyMap<string, number>;
}

/**
 * Pure: one scheduling cycle: filter every node, score the feasible ones, pick the best (ties broken by
 * `random`, as kube-scheduler picks at random among the best).
 */
export function schedulePod(p: PodInfo, nodes: readonly NodeInfo[], usageOf: (node: string) => NodeUsage | undefined, selectors: readonly LabelSelector[], random: () => number = Math.random): Placement {
  const reasons = new Map<string, string[]>();
  const feasible: NodeInfo[] = [];
  for (const n of nodes) {
    const r = filterNode(p, n, usageOf(n.name));
    if (r.length) reasons.set(n.name, r);
    else feasible.push(n);
  }
  const scores = new Map<string, number>();
  if (feasible.length === 0) return { reasons, scores };
  const spread = spreadScores(feasible.map((n) => matchingPodsOn(p.namespace, selectors, usageOf(n.name) ?? EMPTY_USAGE)));
  const affinity = normalize(feasible.map((n) => preferredAffinityRaw(p, n)));
  let best = -1;
  let chosen: string | undefined;
  let ties = 0;
  feasible.forEach((n, i) => {
    const s = SCORE_WEIGHTS.leastAllocated * leastAllocatedScore(p, n, usageOf(n.name)) + SCORE_WEIGHTS.spread * spread[i]! + SCORE_WEIGHTS.nodeAffinity * affinity[i]!;
    scores.set(n.name, s);
    if (s > best) {
      best = s;
      chosen = n.name;
      ties = 1;
    } else if (s === best) {
      // Reservoir sampling over the nodes with the best score.
      ties++;
      if (random() * ties < 1) chosen = n.name;
    }
  });
  return { ...(chosen !== undefined && { node: chosen }), reasons, scores };
}
