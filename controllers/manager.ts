// kube-controller-manager's body: one active instance (a Lease, when --leader-elect), and while it
// leads, the controllers --controllers names over shared list+watch caches, each with its work queue
// and --concurrent-*-syncs workers. Losing the lease stops the controllers (their writes end with it).
import { type ApiClient, type ClusterStore, type Corrupt, keys, parseJsonObject, prefixSource, type Stored } from '../cluster/index.js';
import { errorMessage, type Logger, PrefixCache } from '../common/index.js';
import { LeaseElection } from '../proxy/index.js';
import type { ControllerName } from './options.js';
import { WorkQueue } from './queue.js';
import { OWNER_PREFIX, ReplicationManager } from './replication/index.js';
import type { OwnerKind } from './replication/index.js';
import { PerNamespaceController, rootCaPolicy, serviceAccountPolicy } from './serviceaccounts/index.js';

type Obj = Record<string, unknown>;

export interface ControllerManagerConfig {
  readonly controllers: ReadonlySet<ControllerName>;
  readonly workers: Readonly<Record<ControllerName, number>>;
  /** The CA bundle the root-ca-cert-publisher puts in every namespace (--root-ca-file, else the kubeconfig's CA). */
  readonly rootCa?: string;
  /** Absent: no election, this instance is always active. */
  readonly election?: { readonly identity: string; readonly leaseDurationMs: number; readonly renewDeadlineMs: number; readonly retryPeriodMs: number; readonly namespace: string; readonly name: string };
}

const KIND_OF: Readonly<Partial<Record<ControllerName, OwnerKind>>> = { replicationcontroller: 'ReplicationController', replicaset: 'ReplicaSet' };

/** What a worker drives: a controller's sync of one key (a delay when it wants the key again). */
interface Syncer {
  readonly kind: string;
  sync(key: string): Promise<number | undefined>;
}

export class ControllerManager {
  constructor(
    private readonly store: ClusterStore,
    private readonly client: ApiClient,
    private readonly cfg: ControllerManagerConfig,
    private readonly log: Logger,
  ) {}

  async run(signal: AbortSignal): Promise<void> {
    const e = this.cfg.election;
    if (!e) return this.runControllers(signal);
    const election = new LeaseElection(this.store, {
      identity: e.identity,
      ttlSec: e.leaseDurationMs / 1000,
      renewDeadlineMs: e.renewDeadlineMs,
      retryPeriodMs: e.retryPeriodMs,
      lease: { namespace: e.namespace, name: e.name },
      log: this.log.child({ lease: `${e.namespace}/${e.name}` }),
    });
    await election.run(signal, (leading) => this.runControllers(leading));
  }

  /** The controllers until `signal` aborts. */
  private async runControllers(signal: AbortSignal): Promise<void> {
    const names = [...this.cfg.controllers];
    this.log.info({ controllers: names }, 'starting controllers');
    if (names.length === 0) {
      await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      return;
    }
    const managers: { m: ReplicationManager; queue: WorkQueue; owners: PrefixCache<Stored<Obj>, Corrupt>; workers: number }[] = [];
    const perNs: { m: PerNamespaceController; queue: WorkQueue; objects: PrefixCache<Stored<Obj>, Corrupt>; workers: number }[] = [];
    const src = prefixSource(this.store, parseJsonObject);
    const replication = names.some((n) => KIND_OF[n] !== undefined);
    // The pods cache, shared: each change goes to every controller (listed only when a replication controller runs).
    const pods = new PrefixCache<Stored<Obj>, Corrupt>(src, { prefix: keys.pods(), log: this.log }, (changed) => managers.forEach((x) => x.m.podsChanged(changed)));
    const namespaces = new PrefixCache<Stored<Obj>, Corrupt>(src, { prefix: keys.namespaces(), log: this.log }, (changed) => perNs.forEach((x) => x.m.namespacesChanged(changed)));
    for (const n of names) {
      const kind = KIND_OF[n];
      const queue = new WorkQueue();
      const log = this.log.child({ controller: n });
      if (kind === undefined) {
        if (n === 'root-ca-cert-publisher' && !this.cfg.rootCa) {
          log.warn({}, 'no CA bundle (--root-ca-file, or the kubeconfig\'s certificate-authority): the controller is not started');
          continue;
        }
        const policy = n === 'serviceaccount' ? serviceAccountPolicy() : rootCaPolicy(this.cfg.rootCa!);
        const holder: { m?: PerNamespaceController } = {};
        const objects = new PrefixCache<Stored<Obj>, Corrupt>(src, { prefix: policy.prefix, log: this.log }, (changed) => holder.m?.objectsChanged(changed));
        holder.m = new PerNamespaceController(policy, { client: this.client, namespaces, objects, queue, log, signal });
        perNs.push({ m: holder.m, queue, objects, workers: this.cfg.workers[n] });
        continue;
      }
      const holder: { m?: ReplicationManager } = {};
      const owners = new PrefixCache<Stored<Obj>, Corrupt>(src, { prefix: OWNER_PREFIX[kind], log: this.log }, (changed) => holder.m?.ownersChanged(changed));
      holder.m = new ReplicationManager(kind, { client: this.client, owners, pods, queue, log, signal });
      managers.push({ m: holder.m, queue, owners, workers: this.cfg.workers[n] });
    }
    const shared = [...(replication ? [pods] : []), ...(perNs.length ? [namespaces] : [])];
    const caches = [...shared.map((c) => c.run(signal)), ...managers.map((x) => x.owners.run(signal)), ...perNs.map((x) => x.objects.run(signal))];
    // Workers start once every cache has its first listing (WaitForCacheSync), bounded by the signal.
    const synced = (): boolean => shared.every((c) => c.synced) && managers.every((x) => x.owners.synced) && perNs.every((x) => x.objects.synced);
    while (!signal.aborted && !synced()) await new Promise((r) => setTimeout(r, 50));
    if (!signal.aborted) {
      this.log.info({ controllers: names }, 'caches synced');
      for (const x of managers) {
        x.m.ownersChanged(new Set(x.owners.items.keys()));
        x.m.podsChanged(new Set(pods.items.keys()));
      }
      for (const x of perNs) x.m.namespacesChanged(new Set(namespaces.items.keys()));
    }
    const queues = [...managers.map((x) => x.queue), ...perNs.map((x) => x.queue)];
    signal.addEventListener('abort', () => queues.forEach((q) => q.shutDown()), { once: true });
    if (signal.aborted) queues.forEach((q) => q.shutDown());
    const workers = [...managers, ...perNs].flatMap((x) => Array.from({ length: x.workers }, () => this.worker(x.m, x.queue)));
    await Promise.all([...caches, ...workers]);
  }

  private async worker(m: Syncer, q: WorkQueue): Promise<void> {
    // Bounded by the queue: get() returns undefined once it is shut down.
    for (let key = await q.get(); key !== undefined; key = await q.get()) {
      try {
        const again = await m.sync(key);
        q.forget(key);
        if (again !== undefined) q.addAfter(key, again);
      } catch (e) {
        this.log.warn({ kind: m.kind, key, err: errorMessage(e), retryInMs: q.backoffOf(key) }, 'sync failed; retrying');
        q.addRateLimited(key);
      } finally {
        q.done(key);
      }
    }
  }
}
