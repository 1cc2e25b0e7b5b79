// The replication manager's decisions, pure, one implementation for ReplicationController (v1) and
// ReplicaSet (apps/v1), as Kubernetes' pkg/controller/replicaset serves both: which pods an owner
// claims (adopt matching orphans, release owned pods whose labels stopped matching), how many pods to
// create or which to delete, in Kubernetes' order (ActivePodsWithRanks), the pods made from the
// template, the status, and the slow-start batches and expectations that keep a burst of watch events
// (or a broken template) from flooding the cluster.
import { labelSelectorAsSelector, type LabelSelector, type LabelSelectorObject, matchesLabels, selectorFromSet } from '../../cluster/index.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const objAt = (o: unknown, k: string): Obj => (isObj(o) && isObj(o[k]) ? o[k] : {});
const strAt = (o: unknown, k: string): string | undefined => (isObj(o) && typeof o[k] === 'string' ? o[k] : undefined);
const numAt = (o: unknown, k: string): number | undefined => (isObj(o) && typeof o[k] === 'number' ? o[k] : undefined);
const labelsOf = (o: unknown): Record<string, string> => {
  const l = objAt(objAt(o, 'metadata'), 'labels');
  return Object.fromEntries(Object.entries(l).filter((e): e is [string, string] => typeof e[1] === 'string'));
};

/** The kinds the replication manager keeps. */
export type OwnerKind = 'ReplicationController' | 'ReplicaSet';
export const OWNER_API_VERSION: Readonly<Record<OwnerKind, string>> = { ReplicationController: 'v1', ReplicaSet: 'apps/v1' };

/** An RC or RS, as much of it as the manager reads. */
export interface Owner {
  readonly kind: OwnerKind;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly generation: number;
  readonly replicas: number;
  readonly minReadySeconds: number;
  readonly selector: LabelSelector;
  /** The template's metadata and spec, as written. */
  readonly template: Obj;
  readonly deleting: boolean;
  readonly raw: Obj;
}

/** Pure: an RC or RS object read. The RC's selector defaults to its template's labels (as the apiserver defaults it). */
export function ownerOf(kind: OwnerKind, o: Obj): Owner {
  const meta = objAt(o, 'metadata');
  const spec = objAt(o, 'spec');
  const template = objAt(spec, 'template');
  let selector: LabelSelector;
  if (kind === 'ReplicationController') {
    const sel = objAt(spec, 'selector');
    const set = Object.keys(sel).length ? (sel as Record<string, string>) : labelsOf(template);
    // An empty selector matches nothing (Kubernetes refuses one on an RC).
    selector = Object.keys(set).length ? selectorFromSet(set) : null;
  } else {
    const ls = spec.selector;
    // An RS without a selector matches nothing (the apiserver refuses one).
    try {
      selector = isObj(ls) ? labelSelectorAsSelector(ls as unknown as LabelSelectorObject) : null;
    } catch {
      selector = null; // an operator the apiserver would have refused
    }
  }
  return {
    kind,
    namespace: strAt(meta, 'namespace') ?? 'default',
    name: strAt(meta, 'name') ?? '',
    uid: strAt(meta, 'uid') ?? '',
    generation: numAt(meta, 'generation') ?? 0,
    replicas: numAt(spec, 'replicas') ?? 1,
    minReadySeconds: numAt(spec, 'minReadySeconds') ?? 0,
    selector,
    template,
    deleting: strAt(meta, 'deletionTimestamp') !== undefined,
    raw: o,
  };
}

export interface OwnerRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  readonly controller?: boolean;
  readonly blockOwnerDeletion?: boolean;
}

/** A pod, as much of it as the manager reads. */
export interface PodView {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly ownerReferences: readonly OwnerRef[];
  readonly deleting: boolean;
  readonly nodeName: string;
  readonly phase: string;
  /** When it became Ready (ms), if it is. */
  readonly readySince?: number;
  readonly restarts: number;
  readonly created?: number;
  readonly deletionCost: number;
}

