import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { ExternalInterface } from '../backend/index.js';
import { silentLogger } from '../common/index.js';
import { ConfigError, type Lease, parseCidr, parseNetworkConfig, renderLeaseAttrs } from '../ipam/index.js';
import type { Addr, Link, Netlink, Route } from '../netlink/index.js';
import {
  classifyPacket,
  COUNTER_NAMES,
  createUdpBackend,
  type DataPath,
  type DataPathStats,
  encodePeerTable,
  type PeerTable,
  parseUdpConfig,
  renderUdpConfig,
  udpPeerTable,
} from '../udp/index.js';

const NET = parseCidr('10.5.0.0/16');
const OWN = parseCidr('10.5.72.0/24');
const udpPeer = (sn: string, ip: string | undefined, extra: Partial<Lease['attrs']> = {}): Lease => ({
  subnet: parseCidr(sn),
  attrs: { ...(ip && { publicIP: ip }), ...extra },
  reservation: false,
});

describe('udp config', () => {
  it("fills flannel's default port and renders it", () => {
    expect(parseUdpConfig({ Type: 'udp' })).toEqual({ port: 8285 });
    expect(parseUdpConfig({ Type: 'udp', Port: 0 })).toEqual({ port: 8285 });
    expect(parseUdpConfig({ type: 'udp', port: 9000 })).toEqual({ port: 9000 });
    expect(renderUdpConfig(parseUdpConfig({ Type: 'udp' }))).toEqual({ Type: 'udp', Port: 8285 });
  });
  it('is the default backend when the config has none', () => {
    expect(parseNetworkConfig('{"Network":"10.5.0.0/16"}').backendType).toBe('udp');
  });
  it.each([[{ Port: 70000 }], [{ Port: -1 }], [{ Port: 1.5 }], [{ Port: '8285' }], [{ port: true }]])('rejects %j naming Backend.Port', (raw) => {
    let err: unknown;
    try {
      parseUdpConfig({ Type: 'udp', ...raw });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).path).toBe('Backend.Port');
  });
});

describe('udp peer table', () => {
  it('maps each udp peer subnet to its PublicIP, sorted, our own subnet recorded', () => {
    const { table, skipped } = udpPeerTable([udpPeer('10.5.9.0/24', '192.0.2.13'), udpPeer('10.5.3.0/24', '192.0.2.12')], OWN, NET);
    expect(skipped).toEqual([]);
    expect(table).toEqual({
      own: { subnet: '10.5.72.0', prefixLen: 24 },
      entries: [
        { subnet: '10.5.3.0', prefixLen: 24, peerIP: '192.0.2.12' },
        { subnet: '10.5.9.0', prefixLen: 24, peerIP: '192.0.2.13' },
      ],
    });
  });
  it('skips, with a reason, peers of other backends, without an IPv4 PublicIP, our own subnet, outside the network, duplicates', () => {
    const { table, skipped } = udpPeerTable(
      [
        udpPeer('10.5.3.0/24', '192.0.2.12', { backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: 'aa:bb:cc:dd:ee:ff' } }),
        udpPeer('10.5.4.0/24', '192.0.2.14', { backendType: 'host-gw' }),
        udpPeer('10.5.5.0/24', undefined, { publicIPv6: 'fd00::5' }),
        udpPeer('10.5.72.0/24', '192.0.2.99'),
        udpPeer('10.6.1.0/24', '192.0.2.15'),
        udpPeer('10.5.6.0/24', '192.0.2.16'),
        udpPeer('10.5.6.0/24', '192.0.2.17'),
        { ipv6Subnet: parseCidr('fd00:0:0:1::/64'), attrs: { publicIPv6: 'fd00::1' }, reservation: false },
      ],
      OWN,
      NET,
    );
    expect(table.entries).toEqual([{ subnet: '10.5.6.0', prefixLen: 24, peerIP: '192.0.2.16' }]);
    expect(skipped).toEqual([
      { subnet: '10.5.3.0/24', reason: 'backend vxlan is not udp' },
      { subnet: '10.5.4.0/24', reason: 'backend host-gw is not udp' },
      { subnet: '10.5.5.0/24', reason: 'no IPv4 PublicIP' },
      { subnet: '10.5.72.0/24', reason: 'overlaps our own subnet' },
      { subnet: '10.6.1.0/24', reason: 'outside the network 10.5.0.0/16' },
      { subnet: '10.5.6.0/24', reason: 'duplicate subnet' },
    ]);
  });
  it('has no own subnet before the lease', () => {
    expect(udpPeerTable([udpPeer('10.5.3.0/24', '192.0.2.12')], undefined, NET).table.own).toBeUndefined();
  });
  it('encodes for the native loop as [ownNet, ownPrefix, (net, prefix, peer)...]', () => {
    const { table } = udpPeerTable([udpPeer('10.5.3.0/24', '192.0.2.12')], OWN, NET);
    expect([...encodePeerTable(table)]).toEqual([0x0a054800, 24, 0x0a050300, 24, 0xc000020c]);
    expect([...encodePeerTable({ entries: [] })]).toEqual([0, 255]);
  });
  it('writes a lease value without BackendType, as flannel does for udp', () => {
    expect(JSON.parse(renderLeaseAttrs({ publicIP: '192.0.2.11' }))).toEqual({ PublicIP: '192.0.2.11', PublicIPv6: null });
  });
});

