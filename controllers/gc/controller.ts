// The garbage collector: one list+watch cache per kind the API serves (cluster's API_RESOURCES), a
// graph of every object by uid with its owners and an index of dependents by owner uid, and workers
// that act on one object at a time as logic.ts decides. A change queues the object, its owners (a
// foreground or orphaning deletion may be done) and, when it went away, its dependents (which may now
// be dangling). An owner missing from the graph is looked up in the API before a dependent is deleted.
import { API_RESOURCES, type ApiResource, parseJsonObject, REGISTRY } from '../../cluster/index.js';
import type { Logger } from '../../common/index.js';
import { WorkQueue } from '../queue.js';
import { type Cache, cacheOf, type ControllerDeps, isStatus, runWorkers, waitSynced } from '../runtime.js';
import { blockingDependents, decide, FINALIZER_FOREGROUND, FINALIZER_ORPHAN, type GraphNode, graphNodeOf, type OwnerReference, ownerState, type OwnerState, removeFinalizerPatch, removeOwnersPatch } from './logic.js';

type Obj = Record<string, unknown>;
const enc = encodeURIComponent;

/** Kinds of the resources the API serves (their objects in a listing may not say). */
const KINDS: Readonly<Record<string, string>> = {
  pods: 'Pod',
  services: 'Service',
  endpoints: 'Endpoints',
  nodes: 'Node',
  secrets: 'Secret',
  configmaps: 'ConfigMap',
  replicationcontrollers: 'ReplicationController',
  replicasets: 'ReplicaSet',
  deployments: 'Deployment',
  daemonsets: 'DaemonSet',
  statefulsets: 'StatefulSet',
  controllerrevisions: 'ControllerRevision',
  jobs: 'Job',
  cronjobs: 'CronJob',
  leases: 'Lease',
  serviceaccounts: 'ServiceAccount',
  events: 'Event',
};
const kindOf = (r: ApiResource): string => KINDS[r.resource] ?? r.resource.charAt(0).toUpperCase() + r.resource.slice(1).replace(/s$/, '');
const apiVersionOf = (r: ApiResource): string => r.base.replace(/^\/apis?\//, '');
const groupOf = (apiVersion: string): string => (apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '');

export interface GarbageCollectorOptions {
  readonly workers: number;
}

export class GarbageCollector {
  private readonly queue = new WorkQueue();
  private readonly caches: { res: ApiResource; cache: Cache<Obj> }[];
  private readonly graph = new Map<string, GraphNode>();
  /** cache key → the uid it held (to find what a delete removed) */
  private readonly uidAt = new Map<string, string>();
  private readonly dependents = new Map<string, Set<string>>();
  private readonly log: Logger;

  constructor(
    private readonly d: ControllerDeps,
    private readonly o: GarbageCollectorOptions,
  ) {
    this.log = d.log.child({ controller: 'garbagecollector' });
    this.caches = API_RESOURCES.map((res) => {
      const holder: { cache?: Cache<Obj> } = {};
      holder.cache = cacheOf(d.store, `${REGISTRY}/${res.keyPrefix}`, parseJsonObject, this.log, (ks) => ks.forEach((k) => this.changed(res, holder.cache!, k)));
      return { res, cache: holder.cache };
    });
  }

  async run(signal: AbortSignal): Promise<void> {
    const following = this.caches.map((c) => c.cache.run(signal));
    const synced = waitSynced(
      this.caches.map((c) => c.cache),
      signal,
    ).then((ok) => {
      if (!ok) return;
      this.log.info({ objects: this.graph.size }, 'caches synced');
      // Until every kind has listed, an owner of another kind could look absent: nothing is acted on before.
      for (const uid of this.graph.keys()) this.queue.add(uid);
    });
    await Promise.all([...following, synced.then(() => runWorkers(this.queue, this.o.workers, (uid) => this.sync(uid, signal), this.log, signal))]);
  }

  private get synced(): boolean {
    return this.caches.every((c) => c.cache.synced);
  }

  private changed(res: ApiResource, cache: Cache<Obj>, key: string): void {
    const s = cache.items.get(key);
    const oldUid = this.uidAt.get(key);
    const old = oldUid ? this.graph.get(oldUid) : undefined;
    const node = s ? graphNodeOf(s.obj, apiVersionOf(res), kindOf(res), s.modRevision) : undefined;
    if (old && (!node || node.uid !== old.uid)) {
      this.graph.delete(old.uid);
      this.uidAt.delete(key);
      for (const r of old.owners) this.dependents.get(r.uid)?.delete(old.uid);
      this.touch(old);
      // Its dependents may be dangling now.
      for (const dep of this.dependents.get(old.uid) ?? []) this.queue.add(dep);
    }
    if (!node) return;
    if (old && old.uid === node.uid) for (const r of old.owners) this.dependents.get(r.uid)?.delete(node.uid);
    this.graph.set(node.uid, node);
    this.uidAt.set(key, node.uid);
    for (const r of node.owners) {
      let set = this.dependents.get(r.uid);
      if (!set) this.dependents.set(r.uid, (set = new Set()));
      set.add(node.uid);
    }
    this.touch(node);
    this.queue.add(node.uid);
  }

  /** Queues the owners of a node (their foreground or orphaning deletion may have moved on). */
  private touch(n: GraphNode): void {
    if (!this.synced) return;
    for (const r of n.owners) if (this.graph.has(r.uid)) this.queue.add(r.uid);
  }

  private dependentsOf(uid: string): GraphNode[] {
    return [...(this.dependents.get(uid) ?? [])].map((u) => this.graph.get(u)).filter((n): n is GraphNode => n !== undefined);
  }

  private resourceOf(apiVersion: string, kind: string): ApiResource | undefined {
    return API_RESOURCES.find((r) => kindOf(r) === kind && groupOf(apiVersionOf(r)) === groupOf(apiVersion));
  }

  private pathOf(n: { apiVersion: string; kind: string; namespace?: string; name: string }): string | undefined {
    const res = this.resourceOf(n.apiVersion, n.kind);
    if (!res) return undefined;
    return `${res.base}${res.namespaced && n.namespace ? `/namespaces/${enc(n.namespace)}` : ''}/${res.resource}/${enc(n.name)}`;
  }

  /** The owner is gone from the API (404, or another object of that name): true; there: false; a kind the API does not serve: undefined. */
  private async ownerAbsent(dep: GraphNode, ref: OwnerReference, signal: AbortSignal): Promise<boolean | undefined> {
    const res = this.resourceOf(ref.apiVersion, ref.kind);
    if (!res) return undefined;
    const path = this.pathOf({ apiVersion: ref.apiVersion, kind: ref.kind, ...(res.namespaced && dep.namespace ? { namespace: dep.namespace } : {}), name: ref.name })!;
    try {
      const o = (await this.d.client.request('GET', path, { attempts: 2, signal })) as Obj;
      return (o.metadata as Obj | undefined)?.uid !== ref.uid;
    } catch (e) {
      if (isStatus(e, 404)) return true;
      throw e;
    }
  }

  async sync(uid: string, signal: AbortSignal): Promise<void> {
    const n = this.graph.get(uid);
    if (!n) return;
    const path = this.pathOf(n);
    if (!path) return;
    if (n.deleting && n.finalizers.includes(FINALIZER_ORPHAN)) return this.orphan(n, path, signal);
    if (n.deleting && n.finalizers.includes(FINALIZER_FOREGROUND)) return this.foreground(n, path, signal);
    if (n.owners.length === 0 || n.deleting) return;
    const states: OwnerState[] = [];
    for (const r of n.owners) {
      let s = ownerState(r, this.graph, undefined);
      if (s === 'unknown') {
        const absent = await this.ownerAbsent(n, r, signal);
        // An owner of a kind this API does not serve is never taken for gone.
        s = ownerState(r, this.graph, absent ?? false);
      }
      states.push(s);
    }
    const action = decide(n, states, this.dependentsOf(uid).length > 0);
    const who = `${n.kind} ${n.namespace ? `${n.namespace}/` : ''}${n.name}`;
    if (action.type === 'removeOwners') {
      await this.patch(path, removeOwnersPatch(n, action.uids), signal);
      this.log.info({ object: who, owners: action.uids }, 'removed references to owners that are gone or being deleted');
    } else if (action.type === 'delete') {
      try {
        await this.d.client.request('DELETE', path, { body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: action.policy, preconditions: { uid } }, attempts: 1, signal });
        this.log.info({ object: who, propagationPolicy: action.policy }, 'deleted an object whose owners are gone');
      } catch (e) {
        if (!isStatus(e, 404, 409)) throw e;
      }
    }
  }

  /** Foreground: the blocking dependents are deleted first; the finalizer goes once none is left. */
  private async foreground(n: GraphNode, path: string, signal: AbortSignal): Promise<void> {
    const blocking = blockingDependents(n, this.dependentsOf(n.uid));
    if (blocking.length === 0) {
      await this.patch(path, removeFinalizerPatch(n, FINALIZER_FOREGROUND), signal);
      this.log.info({ object: `${n.kind} ${n.namespace ?? ''}/${n.name}` }, 'foreground deletion: no blocking dependents left; finalizer removed');
      return;
    }
    for (const d of blocking) if (!d.deleting) this.queue.add(d.uid);
    for (const d of blocking) {
      if (d.deleting) continue;
      const p = this.pathOf(d);
      if (!p) continue;
      try {
        await this.d.client.request('DELETE', p, { body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: this.dependentsOf(d.uid).length ? 'Foreground' : 'Background', preconditions: { uid: d.uid } }, attempts: 1, signal });
      } catch (e) {
        if (!isStatus(e, 404, 409)) throw e;
      }
    }
  }

  /** Orphan: every dependent loses its reference to the owner, then the owner its finalizer. */
  private async orphan(n: GraphNode, path: string, signal: AbortSignal): Promise<void> {
    for (const d of this.dependentsOf(n.uid)) {
      const p = this.pathOf(d);
      if (p) await this.patch(p, removeOwnersPatch(d, [n.uid]), signal);
    }
    await this.patch(path, removeFinalizerPatch(n, FINALIZER_ORPHAN), signal);
    this.log.info({ object: `${n.kind} ${n.namespace ?? ''}/${n.name}` }, 'dependents orphaned; finalizer removed');
  }

  private async patch(path: string, body: Obj, signal: AbortSignal): Promise<void> {
    try {
      await this.d.client.request('PATCH', path, { body, attempts: 1, signal });
    } catch (e) {
      // Gone: nothing to do. A conflict is thrown: the key comes back after the cache has the fresh object.
      if (!isStatus(e, 404)) throw e;
    }
  }
}