const time = (s: string | undefined): number | undefined => {
  if (!s) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
};

/** Pure: a pod object read. */
export function podOf(o: Obj): PodView {
  const meta = objAt(o, 'metadata');
  const status = objAt(o, 'status');
  const conds = Array.isArray(status.conditions) ? status.conditions.filter(isObj) : [];
  const ready = conds.find((c) => c.type === 'Ready');
  const refs = Array.isArray(meta.ownerReferences) ? meta.ownerReferences.filter(isObj) : [];
  const statuses = Array.isArray(status.containerStatuses) ? status.containerStatuses.filter(isObj) : [];
  const cost = Number(objAt(meta, 'annotations')['controller.kubernetes.io/pod-deletion-cost'] ?? 0);
  const readySince = ready?.status === 'True' ? (time(strAt(ready, 'lastTransitionTime')) ?? 0) : undefined;
  return {
    namespace: strAt(meta, 'namespace') ?? 'default',
    name: strAt(meta, 'name') ?? '',
    uid: strAt(meta, 'uid') ?? '',
    resourceVersion: strAt(meta, 'resourceVersion') ?? '',
    labels: labelsOf(o),
    ownerReferences: refs.map((r) => ({
      apiVersion: strAt(r, 'apiVersion') ?? '',
      kind: strAt(r, 'kind') ?? '',
      name: strAt(r, 'name') ?? '',
      uid: strAt(r, 'uid') ?? '',
      ...(r.controller === true && { controller: true }),
      ...(r.blockOwnerDeletion === true && { blockOwnerDeletion: true }),
    })),
    deleting: strAt(meta, 'deletionTimestamp') !== undefined,
    nodeName: strAt(objAt(o, 'spec'), 'nodeName') ?? '',
    phase: strAt(status, 'phase') ?? 'Pending',
    ...(readySince !== undefined && { readySince }),
    restarts: statuses.reduce((n, c) => n + (numAt(c, 'restartCount') ?? 0), 0),
    ...(time(strAt(meta, 'creationTimestamp')) !== undefined && { created: time(strAt(meta, 'creationTimestamp'))! }),
    deletionCost: Number.isFinite(cost) ? cost : 0,
  };
}

export const controllerRefOf = (p: PodView): OwnerRef | undefined => p.ownerReferences.find((r) => r.controller === true);

/** Pure: counts as one of the replicas (controller.IsPodActive): not finished, not being deleted. */
export const isActive = (p: PodView): boolean => !p.deleting && p.phase !== 'Succeeded' && p.phase !== 'Failed';

/** Pure: the owner reference a pod of this owner carries. */
export function ownerRefOf(owner: Owner): OwnerRef {
  return { apiVersion: OWNER_API_VERSION[owner.kind], kind: owner.kind, name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true };
}

export interface Claim {
  /** Pods this owner controls after the claim (adopted ones included). */
  readonly owned: readonly PodView[];
  readonly adopt: readonly PodView[];
  readonly release: readonly PodView[];
}

/** Pure: ClaimPods (PodControllerRefManager) over the namespace's active pods. */
export function claimPods(owner: Owner, pods: readonly PodView[]): Claim {
  const owned: PodView[] = [];
  const adopt: PodView[] = [];
  const release: PodView[] = [];
  for (const p of pods) {
    if (p.namespace !== owner.namespace || !isActive(p)) continue;
    const matches = matchesLabels(owner.selector, p.labels);
    const ref = controllerRefOf(p);
    if (ref) {
      if (ref.uid !== owner.uid) continue;
      if (matches || owner.deleting) owned.push(p);
      else release.push(p);
    } else if (matches && !owner.deleting) {
      adopt.push(p);
      owned.push(p);
    }
  }
  return { owned, adopt, release };
}

