// The host-gw backend: no device and no encapsulation, a plain route per peer through the underlay,
// at line rate. A route network (backend/route-network.ts) whose families turn each peer lease into
// `<subnet> via <PublicIP>`: the routes we own on the underlay device converge to the leases.
import {
  type BackendContext,
  type BackendFactory,
  type ExternalInterface,
  type LeaseChanges,
  type Network,
  RouteNetwork,
  ownedRoutes,
  publishedIPs,
  removeForeignDevices,
  watchDrift,
} from '../backend/index.js';
import { FlannelError, type Logger } from '../common/index.js';
import { type FamilyNetwork, type Lease, type LeaseAttrs, configFamilies } from '../ipam/index.js';
import type { Netlink } from '../netlink/index.js';
import { desiredHostGwState } from './desired.js';

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
    return new HostGwNetwork(ctx.nl, ctx.ext, configFamilies(ctx.cfg), ctx.log.child({ dev: ctx.ext.name }));
  },
};

export class HostGwNetwork implements Network {
  readonly attrs: LeaseAttrs;
  readonly mtu: number;
  private readonly routes: RouteNetwork;

  constructor(
    private readonly nl: Netlink,
    private readonly ext: ExternalInterface,
    networks: readonly FamilyNetwork[],
    private readonly log: Logger,
  ) {
    this.mtu = ext.mtu;
    this.attrs = { ...publishedIPs(ext), backendType: 'host-gw' };
    this.routes = new RouteNetwork(
      nl,
      log,
      networks.map(({ family, network }) => ({
        family,
        prepare: async () => {
          const plane = { family, extIndex: ext.index, extName: ext.name, extCidrs: (await nl.dumpAddrs({ family, ifindex: ext.index })).map((a) => a.cidr) };
          return { desired: (leases: readonly Lease[]) => desiredHostGwState(leases, plane), owned: () => ownedRoutes(nl, network) };
        },
      })),
    );
  }

  async setLease(): Promise<void> {
    // Nothing local to configure: the subnet lives on the bridge that docker or the CNI plugin makes.
  }

  objects(): Readonly<Record<string, number>> {
    return { route: this.routes.sizes().route };
  }

  async reconcile(peers: readonly Lease[], changes?: LeaseChanges): Promise<void> {
    const failed = await this.routes.converge(peers, changes);
    if (failed) throw new HostGwError(`${failed} route updates failed (see the log); the next sync reads the kernel again`);
  }

  watchDrift(signal: AbortSignal, onDrift: () => void): Promise<void> {
    return watchDrift(this.nl, signal, (ev) => ev.kind === 'route' && ev.action === 'del' && ev.route.ifindex === this.ext.index, onDrift, this.log);
  }

  async close(): Promise<void> {
    // Routes stay: traffic keeps flowing while flanneld restarts.
  }
}
