// The udp backend, flannel's fallback for networks and kernels where VXLAN cannot work: a TUN
// device flannel0 whose packets a native loop (udp/native) sends as UDP datagrams to the peer that
// owns the destination subnet, and whose UDP port (8285) feeds the datagrams it receives back into
// the TUN. As in flannel, the device holds `<subnet>.0` with the prefix length of the whole network
// (10.5.72.0/16), so the kernel routes the network into flannel0 and our own /24 to the pod bridge;
// the lease carries no BackendType and no BackendData.
//
// Each reconcile re-reads the device: a deleted address or network route is restored, a deleted
// device (or a loop whose TUN thread died) is reopened, and the peer table computed from the leases
// is swapped into the running loop. The loop lives in this process: while flanneld is down, the
// tunnel is down too, and the kernel removes flannel0 when the process exits (as flannel's).
import {
  addRoute,
  type BackendContext,
  type BackendFactory,
  Converger,
  describeOp,
  emptyKernelState,
  ensureSoleAddress,
  type LeaseChanges,
  type Network,
  ownedRoutes,
  removeForeignDevices,
  SkippedPeerLog,
  watchDrift,
} from '../backend/index.js';
import { errorMessage, FlannelError, type Logger, sleep } from '../common/index.js';
import { type Cidr, ConfigError, formatCidr, formatIp, type Lease, type LeaseAttrs } from '../ipam/index.js';
import type { Link, Netlink } from '../netlink/index.js';
import { parseUdpConfig, renderUdpConfig, type UdpConfig } from './config.js';
import { COUNTER_NAMES, type DataPath, type OpenDataPath, openNativeDataPath, type UdpCounters } from './native.js';
import { describePeerTable, udpPeerTable } from './peers.js';

export const TUN_DEVICE = 'flannel0';
/** Outer IPv4 (20) + UDP (8) headers. */
export const UDP_OVERHEAD = 28;

export class UdpBackendError extends FlannelError {
  readonly code = 'UDP_BACKEND';
  override readonly transient = true;
}

export interface UdpDeps {
  /** Opens the TUN device and starts the forwarding loop; the native addon by default. */
  readonly openDataPath: OpenDataPath;
  /** How often the loop's counters are checked (drops logged, a dead loop reported as drift). */
  readonly statsIntervalMs: number;
}

export function createUdpBackend(deps: Partial<UdpDeps> = {}): BackendFactory<UdpConfig> {
  const d: UdpDeps = { openDataPath: deps.openDataPath ?? openNativeDataPath, statsIntervalMs: deps.statsIntervalMs ?? 5_000 };
  return {
    type: 'udp',
    parseConfig: parseUdpConfig,
    renderConfig: renderUdpConfig,
    create: (ctx, c) => UdpNetwork.create(ctx, c, d),
  };
}

export const udpBackend: BackendFactory<UdpConfig> = createUdpBackend();

const zeroCounters = (): Record<keyof UdpCounters, number> =>
  Object.fromEntries(COUNTER_NAMES.map((k) => [k, 0])) as Record<keyof UdpCounters, number>;

/** Stands in for a data path that is closed and could not be reopened yet. */
const CLOSED: DataPath = {
  device: TUN_DEVICE,
  setTable: () => 0,
  stats: () => ({ ...zeroCounters(), tableEntries: 0, running: false, tunErrno: 0, sockErrno: 0, gso: false, gro: false }),
  close: () => undefined,
};

