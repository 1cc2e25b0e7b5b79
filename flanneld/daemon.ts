// flanneld's life: wait for etcd and a valid config → pick the external interface → set up the
// backend → lease a subnet → write subnet.env (ready) → then, until SIGTERM, keep the lease alive,
// watch the other nodes' leases and converge the backend to them. Nothing here exits on a bad
// config or an unreachable etcd: it says what it waits for and tries again.
import type { BackendFactory, BackendRegistry, ExternalInterface, Network } from '../backend/index.js';
import { Backoff, errorMessage, type Logger, sleep } from '../common/index.js';
import {
  type AcquiredLease,
  ConfigError,
  describeLease,
  formatCidr,
  LeaseManager,
  LeaseWatcher,
  type NetworkConfig,
  OutOfSubnetsError,
  parseNetworkConfig,
  type PeerRegistry,
  type PrefetchedListing,
  readPreviousSubnets,
  renderSubnetEnv,
  type SubnetLeaser,
  type SubnetRegistry,
  subnetEnvFor,
  writeFileAtomic,
} from '../ipam/index.js';
import { type ChainSpec, forwardChain, IptablesManager, type IptablesRunner, masqChain } from '../iptables/index.js';
import type { Netlink } from '../netlink/index.js';
import { renderDockerOpts } from './docker-opts.js';
import type { FlannelMetrics } from './metrics.js';
import { type Health, startHealthz } from './healthz.js';
import { PeerSync } from './peer-sync.js';
import { lookupExternalInterface } from './iface.js';
import type { DaemonOptions } from './options.js';

/**
 * The lease comes from flannel's own policy over an etcd registry (no `leaser`), or from a leaser of its
 * own with a registry that only reads (the Kubernetes subnet manager: the Node's podCIDR).
 */
export type DaemonDeps = DaemonIo & ({ readonly registry: SubnetRegistry; readonly leaser?: undefined } | { readonly registry: PeerRegistry; readonly leaser: SubnetLeaser });

export interface DaemonIo {
  readonly log: Logger;
  readonly backends: BackendRegistry;
  readonly nl: Netlink;
  /** iptables (and ip6tables) of the host; the daemon's own namespace in production. */
  readonly iptables: (family: 4 | 6) => IptablesRunner;
  readonly metrics?: FlannelMetrics;
  /** How often the backend is reconciled even without lease events. */
  readonly resyncMs?: number;
  /** Tells the service manager of a state change ("READY=1"), as sd_notify(3). */
  readonly notify?: (state: string) => void;
}

export interface Daemon {
  readonly health: Health;
  run(signal: AbortSignal): Promise<void>;
}

export function createDaemon(o: DaemonOptions, d: DaemonDeps): Daemon {
  const health: Health = { ready: false };
  const c: Ctx = { o, d, log: d.log };
  return { health, run: (signal) => runDaemon(c, health, signal) };
}

/** What every step reads: the flags, the injected I/O, the logger. */
interface Ctx {
  readonly o: DaemonOptions;
  readonly d: DaemonDeps;
  readonly log: Logger;
}

interface LoadedConfig {
  readonly cfg: NetworkConfig;
  readonly factory: BackendFactory<unknown>;
  readonly backendCfg: unknown;
}

/** The daemon's life, step by step; each waiting step returns undefined when the signal aborts. */
async function runDaemon(c: Ctx, health: Health, signal: AbortSignal): Promise<void> {
  // The leases are listed at once, beside the config read and the backend's set-up: with 5,000 peers
  // the listing was the longest wait of a start. The lease manager takes it if it is still fresh.
  const prefetched = c.d.leaser === undefined ? prefetchLeases(c.d.registry) : undefined;
  const srv = c.o.healthzPort > 0 ? await startHealthz(c.o.healthzIp, c.o.healthzPort, health, c.log, c.d.metrics?.registry) : undefined;
  try {
    const loaded = await loadConfig(c, signal);
    if (!loaded) return;
    const ext = await findInterface(c, loaded.cfg, signal);
    if (!ext) return;
    const network = await setUpBackend(c, loaded, ext, signal);
    if (!network) return;
    const mgr = await createLeaseManager(c, prefetched);
    const first = await acquireLease(c, mgr, loaded.cfg, network, signal);
    if (!first) return;
    await network.setLease(first.lease);
    await writeSubnetFile(c, loaded.cfg, first, network);
    health.ready = true;
    c.d.notify?.('READY=1');
    const traffic = new TrafficRules(c, loaded.cfg);
    traffic.apply(first.lease);
    const held = await keepNetwork(c, { cfg: loaded.cfg, network, mgr, traffic, first }, signal);
    await network.close();
    c.log.info({ subnet: describeLease(held.lease) }, 'stopped; the lease is kept for the next start');
  } finally {
    await new Promise<void>((r) => (srv ? srv.close(() => r()) : r()));
  }
}

