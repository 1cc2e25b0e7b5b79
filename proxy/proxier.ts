// The proxy's one writer (kube-proxy's syncProxyRules): watch handlers only feed the change trackers
// and ask the runner for a sync; the sync plans against the desired state, writes one nft
// transaction, and then deletes the UDP flows the change orphaned. Nothing is written before both
// initial listings (services and endpoints) are in, so a restart never programs half a view. A
// failed sync makes the next one full; a full sync also removes chains no service uses any more.
// With the ruleset generation (the daemon's case) the --sync-period wake-up, and the generation's poll
// every 2 s seeing it move, only checks that nobody else changed nf_tables since our last write (one netlink
// round trip) and runs a full sync when someone did; the unconditional full sync is hourly, as
// kube-proxy's. Without it (a table in another namespace) every --sync-period sync is full.
import type { Endpoints, Service } from '../cluster/index.js';
import { errorMessage, type Logger, SyncRunner } from '../common/index.js';
import type { ForeignChanges } from './changes.js';
import type { ConntrackPort } from './conntrack.js';
import type { HealthCheckServers } from './healthcheck.js';
import type { ProxyMetrics } from './metrics.js';
import { parseEndpoints, parseService, type EndpointsByPort } from './model.js';
import type { NftPort } from './nft.js';
import { BASE_CHAINS, affinitySet, parsePickChain, renderCleanup, type RulesetConfig } from './ruleset.js';
import { type ConntrackFlush, conntrackFlushId, ProxyState, type SyncPlan } from './state.js';
import { NftError, ObjectSpecError, type ServicePortInfo } from './types.js';

export interface ProxierOptions {
  readonly nodeName: string;
  readonly ruleset: RulesetConfig;
  readonly minSyncMs: number;
  readonly syncPeriodMs: number;
  /** With foreign-change checks, the unconditional full sync's period (kube-proxy's FullSyncPeriod). Default 1 h. */
  readonly fullSyncPeriodMs?: number;
  readonly retryMs?: number;
}

export const FULL_SYNC_PERIOD_MS = 3_600_000;

export interface ProxierDeps {
  readonly nft: NftPort;
  readonly conntrack: ConntrackPort;
  readonly log: Logger;
  readonly metrics?: ProxyMetrics;
  /** The healthCheckNodePort listeners, brought in line with the services after each sync. */
  readonly healthChecks?: HealthCheckServers;
  /** Whether another program changed nf_tables since our last write (absent: full syncs every sync period). */
  readonly changes?: ForeignChanges;
}

export interface SyncRecord {
  readonly at: number;
  readonly full: boolean;
  readonly ms: number;
  readonly elementsChanged: number;
}

export class Proxier {
  readonly state: ProxyState;
  private readonly runner: SyncRunner;
  private readonly synced = { services: false, endpoints: false };
  private needFull = true;
  private fullFailures = 0;
  private lastFull = 0;
  private readonly pendingFlush = new Map<string, ConntrackFlush>();
  private readonly specErrors = new Map<string, string>();
  private lastOk: SyncRecord | undefined;
  private lastErr: { at: number; err: string } | undefined;
  private syncCount = 0;
  /** This proxier's table: `table ip kube-proxy`, or `table ip6 kube-proxy` for the v6 half of dual stack. */
  private get family(): 4 | 6 {
    return this.o.ruleset.family ?? 4;
  }

  constructor(
    private readonly o: ProxierOptions,
    private readonly d: ProxierDeps,
  ) {
    this.state = new ProxyState(o.ruleset);
    this.runner = new SyncRunner({ name: 'proxy', fn: () => this.sync(), minMs: o.minSyncMs, maxMs: o.syncPeriodMs, retryMs: o.retryMs ?? 1_000, log: d.log });
  }

  private request(what: 'service' | 'endpoints'): void {
    const m = this.d.metrics;
    if (m) {
      (what === 'service' ? m.serviceChanges : m.endpointChanges).inc();
      m.lastQueued.setToCurrentTime();
    }
    this.runner.request();
  }