export class UdpNetwork implements Network {
  private own: Cidr | undefined;
  private peers: readonly Lease[] = [];
  /** Counters of data paths closed before this one (the device was reopened). */
  private readonly base = zeroCounters();
  private lastReported: UdpCounters = zeroCounters();
  private lastTable = '';
  private readonly skipped: SkippedPeerLog;
  /** The network route through the device: one entry, each of its updates logged at info. */
  private readonly routeSync: Converger;
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly nl: Netlink,
    private readonly cfg: UdpConfig,
    private readonly deps: UdpDeps,
    private readonly network: Cidr,
    private readonly bindIp: string,
    private dp: DataPath,
    private link: Link,
    readonly attrs: LeaseAttrs,
    readonly mtu: number,
    private readonly log: Logger,
  ) {
    this.skipped = new SkippedPeerLog(log);
    this.routeSync = new Converger(nl, log, { opLevel: 'info' });
  }

  static async create(ctx: BackendContext, c: UdpConfig, deps: UdpDeps): Promise<UdpNetwork> {
    if (ctx.cfg.v6) {
      throw new ConfigError('EnableIPv6', true, "the udp backend carries IPv4 only, as flannel's does; use the vxlan backend for IPv6");
    }
    if (!ctx.cfg.v4) throw new ConfigError('EnableIPv4', false, 'the udp backend needs an IPv4 network');
    const v4 = ctx.ext.addrs.get(4);
    if (!v4) throw new UdpBackendError(`interface ${ctx.ext.name} has no IPv4 address for the udp tunnel`);
    const { local: ifaceAddr, publicIP } = v4;
    const mtu = ctx.ext.mtu - UDP_OVERHEAD;
    const log = ctx.log.child({ device: TUN_DEVICE });
    await removeForeignDevices(ctx.nl, [TUN_DEVICE], log);
    const dp = deps.openDataPath({ device: TUN_DEVICE, bindIp: ifaceAddr, port: c.port });
    let link: Link;
    try {
      link = await setUpDevice(ctx.nl, dp.device, mtu);
    } catch (e) {
      dp.close();
      throw e;
    }
    const { gso, gro, offload } = dp.stats();
    log.info({ port: c.port, bindIp: ifaceAddr, publicIP, mtu, gso, gro, offload: offload ?? false }, 'udp device ready');
    // flannel's udp lease: PublicIP only (no BackendType, no BackendData).
    const attrs: LeaseAttrs = { publicIP };
    return new UdpNetwork(ctx.nl, c, deps, ctx.cfg.v4.network, ifaceAddr, dp, link, attrs, mtu, log);
  }

  setLease(lease: Lease): Promise<void> {
    return this.serial(async () => {
      if (this.closed) throw new UdpBackendError('the udp backend is closed');
      if (!lease.subnet) throw new UdpBackendError('the lease has no IPv4 subnet');
      this.own = lease.subnet;
      await this.ensureAddressAndRoute();
      this.pushTable();
    });
  }

  /**
   * With `changes` (a partial sync) only the table is rebuilt and swapped in: the peers live in the
   * loop, not in the kernel. Without (the first, periodic and post-failure syncs, and drift), the
   * device, its address and the network route are read back and converged first.
   */
  reconcile(peers: readonly Lease[], changes?: LeaseChanges): Promise<void> {
    return this.serial(async () => {
      if (this.closed) throw new UdpBackendError('the udp backend is closed');
      this.peers = peers;
      if (!changes || !this.dp.stats().running) {
        await this.ensureDevice();
        await this.ensureAddressAndRoute();
      }
      this.pushTable();
    });
  }

  objects(): Readonly<Record<string, number>> {
    return { peer: this.dp.stats().tableEntries };
  }

  /** Counters since this flanneld started, across device reopens. */
  counters(): UdpCounters {
    const s = this.dp.stats();
    return Object.fromEntries(COUNTER_NAMES.map((k) => [k, this.base[k] + s[k]])) as Record<keyof UdpCounters, number>;
  }

  /** Device gone, or the loop's TUN thread ended: close it and open the device again. */
  private async ensureDevice(): Promise<void> {
    const link = await this.nl.getLink(TUN_DEVICE);
    const stats = this.dp.stats();
    if (link && stats.running && link.index === this.link.index) {
      if (!link.up || link.mtu !== this.mtu) await this.nl.setLink(link.index, { mtu: this.mtu, up: true });
      this.link = { ...link, up: true, mtu: this.mtu };
      return;
    }
    this.log.warn({ present: link !== undefined, running: stats.running, tunErrno: stats.tunErrno, sockErrno: stats.sockErrno }, 'udp device missing or its loop stopped; reopening');
    const old = this.dp;
    old.close();
    const final = old.stats();
    for (const k of COUNTER_NAMES) this.base[k] += final[k];
    this.dp = CLOSED; // counted once, even if the open below fails
    this.dp = this.deps.openDataPath({ device: TUN_DEVICE, bindIp: this.bindIp, port: this.cfg.port });
    this.lastTable = '';
    this.link = await setUpDevice(this.nl, this.dp.device, this.mtu);
    this.log.info({ port: this.cfg.port }, 'udp device reopened');
  }

  /**
   * `<subnet>.0/<network prefix>` as the device's only IPv4 address (another one means an old lease),
   * and the network route through the device (the kernel adds it with the address; put back when deleted).
   */
  private async ensureAddressAndRoute(): Promise<void> {
    if (!this.own) return;
    const ifindex = this.link.index;
    const addr = formatIp(this.own.addr);
    const want = `${addr}/${this.network.prefix}`;
    if (await ensureSoleAddress(this.nl, ifindex, want, this.log)) this.log.info({ addr: want }, 'address set');

    const wantRoutes = emptyKernelState();
    addRoute(wantRoutes, { dst: formatCidr(this.network), ifindex, src: addr });
    // Peer routes another backend left (vxlan's via flannel.1, host-gw's via the underlay) would
    // take traffic away from the network route: they go too.
    const haveRoutes = await ownedRoutes(this.nl, this.network, (r) => r.ifindex === ifindex);
    const res = await this.routeSync.full(wantRoutes, haveRoutes);
    const first = res.failures[0];
    if (first) throw new UdpBackendError(`${res.failed} kernel updates failed: ${describeOp(first.op)}: ${errorMessage(first.err)}`);
  }

  /** Computes the table from the leases and swaps it into the running loop. */
  private pushTable(): void {
    const { table, skipped } = udpPeerTable(this.peers, this.own, this.network);
    this.skipped.note(skipped);
    const entries = this.dp.setTable(table);
    const text = describePeerTable(table);
    if (text !== this.lastTable) {
      this.log.info({ subnet: this.own && formatCidr(this.own), peers: entries, table: text.length < 4096 ? text : undefined }, 'peer table updated');
      this.lastTable = text;
    }
  }

  /** Logs what the loop dropped since the last report (info) or its counters (debug). */
  reportCounters(): void {
    const now = this.counters();
    const dropped: Record<string, number> = {};
    let changed = false;
    for (const k of COUNTER_NAMES) {
      const d = now[k] - this.lastReported[k];
      if (d !== 0) changed = true;
      if (d > 0 && /Drop|Errors/.test(k)) dropped[k] = d;
    }
    this.lastReported = now;
    if (Object.keys(dropped).length) this.log.info({ dropped, counters: now }, 'udp packets dropped');
    else if (changed && this.log.isLevelEnabled('debug')) this.log.debug({ counters: now }, 'udp counters');
  }

  /**
   * Until the signal aborts: netlink notifications for flannel0 (deleted, down, a route on it
   * deleted) and the loop's health (checked with its counters) call `onDrift`.
   */
  async watchDrift(signal: AbortSignal, onDrift: () => void): Promise<void> {
    const stats = async (): Promise<void> => {
      while (await sleep(this.deps.statsIntervalMs, signal)) {
        if (this.closed) return;
        this.reportCounters();
        if (!this.dp.stats().running) onDrift();
      }
    };
    const notifications = (): Promise<void> =>
      watchDrift(
        this.nl,
        signal,
        (ev) =>
          (ev.kind === 'link' && ev.link.name === TUN_DEVICE && (ev.action === 'del' || !ev.link.up)) ||
          (ev.kind === 'route' && ev.action === 'del' && ev.route.ifindex === this.link.index),
        onDrift,
        this.log,
      );
    await Promise.all([stats(), notifications()]);
  }

  /** Stops the loop and closes the device (the kernel removes it); the lease is kept for a restart. */
  close(): Promise<void> {
    return this.serial(async () => {
      if (this.closed) return;
      this.closed = true;
      this.reportCounters();
      this.dp.close();
      this.log.info({ counters: this.lastReported }, 'udp data path stopped');
    });
  }

  /** setLease and reconcile come from different tasks; one at a time on the device. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.catch(() => undefined);
    return run;
  }
}

async function setUpDevice(nl: Netlink, name: string, mtu: number): Promise<Link> {
  const link = await nl.getLink(name);
  if (!link) throw new UdpBackendError(`TUN device ${name} is not visible after opening it`);
  if (link.mtu !== mtu || !link.up) await nl.setLink(link.index, { mtu, up: true });
  return { ...link, mtu, up: true };
}
