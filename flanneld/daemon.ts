// flanneld's life: wait for etcd and a valid config → pick the external interface → set up the
// backend → lease a subnet → write subnet.env (ready) → then, until SIGTERM, keep the lease alive,
// watch the other nodes' leases and converge the backend to them. Nothing here exits on a bad
// config or an unreachable etcd: it says what it waits for and tries again.
import type { Server } from 'node:http';
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
  readPreviousSubnets,
  renderSubnetEnv,
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

export interface DaemonDeps {
  readonly log: Logger;
  readonly registry: SubnetRegistry;
  readonly backends: BackendRegistry;
  readonly nl: Netlink;
  /** iptables (and ip6tables) of the host; the daemon's own namespace in production. */
  readonly iptables: (family: 4 | 6) => IptablesRunner;
  readonly metrics?: FlannelMetrics;
  /** How often the backend is reconciled even without lease events. */
  readonly resyncMs?: number;
}

export interface Daemon {
  readonly health: Health;
  run(signal: AbortSignal): Promise<void>;
}

export function createDaemon(o: DaemonOptions, d: DaemonDeps): Daemon {
  const health: Health = { ready: false };
  const log = d.log;
  const configKey = `${o.etcdPrefix.replace(/\/+$/, '')}/config`;

  /** Retries `fn` until it succeeds or the signal aborts, logging each failure once per attempt. */
  async function retrying<T>(what: string, fn: () => Promise<T>, signal: AbortSignal, maxMs = 30_000): Promise<T | undefined> {
    const backoff = new Backoff(1_000, maxMs);
    while (!signal.aborted) {
      try {
        return await fn();
      } catch (e) {
        if (signal.aborted) return undefined;
        const delay = backoff.next();
        const fields = e instanceof ConfigError ? { field: e.path, reason: e.reason } : { err: errorMessage(e) };
        log.error({ ...fields, retryInMs: delay }, `waiting: ${what}`);
        await sleep(delay, signal);
      }
    }
    return undefined;
  }

  async function loadConfig(signal: AbortSignal): Promise<{ cfg: NetworkConfig; factory: BackendFactory<unknown>; backendCfg: unknown } | undefined> {
    const backoff = new Backoff(1_000, 10_000);
    let lastProblem = '';
    while (!signal.aborted) {
      let problem: string;
      let fields: Record<string, unknown>;
      try {
        const raw = await d.registry.getNetworkConfig();
        if (raw === undefined) {
          problem = 'waiting for the network config';
          fields = { key: configKey };
        } else {
          const cfg = parseNetworkConfig(raw);
          const factory = d.backends.get(cfg);
          const backendCfg = factory.parseConfig(cfg.backend);
          log.info({ key: configKey, network: raw.length < 2048 ? JSON.parse(raw) : undefined, backend: cfg.backendType }, 'network config loaded');
          return { cfg, factory, backendCfg };
        }
      } catch (e) {
        if (e instanceof ConfigError) {
          problem = 'network config is invalid; waiting for a valid one';
          fields = { key: configKey, field: e.path, reason: e.message };
        } else {
          problem = 'waiting for etcd';
          fields = { endpoints: o.etcdEndpoints, err: errorMessage(e) };
        }
      }
      const delay = backoff.next();
      const text = problem + JSON.stringify(fields);
      (text === lastProblem ? log.debug.bind(log) : log.warn.bind(log))({ ...fields, retryInMs: delay }, problem);
      lastProblem = text;
      await sleep(delay, signal);
    }
    return undefined;
  }

  async function writeSubnetFile(cfg: NetworkConfig, held: AcquiredLease, network: Network): Promise<void> {
    const env = renderSubnetEnv(subnetEnvFor(cfg, held.lease, network.mtu, o.ipMasq));
    await writeFileAtomic(o.subnetFile, env);
    log.info({ file: o.subnetFile, subnet: describeLease(held.lease), mtu: network.mtu }, 'wrote subnet file');
    if (o.dockerOptsFile) {
      await writeFileAtomic(o.dockerOptsFile, renderDockerOpts(env));
      log.info({ file: o.dockerOptsFile, subnet: describeLease(held.lease) }, 'wrote docker options');
    }
    d.metrics?.leaseExpiration.set(held.expiration ? held.expiration.getTime() / 1000 : 0);
  }

  /** The masquerade and forward chains for our lease, per enabled family. */
  function trafficRules(cfg: NetworkConfig, lease: AcquiredLease['lease']): Map<4 | 6, ChainSpec[]> {
    const out = new Map<4 | 6, ChainSpec[]>();
    for (const [family, net, sn] of [
      [4, cfg.v4?.network, lease.subnet],
      [6, cfg.v6?.network, lease.ipv6Subnet],
    ] as const) {
      if (!net || !sn) continue;
      const p = { network: formatCidr(net), subnet: formatCidr(sn) };
      out.set(family, [...(o.ipMasq ? [masqChain(p, family)] : []), ...(o.iptablesForwardRules ? [forwardChain(p)] : [])]);
    }
    return out;
  }

  /** Lists the leases, then watches from that revision; peers feed the reconciler, our own loss the lease manager. */
  async function watchPeers(watcher: LeaseWatcher, mgr: LeaseManager, peerSync: PeerSync, signal: AbortSignal): Promise<void> {
    const snap = await retrying('listing leases', () => d.registry.listLeases(), signal);
    if (!snap) return;
    const onOutcome = (out: ReturnType<LeaseWatcher['apply']>) => {
      for (const ev of out.events) {
        log.info({ peer: ev.lease.attrs.publicIP ?? ev.lease.attrs.publicIPv6, subnet: describeLease(ev.lease), key: ev.key }, ev.type === 'added' ? 'peer lease added' : 'peer lease removed');
      }
      d.metrics?.peers.set(watcher.current().length);
      peerSync.record(out.events);
      if (out.ownLost) mgr.markLost();
    };
    onOutcome(watcher.reset(snap));
    // Only now: never converge to a partial view of the peers.
    const runnerDone = peerSync.run(signal);
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

  async function run(signal: AbortSignal): Promise<void> {
    let srv: Server | undefined;
    if (o.healthzPort > 0) {
      srv = await startHealthz(o.healthzIp, o.healthzPort, health, log, d.metrics?.registry);
    }
    try {
      const loaded = await loadConfig(signal);
      if (!loaded) return;
      const { cfg, factory, backendCfg } = loaded;

      const ext: ExternalInterface | undefined = await retrying(
        'finding the external interface',
        () =>
          lookupExternalInterface(d.nl, {
            iface: o.iface,
            ifaceRegex: o.ifaceRegex,
            ...(o.publicIp && { publicIP: o.publicIp }),
            ...(o.publicIpv6 && { publicIPv6: o.publicIpv6 }),
            ipv4: cfg.v4 !== undefined,
            ipv6: cfg.v6 !== undefined,
          }),
        signal,
      );
      if (!ext) return;
      log.info({ iface: ext.name, ifaceAddr: ext.addrs.get(4)?.local, publicIP: ext.addrs.get(4)?.publicIP, publicIPv6: ext.addrs.get(6)?.publicIP, mtu: ext.mtu }, 'using interface');

      const network = await retrying(`setting up the ${cfg.backendType} backend`, () => factory.create({ cfg, ext, nl: d.nl, log: log.child({ backend: cfg.backendType }) }, backendCfg), signal);
      if (!network) return;

      const mgr = new LeaseManager({
        registry: d.registry,
        log,
        ttlSec: o.subnetLeaseTtl,
        renewMarginSec: o.subnetLeaseRenewMargin * 60,
        previous: await readPreviousSubnets(o.subnetFile),
      });
      const first = await retrying(
        'acquiring a subnet lease',
        () =>
          mgr.acquire(cfg, network.attrs, signal).catch((e: unknown) => {
            if (e instanceof OutOfSubnetsError) log.error({ err: e.message }, 'out of subnets: free one in etcd or widen the network config');
            throw e;
          }),
        signal,
      );
      if (!first) return;
      let held = first;
      await network.setLease(held.lease);
      await writeSubnetFile(cfg, held, network);
      health.ready = true;

      const iptables = new Map<4 | 6, IptablesManager>();
      const applyTraffic = (lease: AcquiredLease['lease']) => {
        for (const [family, specs] of trafficRules(cfg, lease)) {
          if (specs.length === 0) continue;
          let m = iptables.get(family);
          if (!m) {
            m = new IptablesManager(d.iptables(family), o.iptablesResync, log.child({ component: family === 4 ? 'iptables' : 'ip6tables' }), () => d.metrics?.iptablesRestores.inc());
            iptables.set(family, m);
          }
          m.set(specs);
        }
      };
      applyTraffic(held.lease);

      const watcher = new LeaseWatcher(held.key, log);
      const peerSync = new PeerSync(network, () => watcher.current(), log, d.resyncMs ?? 10_000, d.metrics);
      await Promise.all([
        ...[...iptables.values()].map((m) => m.run(signal)),
        mgr.keepAlive(cfg, held, signal, async (next) => {
          const changed = describeLease(next.lease) !== describeLease(held.lease);
          held = next;
          watcher.setOwnKey(next.key);
          await network.setLease(next.lease);
          await writeSubnetFile(cfg, next, network);
          applyTraffic(next.lease);
          if (changed) log.warn({ subnet: describeLease(next.lease) }, 'subnet changed: restart docker and other consumers of the subnet file');
          peerSync.requestFull();
        }),
        watchPeers(watcher, mgr, peerSync, signal),
      ]);
      await network.close();
      log.info({ subnet: describeLease(held.lease) }, 'stopped; the lease is kept for the next start');
    } finally {
      await new Promise<void>((r) => (srv ? srv.close(() => r()) : r()));
    }
  }

  return { health, run };
}