  run(signal: AbortSignal): Promise<void> {
    return this.runner.run(signal);
  }

  // ---------------------------------------------------------------- inputs (never touch the kernel)

  updateService(name: string, svc: Service | undefined): void {
    if (this.state.services.update(name, this.parse(name, svc, (s) => parseService(name, s, this.family)))) this.request('service');
  }

  resetServices(all: ReadonlyMap<string, Service>): void {
    const parsed = new Map<string, ServicePortInfo[]>();
    for (const [name, svc] of all) {
      const p = this.parse(name, svc, (s) => parseService(name, s, this.family));
      if (p) parsed.set(name, p);
    }
    if (this.state.services.reset(parsed)) this.request('service');
  }

  updateEndpoints(name: string, ep: Endpoints | undefined): void {
    if (this.state.endpoints.update(name, this.parse(`endpoints ${name}`, ep, (e) => parseEndpoints(name, e, this.o.nodeName, this.family)))) this.request('endpoints');
  }

  resetEndpoints(all: ReadonlyMap<string, Endpoints>): void {
    const parsed = new Map<string, EndpointsByPort>();
    for (const [name, ep] of all) {
      const p = this.parse(`endpoints ${name}`, ep, (e) => parseEndpoints(name, e, this.o.nodeName, this.family));
      if (p) parsed.set(name, p);
    }
    if (this.state.endpoints.reset(parsed)) this.request('endpoints');
  }

  /** Asks for a sync that, with nothing to write, checks for other programs' nf_tables changes. */
  check(): void {
    this.runner.request();
  }

  /** Makes the next sync a full one (and asks for it). */
  requestFullSync(): void {
    this.needFull = true;
    this.runner.request();
  }

  /** The initial listing of services or endpoints is in. */
  setSynced(what: 'services' | 'endpoints'): void {
    if (this.synced[what]) return;
    this.synced[what] = true;
    if (this.initialized) this.runner.request();
  }

  get initialized(): boolean {
    return this.synced.services && this.synced.endpoints;
  }

  health(): { initialized: boolean; lastSync?: SyncRecord; lastError?: { at: number; err: string }; syncs: number } {
    return { initialized: this.initialized, ...(this.lastOk && { lastSync: this.lastOk }), ...(this.lastErr && { lastError: this.lastErr }), syncs: this.syncCount };
  }

  /**
   * kube-proxy's health: initialised, and either the last sync succeeded or a success is recent (within
   * two sync periods).
   */
  healthy(now = Date.now()): boolean {
    const h = this.health();
    return h.initialized && h.lastSync !== undefined && (h.lastError === undefined || h.lastError.at < h.lastSync.at || now - h.lastSync.at < 2 * this.o.syncPeriodMs);
  }

  private parse<T, R>(what: string, obj: T | undefined, fn: (o: T) => R): R | undefined {
    if (obj === undefined) {
      this.specErrors.delete(what);
      return undefined;
    }
    try {
      const r = fn(obj);
      this.specErrors.delete(what);
      return r;
    } catch (e) {
      if (!(e instanceof ObjectSpecError)) throw e;
      if (this.specErrors.get(what) !== e.message) this.d.log.warn({ object: what, path: e.path, value: e.value, reason: e.reason }, 'object ignored');
      this.specErrors.set(what, e.message);
      return undefined;
    }
  }

  // ---------------------------------------------------------------- the writer

