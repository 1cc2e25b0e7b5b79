// The VXLAN backend: a flannel.<VNI> device (flannel-v6.<VNI> for IPv6) with learning off and a
// stable MAC, our subnet's .0 as a /32 on it, and every peer programmed statically. Each reconcile
// reads the device's routes, neighbours and FDB entries and converges them to the leases, so a
// departed peer's entries go, a route deleted by hand comes back, and a deleted device is recreated.
import type { BackendContext, BackendFactory, ExternalInterface, LeaseChanges, Network } from '../backend/index.js';
import { Converger, type KernelState, addFdb, addNeigh, addRoute, emptyKernelState, isPeerRoute, removeForeignDevices, watchDrift } from '../backend/index.js';
import { FlannelError, type Logger } from '../common/index.js';
import { type Cidr, type Family, type Lease, type LeaseAttrs, formatIp, parseIp } from '../ipam/index.js';
import type { Link, Netlink } from '../netlink/index.js';
import { parseVxlanConfig, renderVxlanConfig, type VxlanConfig } from './config.js';
import { desiredVxlanState, peerSubnet, type SkippedPeer } from './desired.js';
import { stableVtepMac } from './mac.js';

/** Outer IPv4 + UDP + VXLAN + inner Ethernet headers; IPv6 adds 20. */
export const ENCAP_OVERHEAD: Record<Family, number> = { 4: 50, 6: 70 };

export class ReconcileError extends FlannelError {
  readonly code = 'RECONCILE';
  override readonly transient = true;
}

interface Plane {
  readonly family: Family;
  readonly name: string;
  readonly local: string;
  readonly mac: string;
  link: Link;
  subnet?: Cidr;
  readonly sync: Converger;
}

export const vxlanBackend: BackendFactory<VxlanConfig> = {
  type: 'vxlan',
  parseConfig: parseVxlanConfig,
  renderConfig: renderVxlanConfig,
  create: (ctx, c) => VxlanNetwork.create(ctx, c),
};

export class VxlanNetwork implements Network {
  private skippedLogged = new Set<string>();

  private constructor(
    private readonly nl: Netlink,
    private readonly ext: ExternalInterface,
    private readonly cfg: VxlanConfig,
    private readonly planes: Plane[],
    readonly attrs: LeaseAttrs,
    readonly mtu: number,
    private readonly log: Logger,
    private readonly networks: Map<Family, Cidr>,
  ) {}

  static async create(ctx: BackendContext, c: VxlanConfig): Promise<VxlanNetwork> {
    const planes: Plane[] = [];
    const networks = new Map<Family, Cidr>();
    const families: Family[] = [];
    if (ctx.cfg.v4) {
      families.push(4);
      networks.set(4, ctx.cfg.v4.network);
    }
    if (ctx.cfg.v6) {
      families.push(6);
      networks.set(6, ctx.cfg.v6.network);
    }
    for (const family of families) {
      const local = family === 4 ? ctx.ext.ifaceAddr : ctx.ext.ifaceAddrV6;
      const pub = family === 4 ? ctx.ext.publicIP : ctx.ext.publicIPv6;
      if (!local || !pub) throw new ReconcileError(`interface ${ctx.ext.name} has no IPv${family} address for the VTEP`);
      const name = family === 4 ? `flannel.${c.vni}` : `flannel-v6.${c.vni}`;
      const mac = stableVtepMac(c.vni, pub, family);
      const link = await ensureDevice(ctx.nl, ctx.ext, c, { family, name, local, mac }, ctx.log);
      const plane: Plane = { family, name, local, mac, link, sync: new Converger(ctx.nl, ctx.log.child({ dev: name })) };
      planes.push(plane);
    }
    await removeForeignDevices(ctx.nl, planes.map((p) => p.name), ctx.log);
    const vtep = (f: Family) => planes.find((p) => p.family === f);
    const attrs: LeaseAttrs = {
      ...(ctx.ext.publicIP && vtep(4) && { publicIP: ctx.ext.publicIP }),
      ...(ctx.ext.publicIPv6 && vtep(6) && { publicIPv6: ctx.ext.publicIPv6 }),
      backendType: 'vxlan',
      ...(vtep(4) && { backendData: { VNI: c.vni, VtepMAC: vtep(4)!.mac } }),
      ...(vtep(6) && { backendV6Data: { VNI: c.vni, VtepMAC: vtep(6)!.mac } }),
    };
    const mtu = Math.min(...planes.map((p) => p.link.mtu));
    return new VxlanNetwork(ctx.nl, ctx.ext, c, planes, attrs, mtu, ctx.log.child({ dev: planes.map((p) => p.name).join(',') }), networks);
  }

