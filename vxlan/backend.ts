// The VXLAN backend: a flannel.<VNI> device (flannel-v6.<VNI> for IPv6) with learning off and a
// stable MAC, our subnet's .0 as a /32 on it, and every peer programmed statically. A route network
// (backend/route-network.ts) with one family per device: each full sync reads the device's routes,
// neighbours and FDB entries and converges them to the leases, so a departed peer's entries go, a
// route deleted by hand comes back, and a deleted device is recreated.
import type { BackendContext, BackendFactory, ExternalInterface, FamilySync, KernelState, LeaseChanges, Network } from '../backend/index.js';
import { RouteNetwork, addFdb, addNeigh, ensureSoleAddress, familyAttrs, leaseSubnet, ownedRoutes, removeForeignDevices, watchDrift } from '../backend/index.js';
import { FlannelError, type Logger } from '../common/index.js';
import { type Cidr, type Family, type Lease, type LeaseAttrs, configFamilies, familyBits, formatIp, parseIp } from '../ipam/index.js';
import type { Link, Netlink } from '../netlink/index.js';
import { parseVxlanConfig, renderVxlanConfig, type VxlanConfig } from './config.js';
import { desiredVxlanState } from './desired.js';
import { stableVtepMac } from './mac.js';

/** Outer IPv4 + UDP + VXLAN + inner Ethernet headers; IPv6 adds 20. */
export const ENCAP_OVERHEAD: Record<Family, number> = { 4: 50, 6: 70 };

/** The device of each family. */
const DEVICE_NAME: Record<Family, (vni: number) => string> = { 4: (vni) => `flannel.${vni}`, 6: (vni) => `flannel-v6.${vni}` };

export class ReconcileError extends FlannelError {
  readonly code = 'RECONCILE';
  override readonly transient = true;
}

interface Plane {
  readonly family: Family;
  readonly name: string;
  readonly local: string;
  readonly mac: string;
  readonly network: Cidr;
  link: Link;
  subnet?: Cidr;
}

export const vxlanBackend: BackendFactory<VxlanConfig> = {
  type: 'vxlan',
  parseConfig: parseVxlanConfig,
  renderConfig: renderVxlanConfig,
  create: (ctx, c) => VxlanNetwork.create(ctx, c),
};

export class VxlanNetwork implements Network {
  private readonly routes: RouteNetwork;

  private constructor(
    private readonly nl: Netlink,
    private readonly ext: ExternalInterface,
    private readonly cfg: VxlanConfig,
    private readonly planes: Plane[],
    readonly attrs: LeaseAttrs,
    readonly mtu: number,
    private readonly log: Logger,
    deviceLogs: ReadonlyMap<Family, Logger>,
  ) {
    this.routes = new RouteNetwork(
      nl,
      log,
      planes.map((p) => ({ family: p.family, log: deviceLogs.get(p.family)!, prepare: () => this.prepare(p) })),
    );
  }

  static async create(ctx: BackendContext, c: VxlanConfig): Promise<VxlanNetwork> {
    const planes: Plane[] = [];
    const deviceLogs = new Map<Family, Logger>();
    let attrs: LeaseAttrs = {};
    for (const { family, network } of configFamilies(ctx.cfg)) {
      const a = ctx.ext.addrs.get(family);
      if (!a) throw new ReconcileError(`interface ${ctx.ext.name} has no IPv${family} address for the VTEP`);
      const name = DEVICE_NAME[family](c.vni);
      const mac = stableVtepMac(c.vni, a.publicIP, family);
      const link = await ensureDevice(ctx.nl, ctx.ext, c, { family, name, local: a.local, mac }, ctx.log);
      planes.push({ family, name, local: a.local, mac, network, link });
      deviceLogs.set(family, ctx.log.child({ dev: name }));
      attrs = { ...attrs, ...familyAttrs(family, a.publicIP, { VNI: c.vni, VtepMAC: mac }) };
    }
    await removeForeignDevices(ctx.nl, planes.map((p) => p.name), ctx.log);
    const mtu = Math.min(...planes.map((p) => p.link.mtu));
    const log = ctx.log.child({ dev: planes.map((p) => p.name).join(',') });
    return new VxlanNetwork(ctx.nl, ctx.ext, c, planes, { ...attrs, backendType: 'vxlan' }, mtu, log, deviceLogs);
  }

  async setLease(lease: Lease): Promise<void> {
    for (const p of this.planes) {
      p.subnet = leaseSubnet(lease, p.family);
      await this.ensureAddress(p);
    }
  }