/** Pure: the merge patch that adopts `pod` (its other references kept) at its resourceVersion. */
export function adoptPatch(owner: Owner, pod: PodView): Obj {
  return { metadata: { resourceVersion: pod.resourceVersion, ownerReferences: [...pod.ownerReferences.filter((r) => r.uid !== owner.uid), ownerRefOf(owner)] } };
}

/** Pure: the merge patch that releases `pod` from `owner`. */
export function releasePatch(owner: Owner, pod: PodView): Obj {
  return { metadata: { resourceVersion: pod.resourceVersion, ownerReferences: pod.ownerReferences.filter((r) => r.uid !== owner.uid) } };
}

/** Pure: a new pod from the owner's template (GetPodFromTemplate): generateName `<owner>-`, the template's labels and annotations, the controller reference. */
export function podFromTemplate(owner: Owner): Obj {
  const tm = objAt(owner.template, 'metadata');
  const labels = labelsOf(owner.template);
  const annotations = objAt(tm, 'annotations');
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: `${owner.name}-`,
      namespace: owner.namespace,
      ...(Object.keys(labels).length && { labels }),
      ...(Object.keys(annotations).length && { annotations }),
      ownerReferences: [ownerRefOf(owner)],
    },
    spec: objAt(owner.template, 'spec'),
  };
}

const PHASE_RANK: Readonly<Record<string, number>> = { Pending: 0, Unknown: 1, Running: 2 };

/**
 * Pure: `n` pods to delete, first the cheapest to lose, in Kubernetes' order (ActivePodsWithRanks, the
 * rank being how many of the owner's pods share the pod's node): unassigned before assigned; Pending,
 * Unknown, Running; not ready before ready; lower pod-deletion-cost; more doubled up on its node; ready
 * for less time; more restarts; newer before older.
 */
export function podsToDelete(owned: readonly PodView[], n: number): PodView[] {
  if (n <= 0) return [];
  const onNode = new Map<string, number>();
  for (const p of owned) if (p.nodeName) onNode.set(p.nodeName, (onNode.get(p.nodeName) ?? 0) + 1);
  const rank = (p: PodView): number => (p.nodeName ? (onNode.get(p.nodeName) ?? 0) : 0);
  const cmp = (a: PodView, b: PodView): number => {
    if (!a.nodeName !== !b.nodeName) return a.nodeName ? 1 : -1;
    const pa = PHASE_RANK[a.phase] ?? 0;
    const pb = PHASE_RANK[b.phase] ?? 0;
    if (pa !== pb) return pa - pb;
    const ra = a.readySince !== undefined;
    const rb = b.readySince !== undefined;
    if (ra !== rb) return ra ? 1 : -1;
    if (a.deletionCost !== b.deletionCost) return a.deletionCost - b.deletionCost;
    if (rank(a) !== rank(b)) return rank(b) - rank(a);
    if (ra && rb && a.readySince !== b.readySince) return b.readySince! - a.readySince!;
    if (a.restarts !== b.restarts) return b.restarts - a.restarts;
    if (a.created !== b.created) {
      if (a.created === undefined) return -1;
      if (b.created === undefined) return 1;
      return b.created - a.created;
    }
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  };
  return [...owned].sort(cmp).slice(0, n);
}

/** Most pods one sync creates or deletes (Kubernetes' BurstReplicas). */
export const BURST_REPLICAS = 500;

/** Pure: pods to create (positive) or delete (negative) this sync, at most BURST_REPLICAS either way. */
export function replicaDiff(owner: Owner, owned: number): number {
  const d = owner.replicas - owned;
  return Math.max(-BURST_REPLICAS, Math.min(BURST_REPLICAS, d));
}

export interface ReplicaStatus {
  readonly replicas: number;
  readonly fullyLabeledReplicas: number;
  readonly readyReplicas: number;
  readonly availableReplicas: number;
  readonly observedGeneration: number;
}