  async setLease(lease: Lease): Promise<void> {
    for (const p of this.planes) {
      p.subnet = peerSubnet(lease, p.family);
      await this.ensureAddress(p);
    }
  }

  /** `<subnet>.0/32` (or /128) on the device, and no other address of that family: a stale one means an old lease. */
  private async ensureAddress(p: Plane): Promise<void> {
    if (!p.subnet) return;
    const want = `${formatIp(p.subnet.addr)}/${p.family === 4 ? 32 : 128}`;
    const have = await this.nl.dumpAddrs({ family: p.family, ifindex: p.link.index });
    for (const a of have) {
      if (a.cidr !== want && !a.cidr.toLowerCase().startsWith('fe80:')) {
        await this.nl.deleteAddr({ cidr: a.cidr, dev: p.link.index });
        this.log.info({ addr: a.cidr, device: p.name }, 'removed stale address');
      }
    }
    if (!have.some((a) => a.cidr === want)) await this.nl.addAddr({ cidr: want, dev: p.link.index });
    await this.nl.setLink(p.link.index, { up: true });
  }

  objects(): Readonly<Record<string, number>> {
    const total = { route: 0, neigh: 0, fdb: 0 };
    for (const p of this.planes) for (const [k, n] of Object.entries(p.sync.sizes())) total[k as keyof typeof total] += n;
    return total;
  }

  async reconcile(peers: readonly Lease[], changes?: LeaseChanges): Promise<void> {
    let failed = 0;
    for (const p of this.planes) {
      // The device may have been deleted by hand: recreate it and its address before the peers.
      const link = await this.nl.getLink(p.name);
      if (!link || link.kind !== 'vxlan' || !link.up || link.index !== p.link.index) {
        if (!link || link.kind !== 'vxlan' || !link.up) {
          this.log.warn({ device: p.name }, 'vxlan device missing or down; recreating');
          p.link = await ensureDevice(this.nl, this.ext, this.cfg, p, this.log);
          await this.ensureAddress(p);
        } else {
          p.link = link;
        }
        p.sync.forget();
      }
      const plane = {
        family: p.family,
        devIndex: p.link.index,
        extIndex: this.ext.index,
        extCidrs: (await this.nl.dumpAddrs({ family: p.family, ifindex: this.ext.index })).map((a) => a.cidr),
        directRouting: this.cfg.directRouting,
      };
      const desired = (leases: readonly Lease[]) => {
        const { state, skipped } = desiredVxlanState(leases, plane);
        this.logSkipped(skipped);
        return state;
      };
      const res =
        changes && p.sync.ready
          ? await p.sync.partial(desired(changes.removed), desired(changes.added))
          : await p.sync.full(desired(peers), await this.kernelState(p));
      failed += res.failed;
    }
    if (failed) throw new ReconcileError(`${failed} kernel updates failed (see the log); the next sync reads the kernel again`);
  }

  /** What the kernel holds on the objects this backend owns. */
  private async kernelState(p: Plane): Promise<KernelState> {
    const s = emptyKernelState();
    const net = this.networks.get(p.family)!;
    for (const r of await this.nl.dumpRoutes({ family: p.family })) {
      if (isPeerRoute(r, net)) addRoute(s, r);
    }
    for (const n of await this.nl.dumpNeighs({ family: p.family, ifindex: p.link.index })) {
      addNeigh(s, { ip: n.ip, mac: n.mac ?? '', ifindex: n.ifindex, state: n.state });
    }
    for (const f of await this.nl.dumpFdb({ ifindex: p.link.index })) {
      if (parseIp(f.dst).family === p.family) addFdb(s, f);
    }
    return s;
  }

  private logSkipped(skipped: readonly SkippedPeer[]): void {
    for (const s of skipped) {
      const k = `${s.subnet} ${s.reason}`;
      if (this.skippedLogged.has(k)) continue;
      this.skippedLogged.add(k);
      this.log.warn({ subnet: s.subnet, reason: s.reason }, 'skipping peer');
    }
  }

  watchDrift(signal: AbortSignal, onDrift: () => void): Promise<void> {
    return watchDrift(
      this.nl,
      signal,
      (ev) =>
        (ev.kind === 'link' && this.planes.some((p) => p.name === ev.link.name) && (ev.action === 'del' || !ev.link.up)) ||
        (ev.kind === 'route' && ev.action === 'del' && (this.planes.some((p) => p.link.index === ev.route.ifindex) || (this.cfg.directRouting && ev.route.ifindex === this.ext.index))),
      onDrift,
      this.log,
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