  /** `<subnet>.0/32` (or /128) on the device, and no other address of that family: a stale one means an old lease. */
  private async ensureAddress(p: Plane): Promise<void> {
    if (!p.subnet) return;
    await ensureSoleAddress(this.nl, p.link.index, `${formatIp(p.subnet.addr)}/${familyBits(p.family)}`, this.log, { device: p.name });
    await this.nl.setLink(p.link.index, { up: true });
  }

  objects(): Readonly<Record<string, number>> {
    return this.routes.sizes();
  }

  async reconcile(peers: readonly Lease[], changes?: LeaseChanges): Promise<void> {
    const failed = await this.routes.converge(peers, changes);
    if (failed) throw new ReconcileError(`${failed} kernel updates failed (see the log); the next sync reads the kernel again`);
  }

  /**
   * Before each sync of a family: the device may have been deleted by hand (recreate it and its
   * address before the peers) or replaced (adopt it); either way what was applied is forgotten.
   */
  private async prepare(p: Plane): Promise<FamilySync> {
    const link = await this.nl.getLink(p.name);
    let reset = false;
    if (!link || link.kind !== 'vxlan' || !link.up || link.index !== p.link.index) {
      if (!link || link.kind !== 'vxlan' || !link.up) {
        this.log.warn({ device: p.name }, 'vxlan device missing or down; recreating');
        p.link = await ensureDevice(this.nl, this.ext, this.cfg, p, this.log);
        await this.ensureAddress(p);
      } else {
        p.link = link;
      }
      reset = true;
    }
    const plane = {
      family: p.family,
      devIndex: p.link.index,
      extIndex: this.ext.index,
      extCidrs: (await this.nl.dumpAddrs({ family: p.family, ifindex: this.ext.index })).map((a) => a.cidr),
      directRouting: this.cfg.directRouting,
    };
    return { reset, desired: (leases) => desiredVxlanState(leases, plane), owned: () => this.kernelState(p) };
  }

  /** What the kernel holds on the objects this backend owns. */
  private async kernelState(p: Plane): Promise<KernelState> {
    const s = await ownedRoutes(this.nl, p.network);
    for (const n of await this.nl.dumpNeighs({ family: p.family, ifindex: p.link.index })) {
      addNeigh(s, { ip: n.ip, mac: n.mac ?? '', ifindex: n.ifindex, state: n.state });
    }
    for (const f of await this.nl.dumpFdb({ ifindex: p.link.index })) {
      if (parseIp(f.dst).family === p.family) addFdb(s, f);
    }
    return s;
  }

  watchDrift(signal: AbortSignal, onDrift: () => void): Promise<void> {
    return watchDrift(
      this.nl,
      signal,
      (ev) =>
        (ev.kind === 'link' && this.planes.some((p) => p.name === ev.link.name) && (ev.action === 'del' || !ev.link.up)) ||
        (ev.kind === 'route' && ev.action === 'del' && (this.planes.some((p) => p.link.index === ev.route.ifindex) || (this.cfg.directRouting && ev.route.ifindex === this.ext.index))) ||
        // A neighbour or FDB entry of a peer removed by hand (ip neigh flush, bridge fdb del).
        (ev.kind === 'neigh' && ev.action === 'del' && this.planes.some((p) => p.link.index === ev.neigh.ifindex)),
      onDrift,
      this.log,
      ['link', 'ipv4-route', 'ipv6-route', 'neigh'],
    );
  }

  async close(): Promise<void> {
    // The device, routes and entries stay: traffic keeps flowing while flanneld restarts.
  }
}

async function ensureDevice(nl: Netlink, ext: ExternalInterface, c: VxlanConfig, p: Pick<Plane, 'family' | 'name' | 'local' | 'mac'>, log: Logger): Promise<Link> {
  const mtu = c.mtu ?? ext.mtu - ENCAP_OVERHEAD[p.family];
  const link = await nl.ensureVxlan(
    { name: p.name, vni: c.vni, local: p.local, dev: ext.index, port: c.port, learning: c.learning, gbp: c.gbp, mtu, mac: p.mac },
    { onIncompat: 'recreate' },
  );
  if (link.mac !== p.mac || link.mtu !== mtu || !link.up) {
    await nl.setLink(link.index, { mac: p.mac, mtu, up: true });
  }
  log.info({ device: p.name, vni: c.vni, port: c.port, local: p.local, mac: p.mac, mtu }, 'vxlan device ready');
  return { ...link, mac: p.mac, mtu, up: true };
}
