import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { diffKernelState, describeOp, emptyKernelState, addRoute, addNeigh, addFdb } from '../backend/index.js';
import { silentLogger } from '../common/index.js';
import { ConfigError, type Lease, parseCidr, parseNetworkConfig } from '../ipam/index.js';
import type { Link, Netlink } from '../netlink/index.js';
import { desiredVxlanState, parseVxlanConfig, renderVxlanConfig, stableVtepMac, vxlanBackend } from '../vxlan/index.js';

const peer = (sn: string, ip: string, mac: string, extra: Partial<Lease['attrs']> = {}): Lease => ({
  subnet: parseCidr(sn),
  attrs: { publicIP: ip, backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: mac }, ...extra },
  reservation: false,
});
const plane = { family: 4 as const, devIndex: 10, extIndex: 2, extCidrs: ['192.0.2.11/24'], directRouting: false };

describe('vxlan config', () => {
  it('fills flannel defaults', () => {
    expect(renderVxlanConfig(parseVxlanConfig({ Type: 'vxlan' }))).toEqual({ Type: 'vxlan', VNI: 1, Port: 8472, GBP: false, Learning: false, DirectRouting: false });
    expect(parseVxlanConfig({ type: 'vxlan', vni: 42, port: 4789, directrouting: true })).toMatchObject({ vni: 42, port: 4789, directRouting: true });
  });
  it.each([
    [{ VNI: -1 }, 'Backend.VNI'],
    [{ VNI: 2 ** 24 }, 'Backend.VNI'],
    [{ Port: 70000 }, 'Backend.Port'],
    [{ DirectRouting: 'yes' }, 'Backend.DirectRouting'],
    [{ MTU: 100 }, 'Backend.MTU'],
  ])('rejects %j naming %s', (raw, path) => {
    expect(() => parseVxlanConfig({ Type: 'vxlan', ...raw })).toThrow(ConfigError);
    try {
      parseVxlanConfig({ Type: 'vxlan', ...raw });
    } catch (e) {
      expect((e as ConfigError).path).toBe(path);
    }
  });
});

describe('VTEP MAC', () => {
  it('is stable for a node, different between nodes, unicast and locally administered', () => {
    const m = stableVtepMac(1, '192.0.2.11');
    expect(m).toBe(stableVtepMac(1, '192.0.2.11'));
    expect(m).not.toBe(stableVtepMac(1, '192.0.2.12'));
    expect(m).not.toBe(stableVtepMac(2, '192.0.2.11'));
    const first = parseInt(m.slice(0, 2), 16);
    expect(first & 1).toBe(0);
    expect(first & 2).toBe(2);
  });
});

describe('desired vxlan state', () => {
  it('programs neighbour, FDB and an onlink route per peer', () => {
    const { state, skipped } = desiredVxlanState([peer('10.5.3.0/24', '192.0.2.13', 'AA:bb:cc:00:00:03')], plane);
    expect(skipped).toEqual([]);
    expect([...state.routes.values()]).toEqual([{ dst: '10.5.3.0/24', gw: '10.5.3.0', ifindex: 10, onlink: true }]);
    expect([...state.neighs.values()]).toEqual([{ ip: '10.5.3.0', mac: 'aa:bb:cc:00:00:03', ifindex: 10 }]);
    expect([...state.fdbs.values()]).toEqual([{ mac: 'aa:bb:cc:00:00:03', dst: '192.0.2.13', ifindex: 10 }]);
  });
  it('routes directly via the peer when DirectRouting and on our segment', () => {
    const peers = [peer('10.5.3.0/24', '192.0.2.13', 'aa:bb:cc:00:00:03'), peer('10.5.4.0/24', '198.51.100.4', 'aa:bb:cc:00:00:04')];
    const { state } = desiredVxlanState(peers, { ...plane, directRouting: true });
    expect([...state.routes.values()]).toEqual([
      { dst: '10.5.3.0/24', gw: '192.0.2.13', ifindex: 2 },
      { dst: '10.5.4.0/24', gw: '10.5.4.0', ifindex: 10, onlink: true },
    ]);
    expect(state.neighs.size).toBe(1);
  });
  it('skips peers of another backend or without a usable VtepMAC, with a reason', () => {
    const { state, skipped } = desiredVxlanState(
      [
        peer('10.5.3.0/24', '192.0.2.13', 'aa:bb:cc:00:00:03', { backendType: 'host-gw' }),
        peer('10.5.4.0/24', '192.0.2.14', 'not-a-mac'),
        { subnet: parseCidr('10.5.5.0/24'), attrs: { publicIP: '192.0.2.15' }, reservation: false },
      ],
      plane,
    );
    expect(state.routes.size).toBe(0);
    expect(skipped.map((s) => s.subnet)).toEqual(['10.5.3.0/24', '10.5.4.0/24', '10.5.5.0/24']);
    expect(skipped[2]!.reason).toContain('udp');
  });
});