  /** One sync (the runner's function; tests call it directly). */
  async sync(): Promise<void> {
    if (!this.initialized) return;
    const t0 = performance.now();
    const changes = this.d.changes;
    const fullEvery = changes ? (this.o.fullSyncPeriodMs ?? FULL_SYNC_PERIOD_MS) : this.o.syncPeriodMs;
    let full = this.needFull || Date.now() - this.lastFull >= fullEvery;
    if (!full && changes && (await changes.takeForeign())) {
      this.d.log.info({ table: `${this.family === 6 ? 'ip6' : 'ip'} kube-proxy` }, 'nf_tables changed by another program; full sync');
      full = true;
    }
    if (!full && !this.state.hasChanges && this.pendingFlush.size === 0) {
      // Checked intact: as recent as a sync for /healthz.
      if (this.lastOk) this.lastOk = { ...this.lastOk, at: Date.now() };
      return;
    }
    const plan = this.state.plan({ full, recreate: full && this.fullFailures >= 2 });
    for (const f of plan.conntrack) this.pendingFlush.set(conntrackFlushId(f), f);
    try {
      await this.d.nft.run(plan.script);
    } catch (e) {
      this.needFull = true;
      if (full) this.fullFailures++;
      this.d.metrics?.syncFailures.inc();
      this.lastErr = { at: Date.now(), err: errorMessage(e) };
      const fields = e instanceof NftError ? { line: e.line, context: e.context, stderr: e.stderr.trim().slice(0, 2000) } : { err: errorMessage(e) };
      this.d.log.error({ full, ...fields }, 'nft transaction failed; next sync is full');
      throw e;
    }
    this.state.applied(plan);
    this.needFull = false;
    if (full) {
      this.fullFailures = 0;
      this.lastFull = Date.now();
      changes?.healed();
      await this.cleanup(plan);
    }
    await this.flushConntrack();
    await this.d.healthChecks?.sync(this.state.healthChecks());
    const ms = Math.round((performance.now() - t0) * 10) / 10;
    this.record(plan, (performance.now() - t0) / 1000);
    this.lastOk = { at: Date.now(), full, ms, elementsChanged: plan.elementsChanged };
    this.syncCount++;
    this.d.log.info(
      { full, servicePorts: this.state.servicePortCount, endpoints: this.state.endpointCount, changedServicePorts: plan.servicePortsChanged, changedElements: plan.elementsChanged, ms },
      'rules synced',
    );
  }

  private record(plan: SyncPlan, secs: number): void {
    const m = this.d.metrics;
    if (!m) return;
    m.syncDuration.observe(secs);
    (plan.full ? m.fullSyncDuration : m.partialSyncDuration).observe(secs);
    m.lastSync.setToCurrentTime();
    m.chains.set(plan.chains.size + BASE_CHAINS.length);
    for (const [set, n] of this.state.elementCounts()) m.elements.set({ set }, n);
    const noLocal = this.state.noLocalEndpoints();
    m.noLocalEndpoints.set({ traffic_policy: 'internal' }, noLocal.internal);
    m.noLocalEndpoints.set({ traffic_policy: 'external' }, noLocal.external);
  }

  /** Deletes pick chains (and their affinity sets) that nothing refers to since this full sync. */
  private async cleanup(plan: SyncPlan): Promise<void> {
    try {
      const keep = new Set<string>([...BASE_CHAINS, ...plan.chains]);
      const stale = (await this.d.nft.listChains(this.family)).filter((c) => !keep.has(c));
      if (stale.length === 0) return;
      const sets = new Set<string>();
      for (const c of stale) {
        const p = parsePickChain(c);
        if (p?.kind === 'aff-slot' && !plan.sets.has(affinitySet(p.slot))) sets.add(affinitySet(p.slot));
      }
      await this.d.nft.run(renderCleanup(stale, [...sets], this.family));
      this.d.log.info({ chains: stale.length, sets: sets.size }, 'stale chains removed');
    } catch (e) {
      this.d.metrics?.cleanupFailures.inc();
      this.d.log.warn({ err: errorMessage(e) }, 'stale chain cleanup failed; retried at the next full sync');
    }
  }

  private async flushConntrack(): Promise<void> {
    for (const [id, f] of [...this.pendingFlush]) {
      this.pendingFlush.delete(id);
      try {
        const n = await this.d.conntrack.flush(f);
        this.d.log.debug({ ...f, deleted: n }, 'udp conntrack entries deleted');
      } catch (e) {
        this.d.log.warn({ ...f, err: errorMessage(e) }, 'conntrack deletion failed');
      }
    }
  }
}
