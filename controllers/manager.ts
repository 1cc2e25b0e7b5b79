// kube-controller-manager's body: one active instance (a Lease, when --leader-elect), and while it
// leads, the controllers --controllers names over shared list+watch caches, each with its work queue
// and --concurrent-*-syncs workers. Losing the lease stops the controllers (their writes end with it).
import { setMaxListeners } from 'node:events';
import { type ApiClient, type ClusterStore, type Corrupt, keys, parseJsonObject, prefixSource, type Stored } from '../cluster/index.js';
import { errorMessage, type Logger, PrefixCache } from '../common/index.js';
import { LeaseElection } from '../proxy/index.js';
import type { ControllerName } from './options.js';
import { WorkQueue } from './queue.js';
import { OWNER_PREFIX, ReplicationManager } from './replication/index.js';
import type { ControllerDeps, RunnableController } from './runtime.js';
import type { OwnerKind } from './replication/index.js';

type Obj = Record<string, unknown>;

export interface ControllerManagerConfig {
  readonly controllers: ReadonlySet<ControllerName>;
  readonly workers: Readonly<Partial<Record<ControllerName, number>>>;
  /** The controllers that keep their own caches (endpoints, node lifecycle, GC, ...), built when leading. */
  readonly own?: Readonly<Partial<Record<ControllerName, (d: ControllerDeps) => RunnableController>>>;
  /** Absent: no election, this instance is always active. */
  readonly election?: { readonly identity: string; readonly leaseDurationMs: number; readonly renewDeadlineMs: number; readonly retryPeriodMs: number; readonly namespace: string; readonly name: string };
}

const KIND_OF: Readonly<Partial<Record<ControllerName, OwnerKind>>> = { replicationcontroller: 'ReplicationController', replicaset: 'ReplicaSet' };

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
    // Every cache, queue and timer listens on it.
    setMaxListeners(1_000, signal);
    this.log.info({ controllers: names }, 'starting controllers');
    if (names.length === 0) {
      await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      return;
    }
    const managers: { m: ReplicationManager; queue: WorkQueue; owners: PrefixCache<Stored<Obj>, Corrupt>; workers: number }[] = [];
    const src = prefixSource(this.store, parseJsonObject);
    // The pods cache, shared: each change goes to every controller.
    const pods = new PrefixCache<Stored<Obj>, Corrupt>(src, { prefix: keys.pods(), log: this.log }, (changed) => managers.forEach((x) => x.m.podsChanged(changed)));
    const own: Promise<void>[] = [];
    for (const n of names) {
      const make = this.cfg.own?.[n];
      if (make) own.push(make({ store: this.store, client: this.client, log: this.log }).run(signal));
      const kind = KIND_OF[n];
      if (!kind) continue;
      const queue = new WorkQueue();
      const holder: { m?: ReplicationManager } = {};
      const owners = new PrefixCache<Stored<Obj>, Corrupt>(src, { prefix: OWNER_PREFIX[kind], log: this.log }, (changed) => holder.m?.ownersChanged(changed));
      holder.m = new ReplicationManager(kind, { client: this.client, owners, pods, queue, log: this.log.child({ controller: n }), signal });
      managers.push({ m: holder.m, queue, owners, workers: this.cfg.workers[n] ?? 5 });
    }
    const caches = [pods.run(signal), ...managers.map((x) => x.owners.run(signal))];
    // Workers start once every cache has its first listing (WaitForCacheSync), bounded by the signal.
    while (!signal.aborted && !(pods.synced && managers.every((x) => x.owners.synced))) await new Promise((r) => setTimeout(r, 50));
    if (!signal.aborted) {
      this.log.info({ controllers: names }, 'caches synced');
      for (const x of managers) {
        x.m.ownersChanged(new Set(x.owners.items.keys()));
        x.m.podsChanged(new Set(pods.items.keys()));
      }
    }
    signal.addEventListener('abort', () => managers.forEach((x) => x.queue.shutDown()), { once: true });
    if (signal.aborted) managers.forEach((x) => x.queue.shutDown());
    const workers = managers.flatMap((x) => Array.from({ length: x.workers }, () => this.worker(x.m, x.queue)));
    await Promise.all([...caches, ...workers, ...own]);
  }

  private async worker(m: ReplicationManager, q: WorkQueue): Promise<void> {
    // Bounded by the queue: get() returns undefined once it is shut down.
    for (let key = await q.get(); key !== undefined; key = await q.get()) {
      try {
        const again = await m.sync(key);
        q.forget(key);
        if (again !== undefined) q.addAfter(key, again);
      } catch (e) {
        this.log.warn({ kind: m.kind, owner: key, err: errorMessage(e), retryInMs: q.backoffOf(key) }, 'sync failed; retrying');
        q.addRateLimited(key);
      } finally {
        q.done(key);
      }
    }
  }
}
