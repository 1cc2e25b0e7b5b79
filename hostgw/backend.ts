// The host-gw backend: no device and no encapsulation, a plain route per peer through the underlay,
// at line rate. Reconciled like vxlan: the routes we own on the underlay device converge to the leases.
import {
  type BackendContext,
  type BackendFactory,
  type ExternalInterface,
  type KernelState,
  type LeaseChanges,
  type Network,
  Converger,
  addRoute,
  emptyKernelState,
  isPeerRoute,
  removeForeignDevices,
  watchDrift,
} from '../backend/index.js';
import { FlannelError, type Logger } from '../common/index.js';
import { type Cidr, type Family, type Lease, type LeaseAttrs } from '../ipam/index.js';
import type { Netlink } from '../netlink/index.js';
import { desiredHostGwState, type SkippedPeer } from './desired.js';

export class HostGwError extends FlannelError {
  readonly code = 'HOST_GW';
  override readonly transient = true;
}

export const hostGwBackend: BackendFactory<Record<string, never>> = {
  type: 'host-gw',
  parseConfig: () => ({}),
  renderConfig: () => ({ Type: 'host-gw' }),
  create: async (ctx: BackendContext) => {
    await removeForeignDevices(ctx.nl, [], ctx.log);
    return new HostGwNetwork(ctx.nl, ctx.ext, networksOf(ctx), ctx.log.child({ dev: ctx.ext.name }));
  },
};

function networksOf(ctx: BackendContext): Map<Family, Cidr> {
  const m = new Map<Family, Cidr>();
  if (ctx.cfg.v4) m.set(4, ctx.cfg.v4.network);
  if (ctx.cfg.v6) m.set(6, ctx.cfg.v6.network);
  return m;
}

export class HostGwNetwork implements Network {
  readonly attrs: LeaseAttrs;
  readonly mtu: number;
  private readonly refused = new Set<string>();
  private readonly sync = new Map<Family, Converger>();

  constructor(
    private readonly nl: Netlink,
    private readonly ext: ExternalInterface,
    private readonly networks: Map<Family, Cidr>,
    private readonly log: Logger,
  ) {
    this.mtu = ext.mtu;
    this.attrs = {
      ...(networks.has(4) && ext.publicIP && { publicIP: ext.publicIP }),
      ...(networks.has(6) && ext.publicIPv6 && { publicIPv6: ext.publicIPv6 }),
      backendType: 'host-gw',
    };
  }

  async setLease(): Promise<void> {
    // Nothing local to configure: the subnet lives on the bridge that docker or the CNI plugin makes.
  }

  objects(): Readonly<Record<string, number>> {
    let route = 0;
    for (const c of this.sync.values()) route += c.sizes().route;
    return { route };
  }

  async reconcile(peers: readonly Lease[], changes?: LeaseChanges): Promise<void> {
    let failed = 0;
    for (const [family, net] of this.networks) {
      let sync = this.sync.get(family);
      if (!sync) this.sync.set(family, (sync = new Converger(this.nl, this.log)));
      const plane = {
        family,
        extIndex: this.ext.index,
        extName: this.ext.name,
        extCidrs: (await this.nl.dumpAddrs({ family, ifindex: this.ext.index })).map((a) => a.cidr),
      };
      const desired = (leases: readonly Lease[]) => {
        const { state, skipped } = desiredHostGwState(leases, plane);
        this.logSkipped(skipped);
        return state;
      };
      const res =
        changes && sync.ready
          ? await sync.partial(desired(changes.removed), desired(changes.added))
          : await sync.full(desired(peers), await this.owned(family, net));
      failed += res.failed;
    }
    if (failed) throw new HostGwError(`${failed} route updates failed (see the log); the next sync reads the kernel again`);
  }

  private logSkipped(skipped: readonly SkippedPeer[]): void {
    for (const s of skipped) {
      const k = `${s.subnet} ${s.reason}`;
      if (this.refused.has(k)) continue;
      this.refused.add(k);
      if (s.peer) this.log.error({ subnet: s.subnet, peer: s.peer, reason: s.reason }, 'refusing peer');
      else this.log.warn({ subnet: s.subnet, reason: s.reason }, 'skipping peer');
    }
  }

  private async owned(family: Family, net: Cidr): Promise<KernelState> {
    const s = emptyKernelState();
    for (const r of await this.nl.dumpRoutes({ family })) {
      if (isPeerRoute(r, net)) addRoute(s, r);
    }
    return s;
  }

  watchDrift(signal: AbortSignal, onDrift: () => void): Promise<void> {
    return watchDrift(this.nl, signal, (ev) => ev.kind === 'route' && ev.action === 'del' && ev.route.ifindex === this.ext.index, onDrift, this.log);
  }

  async close(): Promise<void> {
    // Routes stay: traffic keeps flowing while flanneld restarts.
  }
}