// ---------------------------------------------------------------- the native classifier

function ipv4(dst: string, opts: { payload?: number; totLen?: number; ihl?: number; version?: number } = {}): Uint8Array {
  const ihl = opts.ihl ?? 5;
  const len = 20 + (opts.payload ?? 8);
  const p = new Uint8Array(len);
  p[0] = ((opts.version ?? 4) << 4) | ihl;
  const tot = opts.totLen ?? len;
  p[2] = tot >> 8;
  p[3] = tot & 0xff;
  p[8] = 64;
  p[9] = 1;
  p.set([10, 5, 72, 2], 12);
  p.set(dst.split('.').map(Number), 16);
  return p;
}

const TABLE: PeerTable = {
  own: { subnet: '10.5.72.0', prefixLen: 24 },
  entries: [
    { subnet: '10.5.3.0', prefixLen: 24, peerIP: '192.0.2.12' },
    { subnet: '10.5.9.0', prefixLen: 24, peerIP: '192.0.2.13' },
    { subnet: '10.7.0.0', prefixLen: 16, peerIP: '192.0.2.20' },
    { subnet: '10.7.8.0', prefixLen: 24, peerIP: '192.0.2.21' },
  ],
};

describe('native packet classifier', () => {
  it('forwards a full IPv4 packet to the peer holding its destination (longest prefix)', () => {
    expect(classifyPacket('tx', ipv4('10.5.3.7'), TABLE)).toEqual({ verdict: 'forward', peer: '192.0.2.12' });
    expect(classifyPacket('tx', ipv4('10.5.9.255'), TABLE)).toEqual({ verdict: 'forward', peer: '192.0.2.13' });
    expect(classifyPacket('tx', ipv4('10.7.8.1'), TABLE)).toEqual({ verdict: 'forward', peer: '192.0.2.21' });
    expect(classifyPacket('tx', ipv4('10.7.9.1'), TABLE)).toEqual({ verdict: 'forward', peer: '192.0.2.20' });
  });
  it('drops our own subnet and unknown destinations on the way out', () => {
    expect(classifyPacket('tx', ipv4('10.5.72.9'), TABLE).verdict).toBe('local');
    expect(classifyPacket('tx', ipv4('10.5.4.1'), TABLE).verdict).toBe('unknown');
    expect(classifyPacket('tx', ipv4('10.5.4.1'), { entries: [] }).verdict).toBe('unknown');
  });
  it('accepts on the way in only packets for our own subnet', () => {
    expect(classifyPacket('rx', ipv4('10.5.72.9'), TABLE).verdict).toBe('forward');
    expect(classifyPacket('rx', ipv4('10.5.3.7'), TABLE).verdict).toBe('notLocal');
    expect(classifyPacket('rx', ipv4('10.5.72.9'), { entries: [] }).verdict).toBe('notLocal');
  });
  it.each([
    ['an empty datagram', new Uint8Array(0), 'truncated'],
    ['a short random payload', Uint8Array.from([0x13, 0x37, 0xde, 0xad, 0xbe]), 'notIPv4'],
    ['an IPv6 packet', ipv4('10.5.72.9', { version: 6 }), 'notIPv4'],
    ['half an IPv4 header', ipv4('10.5.72.9').slice(0, 12), 'truncated'],
    ['a header length beyond the data', ipv4('10.5.72.9', { ihl: 15, payload: 0 }), 'truncated'],
    ['a header length below 5 words', ipv4('10.5.72.9', { ihl: 4 }), 'badLength'],
    ['a total length beyond the data', ipv4('10.5.72.9', { totLen: 200 }), 'truncated'],
    ['a total length short of the data', ipv4('10.5.72.9', { totLen: 24 }), 'badLength'],
  ])('drops %s', (_what, packet, verdict) => {
    expect(classifyPacket('rx', packet, TABLE).verdict).toBe(verdict);
    expect(classifyPacket('tx', packet, TABLE).verdict).toBe(verdict);
  });
  it('survives random garbage', () => {
    for (let i = 0; i < 2000; i++) {
      const p = Uint8Array.from({ length: Math.floor(Math.random() * 80) }, () => Math.floor(Math.random() * 256));
      expect(['truncated', 'notIPv4', 'badLength', 'notLocal', 'forward']).toContain(classifyPacket('rx', p, TABLE).verdict);
    }
  });
});