describe('kernel state diff', () => {
  it('adds neighbours and FDB before routes, deletes routes first, replaces changed entries', () => {
    const want = emptyKernelState();
    addNeigh(want, { ip: '10.5.3.0', mac: 'aa:bb:cc:00:00:03', ifindex: 10 });
    addFdb(want, { mac: 'aa:bb:cc:00:00:03', dst: '192.0.2.13', ifindex: 10 });
    addRoute(want, { dst: '10.5.3.0/24', gw: '10.5.3.0', ifindex: 10, onlink: true });
    addNeigh(want, { ip: '10.5.4.0', mac: 'aa:bb:cc:00:00:44', ifindex: 10 });
    const have = emptyKernelState();
    addNeigh(have, { ip: '10.5.4.0', mac: 'aa:bb:cc:00:00:04', ifindex: 10 });
    addRoute(have, { dst: '10.5.9.0/24', gw: '10.5.9.0', ifindex: 10, onlink: true });
    addNeigh(have, { ip: '10.5.9.0', mac: 'aa:bb:cc:00:00:09', ifindex: 10 });
    addFdb(have, { mac: 'aa:bb:cc:00:00:09', dst: '192.0.2.19', ifindex: 10 });
    expect(diffKernelState(want, have).map((o) => o.op)).toEqual([
      'del-route',
      'del-neigh',
      'del-fdb',
      'add-neigh',
      'replace-neigh',
      'add-fdb',
      'add-route',
    ]);
    expect(diffKernelState(want, want)).toEqual([]);
  });
  it('replaces a route whose gateway changed', () => {
    const want = emptyKernelState();
    addRoute(want, { dst: '10.5.3.0/24', gw: '10.5.3.0', ifindex: 10, onlink: true });
    const have = emptyKernelState();
    addRoute(have, { dst: '10.5.3.0/24', gw: '192.0.2.13', ifindex: 2 });
    const ops = diffKernelState(want, have);
    expect(ops.map(describeOp)).toEqual(['replace-route route 10.5.3.0/24 via 10.5.3.0 dev #10 onlink']);
  });
});

/**
 * The netlink calls the vxlan backend makes, on devices it creates: every call is recorded by name
 * (dumps too, so a test can tell a partial sync from a full one); writes are recorded with their argument.
 */
function fakeNetlink() {
  const links = new Map<string, Link>();
  let next = 10;
  const calls: string[] = [];
  // Adds resolve to nothing, deletes to whether something went: `true` as never fits both.
  const write = (name: string) => async (x: unknown): Promise<never> => {
    calls.push(`${name} ${JSON.stringify(x)}`);
    return true as never;
  };
  const nl: Partial<Netlink> = {
    ensureVxlan: async (spec) => {
      calls.push(`ensureVxlan ${spec.name}`);
      const l: Link = { index: next++, name: spec.name, kind: 'vxlan', mac: spec.mac, mtu: spec.mtu ?? 1450, up: false };
      links.set(spec.name, l);
      return l;
    },
    setLink: async (dev) => {
      for (const [n, l] of links) if (l.index === dev) links.set(n, { ...l, up: true });
    },
    getLink: async (dev) => (typeof dev === 'string' ? links.get(dev) : undefined),
    dumpLinks: async () => [...links.values()],
    deleteLink: write('deleteLink'),
    dumpAddrs: async (f) => (calls.push(`dumpAddrs ${f?.ifindex}`), f?.ifindex === 2 ? [{ cidr: f.family === 4 ? '192.0.2.11/24' : '2001:db8::11/64', ifindex: 2, family: f.family! }] : []),
    addAddr: write('addAddr'),
    deleteAddr: write('deleteAddr'),
    dumpRoutes: async () => (calls.push('dumpRoutes'), []),
    dumpNeighs: async () => (calls.push('dumpNeighs'), []),
    dumpFdb: async () => (calls.push('dumpFdb'), []),
    addRoute: write('addRoute'),
    replaceRoute: write('replaceRoute'),
    deleteRoute: write('deleteRoute'),
    addNeigh: write('addNeigh'),
    replaceNeigh: write('replaceNeigh'),
    deleteNeigh: write('deleteNeigh'),
    addFdb: write('addFdb'),
    deleteFdb: write('deleteFdb'),
    // Every batched write refused (EAGAIN): the converger runs each through its single call, recorded above.
    writeBatch: async (ws: readonly unknown[]) => ws.map(() => constants.errno.EAGAIN),
  };
  return { nl: nl as Netlink, calls, links };
}

