// The proxy as a whole, on every node: follows Services and Endpoints into the proxier. On etcd (no
// apiserver, no controller manager) it also allocates ClusterIPs and node ports for services that lack
// them and campaigns, on an etcd lease, for the endpoints maintainer, which writes the Endpoints and
// cleans up reservation keys. On the API it only reads: the apiserver allocates and
// kube-controller-manager's endpoints controller writes the Endpoints. Wired from main.ts with the
// store the flags select, nft and conntrack.
import type { Server } from 'node:http';
import { type ClusterStore, keys, namespacedName, type Corrupt, type Endpoints, type ObjectStore, parseEndpointsObject, parseServiceObject, type Service } from '../cluster/index.js';
import { errorMessage, listenHttp, type Logger, SyncRunner } from '../common/index.js';
import { type IpRange, type PortRange, RangeReconciler, ServiceAllocator, allocationNeeds } from './allocator.js';
import type { ConntrackPort } from './conntrack.js';
import { etcdFencedWriter, type FencedWriter, LeaderElection, type LeaderFence } from './election.js';
import { EndpointsController } from './endpoints-controller.js';
import { proxyKeys } from './keys.js';
import type { ForeignChanges } from './changes.js';
import type { NftPort } from './nft.js';
import { Proxier } from './proxier.js';
import type { RulesetConfig } from './ruleset.js';
import { follow } from './watch.js';
import { HealthCheckServers } from './healthcheck.js';
import { ProxyMetrics } from './metrics.js';

/**
 * The reservation repair's period when no service changes (each pass lists every reservation key and
 * every service): kube-apiserver's ClusterIP and node port repair loops run every 3 minutes.
 */
const RANGE_REPAIR_MS = 180_000;

export interface ProxyServerOptions {
  readonly nodeName: string;
  readonly serviceRange: IpRange;
  readonly nodePortRange: PortRange;
  readonly ruleset: RulesetConfig;
  /** Dual stack: the v6 table's config (family 6); absent, the proxy programs IPv4 only. */
  readonly ruleset6?: RulesetConfig;
  readonly minSyncMs: number;
  readonly syncPeriodMs: number;
  readonly leaderTtlSec: number;
  readonly healthz?: { readonly ip: string; readonly port: number };
  readonly metrics?: { readonly ip: string; readonly port: number };
  /** Where the healthCheckNodePort listeners bind: every address (kube-proxy's default --nodeport-addresses) unless set. */
  readonly healthCheckBindAddress?: string;
}

export interface ProxyServerDeps {
  readonly store: ClusterStore;
  /** Set when the store is etcd (the same store): allocation, reservation clean-up, the etcd election. */
  readonly etcd?: ObjectStore;
  readonly nft: NftPort;
  readonly conntrack: ConntrackPort;
  readonly log: Logger;
}

export class ProxyServer {
  readonly proxier: Proxier;
  /** The v6 table's proxier (dual stack), fed the same services and endpoints. */
  readonly proxier6: Proxier | undefined;
  private readonly proxiers: Proxier[];
  private readonly allocator: ServiceAllocator | undefined;
  /** Etcd only: the endpoints maintainer's election. */
  private readonly election: { readonly isLeader: boolean; run(signal: AbortSignal): Promise<void> } | undefined;
  private readonly toAllocate = new Set<string>();
  private readonly allocRunner: SyncRunner;
  readonly metrics = new ProxyMetrics();
  readonly healthChecks: HealthCheckServers;