/** Retries `fn` until it succeeds or the signal aborts, logging each failure once per attempt. */
async function retrying<T>(c: Pick<Ctx, 'log'>, what: string, fn: () => Promise<T>, signal: AbortSignal, maxMs = 30_000): Promise<T | undefined> {
  const backoff = new Backoff(1_000, maxMs);
  while (!signal.aborted) {
    try {
      return await fn();
    } catch (e) {
      if (signal.aborted) return undefined;
      const delay = backoff.next();
      const fields = e instanceof ConfigError ? { field: e.path, reason: e.reason } : { err: errorMessage(e) };
      c.log.error({ ...fields, retryInMs: delay }, `waiting: ${what}`);
      await sleep(delay, signal);
    }
  }
  return undefined;
}

/** Config: waits for a valid network config (and a backend that accepts it) in etcd. */
async function loadConfig(c: Ctx, signal: AbortSignal): Promise<LoadedConfig | undefined> {
  const configKey = c.d.registry.configSource ?? `${c.o.etcdPrefix.replace(/\/+$/, '')}/config`;
  const backoff = new Backoff(1_000, 10_000);
  let lastProblem = '';
  while (!signal.aborted) {
    let problem: string;
    let fields: Record<string, unknown>;
    try {
      const raw = await c.d.registry.getNetworkConfig();
      if (raw === undefined) {
        const why = await c.d.registry.explainMissingConfig?.();
        problem = why?.note ? "waiting for the network config: it is only in etcd's v2 store" : 'waiting for the network config';
        fields = { key: configKey, ...(why && { lookedFor: why.lookedFor, write: why.write }) };
      } else {
        const cfg = parseNetworkConfig(raw);
        const factory = c.d.backends.get(cfg);
        const backendCfg = factory.parseConfig(cfg.backend);
        c.log.info({ key: configKey, network: raw.length < 2048 ? JSON.parse(raw) : undefined, backend: cfg.backendType }, 'network config loaded');
        return { cfg, factory, backendCfg };
      }
    } catch (e) {
      if (e instanceof ConfigError) {
        problem = 'network config is invalid; waiting for a valid one';
        fields = { key: configKey, field: e.path, reason: e.message };
      } else {
        problem = c.d.leaser ? 'cannot read the network config' : 'waiting for etcd';
        fields = c.d.leaser ? { key: configKey, err: errorMessage(e) } : { endpoints: c.o.etcdEndpoints, err: errorMessage(e) };
      }
    }
    const delay = backoff.next();
    const text = problem + JSON.stringify(fields);
    (text === lastProblem ? c.log.debug.bind(c.log) : c.log.warn.bind(c.log))({ ...fields, retryInMs: delay }, problem);
    lastProblem = text;
    await sleep(delay, signal);
  }
  return undefined;
}

/** Interface: the external interface and public addresses the overlay uses. */
async function findInterface(c: Ctx, cfg: NetworkConfig, signal: AbortSignal): Promise<ExternalInterface | undefined> {
  const { o } = c;
  const ext = await retrying(
    c,
    'finding the external interface',
    () =>
      lookupExternalInterface(c.d.nl, {
        iface: o.iface,
        ifaceRegex: o.ifaceRegex,
        ...(o.publicIp && { publicIP: o.publicIp }),
        ...(o.publicIpv6 && { publicIPv6: o.publicIpv6 }),
        ipv4: cfg.v4 !== undefined,
        ipv6: cfg.v6 !== undefined,
      }),
    signal,
  );
  if (ext) c.log.info({ iface: ext.name, ifaceAddr: ext.addrs.get(4)?.local ?? ext.addrs.get(6)?.local, publicIP: ext.addrs.get(4)?.publicIP, publicIPv6: ext.addrs.get(6)?.publicIP, mtu: ext.mtu }, 'using interface');
  return ext;
}

/** Backend: its device and whatever else it needs, before there is a lease. */
async function setUpBackend(c: Ctx, { cfg, factory, backendCfg }: LoadedConfig, ext: ExternalInterface, signal: AbortSignal): Promise<Network | undefined> {
  return retrying(c, `setting up the ${cfg.backendType} backend`, () => factory.create({ cfg, ext, nl: c.d.nl, log: c.log.child({ backend: cfg.backendType }) }, backendCfg), signal);
}

