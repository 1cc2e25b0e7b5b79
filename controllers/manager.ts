// kube-controller-manager's body: one active instance (a Lease, when --leader-elect), and while it
// leads, the controllers --controllers names over shared list+watch caches, each with its work queue
// and --concurrent-*-syncs workers. Losing the lease stops the controllers (their writes end with it).
import { setMaxListeners } from 'node:events';
import { type ApiClient, type ClusterStore, type Corrupt, keys, parseJsonObject, prefixSource, type Stored } from '../cluster/index.js';
import { errorMessage, type Logger, PrefixCache } from '../common/index.js';
import { LeaseElection } from '../proxy/index.js';
import type { ControllerContext, QueueController } from './controller.js';
import { CronJobController } from './cronjob/index.js';
import { DaemonSetController } from './daemonset/index.js';
import { JobController } from './job/index.js';
import type { ControllerName } from './options.js';
import { WorkQueue } from './queue.js';
import { OWNER_PREFIX, ReplicationManager } from './replication/index.js';
import type { ControllerDeps, RunnableController } from './runtime.js';
import type { OwnerKind } from './replication/index.js';
import { DEPLOYMENT_PREFIX, DeploymentController, REPLICASET_PREFIX } from './deployment/index.js';
import { PerNamespaceController, rootCaPolicy, serviceAccountPolicy } from './serviceaccounts/index.js';
import { ServiceLbController } from './servicelb/index.js';

type Obj = Record<string, unknown>;

/** What a worker runs: one sync of a key, a delay to look again (or undefined); throws to be retried. */
interface Syncer {
  readonly kind: string;
  sync(key: string): Promise<number | undefined>;
}

export interface ControllerManagerConfig {
  readonly controllers: ReadonlySet<ControllerName>;
  readonly workers: Readonly<Partial<Record<ControllerName, number>>>;
  /** The controllers that keep their own caches (endpoints, node lifecycle, GC, ...), built when leading. */
  readonly own?: Readonly<Partial<Record<ControllerName, (d: ControllerDeps) => RunnableController>>>;
  /** The CA bundle the root-ca-cert-publisher puts in every namespace (--root-ca-file, else the kubeconfig's CA). */
  readonly rootCa?: string;
  /** Absent: no election, this instance is always active. */
  readonly election?: { readonly identity: string; readonly leaseDurationMs: number; readonly renewDeadlineMs: number; readonly retryPeriodMs: number; readonly namespace: string; readonly name: string };
}