describe('vxlan network', () => {
  const cfg = parseNetworkConfig('{"Network":"10.5.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:5::/48","Backend":{"Type":"vxlan"}}');
  const ext = {
    name: 'eth0',
    index: 2,
    mtu: 1500,
    addrs: new Map([
      [4, { local: '192.0.2.11', publicIP: '192.0.2.11' }],
      [6, { local: '2001:db8::11', publicIP: '2001:db8::11' }],
    ] as const),
  };
  const dual = (n: number): Lease => ({
    subnet: parseCidr(`10.5.${n}.0/24`),
    ipv6Subnet: parseCidr(`fd00:5:${n}::/64`),
    attrs: {
      publicIP: `192.0.2.${n}`,
      publicIPv6: `2001:db8::${n}`,
      backendType: 'vxlan',
      backendData: { VNI: 1, VtepMAC: `aa:00:00:00:04:0${n}` },
      backendV6Data: { VNI: 1, VtepMAC: `aa:00:00:00:06:0${n}` },
    },
    reservation: false,
  });
  const kinds = (calls: string[]) => calls.map((c) => c.split(' ')[0]!);

  it('makes one device per family, publishes both, and keeps lease events partial (no dumps)', async () => {
    const { nl, calls, links } = fakeNetlink();
    const net = await vxlanBackend.create({ cfg, ext, nl, log: silentLogger }, vxlanBackend.parseConfig(cfg.backend));
    expect([...links.keys()]).toEqual(['flannel.1', 'flannel-v6.1']);
    expect(net.attrs).toEqual({
      publicIP: '192.0.2.11',
      publicIPv6: '2001:db8::11',
      backendType: 'vxlan',
      backendData: { VNI: 1, VtepMAC: stableVtepMac(1, '192.0.2.11', 4) },
      backendV6Data: { VNI: 1, VtepMAC: stableVtepMac(1, '2001:db8::11', 6) },
    });
    expect(net.mtu).toBe(1430);
    calls.length = 0;
    await net.setLease(dual(9));
    expect(calls.filter((c) => c.startsWith('addAddr'))).toEqual(['addAddr {"cidr":"10.5.9.0/32","dev":10}', 'addAddr {"cidr":"fd00:5:9::/128","dev":11}']);

    calls.length = 0;
    await net.reconcile([dual(1)]);
    expect(kinds(calls).filter((c) => c.startsWith('dump'))).toEqual(['dumpAddrs', 'dumpRoutes', 'dumpNeighs', 'dumpFdb', 'dumpAddrs', 'dumpRoutes', 'dumpNeighs', 'dumpFdb']);
    expect(calls).toContain('addRoute {"dst":"fd00:5:1::/64","gw":"fd00:5:1::","ifindex":11,"onlink":true}');
    expect(net.objects?.()).toEqual({ route: 2, neigh: 2, fdb: 2 });

    // A lease event: only its entries, and no dump of routes, neighbours or FDB.
    calls.length = 0;
    await net.reconcile([dual(1), dual(2)], { added: [dual(2)], removed: [] });
    expect(kinds(calls)).toEqual(['dumpAddrs', 'addNeigh', 'addFdb', 'addRoute', 'dumpAddrs', 'addNeigh', 'addFdb', 'addRoute']);
    expect(net.objects?.()).toEqual({ route: 4, neigh: 4, fdb: 4 });

    // flannel-v6.1 deleted by hand: recreated, and that family alone read and synced in full.
    links.delete('flannel-v6.1');
    calls.length = 0;
    await net.reconcile([dual(1), dual(2), dual(3)], { added: [dual(3)], removed: [] });
    expect(calls).toContain('addAddr {"cidr":"fd00:5:9::/128","dev":12}');
    expect(kinds(calls)).toEqual([
      'dumpAddrs', 'addNeigh', 'addFdb', 'addRoute',
      'ensureVxlan', 'dumpAddrs', 'addAddr', 'dumpAddrs', 'dumpRoutes', 'dumpNeighs', 'dumpFdb',
      'addNeigh', 'addNeigh', 'addNeigh', 'addFdb', 'addFdb', 'addFdb', 'addRoute', 'addRoute', 'addRoute',
    ]);
  });
});