// ---------------------------------------------------------------- the backend against fakes

class FakeDataPath implements DataPath {
  readonly device = 'flannel0';
  tables: PeerTable[] = [];
  running = true;
  closed = false;
  setTable(t: PeerTable): number {
    this.tables.push(t);
    return t.entries.length;
  }
  stats(): DataPathStats {
    const zero = Object.fromEntries(COUNTER_NAMES.map((k) => [k, 0])) as unknown as DataPathStats;
    return { ...zero, txPackets: 3, tableEntries: this.tables.at(-1)?.entries.length ?? 0, running: this.running && !this.closed, tunErrno: 0, sockErrno: 0, gso: true, gro: true };
  }
  close(): void {
    this.closed = true;
  }
}

/** Just the netlink calls the udp backend makes, on one device. */
function fakeNetlink() {
  const state = {
    link: { index: 7, name: 'flannel0', mtu: 1500, up: false } as Link | undefined,
    // A vxlan device and a peer route a previous backend left behind.
    foreign: [{ index: 9, name: 'flannel.1', mtu: 1450, up: true, kind: 'vxlan' }] as Link[],
    addrs: [] as string[],
    routes: [{ dst: '10.5.9.0/24', gw: '10.5.9.0', ifindex: 9, onlink: true }] as Route[],
    calls: [] as string[],
  };
  const nl: Partial<Netlink> = {
    // Every batched write refused (EAGAIN): the converger runs each through its single call, recorded below.
    writeBatch: async (ws) => ws.map(() => constants.errno.EAGAIN),
    getLink: async () => state.link,
    dumpLinks: async () => (state.link ? [state.link, ...state.foreign] : state.foreign),
    deleteLink: async (dev) => {
      state.calls.push(`deleteLink ${String(dev)}`);
      state.foreign = state.foreign.filter((l) => l.index !== dev);
      return true;
    },
    setLink: async (_dev, c) => {
      state.calls.push(`setLink ${JSON.stringify(c)}`);
      if (state.link) state.link = { ...state.link, ...(c.mtu !== undefined && { mtu: c.mtu }), ...(c.up !== undefined && { up: c.up }) };
    },
    dumpAddrs: async () => state.addrs.map((cidr): Addr => ({ cidr, ifindex: 7, family: 4 })),
    addAddr: async (a) => {
      state.calls.push(`addAddr ${a.cidr}`);
      state.addrs.push(a.cidr);
      // The kernel adds the prefix route with the address.
      state.routes.push({ dst: '10.5.0.0/16', ifindex: 7, src: a.cidr.split('/')[0]! });
    },
    deleteAddr: async (a) => {
      state.calls.push(`deleteAddr ${a.cidr}`);
      state.addrs = state.addrs.filter((x) => x !== a.cidr);
      return true;
    },
    dumpRoutes: async () => state.routes,
    addRoute: async (r) => {
      state.calls.push(`addRoute ${r.dst} src ${r.src}`);
      state.routes.push(r);
    },
    deleteRoute: async (r) => {
      state.calls.push(`deleteRoute ${r.dst}`);
      state.routes = state.routes.filter((x) => x.dst !== r.dst);
      return true;
    },
  };
  return { nl: nl as Netlink, state };
}