/** Lease: the injected leaser, else a manager that prefers the subnet of the previous run (from subnet.env). */
async function createLeaseManager(c: Ctx, prefetched?: Promise<PrefetchedListing | undefined>): Promise<SubnetLeaser> {
  if (c.d.leaser !== undefined) return c.d.leaser;
  return new LeaseManager({
    ...(prefetched && { prefetched }),
    registry: c.d.registry,
    log: c.log,
    ttlSec: c.o.subnetLeaseTtl,
    renewMarginSec: c.o.subnetLeaseRenewMargin * 60,
    previous: await readPreviousSubnets(c.o.subnetFile),
  });
}

/** Never rejects: a failed listing is simply listed again by the lease manager. */
function prefetchLeases(registry: SubnetRegistry): Promise<PrefetchedListing | undefined> {
  return registry.listLeases().then(
    (snap) => ({ snap, at: Date.now() }),
    () => undefined,
  );
}

/** Lease: acquires the first one, retrying (and saying so) while etcd fails or the network is full. */
async function acquireLease(c: Ctx, mgr: SubnetLeaser, cfg: NetworkConfig, network: Network, signal: AbortSignal): Promise<AcquiredLease | undefined> {
  return retrying(
    c,
    'acquiring a subnet lease',
    () =>
      mgr.acquire(cfg, network.attrs, signal).catch((e: unknown) => {
        if (e instanceof OutOfSubnetsError) c.log.error({ err: e.message }, 'out of subnets: free one in etcd or widen the network config');
        throw e;
      }),
    signal,
    c.d.leaser ? 10_000 : undefined,
  );
}

async function writeSubnetFile(c: Ctx, cfg: NetworkConfig, held: AcquiredLease, network: Network): Promise<void> {
  const { o, log } = c;
  const env = renderSubnetEnv(subnetEnvFor(cfg, held.lease, network.mtu, o.ipMasq));
  await writeFileAtomic(o.subnetFile, env);
  log.info({ file: o.subnetFile, subnet: describeLease(held.lease), mtu: network.mtu }, 'wrote subnet file');
  if (o.dockerOptsFile) {
    await writeFileAtomic(o.dockerOptsFile, renderDockerOpts(env));
    log.info({ file: o.dockerOptsFile, subnet: describeLease(held.lease) }, 'wrote docker options');
  }
  c.d.metrics?.leaseExpiration.set(held.expiration ? held.expiration.getTime() / 1000 : 0);
}

/** iptables: the masquerade and forward chains for our lease, one manager per family that has rules. */
class TrafficRules {
  readonly managers = new Map<4 | 6, IptablesManager>();

  constructor(
    private readonly c: Ctx,
    private readonly cfg: NetworkConfig,
  ) {}

  /** The chains for `lease`, per enabled family. */
  rules(lease: AcquiredLease['lease']): Map<4 | 6, ChainSpec[]> {
    const { o } = this.c;
    const out = new Map<4 | 6, ChainSpec[]>();
    for (const [family, net, sn] of [
      [4, this.cfg.v4?.network, lease.subnet],
      [6, this.cfg.v6?.network, lease.ipv6Subnet],
    ] as const) {
      if (!net || !sn) continue;
      const p = { network: formatCidr(net), subnet: formatCidr(sn) };
      out.set(family, [...(o.ipMasq ? [masqChain(p, family)] : []), ...(o.iptablesForwardRules ? [forwardChain(p)] : [])]);
    }
    return out;
  }

  apply(lease: AcquiredLease['lease']): void {
    const { o, d, log } = this.c;
    for (const [family, specs] of this.rules(lease)) {
      if (specs.length === 0) continue;
      let m = this.managers.get(family);
      if (!m) {
        m = new IptablesManager(d.iptables(family), o.iptablesResync, log.child({ component: family === 4 ? 'iptables' : 'ip6tables' }), () => d.metrics?.iptablesRestores.inc());
        this.managers.set(family, m);
      }
      m.set(specs);
    }
  }

  run(signal: AbortSignal): Promise<void>[] {
    return [...this.managers.values()].map((m) => m.run(signal));
  }
}

interface Running {
  readonly cfg: NetworkConfig;
  readonly network: Network;
  readonly mgr: SubnetLeaser;
  readonly traffic: TrafficRules;
  readonly first: AcquiredLease;
}

/**
 * Until the signal aborts: keeps the iptables rules, the lease alive (applying a changed lease to the
 * device, subnet.env and the rules) and the backend converged to the peers. Returns the last lease held.
 */
