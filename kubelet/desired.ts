// The desired pods: this node's pods from etcd plus the static pods, diffed against the previous set
// into pod worker requests (sync a new or changed pod, terminate one that is being deleted or has
// gone). Nothing is requested before every source (pods, static pods, services) has listed once. A
// pod without metadata.uid gets one (as an API server would); an invalid pod gets InvalidPod in its
// status. A pod that was stopped and removed stays `finished` until it leaves the sources, so it is
// not terminated twice.
import { randomUUID } from 'node:crypto';
import { type Pod, type PodStatus, parseJsonObject, type Service } from '../cluster/index.js';
import { type Logger, errorMessage, isObject } from '../common/index.js';
import type { PodWorkers } from './pod-workers.js';
import { ANNOTATIONS, type ApiPod, type ClusterStore, type StaticPodSource, type StoreCache, apiPodFor } from './sources.js';
import { graceOf, podFullName } from './spec.js';
import { invalidPodStatus, rfc3339 } from './status.js';

export interface Desired {
  readonly pod: Pod;
  /** The etcd key its status goes to (the mirror pod's key for a static pod). */
  readonly key: string;
  readonly isStatic: boolean;
  readonly json: string;
}

/** What decides whether a pod must be synced again: everything but its status. */
const specJson = (p: Pod): string => JSON.stringify({ metadata: { ...p.metadata, resourceVersion: undefined }, spec: p.spec });
/** The mirror annotation of a stored pod (its static pod's hash), undefined when it is not a mirror pod. */
export const mirrorHashOf = (o: unknown): string | undefined => {
  if (!isObject(o) || !isObject(o.metadata) || !isObject(o.metadata.annotations)) return undefined;
  const v = o.metadata.annotations[ANNOTATIONS.mirror];
  return typeof v === 'string' ? v : undefined;
};

export interface DesiredPodsOptions {
  readonly nodeName: string;
  readonly nodeIP: string | undefined;
  readonly store: ClusterStore;
  readonly log: Logger;
  readonly workers: Pick<PodWorkers, 'sync' | 'terminate' | 'has'>;
  readonly podCache: StoreCache<unknown>;
  readonly serviceCache: StoreCache<Service>;
  readonly staticPods: StaticPodSource;
  /** Every source has listed once (called once). */
  onInitialized(): void;
  /** Mirror pods may have to be written or deleted. */
  onMirrorsChanged(): void;
}

export class DesiredPods {
  private readonly apiPods = new Map<string, ApiPod>();
  private desired = new Map<string, Desired>();
  private readonly invalidWritten = new Map<string, string>();
  private readonly uidAssigning = new Set<string>();
  private readonly deleteAfter = new Set<string>();
  private readonly finished = new Set<string>();
  /** Every source has listed once. */
  initialized = false;

  constructor(private readonly o: DesiredPodsOptions) {}

  get(uid: string): Desired | undefined {
    return this.desired.get(uid);
  }

  has(uid: string): boolean {
    return this.desired.has(uid);
  }

  values(): IterableIterator<Desired> {
    return this.desired.values();
  }

  // ---- source events

  onSourceSynced(): void {
    const o = this.o;
    if (!this.initialized && o.podCache.synced && o.serviceCache.synced && o.staticPods.synced) {
      this.initialized = true;
      o.log.info({ pods: this.apiPods.size, staticPods: o.staticPods.all().length, services: o.serviceCache.items.size }, 'initial lists complete; syncing pods');
      this.reconcile();
      o.onInitialized();
    }
  }

  onPodsChanged(changed: ReadonlySet<string>): void {
    let mirrors = false;
    for (const key of changed) {
      const s = this.o.podCache.items.get(key);
      if (s && mirrorHashOf(s.obj) !== undefined) mirrors = true;
      const next = s ? apiPodFor(this.o.nodeName, s) : undefined;
      if (next) this.apiPods.set(key, next);
      else {
        this.apiPods.delete(key);
        this.invalidWritten.delete(key);
        mirrors ||= !s; // a deleted key may have been a mirror pod
      }
    }
    if (mirrors) this.o.onMirrorsChanged();
    if (this.initialized) this.reconcile();
    else this.onSourceSynced();
  }

  onStaticChanged(): void {
    this.o.onMirrorsChanged();
    if (this.initialized) this.reconcile();
    else this.onSourceSynced();
  }

  // ---- requests from the other loops

  /** Asks for a sync of a desired pod, unless it is being deleted (its worker terminates it). */
  requestSync(uid: string): void {
    const d = this.desired.get(uid);
    if (d && !d.pod.metadata.deletionTimestamp && !this.finished.has(uid)) this.o.workers.sync(d.pod);
  }

