import { describe, expect, it } from 'vitest';
import { silentLogger } from '../common/index.js';
import { type Lease, parseCidr, parseNetworkConfig } from '../ipam/index.js';
import { desiredHostGwState, hostGwBackend } from '../hostgw/index.js';
import type { Netlink, Route } from '../netlink/index.js';

const lease = (sn: string, ip: string, backendType = 'host-gw'): Lease => ({ subnet: parseCidr(sn), attrs: { publicIP: ip, backendType }, reservation: false });
const plane = { family: 4 as const, extIndex: 2, extName: 'eth0', extCidrs: ['192.0.2.11/24'] };

describe('host-gw desired routes', () => {
  it('routes each peer subnet via its public IP on the underlay device', () => {
    const { state, skipped } = desiredHostGwState([lease('10.5.3.0/24', '192.0.2.13'), lease('10.5.4.0/24', '192.0.2.14')], plane);
    expect(skipped).toEqual([]);
    expect([...state.routes.values()]).toEqual([
      { dst: '10.5.3.0/24', gw: '192.0.2.13', ifindex: 2 },
      { dst: '10.5.4.0/24', gw: '192.0.2.14', ifindex: 2 },
    ]);
  });
  it('refuses a peer off our L2 segment, naming it, and skips other backends', () => {
    const { state, skipped } = desiredHostGwState([lease('10.5.3.0/24', '198.51.100.9'), lease('10.5.4.0/24', '192.0.2.14', 'vxlan')], plane);
    expect(state.routes.size).toBe(0);
    expect(skipped[0]).toMatchObject({ subnet: '10.5.3.0/24', peer: '198.51.100.9' });
    expect(skipped[0]!.reason).toContain('not directly reachable on eth0 (192.0.2.11/24)');
    expect(skipped[1]!.reason).toContain('vxlan is not host-gw');
  });
});

describe('host-gw network', () => {
  it('reads the routes on full syncs only, keeps lease events partial, and owns other backends\' peer routes', async () => {
    const calls: string[] = [];
    // A route vxlan left behind (via flannel.1), and the node's own subnet on cni0 (no gateway: never ours).
    let routes: Route[] = [
      { dst: '10.5.9.0/24', gw: '10.5.9.0', ifindex: 9, onlink: true },
      { dst: '10.5.1.0/24', ifindex: 5 },
    ];
    const nl: Partial<Netlink> = {
      dumpLinks: async () => [],
      dumpAddrs: async () => (calls.push('dumpAddrs'), [{ cidr: '192.0.2.11/24', ifindex: 2, family: 4 }]),
      dumpRoutes: async () => (calls.push('dumpRoutes'), routes),
      addRoute: async (r) => void calls.push(`addRoute ${r.dst} via ${r.gw}`),
      deleteRoute: async (r) => {
        calls.push(`deleteRoute ${r.dst}`);
        routes = routes.filter((x) => x.dst !== r.dst);
        return true;
      },
      // The converger's path: its writes as one batch, all done.
      writeBatch: async (ws) =>
        ws.map((w) => {
          if (w.op === 'addRoute') calls.push(`addRoute ${w.route.dst} via ${w.route.gw}`);
          else if (w.op === 'deleteRoute') {
            calls.push(`deleteRoute ${w.route.dst}`);
            routes = routes.filter((x) => x.dst !== w.route.dst);
          } else calls.push(`unexpected ${w.op}`);
          return 0;
        }),
    };
    const cfg = parseNetworkConfig('{"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}}');
    const ext = { name: 'eth0', index: 2, mtu: 1500, addrs: new Map([[4, { local: '192.0.2.11', publicIP: '192.0.2.11' }]] as const) };
    const net = await hostGwBackend.create({ cfg, ext, nl: nl as Netlink, log: silentLogger }, {});
    expect(net.attrs).toEqual({ publicIP: '192.0.2.11', backendType: 'host-gw' });
    expect(net.mtu).toBe(1500);

    await net.reconcile([lease('10.5.3.0/24', '192.0.2.13')]);
    expect(calls).toEqual(['dumpAddrs', 'dumpRoutes', 'deleteRoute 10.5.9.0/24', 'addRoute 10.5.3.0/24 via 192.0.2.13']);
    calls.length = 0;
    const b = lease('10.5.4.0/24', '192.0.2.14');
    await net.reconcile([lease('10.5.3.0/24', '192.0.2.13'), b], { added: [b], removed: [] });
    expect(calls).toEqual(['dumpAddrs', 'addRoute 10.5.4.0/24 via 192.0.2.14']);
    expect(net.objects?.()).toEqual({ route: 2 });
  });
});