async function keepNetwork(c: Ctx, { cfg, network, mgr, traffic, first }: Running, signal: AbortSignal): Promise<AcquiredLease> {
  let held = first;
  const watcher = new LeaseWatcher(held.key, c.log);
  // Drift is notified (links, routes, neighbours: the backends' watchDrift), so the periodic full sync
  // is only for what nothing announces (an entry changed in place); flannel itself has none for vxlan.
  const peerSync = new PeerSync(network, () => watcher.current(), c.log, c.d.resyncMs ?? 60_000, c.d.metrics);
  await Promise.all([
    ...traffic.run(signal),
    mgr.keepAlive(cfg, held, signal, async (next, applied) => {
      // Against the lease last applied, not the last one seen: a failed apply is retried with the same change.
      const changed = describeLease(next.lease) !== describeLease(applied.lease);
      held = next;
      watcher.setOwnKey(next.key);
      await network.setLease(next.lease);
      await writeSubnetFile(c, cfg, next, network);
      traffic.apply(next.lease);
      if (changed) c.log.warn({ subnet: describeLease(next.lease) }, 'subnet changed: restart docker and other consumers of the subnet file');
      peerSync.requestFull();
      await mgr.networkUp?.(next, signal);
    }),
    mgr.networkUp?.(first, signal),
    watchPeers(c, watcher, mgr, peerSync, signal),
  ]);
  return held;
}

/** Lease events in one batch above which they are logged as one line (each at debug). */
const PEER_LOG_BURST = 20;

/** Peers: lists the leases, then watches from that revision; peers feed the reconciler, our own loss the lease manager. */
export async function watchPeers(c: Pick<Ctx, 'd' | 'log'>, watcher: LeaseWatcher, mgr: SubnetLeaser, peerSync: PeerSync, signal: AbortSignal): Promise<void> {
  const { d, log } = c;
  // The lease manager's own listing, when it has one to hand over: listing 5,000 leases twice was
  // a fifth of a restart. Our key was written after it, so its absence there is no loss; a later
  // deletion arrives through the watch, which starts at that listing's revision.
  const given = mgr.takeListing?.();
  const snap = given ?? (await retrying(c, 'listing leases', () => d.registry.listLeases(), signal));
  if (!snap) return;
  const onOutcome = (out: ReturnType<LeaseWatcher['apply']>) => {
    // One line per peer, as flannel logs them; a burst (a start with thousands of peers) gets one
    // line with the counts, and the peers at debug: writing 5,000 lines was a tenth of converging.
    const burst = out.events.length > PEER_LOG_BURST;
    if (!burst || log.isLevelEnabled('debug')) {
      for (const ev of out.events) {
        (burst ? log.debug.bind(log) : log.info.bind(log))({ peer: ev.lease.attrs.publicIP ?? ev.lease.attrs.publicIPv6, subnet: describeLease(ev.lease), key: ev.key }, ev.type === 'added' ? 'peer lease added' : 'peer lease removed');
      }
    }
    if (burst) {
      const added = out.events.filter((e) => e.type === 'added').length;
      log.info({ added, removed: out.events.length - added, peers: watcher.size }, 'peer leases changed');
    }
    d.metrics?.peers.set(watcher.size);
    peerSync.record(out.events);
    if (out.ownLost) mgr.markLost();
  };
  const first = watcher.reset(snap);
  onOutcome(given ? { ...first, ownLost: false } : first);
  // Only now: never converge to a partial view of the peers.
  const runnerDone = peerSync.run(signal);
  // The listed peers go into the kernel before the watch opens: opening it may first load gRPC (a
  // synchronous require that blocks the process for a while), and a node that just wrote subnet.env
  // is about to carry traffic to them. The watch starts at the listing's revision, so it misses nothing.
  await Promise.race([peerSync.firstSync, new Promise((r) => signal.addEventListener('abort', r, { once: true }))]);
  let from = snap.revision + 1n;
  const backoff = new Backoff(500, 10_000);
  while (!signal.aborted) {
    try {
      for await (const batch of d.registry.watchLeases(from, signal)) {
        if (batch.kind === 'reset') d.metrics?.watchRestarts.inc();
        from = (batch.kind === 'events' ? batch.revision : batch.snapshot.revision) + 1n;
        onOutcome(watcher.apply(batch));
        backoff.reset();
      }
    } catch (e) {
      d.metrics?.watchRestarts.inc();
      log.warn({ err: errorMessage(e) }, 'lease watch failed; restarting');
      await sleep(backoff.next(), signal);
    }
  }
  await runnerDone;
}
