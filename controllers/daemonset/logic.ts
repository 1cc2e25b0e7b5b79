// The DaemonSet controller's decisions (pkg/controller/daemon), pure: which nodes should run the
// daemon pod (nodeSelector, required node affinity, taints the pod tolerates with the tolerations
// Kubernetes adds to every daemon pod), the pod for a node (placed by a required node affinity on
// `metadata.name`, so the scheduler binds it, as Kubernetes does since 1.12), which pods to create or
// delete, the RollingUpdate (maxUnavailable) and OnDelete strategies, and the status. The template's
// revision is a hash of it in the `controller-revision-hash` label (no ControllerRevision objects).
import { labelSelectorAsSelector, type LabelSelector, type LabelSelectorObject, matchesLabels } from '../../cluster/index.js';
import { matchesNodeAffinity, nodeInfoOf, podInfoOf, type Taint, type Toleration, tolerates } from '../../scheduler/index.js';
import { podOf, type PodView } from '../replication/index.js';
import { isObj, numAt, type Obj, objAt, strAt } from '../fields.js';


export const REVISION_HASH_LABEL = 'controller-revision-hash';
export const TEMPLATE_GENERATION_LABEL = 'pod-template-generation';

export interface DaemonSetView {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly generation: number;
  readonly selector: LabelSelector;
  readonly template: Obj;
  readonly strategy: 'RollingUpdate' | 'OnDelete';
  readonly maxUnavailable: number | string;
  readonly minReadySeconds: number;
  readonly deleting: boolean;
  readonly raw: Obj;
}

export function daemonSetOf(o: Obj): DaemonSetView {
  const meta = objAt(o, 'metadata');
  const spec = objAt(o, 'spec');
  const us = objAt(spec, 'updateStrategy');
  let selector: LabelSelector = null;
  try {
    selector = isObj(spec.selector) ? labelSelectorAsSelector(spec.selector as unknown as LabelSelectorObject) : null;
  } catch {
    selector = null;
  }
  const mu = objAt(us, 'rollingUpdate').maxUnavailable;
  return {
    namespace: strAt(meta, 'namespace') ?? 'default',
    name: strAt(meta, 'name') ?? '',
    uid: strAt(meta, 'uid') ?? '',
    generation: numAt(meta, 'generation') ?? 0,
    selector,
    template: objAt(spec, 'template'),
    strategy: us.type === 'OnDelete' ? 'OnDelete' : 'RollingUpdate',
    maxUnavailable: typeof mu === 'number' || typeof mu === 'string' ? mu : 1,
    minReadySeconds: numAt(spec, 'minReadySeconds') ?? 0,
    deleting: strAt(meta, 'deletionTimestamp') !== undefined,
    raw: o,
  };
}

/** A daemon pod: the replication view, the node it is for, its template revision. */
export interface DaemonPod extends PodView {
  /** spec.nodeName, or the node its `metadata.name` affinity names while it is unscheduled (GetTargetNodeName). */
  readonly node: string;
  readonly hash: string;
}

export function daemonPodOf(o: Obj): DaemonPod {
  const p = podOf(o);
  let node = p.nodeName;
  if (!node) {
    const terms = objAt(objAt(objAt(objAt(o, 'spec'), 'affinity'), 'nodeAffinity'), 'requiredDuringSchedulingIgnoredDuringExecution').nodeSelectorTerms;
    for (const t of Array.isArray(terms) ? terms.filter(isObj) : []) {
      const fields = Array.isArray(t.matchFields) ? t.matchFields.filter(isObj) : [];
      const r = fields.find((x) => x.key === 'metadata.name' && x.operator === 'In' && Array.isArray(x.values) && x.values.length === 1);
      if (r) node = String((r.values as unknown[])[0]);
    }
  }
  return { ...p, node, hash: p.labels[REVISION_HASH_LABEL] ?? '' };
}

// ---------------------------------------------------------------- the template's revision

const sortKeys = (v: unknown): unknown => (Array.isArray(v) ? v.map(sortKeys) : isObj(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])])) : v);
/** apimachinery's SafeEncodeString alphabet: no vowels, no look-alikes. */
const SAFE = 'bcdfghjklmnpqrstvwxz2456789';

