// Mirror pods: every static pod of this node gets a pod object in etcd under its key (annotated with
// the static pod's hash), so the cluster sees it and its status has somewhere to go. A changed
// static pod replaces its mirror (CAS, only over a mirror pod); a mirror pod of this node whose
// static pod is gone is deleted; a pod that is not a mirror pod but holds the name is left alone.
// As the real kubelet's, a mirror pod is owned by its Node (a controller owner reference with the Node's
// uid, which NodeRestriction requires), and a changed static pod's mirror is deleted and made again
// (NodeRestriction lets a node create and delete mirror pods, never update them).
import { keys, parseJsonObject } from '../cluster/index.js';
import { type Logger, isObject } from '../common/index.js';
import { mirrorHashOf } from './desired.js';
import { ANNOTATIONS, type ClusterStore, type StaticPodSource, type StoreCache } from './sources.js';
import { rfc3339 } from './status.js';

export interface MirrorPodsOptions {
  readonly nodeName: string;
  readonly store: ClusterStore;
  readonly log: Logger;
  readonly podCache: StoreCache<unknown>;
  readonly staticPods: StaticPodSource;
  /** A mirror pod was created or replaced: the static pod's status must be written to it again. */
  onWritten(uid: string): void;
}

export class MirrorPods {
  private readonly conflicts = new Set<string>();

  constructor(private readonly o: MirrorPodsOptions) {}

  /** The Node as the mirror pods' owner: [] when it has no uid (on etcd), undefined when it is not registered yet. */
  private async ownerReferences(): Promise<Record<string, unknown>[] | undefined> {
    const node = await this.o.store.get(keys.node(this.o.nodeName), parseJsonObject);
    if (node === undefined || !('obj' in node)) return undefined;
    const uid = isObject(node.obj.metadata) ? node.obj.metadata.uid : undefined;
    return typeof uid === 'string' && uid ? [{ apiVersion: 'v1', kind: 'Node', name: this.o.nodeName, uid, controller: true }] : [];
  }

  /** One pass (run by a SyncRunner); throws on an etcd failure, to be retried. */
  async sync(): Promise<void> {
    const { store, log, podCache, staticPods } = this.o;
    if (!podCache.synced || !staticPods.synced) return;
    const want = new Map(staticPods.all().map((s) => [s.key, s]));
    let owner: Record<string, unknown>[] | undefined;
    for (const [key, s] of want) {
      const hash = s.pod.metadata.annotations?.[ANNOTATIONS.hash] ?? '';
      const cur = podCache.items.get(key)?.obj;
      if (cur !== undefined && mirrorHashOf(cur) === hash) continue;
      if (cur !== undefined && mirrorHashOf(cur) === undefined) {
        if (!this.conflicts.has(key)) log.warn({ key }, 'a pod that is not a mirror pod holds the static pod name; not replacing it');
        this.conflicts.add(key);
        continue;
      }
      owner ??= await this.ownerReferences();
      // Thrown, so the runner tries again: the Node is registered within a heartbeat.
      if (owner === undefined) throw new Error(`node ${this.o.nodeName} is not registered yet; its mirror pods wait for it`);
      const metadata = { ...s.pod.metadata, annotations: { ...s.pod.metadata.annotations, [ANNOTATIONS.mirror]: hash }, creationTimestamp: rfc3339(Date.now()), ...(owner.length && { ownerReferences: owner }) };
      const mirror = { apiVersion: 'v1', kind: 'Pod', metadata, spec: s.pod.spec };
      if (cur === undefined) {
        if (await store.create(key, mirror)) log.info({ key }, 'mirror pod created');
      } else {
        const uid = isObject(cur) && isObject(cur.metadata) && typeof cur.metadata.uid === 'string' ? cur.metadata.uid : undefined;
        await store.delete(key, uid === undefined ? undefined : { uid });
        if (await store.create(key, mirror)) log.info({ key }, 'mirror pod replaced');
      }
      this.o.onWritten(s.pod.metadata.uid!);
    }
    for (const [key, s] of podCache.items) {
      const o = s.obj;
      if (want.has(key) || mirrorHashOf(o) === undefined || !isObject(o) || !isObject(o.spec) || o.spec.nodeName !== this.o.nodeName) continue;
      await store.delete(key);
      log.info({ key }, 'orphaned mirror pod deleted');
    }
  }
}
