// flanneld's life: wait for etcd and a valid config → pick the external interface → set up the
// backend → lease a subnet → write subnet.env (ready) → then, until SIGTERM, keep the lease alive,
// watch the other nodes' leases and converge the backend to them. Nothing here exits on a bad
// config or an unreachable etcd: it says what it waits for and tries again.
import type { Server } from 'node:http';
import type { BackendFactory, BackendRegistry, ExternalInterface, Network } from '../backend/index.js';
import { Backoff, errorMessage, type Logger, sleep, SyncRunner } from '../common/index.js';
import {
  type AcquiredLease,
  ConfigError,
  describeLease,
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
import type { Netlink } from '../netlink/index.js';
import { type Health, startHealthz } from './healthz.js';
import { lookupExternalInterface } from './iface.js';
import type { DaemonOptions } from './options.js';

export interface DaemonDeps {
  readonly log: Logger;
  readonly registry: SubnetRegistry;
  readonly backends: BackendRegistry;
  readonly nl: Netlink;
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
    await writeFileAtomic(o.subnetFile, renderSubnetEnv(subnetEnvFor(cfg, held.lease, network.mtu, o.ipMasq)));
    log.info({ file: o.subnetFile, subnet: describeLease(held.lease), mtu: network.mtu }, 'wrote subnet file');
  }

  /** Lists the leases, then watches from that revision; peers feed the reconciler, our own loss the lease manager. */
  async function watchPeers(watcher: LeaseWatcher, mgr: LeaseManager, runner: SyncRunner, network: Network, signal: AbortSignal): Promise<void> {
    const snap = await retrying('listing leases', () => d.registry.listLeases(), signal);
    if (!snap) return;
    const onOutcome = (out: ReturnType<LeaseWatcher['apply']>) => {
      for (const ev of out.events) {
        log.info({ peer: ev.lease.attrs.publicIP ?? ev.lease.attrs.publicIPv6, subnet: describeLease(ev.lease), key: ev.key }, ev.type === 'added' ? 'peer lease added' : 'peer lease removed');
      }
      if (out.events.length > 0) runner.request();
      if (out.ownLost) mgr.markLost();
    };
    onOutcome(watcher.reset(snap));
    // Only now: never converge to a partial view of the peers.
    const runnerDone = Promise.all([runner.run(signal), network.watchDrift?.(signal, () => runner.request())]);
    let from = snap.revision + 1n;
    const backoff = new Backoff(500, 10_000);
    while (!signal.aborted) {
      try {
        for await (const batch of d.registry.watchLeases(from, signal)) {
          from = (batch.kind === 'events' ? batch.revision : batch.snapshot.revision) + 1n;
          onOutcome(watcher.apply(batch));
          backoff.reset();
        }
      } catch (e) {
        log.warn({ err: errorMessage(e) }, 'lease watch failed; restarting');
        await sleep(backoff.next(), signal);
      }
    }
    await runnerDone;
  }

  async function run(signal: AbortSignal): Promise<void> {
    let srv: Server | undefined;
    if (o.healthzPort > 0) {
      srv = await startHealthz(o.healthzIp, o.healthzPort, health, log);
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
      log.info({ iface: ext.name, ifaceAddr: ext.ifaceAddr, publicIP: ext.publicIP, publicIPv6: ext.publicIPv6, mtu: ext.mtu }, 'using interface');

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

      const watcher = new LeaseWatcher(held.key, log);
      const runner = new SyncRunner({
        name: 'reconcile',
        fn: () => network.reconcile(watcher.current()),
        minMs: 50,
        maxMs: d.resyncMs ?? 10_000,
        retryMs: 1_000,
        log,
      });
      await Promise.all([
        mgr.keepAlive(cfg, held, signal, async (next) => {
          const changed = describeLease(next.lease) !== describeLease(held.lease);
          held = next;
          watcher.setOwnKey(next.key);
          await network.setLease(next.lease);
          await writeSubnetFile(cfg, next, network);
          if (changed) log.warn({ subnet: describeLease(next.lease) }, 'subnet changed: restart docker and other consumers of the subnet file');
          runner.request();
        }),
        watchPeers(watcher, mgr, runner, network, signal),
      ]);
      await network.close();
      log.info({ subnet: describeLease(held.lease) }, 'stopped; the lease is kept for the next start');
    } finally {
      await new Promise<void>((r) => (srv ? srv.close(() => r()) : r()));
    }
  }

  return { health, run };
}