/** Pure: the template's revision hash: FNV-32a of its canonical JSON, spelt as Kubernetes spells hashes (`5d4b8c7f9`). */
export function templateHash(template: Obj): string {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(JSON.stringify(sortKeys(template)), 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return [...String(h)].map((c) => SAFE[c.charCodeAt(0) % SAFE.length]).join('');
}

// ---------------------------------------------------------------- which nodes

/** The tolerations every daemon pod gets (AddOrUpdateDaemonPodTolerations), hostNetwork's one included when it applies. */
export function daemonTolerations(hostNetwork: boolean): Toleration[] {
  const t = (key: string, effect: string): Toleration => ({ key: `node.kubernetes.io/${key}`, operator: 'Exists', effect });
  return [
    t('not-ready', 'NoExecute'),
    t('unreachable', 'NoExecute'),
    t('disk-pressure', 'NoSchedule'),
    t('memory-pressure', 'NoSchedule'),
    t('pid-pressure', 'NoSchedule'),
    t('unschedulable', 'NoSchedule'),
    ...(hostNetwork ? [t('network-unavailable', 'NoSchedule')] : []),
  ];
}

/** Pure: the template's pod spec with the daemon tolerations added (those of the same key and effect kept as written). */
function specWithTolerations(spec: Obj): Obj {
  const own = (Array.isArray(spec.tolerations) ? spec.tolerations : []).filter(isObj);
  const extra = daemonTolerations(spec.hostNetwork === true).filter((d) => !own.some((o) => o.key === d.key && o.effect === d.effect));
  return { ...spec, tolerations: [...own, ...extra] };
}

/** Pure: the pod for `node` (CreatePodTemplate + ReplaceDaemonSetPodNodeNameNodeAffinity). */
export function daemonPodFor(ds: DaemonSetView, node: string, hash: string): Obj {
  const tm = objAt(ds.template, 'metadata');
  const spec = specWithTolerations(objAt(ds.template, 'spec'));
  const affinity = objAt(spec, 'affinity');
  const nodeAffinity = objAt(affinity, 'nodeAffinity');
  const annotations = objAt(tm, 'annotations');
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: `${ds.name}-`,
      namespace: ds.namespace,
      labels: { ...objAt(tm, 'labels'), [REVISION_HASH_LABEL]: hash, [TEMPLATE_GENERATION_LABEL]: String(ds.generation) },
      ...(Object.keys(annotations).length && { annotations }),
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: ds.name, uid: ds.uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      ...spec,
      affinity: {
        ...affinity,
        nodeAffinity: {
          ...nodeAffinity,
          requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }] },
        },
      },
    },
  };
}

export interface NodeFit {
  readonly shouldRun: boolean;
  readonly shouldContinueRunning: boolean;
}

/**
 * Pure: NodeShouldRunDaemonPod: the template's nodeName (if any), nodeSelector and required node
 * affinity must hold; a NoSchedule or NoExecute taint the pod does not tolerate keeps a new pod off
 * the node, and only an untolerated NoExecute one evicts a pod already there.
 */
export function nodeShouldRunDaemonPod(ds: DaemonSetView, node: Obj): NodeFit {
  const n = nodeInfoOf(node);
  const tspec = objAt(ds.template, 'spec');
  const wanted = strAt(tspec, 'nodeName');
  if (wanted && wanted !== n.name) return { shouldRun: false, shouldContinueRunning: false };
  const pod = podInfoOf('', { metadata: objAt(ds.template, 'metadata'), spec: specWithTolerations(tspec) });
  if (!matchesNodeAffinity(pod, n)) return { shouldRun: false, shouldContinueRunning: false };
  const untolerated = (effects: readonly string[]): Taint | undefined => n.taints.find((t) => effects.includes(t.effect) && !pod.tolerations.some((x) => tolerates(x, t)));
  if (untolerated(['NoSchedule', 'NoExecute'])) return { shouldRun: false, shouldContinueRunning: !untolerated(['NoExecute']) };
  return { shouldRun: true, shouldContinueRunning: true };
}

// ---------------------------------------------------------------- the plan

/** Pure: IsPodAvailable: ready for at least minReadySeconds at `now`. */
export const isAvailable = (p: PodView, minReadySeconds: number, now: number): boolean => p.readySince !== undefined && (minReadySeconds <= 0 || p.readySince + minReadySeconds * 1000 <= now);

/** Pure: intstr's GetScaledValueFromIntOrPercent, rounding up (maxUnavailable), at least 1 when the value is positive as a count. */
export function scaledValue(v: number | string, total: number): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (m) return Math.ceil((Number(m[1]) * total) / 100);
  return /^\d+$/.test(v) ? Number(v) : 1;
}

export interface DaemonStatus {
  readonly desiredNumberScheduled: number;
  readonly currentNumberScheduled: number;
  readonly numberMisscheduled: number;
  readonly numberReady: number;
  readonly updatedNumberScheduled: number;
  readonly numberAvailable: number;
  readonly numberUnavailable: number;
  readonly observedGeneration: number;
}

export interface DaemonPlan {
  /** The nodes that get a new pod. */
  readonly create: readonly string[];
  readonly delete: readonly DaemonPod[];
  /** Failed pods are deleted with a warning (FailedDaemonPod). */
  readonly failed: readonly DaemonPod[];
  readonly status: DaemonStatus;
  /** Look again after this long (minReadySeconds). */
  readonly requeueAfterMs?: number;
}