  constructor(
    private readonly o: ProxyServerOptions,
    private readonly d: ProxyServerDeps,
  ) {
    this.healthChecks = new HealthCheckServers(o.healthCheckBindAddress ?? '0.0.0.0', () => this.proxier.healthy(), d.log.child({ component: 'healthcheck' }));
    this.proxier = new Proxier(
      { nodeName: o.nodeName, ruleset: o.ruleset, minSyncMs: o.minSyncMs, syncPeriodMs: o.syncPeriodMs },
      { nft: d.nft, conntrack: d.conntrack, log: d.log.child({ component: 'proxier' }), metrics: this.metrics, healthChecks: this.healthChecks, ...changesOf(d.nft) },
    );
    this.proxier6 = o.ruleset6
      ? new Proxier({ nodeName: o.nodeName, ruleset: { ...o.ruleset6, family: 6 }, minSyncMs: o.minSyncMs, syncPeriodMs: o.syncPeriodMs }, { nft: d.nft, conntrack: d.conntrack, log: d.log.child({ component: 'proxier6' }), metrics: this.metrics, ...changesOf(d.nft) })
      : undefined;
    this.proxiers = this.proxier6 ? [this.proxier, this.proxier6] : [this.proxier];
    const elog = d.log.child({ component: 'election' });
    const etcd = d.etcd;
    if (etcd) {
      this.allocator = new ServiceAllocator(etcd, { serviceRange: o.serviceRange, nodePortRange: o.nodePortRange, log: d.log.child({ component: 'allocator' }) });
      const e = new LeaderElection(etcd.client, { key: proxyKeys.leader(), identity: o.nodeName, ttlSec: o.leaderTtlSec, log: elog });
      this.election = { get isLeader() { return e.isLeader; }, run: (signal) => e.run(signal, (ls, fence) => this.maintain(ls, etcdFencedWriter(etcd, fence), fence)) };
    }
    this.allocRunner = new SyncRunner({ name: 'allocator', fn: () => this.allocatePending(), minMs: 0, maxMs: 60_000, retryMs: 2_000, log: d.log });
  }

  get isLeader(): boolean {
    return this.election?.isLeader ?? false;
  }

  async run(signal: AbortSignal): Promise<void> {
    const { log, store } = this.d;
    const srv = this.o.healthz && this.o.healthz.port > 0 ? await this.startHealthz(this.o.healthz.ip, this.o.healthz.port) : undefined;
    const metricsSrv = this.o.metrics && this.o.metrics.port > 0 ? await this.startMetrics(this.o.metrics.ip, this.o.metrics.port) : undefined;
    const svcPrefix = keys.services();
    const epPrefix = keys.allEndpoints();
    // Someone's nf_tables change (ours too): each proxier checks the generation at its next sync.
    const unwatch = this.d.nft.watchChanges?.(() => {
      for (const p of this.proxiers) p.check();
    });
    try {
      await Promise.all([
        ...this.proxiers.map((p) => p.run(signal)),
        this.allocRunner.run(signal),
        follow(store, svcPrefix, parseServiceObject, signal, log, {
          reset: (items) => {
            const all = new Map<string, Service>();
            for (const it of items) {
              const n = namespacedName(svcPrefix, it.key);
              if (n) all.set(n.join('/'), it.obj);
            }
            for (const [name, svc] of all) this.noteService(name, svc);
            for (const p of this.proxiers) p.resetServices(all);
            for (const p of this.proxiers) p.setSynced('services');
          },
          put: (it) => {
            const n = namespacedName(svcPrefix, it.key);
            if (!n) return;
            this.noteService(n.join('/'), it.obj);
            for (const p of this.proxiers) p.updateService(n.join('/'), it.obj);
          },
          delete: (key) => {
            const n = namespacedName(svcPrefix, key);
            if (n) for (const p of this.proxiers) p.updateService(n.join('/'), undefined);
          },
          corrupt: (c) => {
            // As in a listing, where it is left out: a corrupt service is no service.
            const n = this.corrupt(c, svcPrefix);
            if (n) for (const p of this.proxiers) p.updateService(n, undefined);
          },
        }),
        follow(store, epPrefix, parseEndpointsObject, signal, log, {
          reset: (items) => {
            const all = new Map<string, Endpoints>();
            for (const it of items) {
              const n = namespacedName(epPrefix, it.key);
              if (n) all.set(n.join('/'), it.obj);
            }
            for (const p of this.proxiers) p.resetEndpoints(all);
            for (const p of this.proxiers) p.setSynced('endpoints');
          },
          put: (it) => {
            const n = namespacedName(epPrefix, it.key);
            if (n) for (const p of this.proxiers) p.updateEndpoints(n.join('/'), it.obj);
          },
          delete: (key) => {
            const n = namespacedName(epPrefix, key);
            if (n) for (const p of this.proxiers) p.updateEndpoints(n.join('/'), undefined);
          },
          corrupt: (c) => {
            const n = this.corrupt(c, epPrefix);
            if (n) for (const p of this.proxiers) p.updateEndpoints(n, undefined);
          },
        }),
        this.election?.run(signal),
      ]);
    } finally {
      unwatch?.();
      if (srv) await new Promise<void>((r) => srv.close(() => r()));
      if (metricsSrv) await new Promise<void>((r) => metricsSrv.close(() => r()));
      await this.healthChecks.close();
    }
  }

