// The Deployment and ReplicaSet fields the deployment controller reads, parsed once from the stored
// JSON (defaulted by the apiserver), and the orderings Kubernetes' controller sorts them by.
import { labelSelectorAsSelector, type LabelSelector, type LabelSelectorObject } from '../../cluster/index.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const objAt = (o: unknown, k: string): Obj => (isObj(o) && isObj(o[k]) ? o[k] : {});
const strAt = (o: unknown, k: string): string | undefined => (isObj(o) && typeof o[k] === 'string' ? o[k] : undefined);
const numAt = (o: unknown, k: string): number | undefined => (isObj(o) && typeof o[k] === 'number' ? o[k] : undefined);
const strMap = (o: unknown): Record<string, string> => Object.fromEntries(Object.entries(isObj(o) ? o : {}).filter((e): e is [string, string] => typeof e[1] === 'string'));

export type IntOrString = number | string;

export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly lastUpdateTime?: string;
  readonly lastTransitionTime?: string;
  readonly reason?: string;
  readonly message?: string;
}

export interface DeploymentStatus {
  readonly observedGeneration?: number;
  readonly replicas?: number;
  readonly updatedReplicas?: number;
  readonly readyReplicas?: number;
  readonly availableReplicas?: number;
  readonly unavailableReplicas?: number;
  readonly conditions?: readonly Condition[];
  readonly collisionCount?: number;
}

export interface Deployment {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly generation: number;
  readonly replicas: number;
  /** The selector as written (a LabelSelector object). */
  readonly selectorRaw: Obj;
  readonly selector: LabelSelector;
  readonly template: Obj;
  readonly strategy: 'RollingUpdate' | 'Recreate';
  readonly maxSurge: IntOrString;
  readonly maxUnavailable: IntOrString;
  readonly minReadySeconds: number;
  /** Absent: keep every old ReplicaSet. */
  readonly revisionHistoryLimit?: number;
  /** Absent: no progress deadline. */
  readonly progressDeadlineSeconds?: number;
  readonly paused: boolean;
  readonly deleting: boolean;
  readonly annotations: Readonly<Record<string, string>>;
  readonly status: DeploymentStatus;
  readonly raw: Obj;
}

export interface OwnerRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  readonly controller?: boolean;
  readonly blockOwnerDeletion?: boolean;
}

export interface ReplicaSet {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly generation: number;
  /** Creation time (ms); 0 when unknown. */
  readonly created: number;
  readonly replicas: number;
  readonly minReadySeconds: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly template: Obj;
  readonly ownerReferences: readonly OwnerRef[];
  readonly deleting: boolean;
  readonly status: { readonly replicas: number; readonly readyReplicas: number; readonly availableReplicas: number; readonly observedGeneration: number };
  readonly raw: Obj;
}

const MAX_INT32 = 2147483647;

function intOrString(v: unknown, dflt: IntOrString): IntOrString {
  return typeof v === 'number' || typeof v === 'string' ? v : dflt;
}

/** Pure: a Deployment object read. A selector the apiserver would refuse selects nothing. */
export function deploymentOf(o: Obj): Deployment {
  const meta = objAt(o, 'metadata');
  const spec = objAt(o, 'spec');
  const strategy = objAt(spec, 'strategy');
  const ru = objAt(strategy, 'rollingUpdate');
  const selectorRaw = objAt(spec, 'selector');
  let selector: LabelSelector;
  try {
    selector = isObj(spec.selector) ? labelSelectorAsSelector(spec.selector as unknown as LabelSelectorObject) : null;
  } catch {
    selector = null;
  }
  const rhl = numAt(spec, 'revisionHistoryLimit');
  const pds = numAt(spec, 'progressDeadlineSeconds');
  const st = objAt(o, 'status');
  return {
    namespace: strAt(meta, 'namespace') ?? 'default',
    name: strAt(meta, 'name') ?? '',
    uid: strAt(meta, 'uid') ?? '',
    generation: numAt(meta, 'generation') ?? 0,
    replicas: numAt(spec, 'replicas') ?? 1,
    selectorRaw,
    selector,
    template: objAt(spec, 'template'),
    strategy: strategy.type === 'Recreate' ? 'Recreate' : 'RollingUpdate',
    maxSurge: intOrString(ru.maxSurge, '25%'),
    maxUnavailable: intOrString(ru.maxUnavailable, '25%'),
    minReadySeconds: numAt(spec, 'minReadySeconds') ?? 0,
    // MaxInt32 means "unlimited", as HasRevisionHistoryLimit and HasProgressDeadline read it.
    ...(rhl !== undefined && rhl !== MAX_INT32 && { revisionHistoryLimit: rhl }),
    ...(pds !== undefined && pds !== MAX_INT32 && { progressDeadlineSeconds: pds }),
    paused: spec.paused === true,
    deleting: strAt(meta, 'deletionTimestamp') !== undefined,
    annotations: strMap(meta.annotations),
    status: {
      ...(numAt(st, 'observedGeneration') !== undefined && { observedGeneration: numAt(st, 'observedGeneration') }),
      ...(numAt(st, 'replicas') !== undefined && { replicas: numAt(st, 'replicas') }),
      ...(numAt(st, 'updatedReplicas') !== undefined && { updatedReplicas: numAt(st, 'updatedReplicas') }),
      ...(numAt(st, 'readyReplicas') !== undefined && { readyReplicas: numAt(st, 'readyReplicas') }),
      ...(numAt(st, 'availableReplicas') !== undefined && { availableReplicas: numAt(st, 'availableReplicas') }),
      ...(numAt(st, 'unavailableReplicas') !== undefined && { unavailableReplicas: numAt(st, 'unavailableReplicas') }),
      ...(Array.isArray(st.conditions) && { conditions: st.conditions.filter(isObj) as unknown as Condition[] }),
      ...(numAt(st, 'collisionCount') !== undefined && { collisionCount: numAt(st, 'collisionCount') }),
    },
    raw: o,
  };
}