const KIND_OF: Readonly<Partial<Record<ControllerName, OwnerKind>>> = { replicationcontroller: 'ReplicationController', replicaset: 'ReplicaSet' };
/** The controllers other than the replication manager, each over its own caches and the shared pods cache. */
const CONTROLLERS: Readonly<Partial<Record<ControllerName, (ctx: ControllerContext) => QueueController>>> = {
  job: (ctx) => new JobController(ctx),
  cronjob: (ctx) => new CronJobController(ctx),
  daemonset: (ctx) => new DaemonSetController(ctx),
  'service-lb-controller': (ctx) => new ServiceLbController(ctx),
};

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
    const src = prefixSource(this.store, parseJsonObject);
    // One cache per prefix, shared (pods, replica sets): each change goes to every controller that follows it.
    const hub = new Map<string, { cache: PrefixCache<Stored<Obj>, Corrupt>; subs: ((changed: ReadonlySet<string>) => void)[] }>();
    const follow = (prefix: string, fn: (changed: ReadonlySet<string>) => void): PrefixCache<Stored<Obj>, Corrupt> => {
      let h = hub.get(prefix);
      if (!h) {
        const subs: ((changed: ReadonlySet<string>) => void)[] = [];
        h = { cache: new PrefixCache<Stored<Obj>, Corrupt>(src, { prefix, log: this.log }, (changed) => subs.forEach((f) => f(changed))), subs };
        hub.set(prefix, h);
      }
      h.subs.push(fn);
      return h.cache;
    };
    const running: { c: Syncer; queue: WorkQueue; workers: number }[] = [];
    const others: QueueController[] = [];
    const own: Promise<void>[] = [];
    for (const n of names) {
      const runnable = this.cfg.own?.[n];
      if (runnable) {
        own.push(runnable({ store: this.store, client: this.client, log: this.log }).run(signal));
        continue;
      }
      const make = CONTROLLERS[n];
      if (make) {
        // Its caches are the shared ones of its prefixes; the manager runs them (not the controller's `caches`).
        const holder: { c?: QueueController } = {};
        const ctx: ControllerContext = {
          client: this.client,
          pods: follow(keys.pods(), (ch) => holder.c?.podsChanged(ch)),
          log: this.log.child({ controller: n }),
          signal,
          cache: (prefix, onChange) => follow(prefix, onChange),
        };
        holder.c = make(ctx);
        others.push(holder.c);
        running.push({ c: holder.c, queue: holder.c.queue, workers: this.cfg.workers[n] ?? 5 });
        continue;
      }
      const queue = new WorkQueue();
      const log = this.log.child({ controller: n });
      if (n === 'deployment') {
        const holder: { c?: DeploymentController } = {};
        const deployments = follow(DEPLOYMENT_PREFIX, (ch) => holder.c?.deploymentsChanged(ch));
        const replicaSets = follow(REPLICASET_PREFIX, (ch) => holder.c?.replicaSetsChanged(ch));
        const pods = follow(keys.pods(), (ch) => holder.c?.podsChanged(ch));
        holder.c = new DeploymentController({ client: this.client, deployments, replicaSets, pods, queue, log, signal });
        running.push({ c: holder.c, queue, workers: this.cfg.workers[n] ?? 5 });
        continue;
      }
      if (n === 'serviceaccount' || n === 'root-ca-cert-publisher') {
        if (n === 'root-ca-cert-publisher' && !this.cfg.rootCa) {
          log.warn({}, "no CA bundle (--root-ca-file, or the kubeconfig's certificate-authority): the controller is not started");
          continue;
        }
        const policy = n === 'serviceaccount' ? serviceAccountPolicy() : rootCaPolicy(this.cfg.rootCa!);
        const holder: { m?: PerNamespaceController } = {};
        const namespaces = follow(keys.namespaces(), (ch) => holder.m?.namespacesChanged(ch));
        const objects = follow(policy.prefix, (ch) => holder.m?.objectsChanged(ch));
        holder.m = new PerNamespaceController(policy, { client: this.client, namespaces, objects, queue, log, signal });
        running.push({ c: holder.m, queue, workers: this.cfg.workers[n] ?? 1 });
        continue;
      }
      const kind = KIND_OF[n];
      if (!kind) continue;
      const holder: { m?: ReplicationManager } = {};
      const pods = follow(keys.pods(), (ch) => holder.m?.podsChanged(ch));
      const owners = follow(OWNER_PREFIX[kind], (ch) => holder.m?.ownersChanged(ch));
      holder.m = new ReplicationManager(kind, { client: this.client, owners, pods, queue, log, signal });
      running.push({ c: holder.m, queue, workers: this.cfg.workers[n] ?? 5 });
    }
    const caches = [...hub.values()].map((h) => h.cache.run(signal));
    // Workers start once every cache has its first listing (WaitForCacheSync), bounded by the signal.
    while (!signal.aborted && ![...hub.values()].every((h) => h.cache.synced)) await new Promise((r) => setTimeout(r, 50));
    if (!signal.aborted) {
      this.log.info({ controllers: names }, 'caches synced');
      for (const h of hub.values()) h.subs.forEach((f) => f(new Set(h.cache.items.keys())));
      for (const c of others) c.resync();
    }
    signal.addEventListener('abort', () => running.forEach((x) => x.queue.shutDown()), { once: true });
    if (signal.aborted) running.forEach((x) => x.queue.shutDown());
    const workers = running.flatMap((x) => Array.from({ length: x.workers }, () => this.worker(x.c, x.queue)));
    await Promise.all([...caches, ...workers, ...own]);
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