  /** Warns about a corrupt object; its `<namespace>/<name>`. */
  private corrupt(c: Corrupt, prefix: string): string | undefined {
    this.d.log.warn({ key: c.key, path: c.path, reason: c.reason }, 'object ignored');
    return namespacedName(prefix, c.key)?.join('/');
  }

  private noteService(name: string, svc: Service): void {
    if (!this.allocator) return; // on the API, the apiserver allocates
    this.allocator.observe(svc);
    const need = allocationNeeds(svc);
    if (need.clusterIP || need.nodePorts.length) {
      this.toAllocate.add(name);
      this.allocRunner.request();
    }
  }

  private async allocatePending(): Promise<void> {
    const names = [...this.toAllocate];
    this.toAllocate.clear();
    let failed: unknown;
    for (const name of names) {
      const [ns, n] = name.split('/') as [string, string];
      try {
        await this.allocator?.allocate(ns, n);
      } catch (e) {
        this.toAllocate.add(name);
        this.d.log.warn({ service: name, err: errorMessage(e) }, 'allocation failed; retrying');
        failed = e;
      }
    }
    if (failed) throw failed;
  }

  /** The elected maintainer's work, for as long as it leads; with the etcd fence, the reservation clean-up too. */
  private async maintain(signal: AbortSignal, writer: FencedWriter, fence?: LeaderFence): Promise<void> {
    const log = this.d.log.child({ component: 'maintainer' });
    const etcd = this.d.etcd;
    const ranges = etcd && fence ? new RangeReconciler(etcd, { serviceRange: this.o.serviceRange, nodePortRange: this.o.nodePortRange, log }) : undefined;
    const rangeRunner = ranges && fence ? new SyncRunner({ name: 'ranges', fn: async () => void (await ranges.reconcile(fence)), minMs: 500, maxMs: RANGE_REPAIR_MS, retryMs: 5_000, log }) : undefined;
    const controller = new EndpointsController(this.d.store, {
      log,
      minIntervalMs: Math.min(100, this.o.minSyncMs),
      resyncMs: this.o.syncPeriodMs,
      ...(rangeRunner && { onServiceChange: () => rangeRunner.request() }),
    });
    await Promise.all([controller.run(signal, writer), rangeRunner?.run(signal)]);
  }

  private async startMetrics(ip: string, port: number): Promise<Server> {
    return listenHttp(ip, port, (req, res) => {
      if ((req.url ?? '/').split('?')[0] !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      this.metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(text),
        (e: unknown) => res.writeHead(500).end(errorMessage(e)),
      );
    }, this.d.log);
  }

  private async startHealthz(ip: string, port: number): Promise<Server> {
    return listenHttp(ip, port, (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/healthz' && path !== '/livez') {
        res.writeHead(404).end();
        return;
      }
      const h = this.proxier.health();
      const now = Date.now();
      const ok = this.proxier.healthy(now);
      (path === '/healthz' ? this.metrics.healthz : this.metrics.livez).inc({ code: ok ? 200 : 503 });
      const body = {
        lastUpdated: h.lastSync ? new Date(h.lastSync.at).toISOString() : null,
        currentTime: new Date(now).toISOString(),
        lastSyncAgeSeconds: h.lastSync ? Math.round((now - h.lastSync.at) / 100) / 10 : null,
        syncs: h.syncs,
        ...(this.election && { leader: this.election.isLeader }),
        ...(h.lastError && { lastError: h.lastError.err }),
      };
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
    }, this.d.log);
  }
}

/** Each proxier's own view of foreign nf_tables changes, when the nft edge knows the generation. */
function changesOf(nft: NftPort): { changes?: ForeignChanges } {
  const c = nft.changes?.();
  return c ? { changes: c } : {};
}