/** Pure: a ReplicaSet object read. */
export function replicaSetOf(o: Obj): ReplicaSet {
  const meta = objAt(o, 'metadata');
  const spec = objAt(o, 'spec');
  const st = objAt(o, 'status');
  const refs = Array.isArray(meta.ownerReferences) ? meta.ownerReferences.filter(isObj) : [];
  const created = Date.parse(strAt(meta, 'creationTimestamp') ?? '');
  return {
    namespace: strAt(meta, 'namespace') ?? 'default',
    name: strAt(meta, 'name') ?? '',
    uid: strAt(meta, 'uid') ?? '',
    generation: numAt(meta, 'generation') ?? 0,
    created: Number.isNaN(created) ? 0 : created,
    replicas: numAt(spec, 'replicas') ?? 1,
    minReadySeconds: numAt(spec, 'minReadySeconds') ?? 0,
    labels: strMap(meta.labels),
    annotations: strMap(meta.annotations),
    template: objAt(spec, 'template'),
    ownerReferences: refs.map((r) => ({
      apiVersion: strAt(r, 'apiVersion') ?? '',
      kind: strAt(r, 'kind') ?? '',
      name: strAt(r, 'name') ?? '',
      uid: strAt(r, 'uid') ?? '',
      ...(r.controller === true && { controller: true }),
      ...(r.blockOwnerDeletion === true && { blockOwnerDeletion: true }),
    })),
    deleting: strAt(meta, 'deletionTimestamp') !== undefined,
    status: { replicas: numAt(st, 'replicas') ?? 0, readyReplicas: numAt(st, 'readyReplicas') ?? 0, availableReplicas: numAt(st, 'availableReplicas') ?? 0, observedGeneration: numAt(st, 'observedGeneration') ?? 0 },
    raw: o,
  };
}

export const controllerRefOf = (rs: { readonly ownerReferences: readonly OwnerRef[] }): OwnerRef | undefined => rs.ownerReferences.find((r) => r.controller === true);

/** Pure: the owner reference a Deployment's ReplicaSet carries (NewControllerRef). */
export const deploymentRef = (d: Deployment): OwnerRef => ({ apiVersion: 'apps/v1', kind: 'Deployment', name: d.name, uid: d.uid, controller: true, blockOwnerDeletion: true });

/** ReplicaSetsByCreationTimestamp: oldest first, then by name. */
export const byCreation = (a: ReplicaSet, b: ReplicaSet): number => (a.created !== b.created ? a.created - b.created : a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** ReplicaSetsBySizeOlder: larger first, then older first. */
export const bySizeOlder = (a: ReplicaSet, b: ReplicaSet): number => (a.replicas !== b.replicas ? b.replicas - a.replicas : byCreation(a, b));

/** ReplicaSetsBySizeNewer: larger first, then newer first. */
export const bySizeNewer = (a: ReplicaSet, b: ReplicaSet): number => (a.replicas !== b.replicas ? b.replicas - a.replicas : byCreation(b, a));

/** FilterActiveReplicaSets: those that want pods. */
export const activeOf = (rss: readonly (ReplicaSet | undefined)[]): ReplicaSet[] => rss.filter((r): r is ReplicaSet => r !== undefined && r.replicas > 0);

/** The sums over ReplicaSets Kubernetes' deployment util keeps (spec replicas, status replicas, ready, available). */
export const specReplicas = (rss: readonly (ReplicaSet | undefined)[]): number => rss.reduce((n, r) => n + (r?.replicas ?? 0), 0);
export const actualReplicas = (rss: readonly (ReplicaSet | undefined)[]): number => rss.reduce((n, r) => n + (r?.status.replicas ?? 0), 0);
export const readyReplicas = (rss: readonly (ReplicaSet | undefined)[]): number => rss.reduce((n, r) => n + (r?.status.readyReplicas ?? 0), 0);
export const availableReplicas = (rss: readonly (ReplicaSet | undefined)[]): number => rss.reduce((n, r) => n + (r?.status.availableReplicas ?? 0), 0);