/** Pure: calculateStatus: counts over the owned active pods at `now` (ms). */
export function statusOf(owner: Owner, owned: readonly PodView[], now: number): ReplicaStatus {
  const templateLabels = labelsOf(owner.template);
  const tl = Object.keys(templateLabels).length ? selectorFromSet(templateLabels) : null;
  let fully = 0;
  let ready = 0;
  let available = 0;
  for (const p of owned) {
    if (tl && matchesLabels(tl, p.labels)) fully++;
    if (p.readySince !== undefined) {
      ready++;
      if (owner.minReadySeconds <= 0 || p.readySince + owner.minReadySeconds * 1000 <= now) available++;
    }
  }
  return { replicas: owned.length, fullyLabeledReplicas: fully, readyReplicas: ready, availableReplicas: available, observedGeneration: owner.generation };
}

/** Pure: the status differs from what the owner's status says (only then is it written). */
export function statusChanged(owner: Owner, s: ReplicaStatus): boolean {
  const cur = objAt(owner.raw, 'status');
  return (Object.keys(s) as (keyof ReplicaStatus)[]).some((k) => (numAt(cur, k) ?? 0) !== s[k]);
}

/**
 * slowStartBatch: `count` calls of `fn`, in batches of 1, 2, 4, … (starting at `initial`), each batch
 * in parallel; stops after the first batch with a failure. Returns how many succeeded and the first error.
 */
export async function slowStartBatch(count: number, initial: number, fn: () => Promise<void>): Promise<{ successes: number; error?: unknown }> {
  let remaining = count;
  let successes = 0;
  for (let batch = Math.min(remaining, initial); batch > 0; batch = Math.min(2 * batch, remaining)) {
    const results = await Promise.allSettled(Array.from({ length: batch }, () => fn()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    successes += results.filter((r) => r.status === 'fulfilled').length;
    if (failed) return { successes, error: failed.reason };
    remaining -= batch;
  }
  return { successes };
}

/** Expectations expire after this long (Kubernetes' ExpectationsTimeout), so a lost event cannot wedge an owner. */
export const EXPECTATIONS_TTL_MS = 5 * 60_000;

/**
 * ControllerExpectations (UID-tracking for deletions): per owner, the creations and deletions asked for
 * and not yet seen in the watch. An owner is synced again only when they are all seen (or expired).
 */
export class Expectations {
  private readonly m = new Map<string, { adds: number; dels: Set<string>; at: number }>();
  constructor(private readonly now: () => number = Date.now) {}

  satisfied(key: string): boolean {
    const e = this.m.get(key);
    if (!e) return true;
    return (e.adds <= 0 && e.dels.size === 0) || this.now() - e.at > EXPECTATIONS_TTL_MS;
  }
  expectCreations(key: string, n: number): void {
    this.m.set(key, { adds: n, dels: new Set(), at: this.now() });
  }
  expectDeletions(key: string, uids: readonly string[]): void {
    this.m.set(key, { adds: 0, dels: new Set(uids), at: this.now() });
  }
  /** A create that was asked for and failed, or was seen. */
  creationObserved(key: string): void {
    const e = this.m.get(key);
    if (e) e.adds--;
  }
  deletionObserved(key: string, uid: string): void {
    this.m.get(key)?.dels.delete(uid);
  }
  delete(key: string): void {
    this.m.delete(key);
  }
}

/** Pure: the event message Kubernetes' pod control records (`Created pod: web-abcde`, `Deleted pod: web-abcde`). */
export const createdMessage = (pod: string): string => `Created pod: ${pod}`;
export const deletedMessage = (pod: string): string => `Deleted pod: ${pod}`;

/** Pure: the owner's selector matches the pod (in its namespace). */
export const matchesOwner = (owner: Owner, p: PodView): boolean => owner.namespace === p.namespace && matchesLabels(owner.selector, p.labels);
