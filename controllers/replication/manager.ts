// The replication manager's loop, for ReplicationControllers or ReplicaSets: the owners and the pods
// come from list+watch caches (the API, re-listed on 410), every change queues the owners it concerns,
// and workers sync one owner at a time: claim (adopt, release), create or delete pods as logic.ts
// decides (slow-start batches, expectations), then write the status through …/status. The pods are
// created with generateName and patched (adoption) through the API client directly: the key-based
// ClusterStore names every object it writes.
import { type ApiClient, ApiStatusError, isStatus, type Corrupt, REGISTRY, type Stored } from '../../cluster/index.js';
import { errorMessage, type Logger, type PrefixCache } from '../../common/index.js';
import type { WorkQueue } from '../queue.js';
import {
  adoptPatch,
  claimPods,
  controllerRefOf,
  createdMessage,
  deletedMessage,
  Expectations,
  matchesOwner,
  type Owner,
  type OwnerKind,
  ownerOf,
  podFromTemplate,
  podOf,
  podsToDelete,
  type PodView,
  releasePatch,
  replicaDiff,
  slowStartBatch,
  statusChanged,
  statusOf,
} from './logic.js';

type Obj = Record<string, unknown>;
type Cache = PrefixCache<Stored<Obj>, Corrupt>;

export const OWNER_PREFIX: Readonly<Record<OwnerKind, string>> = { ReplicationController: `${REGISTRY}/controllers/`, ReplicaSet: `${REGISTRY}/replicasets/` };
const COLLECTION: Readonly<Record<OwnerKind, string>> = { ReplicationController: '/api/v1/namespaces/%s/replicationcontrollers', ReplicaSet: '/apis/apps/v1/namespaces/%s/replicasets' };
/** The component its events name, as Kubernetes' controllers do. */
const COMPONENT: Readonly<Record<OwnerKind, string>> = { ReplicationController: 'replication-controller', ReplicaSet: 'replicaset-controller' };

const enc = encodeURIComponent;

export interface ReplicationManagerDeps {
  readonly client: ApiClient;
  readonly owners: Cache;
  readonly pods: Cache;
  readonly queue: WorkQueue;
  readonly log: Logger;
  readonly now?: () => number;
  /** Aborts every request in flight (the lease lost): a former leader stops writing at once. */
  readonly signal?: AbortSignal;
}

export class ReplicationManager {
  readonly expectations: Expectations;
  private readonly seen = new Map<string, PodView>();
  private readonly now: () => number;
  private readonly sig: { signal?: AbortSignal };

  constructor(
    readonly kind: OwnerKind,
    private readonly d: ReplicationManagerDeps,
  ) {
    this.now = d.now ?? Date.now;
    this.expectations = new Expectations(this.now);
    this.sig = d.signal ? { signal: d.signal } : {};
  }

  private ownerKey(ns: string, name: string): string {
    return `${ns}/${name}`;
  }

  private ownerAt(key: string): Owner | undefined {
    const s = this.d.owners.items.get(`${OWNER_PREFIX[this.kind]}${key}`);
    return s ? ownerOf(this.kind, s.obj) : undefined;
  }

  private owners(ns: string): Owner[] {
    const out: Owner[] = [];
    for (const [k, s] of this.d.owners.items) if (k.startsWith(`${OWNER_PREFIX[this.kind]}${ns}/`)) out.push(ownerOf(this.kind, s.obj));
    return out;
  }

  /** Owners changed: each is synced. */
  ownersChanged(keys: ReadonlySet<string>): void {
    for (const k of keys) if (k.startsWith(OWNER_PREFIX[this.kind])) this.d.queue.add(k.slice(OWNER_PREFIX[this.kind].length));
  }