const byAge = (a: PodView, b: PodView): number => (a.created ?? 0) - (b.created ?? 0) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Pure: one sync: manage (podsShouldBeOnNode over every node), then, when nothing was to do, the update strategy; and the status. */
export function planDaemonSet(ds: DaemonSetView, nodes: readonly Obj[], allPods: readonly DaemonPod[], now: number): DaemonPlan {
  const hash = templateHash(ds.template);
  const pods = allPods.filter((p) => p.namespace === ds.namespace && p.phase !== 'Succeeded');
  const byNode = new Map<string, DaemonPod[]>();
  for (const p of pods) byNode.set(p.node, [...(byNode.get(p.node) ?? []), p]);
  const create: string[] = [];
  const del: DaemonPod[] = [];
  const failed: DaemonPod[] = [];
  const fits = new Map<string, NodeFit>();
  const names = new Set<string>();
  for (const node of nodes) {
    const name = strAt(objAt(node, 'metadata'), 'name') ?? '';
    names.add(name);
    const fit = nodeShouldRunDaemonPod(ds, node);
    fits.set(name, fit);
    const here = byNode.get(name) ?? [];
    if (fit.shouldRun && here.length === 0) create.push(name);
    else if (fit.shouldContinueRunning) {
      const running: DaemonPod[] = [];
      for (const p of here) {
        if (p.deleting) continue;
        if (p.phase === 'Failed') failed.push(p);
        else running.push(p);
      }
      // Without surge, one pod per node: the oldest stays.
      if (running.length > 1) del.push(...[...running].sort(byAge).slice(1));
    } else for (const p of here) if (!p.deleting) del.push(p);
  }
  // Pods for nodes that are gone (scheduled there, or waiting to be).
  for (const [node, here] of byNode) if (!names.has(node)) for (const p of here) if (!p.deleting) del.push(p);

  let requeue: number | undefined;
  if (create.length === 0 && del.length === 0 && failed.length === 0 && ds.strategy === 'RollingUpdate') {
    del.push(...rollingUpdateDeletes(ds, nodes, byNode, fits, hash, now));
  }
  // Status, over the pods as they are (before this sync's writes, as Kubernetes computes it).
  let desired = 0;
  let current = 0;
  let mis = 0;
  let ready = 0;
  let updated = 0;
  let available = 0;
  for (const [name, fit] of fits) {
    const here = byNode.get(name) ?? [];
    if (fit.shouldRun) {
      desired++;
      if (here.length) {
        current++;
        const p = [...here].sort(byAge)[0]!;
        if (p.readySince !== undefined) {
          ready++;
          if (isAvailable(p, ds.minReadySeconds, now)) available++;
          else requeue = Math.min(requeue ?? Infinity, p.readySince + ds.minReadySeconds * 1000 - now);
        }
        if (p.hash === hash) updated++;
      }
    } else if (here.length) mis++;
  }
  const status: DaemonStatus = {
    desiredNumberScheduled: desired,
    currentNumberScheduled: current,
    numberMisscheduled: mis,
    numberReady: ready,
    updatedNumberScheduled: updated,
    numberAvailable: available,
    numberUnavailable: desired - available,
    observedGeneration: ds.generation,
  };
  return { create, delete: del, failed, status, ...(requeue !== undefined && { requeueAfterMs: Math.max(1, requeue) }) };
}

/** Pure: rollingUpdate with maxSurge 0: old pods to delete, the unavailable ones first, keeping at most maxUnavailable nodes without an available pod. */
function rollingUpdateDeletes(ds: DaemonSetView, nodes: readonly Obj[], byNode: ReadonlyMap<string, DaemonPod[]>, fits: ReadonlyMap<string, NodeFit>, hash: string, now: number): DaemonPod[] {
  const desired = [...fits.values()].filter((f) => f.shouldRun).length;
  const maxUnavailable = scaledValue(ds.maxUnavailable, desired);
  let unavailable = 0;
  const replace: DaemonPod[] = [];
  const candidates: DaemonPod[] = [];
  for (const node of nodes) {
    const name = strAt(objAt(node, 'metadata'), 'name') ?? '';
    if (!fits.get(name)?.shouldRun) continue;
    const here = (byNode.get(name) ?? []).filter((p) => !p.deleting);
    const fresh = here.filter((p) => p.hash === hash);
    const old = here.filter((p) => p.hash !== hash);
    if (fresh.length + old.length !== 1) {
      // None (being replaced), or an old and a new one: the manage step handles it; it counts as unavailable.
      unavailable++;
      continue;
    }
    if (fresh.length) {
      if (!isAvailable(fresh[0]!, ds.minReadySeconds, now)) unavailable++;
    } else if (!isAvailable(old[0]!, ds.minReadySeconds, now)) {
      replace.push(old[0]!);
      unavailable++;
    } else if (unavailable < maxUnavailable) candidates.push(old[0]!);
  }
  const room = Math.min(Math.max(0, maxUnavailable - unavailable), candidates.length);
  return [...replace, ...candidates.slice(0, room)];
}

/** Pure: the status differs from what the DaemonSet's status says. */
export function daemonStatusChanged(ds: DaemonSetView, s: DaemonStatus): boolean {
  const cur = objAt(ds.raw, 'status');
  return (Object.keys(s) as (keyof DaemonStatus)[]).some((k) => (numAt(cur, k) ?? 0) !== s[k]);
}

/** Pure: the pod is this DaemonSet's: its controller reference, and the selector still matches it (no adoption of orphans here). */
export const ownedBy = (ds: DaemonSetView, p: DaemonPod): boolean => p.ownerReferences.some((r) => r.controller === true && r.uid === ds.uid) && matchesLabels(ds.selector, p.labels);