  /** The containers of a pod changed (PLEG, housekeeping): sync it, or remove it if it is not ours any more. */
  containersChanged(uid: string): void {
    if (this.desired.has(uid)) this.requestSync(uid);
    else if (this.initialized && !this.o.workers.has(uid)) {
      this.o.log.info({ uid }, 'containers of a pod that is not on this node any more; removing them');
      this.o.workers.terminate(uid, undefined);
    }
  }

  /** The pod was stopped and removed from the node; true when its key must be deleted (graceful deletion). */
  removed(uid: string): boolean {
    if (this.desired.has(uid)) this.finished.add(uid);
    return this.deleteAfter.delete(uid);
  }

  // ---- the diff

  /** The desired pods from every source, diffed against the previous set: syncs and terminations. */
  private reconcile(): void {
    const next = new Map<string, Desired>();
    for (const a of this.apiPods.values()) {
      if (a.kind === 'invalid') {
        this.reportInvalid(a);
        continue;
      }
      const uid = a.pod.metadata.uid;
      if (!uid) {
        this.assignUid(a.key);
        continue;
      }
      if (next.has(uid)) {
        this.o.log.warn({ key: a.key, uid }, 'two pods share one uid; ignoring the second');
        continue;
      }
      this.invalidWritten.delete(a.key);
      next.set(uid, { pod: a.pod, key: a.key, isStatic: false, json: specJson(a.pod) });
    }
    for (const s of this.o.staticPods.all()) {
      const uid = s.pod.metadata.uid!;
      if (!next.has(uid)) next.set(uid, { pod: s.pod, key: s.key, isStatic: true, json: specJson(s.pod) });
    }
    for (const [uid, d] of next) {
      const old = this.desired.get(uid);
      if (d.pod.metadata.deletionTimestamp) {
        if (this.finished.has(uid)) continue;
        const g = d.pod.metadata.deletionGracePeriodSeconds;
        this.deleteAfter.add(uid);
        this.o.workers.terminate(uid, d.pod, typeof g === 'number' ? g : graceOf(d.pod));
        continue;
      }
      if (!old || old.json !== d.json) this.o.workers.sync(d.pod);
    }
    for (const [uid, old] of this.desired) {
      if (!next.has(uid) && !this.finished.has(uid)) {
        this.o.log.info({ pod: podFullName(old.pod), uid }, 'pod removed; stopping it');
        this.o.workers.terminate(uid, old.pod);
      }
    }
    for (const uid of this.finished) if (!next.has(uid) && !this.desired.has(uid)) this.finished.delete(uid);
    this.desired = next;
  }

  /** An API server would have set metadata.uid; without one, the node's kubelet does (CAS). */
  private assignUid(key: string): void {
    if (this.uidAssigning.has(key)) return;
    this.uidAssigning.add(key);
    const now = rfc3339(Date.now());
    this.o.store
      .update(key, parseJsonObject, (cur) => (cur && isObject(cur.metadata) && !cur.metadata.uid ? { ...cur, metadata: { ...cur.metadata, uid: randomUUID(), creationTimestamp: cur.metadata.creationTimestamp ?? now } } : undefined))
      .catch((e: unknown) => this.o.log.warn({ key, err: errorMessage(e) }, 'cannot assign a pod uid'))
      .finally(() => this.uidAssigning.delete(key));
  }

  private reportInvalid(a: Extract<ApiPod, { kind: 'invalid' }>): void {
    const message = a.error.message;
    if (this.invalidWritten.get(a.key) === message) return;
    this.invalidWritten.set(a.key, message);
    this.o.log.warn({ key: a.key, path: a.error.path, reason: a.error.reason }, 'pod is invalid; reporting it in its status');
    const raw = JSON.stringify({ ...a.raw, status: undefined });
    const now = rfc3339(Date.now());
    this.o.store
      .update(a.key, parseJsonObject, (cur) => {
        if (!cur || JSON.stringify({ ...cur, status: undefined }) !== raw) return undefined;
        const prev = isObject(cur.status) ? (cur.status as PodStatus) : undefined;
        if (prev?.reason === 'InvalidPod' && prev.message === message) return undefined;
        return { ...cur, status: invalidPodStatus(prev, now, message, this.o.nodeIP) };
      })
      .catch((e: unknown) => {
        this.invalidWritten.delete(a.key);
        this.o.log.warn({ key: a.key, err: errorMessage(e) }, 'cannot write the status of an invalid pod');
      });
  }
}