  /** Pods changed: the expectations they meet, and the owners they concern (old and new controller, or the owners that could adopt them). */
  podsChanged(keys: ReadonlySet<string>): void {
    for (const k of keys) {
      const old = this.seen.get(k);
      const s = this.d.pods.items.get(k);
      const cur = s ? podOf(s.obj) : undefined;
      if (cur) this.seen.set(k, cur);
      else this.seen.delete(k);
      const mine = (p: PodView | undefined): string | undefined => {
        const r = p && controllerRefOf(p);
        return r && r.kind === this.kind ? this.ownerKey(p.namespace, r.name) : undefined;
      };
      const oldOwner = mine(old);
      const curOwner = mine(cur);
      if (cur && curOwner && (!old || old.uid !== cur.uid) && !cur.deleting) this.expectations.creationObserved(curOwner);
      if (old && oldOwner && (!cur || cur.uid !== old.uid || (cur.deleting && !old.deleting))) this.expectations.deletionObserved(oldOwner, old.uid);
      if (oldOwner) this.d.queue.add(oldOwner);
      if (curOwner) this.d.queue.add(curOwner);
      for (const p of [old, cur]) {
        if (!p || controllerRefOf(p)) continue;
        for (const o of this.owners(p.namespace)) if (matchesOwner(o, p)) this.d.queue.add(this.ownerKey(o.namespace, o.name));
      }
    }
  }

  /** One sync of the owner `ns/name`; throws to be retried. Returns a delay after which to look again (minReadySeconds), if any. */
  async sync(key: string): Promise<number | undefined> {
    const owner = this.ownerAt(key);
    if (!owner) {
      this.expectations.delete(key);
      return undefined;
    }
    const log = this.d.log.child({ kind: this.kind, owner: key });
    // The pods as last seen (parsed once per change, not once per sync).
    const pods = [...this.seen.values()].filter((p) => p.namespace === owner.namespace);
    const satisfied = this.expectations.satisfied(key);
    const claim = claimPods(owner, pods);
    const errors: unknown[] = [];
    let owned = [...claim.owned];
    if (claim.adopt.length && !(await this.canAdopt(owner))) owned = owned.filter((p) => !claim.adopt.includes(p));
    else {
      for (const p of claim.adopt) {
        try {
          await this.patchPod(p, adoptPatch(owner, p));
          log.info({ pod: p.name }, 'adopted pod');
        } catch (e) {
          owned = owned.filter((q) => q !== p);
          if (!isStatus(e, 404)) errors.push(e);
        }
      }
    }
    for (const p of claim.release) {
      try {
        await this.patchPod(p, releasePatch(owner, p));
        log.info({ pod: p.name }, 'released pod');
      } catch (e) {
        if (!isStatus(e, 404)) errors.push(e);
      }
    }
    if (satisfied && !owner.deleting) {
      try {
        await this.manage(owner, key, owned, log);
      } catch (e) {
        errors.push(e);
      }
    }
    const st = statusOf(owner, owned, this.now());
    if (statusChanged(owner, st)) {
      try {
        await this.writeStatus(owner, st);
      } catch (e) {
        if (!isStatus(e, 404)) errors.push(e);
      }
    }
    if (errors.length) throw errors[0];
    if (owner.minReadySeconds > 0 && st.readyReplicas > st.availableReplicas) return owner.minReadySeconds * 1000;
    return undefined;
  }