const EXT: ExternalInterface = { name: 'eth0', index: 2, mtu: 1500, addrs: new Map([[4, { local: '192.0.2.11', publicIP: '192.0.2.11' }]]) };

describe('udp backend', () => {
  it('refuses IPv6 before opening anything', async () => {
    let opened = 0;
    const b = createUdpBackend({ openDataPath: () => (opened++, new FakeDataPath()) });
    const cfg = parseNetworkConfig('{"Network":"10.5.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:5::/56","Backend":{"Type":"udp"}}');
    const err = await b.create({ cfg, ext: EXT, nl: fakeNetlink().nl, log: silentLogger }, b.parseConfig(cfg.backend)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).path).toBe('EnableIPv6');
    expect((err as ConfigError).message).toMatch(/IPv4 only/);
    expect(opened).toBe(0);
  });

  it('sets the device up with MTU − 28, publishes PublicIP only, converges address, route and table', async () => {
    const dps: FakeDataPath[] = [];
    const opts: unknown[] = [];
    const b = createUdpBackend({ openDataPath: (o) => (opts.push(o), dps.push(new FakeDataPath()), dps.at(-1)!) });
    const { nl, state } = fakeNetlink();
    const cfg = parseNetworkConfig('{"Network":"10.5.0.0/16","Backend":{"Type":"udp","Port":8300}}');
    const net = await b.create({ cfg, ext: EXT, nl, log: silentLogger }, b.parseConfig(cfg.backend));
    expect(opts).toEqual([{ device: 'flannel0', bindIp: '192.0.2.11', port: 8300 }]);
    expect(net.mtu).toBe(1472);
    expect(state.link).toMatchObject({ mtu: 1472, up: true });
    expect(net.attrs).toEqual({ publicIP: '192.0.2.11' });
    // A previous backend's device is removed; its peer route goes with the first full sync.
    expect(state.calls).toContain('deleteLink 9');

    state.addrs.push('10.5.1.0/16'); // an old lease's address
    await net.setLease({ subnet: OWN, attrs: net.attrs, reservation: false });
    expect(state.addrs).toEqual(['10.5.72.0/16']);
    expect(state.calls).toContain('deleteRoute 10.5.9.0/24');
    await net.reconcile([udpPeer('10.5.3.0/24', '192.0.2.12'), udpPeer('10.5.4.0/24', '192.0.2.14', { backendType: 'vxlan' })]);
    expect(dps[0]!.tables.at(-1)).toEqual({ own: { subnet: '10.5.72.0', prefixLen: 24 }, entries: [{ subnet: '10.5.3.0', prefixLen: 24, peerIP: '192.0.2.12' }] });

    // The network route deleted by hand comes back on the next reconcile.
    state.routes = [];
    state.calls = [];
    await net.reconcile([udpPeer('10.5.3.0/24', '192.0.2.12')]);
    expect(state.calls).toEqual(['addRoute 10.5.0.0/16 src 10.5.72.0']);

    // A partial sync (lease changes only) swaps the table without touching the kernel.
    state.calls = [];
    state.routes = [];
    const c = udpPeer('10.5.9.0/24', '192.0.2.13');
    await net.reconcile([udpPeer('10.5.3.0/24', '192.0.2.12'), c], { added: [c], removed: [] });
    expect(state.calls).toEqual([]);
    expect(dps[0]!.tables.at(-1)?.entries.map((e) => e.subnet)).toEqual(['10.5.3.0', '10.5.9.0']);
    expect(net.objects?.()).toEqual({ peer: 2 });
    await net.reconcile([udpPeer('10.5.3.0/24', '192.0.2.12')]);
    expect(state.calls).toEqual(['addRoute 10.5.0.0/16 src 10.5.72.0']);

    // A dead loop (its TUN thread ended) is reopened, its counters kept.
    dps[0]!.running = false;
    await net.reconcile([udpPeer('10.5.3.0/24', '192.0.2.12')]);
    expect(dps).toHaveLength(2);
    expect(dps[0]!.closed).toBe(true);
    expect(dps[1]!.tables.at(-1)?.entries).toHaveLength(1);
    expect((net as unknown as { counters(): { txPackets: number } }).counters().txPackets).toBe(6);

    await net.close();
    expect(dps[1]!.closed).toBe(true);
    await expect(net.reconcile([])).rejects.toThrow(/closed/);
  });
});
