// The garbage collector's decisions, pure, over a graph of every object with its ownerReferences:
// - an object whose owners are all gone is deleted (background propagation: the owner was deleted
//   without waiting for it);
// - an owner being deleted with the `foregroundDeletion` finalizer first sees its blocking dependents
//   (blockOwnerDeletion) deleted, foreground in turn when they have dependents of their own, then loses
//   the finalizer (and the apiserver removes it);
// - an owner being deleted with the `orphan` finalizer has its reference taken out of every dependent,
//   then loses the finalizer.
// An owner that is not in the graph is looked up in the API before anything is deleted (the caches may
// lag); the controller passes that answer in as `absent`.

export const FINALIZER_ORPHAN = 'orphan';
export const FINALIZER_FOREGROUND = 'foregroundDeletion';

export interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  readonly controller?: boolean;
  readonly blockOwnerDeletion?: boolean;
}

export interface GraphNode {
  readonly uid: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
  readonly resourceVersion: string;
  readonly owners: readonly OwnerReference[];
  readonly deleting: boolean;
  readonly finalizers: readonly string[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Pure: the ownerReferences of an object, the malformed ones left out. */
export function ownerRefsOf(o: unknown): OwnerReference[] {
  const meta = isObj(o) && isObj(o.metadata) ? o.metadata : {};
  const refs = Array.isArray(meta.ownerReferences) ? meta.ownerReferences : [];
  return refs.filter((r): r is OwnerReference => isObj(r) && typeof r.uid === 'string' && typeof r.kind === 'string' && typeof r.name === 'string' && typeof r.apiVersion === 'string');
}

/** Pure: the graph node of an object read (undefined without a uid). */
export function graphNodeOf(o: unknown, apiVersion: string, kind: string, resourceVersion: string): GraphNode | undefined {
  const meta = isObj(o) && isObj(o.metadata) ? o.metadata : {};
  if (typeof meta.uid !== 'string' || typeof meta.name !== 'string') return undefined;
  const fin = Array.isArray(meta.finalizers) ? meta.finalizers.filter((f): f is string => typeof f === 'string') : [];
  return {
    uid: meta.uid,
    apiVersion: isObj(o) && typeof o.apiVersion === 'string' ? o.apiVersion : apiVersion,
    kind: isObj(o) && typeof o.kind === 'string' ? o.kind : kind,
    ...(typeof meta.namespace === 'string' && { namespace: meta.namespace }),
    name: meta.name,
    resourceVersion,
    owners: ownerRefsOf(o),
    deleting: typeof meta.deletionTimestamp === 'string',
    finalizers: fin,
  };
}

export type OwnerState = 'solid' | 'dangling' | 'waiting' | 'unknown';

/**
 * Each owner reference's state: in the graph with the same uid (`waiting` when it is being deleted in
 * the foreground, else `solid`); not in the graph: what the API said (`absent` true → dangling, false →
 * solid, undefined → unknown, to be looked up).
 */
export function ownerState(ref: OwnerReference, graph: ReadonlyMap<string, GraphNode>, absent: boolean | undefined): OwnerState {
  const o = graph.get(ref.uid);
  if (o) return o.deleting && o.finalizers.includes(FINALIZER_FOREGROUND) ? 'waiting' : 'solid';
  if (absent === undefined) return 'unknown';
  return absent ? 'dangling' : 'solid';
}

export type Action =
  | { readonly type: 'none' }
  | { readonly type: 'delete'; readonly policy: 'Background' | 'Foreground' }
  /** Take these owners' references out of the object. */
  | { readonly type: 'removeOwners'; readonly uids: readonly string[] };

/** attemptToDeleteItem: what to do with an object given its owners' states. */
export function decide(node: GraphNode, states: readonly OwnerState[], hasDependents: boolean): Action {
  if (node.deleting || node.owners.length === 0) return { type: 'none' };
  const solid = states.filter((s) => s === 'solid').length;
  const waiting = states.filter((s) => s === 'waiting').length;
  const dangling = states.filter((s) => s === 'dangling').length;
  if (states.includes('unknown')) return { type: 'none' };
  if (solid > 0) {
    if (dangling + waiting === 0) return { type: 'none' };
    return { type: 'removeOwners', uids: node.owners.filter((_, i) => states[i] === 'dangling' || states[i] === 'waiting').map((r) => r.uid) };
  }
  // No owner left that keeps it: it goes, in the foreground when an owner waits for it and it has dependents of its own.
  return { type: 'delete', policy: waiting > 0 && hasDependents ? 'Foreground' : 'Background' };
}

/** The dependents that keep a foreground deletion waiting (blockOwnerDeletion on their reference to it). */
export function blockingDependents(owner: GraphNode, dependents: readonly GraphNode[]): GraphNode[] {
  return dependents.filter((d) => d.owners.some((r) => r.uid === owner.uid && r.blockOwnerDeletion === true));
}

/** The merge patch that takes these owners' references out (pinned to the version they were read at). */
export function removeOwnersPatch(node: GraphNode, uids: readonly string[]): Obj {
  const left = node.owners.filter((r) => !uids.includes(r.uid));
  // null removes the field, as Kubernetes leaves an object without references (omitempty).
  return { metadata: { resourceVersion: node.resourceVersion, ownerReferences: left.length ? left : null } };
}

/** The merge patch that takes a finalizer out (pinned). */
export function removeFinalizerPatch(node: GraphNode, finalizer: string): Obj {
  const left = node.finalizers.filter((f) => f !== finalizer);
  return { metadata: { resourceVersion: node.resourceVersion, finalizers: left.length ? left : null } };
}