  private async manage(owner: Owner, key: string, owned: readonly PodView[], log: Logger): Promise<void> {
    const diff = replicaDiff(owner, owned.length);
    if (diff > 0) {
      this.expectations.expectCreations(key, diff);
      let attempted = 0;
      const r = await slowStartBatch(diff, 1, async () => {
        attempted++;
        try {
          const made = (await this.d.client.request('POST', `/api/v1/namespaces/${enc(owner.namespace)}/pods`, { body: podFromTemplate(owner), attempts: 1, ...this.sig })) as Obj;
          const name = podOf(made).name;
          log.info({ pod: name }, 'created pod');
          void this.event(owner, 'Normal', 'SuccessfulCreate', createdMessage(name));
        } catch (e) {
          this.expectations.creationObserved(key);
          void this.event(owner, 'Warning', 'FailedCreate', `Error creating: ${e instanceof ApiStatusError ? e.statusMessage : errorMessage(e)}`);
          throw e;
        }
      });
      for (let i = attempted; i < diff; i++) this.expectations.creationObserved(key);
      if (r.error !== undefined) throw r.error;
    } else if (diff < 0) {
      const victims = podsToDelete(owned, -diff);
      this.expectations.expectDeletions(
        key,
        victims.map((p) => p.uid),
      );
      const results = await Promise.allSettled(
        victims.map(async (p) => {
          try {
            await this.d.client.request('DELETE', `/api/v1/namespaces/${enc(p.namespace)}/pods/${enc(p.name)}`, { body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: p.uid } }, attempts: 1, ...this.sig });
            log.info({ pod: p.name }, 'deleted pod');
            void this.event(owner, 'Normal', 'SuccessfulDelete', deletedMessage(p.name));
          } catch (e) {
            this.expectations.deletionObserved(key, p.uid);
            if (isStatus(e, 404) || isStatus(e, 409)) return; // gone already, or another pod has the name now
            void this.event(owner, 'Warning', 'FailedDelete', `Error deleting: ${e instanceof ApiStatusError ? e.statusMessage : errorMessage(e)}`);
            throw e;
          }
        }),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
  }

  /** RecheckDeletionTimestamp: the owner read fresh is still this one and not being deleted. */
  private async canAdopt(owner: Owner): Promise<boolean> {
    try {
      const fresh = ownerOf(this.kind, (await this.d.client.request('GET', `${COLLECTION[this.kind].replace('%s', enc(owner.namespace))}/${enc(owner.name)}`, this.sig)) as Obj);
      return fresh.uid === owner.uid && !fresh.deleting;
    } catch (e) {
      if (isStatus(e, 404)) return false;
      throw e;
    }
  }

  private async patchPod(p: PodView, patch: Obj): Promise<void> {
    await this.d.client.request('PATCH', `/api/v1/namespaces/${enc(p.namespace)}/pods/${enc(p.name)}`, { body: patch, attempts: 1, ...this.sig });
  }

  /** PUT …/status at the cached version; on a conflict once more at the version read fresh. */
  private async writeStatus(owner: Owner, st: ReturnType<typeof statusOf>): Promise<void> {
    const path = `${COLLECTION[this.kind].replace('%s', enc(owner.namespace))}/${enc(owner.name)}/status`;
    const withStatus = (o: Obj): Obj => ({ ...o, status: { ...(typeof o.status === 'object' && o.status !== null ? (o.status as Obj) : {}), ...st } });
    try {
      await this.d.client.request('PUT', path, { body: withStatus(owner.raw), attempts: 1, ...this.sig });
    } catch (e) {
      if (!isStatus(e, 409)) throw e;
      const fresh = (await this.d.client.request('GET', path.slice(0, -'/status'.length), this.sig)) as Obj;
      await this.d.client.request('PUT', path, { body: withStatus(fresh), attempts: 1, ...this.sig });
    }
  }

  /** An event on the owner, as Kubernetes' recorder writes one (best effort: a failure is logged). */
  private async event(owner: Owner, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${owner.name}.${(BigInt(this.now()) * 1_000_000n + BigInt(Math.floor(Math.random() * 1e6))).toString(16)}`, namespace: owner.namespace },
      involvedObject: { kind: owner.kind, namespace: owner.namespace, name: owner.name, uid: owner.uid, apiVersion: owner.kind === 'ReplicaSet' ? 'apps/v1' : 'v1', resourceVersion: String((owner.raw.metadata as Obj | undefined)?.resourceVersion ?? '') },
      reason,
      message,
      source: { component: COMPONENT[this.kind] },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      type,
    };
    try {
      await this.d.client.request('POST', `/api/v1/namespaces/${enc(owner.namespace)}/events`, { body, attempts: 2, ...this.sig });
    } catch (e) {
      this.d.log.warn({ kind: this.kind, owner: owner.name, reason, err: errorMessage(e) }, 'cannot record an event');
    }
  }
}
