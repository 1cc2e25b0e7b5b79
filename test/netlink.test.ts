// Unit tests of the pure parts of the netlink layer: address text, message building and parsing,
// keys, incompatibility, error conversion, and the watch queue (with a fake socket). No root, no kernel.
import { EventEmitter } from 'node:events';
import { ifla, rt, type ErrnoException, type NetlinkMessage } from 'netlink';
import { describe, expect, it } from 'vitest';
import { bytesToIp, canonicalCidr, canonicalIp, canonicalMac, cidrToBytes, ipToBytes, parseRouteDst } from '../netlink/addr.js';
import {
  RTNH_F_ONLINK, addrKey, addrReq, canonicalRoute, describeFdb, describeNeigh, describeRoute, encodeBody, fdbKey, fdbReq,
  F_ADD, F_APPEND, F_REPLACE, linkCreateReq, linkSetReq, neighKey, neighReq, parseAddr, parseEvent, parseFdb, parseLink,
  parseNeigh, parseRoute, routeDiff, routeKey, routeReq, vxlanIncompat, vxlanLinkInfo, vxlanWant, type Request,
} from '../netlink/codec.js';
import { LinkIncompatError, NetlinkError, NetlinkInputError, errnoName, toNetlinkError } from '../netlink/errors.js';
import type { Link, NetlinkEvent } from '../netlink/index.js';
import { NetlinkWatch, type WatchSocket } from '../netlink/watch.js';
import { silentLogger } from '../common/index.js';

const bytes = (r: Request): Buffer => Buffer.concat(encodeBody(r.body));

describe('addresses', () => {
  it('round-trips IPv4 and IPv6 text through bytes, canonically', () => {
    expect([...ipToBytes('10.5.3.0')]).toEqual([10, 5, 3, 0]);
    expect(canonicalIp('FD00:0:0::1')).toBe('fd00::1');
    expect(canonicalIp('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1'); // first of two equal runs
    expect(canonicalIp('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1'); // a single zero group stays
    expect(canonicalIp('::')).toBe('::');
    expect(canonicalIp('::1')).toBe('::1');
    expect(canonicalIp('fe80::')).toBe('fe80::');
    expect(canonicalIp('::ffff:192.0.2.1')).toBe('::ffff:c000:201');
    expect(bytesToIp(ipToBytes('1:2:3:4:5:6:7:8'))).toBe('1:2:3:4:5:6:7:8');
  });

  it('parses CIDRs and rejects bad input with the field and value', () => {
    expect(cidrToBytes('10.5.1.0/32')).toMatchObject({ family: 4, prefix: 32 });
    expect(cidrToBytes('fd00::1')).toMatchObject({ family: 6, prefix: 128 });
    expect(canonicalCidr('FD00::0/64')).toBe('fd00::/64');
    expect(() => cidrToBytes('10.5.1.0/33')).toThrow(NetlinkInputError);
    expect(() => cidrToBytes('10.5.1/24')).toThrow(/not an IPv4 or IPv6 address/);
    expect(() => parseRouteDst('10.5.3.1/24')).toThrow(/host bits/);
    expect(parseRouteDst('0.0.0.0/0').prefix).toBe(0);
    expect(canonicalMac('0E:00:00:00:00:0A')).toBe('0e:00:00:00:00:0a');
    expect(() => canonicalMac('0e:00:00:00:00')).toThrow(NetlinkInputError);
  });
});

describe('vxlan link info', () => {
  const want = vxlanWant({ name: 'flannel.1', vni: 1, local: '192.0.2.2' }, 3);

  it('fills flannel defaults: port 8472, learning off, no gbp', () => {
    expect(want).toEqual({ name: 'flannel.1', vni: 1, local: '192.0.2.2', dev: 3, port: 8472, learning: false, gbp: false });
    expect(() => vxlanWant({ name: 'x', vni: 1 << 24 }, undefined)).toThrow(/vni/);
  });

  it('nests IFLA_INFO_KIND and IFLA_INFO_DATA with a big-endian port', () => {
    const info = ifla.parseInfo(vxlanLinkInfo(want));
    expect(info.kind).toBe('vxlan');
    const data = ifla.parseVxlan(info.data ?? Buffer.alloc(0));
    expect(data.id).toBe(1);
    expect([...(data.local ?? [])]).toEqual([192, 0, 2, 2]);
    expect(data.link).toBe(3);
    expect([...(data.port ?? [])]).toEqual([0x21, 0x18]); // 8472
    expect(data.learning).toBe(0);
    expect(data.gbp).toBeUndefined();
  });

  it('uses LOCAL6 for an IPv6 VTEP and sets the GBP flag only when wanted', () => {
    const v6 = vxlanWant({ name: 'flannel-v6.1', vni: 1, local: '2001:db8::2', gbp: true }, undefined);
    const data = ifla.parseVxlan(ifla.parseInfo(vxlanLinkInfo(v6)).data ?? Buffer.alloc(0));
    expect(data.local).toBeUndefined();
    expect(bytesToIp(data.local6 ?? Buffer.alloc(0))).toBe('2001:db8::2');
    expect(data.gbp).toBe(true);
  });

  it('round-trips a create request into a parsed Link', () => {
    const req = linkCreateReq('flannel.1', vxlanLinkInfo(want), { mtu: 1450, mac: '0e:00:00:00:00:01' });
    expect(req.flags).toBe(F_ADD);
    const link = parseLink(rt.parseLinkMessage(bytes(req)));
    expect(link).toEqual({
      index: 0, name: 'flannel.1', mtu: 1450, up: false, kind: 'vxlan', mac: '0e:00:00:00:00:01',
      vxlan: { vni: 1, local: '192.0.2.2', dev: 3, port: 8472, learning: false, gbp: false },
    });
  });

  it('sets IFF_UP through flags and the change mask', () => {
    const up = rt.parseLinkMessage(bytes(linkSetReq(4, { up: true })));
    expect(up.data).toMatchObject({ index: 4, flags: { up: true }, change: { up: true } });
    const down = rt.parseLinkMessage(bytes(linkSetReq('flannel.1', { up: false, mtu: 1400 })));
    expect(down.data.flags?.up).toBeUndefined();
    expect(down.data.change?.up).toBe(true);
    expect(down.attrs).toMatchObject({ ifname: 'flannel.1', mtu: 1400 });
  });
});

describe('vxlanIncompat', () => {
  const want = vxlanWant({ name: 'flannel.1', vni: 1, local: '192.0.2.2' }, 3);
  const have = (vx: Partial<NonNullable<Link['vxlan']>>, kind = 'vxlan'): Link => ({
    index: 9, name: 'flannel.1', mtu: 1450, up: true, kind,
    vxlan: { vni: 1, local: '192.0.2.2', dev: 3, port: 8472, learning: false, gbp: false, ...vx },
  });

  it('accepts the same device', () => expect(vxlanIncompat(want, have({}))).toBeUndefined());
  it('names each difference, wanted value first', () => {
    expect(vxlanIncompat(want, have({ vni: 2 }))).toBe('vni 1 != 2');
    expect(vxlanIncompat(want, have({ port: 4789, local: '192.0.2.9', learning: true }))).toBe(
      'local 192.0.2.2 != 192.0.2.9, port 8472 != 4789, learning false != true',
    );
  });
  it('ignores what the caller left unset', () => {
    const loose = vxlanWant({ name: 'flannel.1', vni: 1 }, undefined);
    expect(vxlanIncompat(loose, have({ local: '198.51.100.1', dev: 7 }))).toBeUndefined();
  });
  it('reports another kind of device', () => {
    expect(vxlanIncompat(want, { index: 9, name: 'flannel.1', mtu: 1500, up: true, kind: 'bridge' })).toBe('kind vxlan != bridge');
    expect(new LinkIncompatError('flannel.1', 'vni 1 != 2').message).toBe('link flannel.1 exists with incompatible properties: vni 1 != 2');
  });
});

describe('routes', () => {
  const onlink = { dst: '10.5.3.0/24', gw: '10.5.3.0', dev: 'flannel.1', onlink: true };

  it('encodes an onlink route: RTNH_F_ONLINK in rtm_flags, gateway, oif, main table, scope universe', () => {
    const req = routeReq('add', onlink, 4);
    expect(req.flags).toBe(F_ADD);
    const m = rt.parseRouteMessage(bytes(req));
    expect(m.data).toMatchObject({ family: 2, dstLen: 24, table: 254, protocol: 'BOOT', scope: 'UNIVERSE', type: 'UNICAST' });
    expect((m.data.flags?.__unknown ?? 0) & RTNH_F_ONLINK).toBe(RTNH_F_ONLINK);
    expect(m.attrs).toMatchObject({ oif: 4, table: 254 });
    expect(parseRoute(m)).toEqual({ dst: '10.5.3.0/24', gw: '10.5.3.0', ifindex: 4, onlink: true, family: 4 });
  });

  it('uses scope link without a gateway, RTA_TABLE for big tables, NOWHERE for deletes', () => {
    const link = rt.parseRouteMessage(bytes(routeReq('replace', { dst: '10.5.0.0/16', ifindex: 4 }, 4)));
    expect(link.data.scope).toBe('LINK');
    expect(routeReq('replace', { dst: '10.5.0.0/16' }, 4).flags).toBe(F_REPLACE);
    const big = rt.parseRouteMessage(bytes(routeReq('add', { dst: '10.5.0.0/16', table: 1000 }, 4)));
    expect(big.data.table).toBe(0);
    expect(big.attrs.table).toBe(1000);
    expect(parseRoute(big)).toMatchObject({ table: 1000 });
    const del = routeReq('del', onlink, 4);
    expect(del.flags).toBe(0);
    expect(rt.parseRouteMessage(bytes(del)).data.scope).toBe('NOWHERE');
  });

  it('handles IPv6 and the default route through the same path', () => {
    const m = rt.parseRouteMessage(bytes(routeReq('add', { dst: '::/0', gw: 'fd00::1' }, undefined)));
    expect(m.data.family).toBe(10);
    expect(m.attrs.dst).toBeUndefined();
    expect(parseRoute(m)).toEqual({ dst: '::/0', gw: 'fd00::1', family: 6 });
    expect(() => routeReq('add', { dst: '10.5.0.0/16', gw: 'fd00::1' }, 4)).toThrow(/IPv4/);
  });

  it('keys routes by the kernel identity, leaving out defaults', () => {
    expect(routeKey(onlink)).toBe('route:10.5.3.0/24');
    expect(routeKey({ dst: 'FD00:5:3::/64', metric: 1024 })).toBe('route:fd00:5:3::/64');
    expect(routeKey({ dst: '10.5.3.0/24', table: 254 })).toBe('route:10.5.3.0/24');
    expect(routeKey({ dst: '10.5.3.0/24', table: 100, metric: 5 })).toBe('route:10.5.3.0/24 table 100 metric 5');
    expect(canonicalRoute({ dst: 'fd00::/64', gw: 'FD00::1' })).toEqual({ dst: 'fd00::/64', gw: 'fd00::1', family: 6 });
  });

  it('describes and compares routes', () => {
    expect(describeRoute(onlink)).toBe('route 10.5.3.0/24 via 10.5.3.0 dev flannel.1 onlink');
    expect(describeRoute({ dst: '10.5.0.0/16', ifindex: 4, table: 100 })).toBe('route 10.5.0.0/16 dev #4 table 100');
    const have = { dst: '10.5.3.0/24', gw: '10.5.3.0', ifindex: 4, onlink: true, family: 4 as const };
    expect(routeDiff({ ...onlink, ifindex: 4 }, have)).toBeUndefined();
    expect(routeDiff({ ...onlink, gw: '10.5.3.1', ifindex: 4 }, have)).toBe('via 10.5.3.1 != 10.5.3.0');
    expect(routeDiff({ dst: '10.5.3.0/24', gw: '10.5.3.0', ifindex: 5 }, have)).toBe('dev #5 != #4, onlink false != true');
    expect(routeDiff({ dst: '10.5.3.0/24' }, { dst: '10.5.3.0/24', type: 'blackhole' })).toBe('type unicast != blackhole');
  });
});

describe('addresses, neighbours and FDB messages', () => {
  it('builds a family-generic address request', () => {
    const v4 = rt.parseAddressMessage(bytes(addrReq('add', '10.5.1.0/32', 4)));
    expect(v4.data).toMatchObject({ family: 2, prefixlen: 32, index: 4 });
    expect(parseAddr(v4)).toEqual({ cidr: '10.5.1.0/32', ifindex: 4, family: 4 });
    const v6 = rt.parseAddressMessage(bytes(addrReq('del', 'fd00:5:1::/128', 4)));
    expect(parseAddr(v6)).toEqual({ cidr: 'fd00:5:1::/128', ifindex: 4, family: 6 });
    expect(addrKey({ cidr: 'FD00:5:1::/128', ifindex: 4 })).toBe('addr:4:fd00:5:1::/128');
  });

  it('builds permanent neighbours', () => {
    const req = neighReq('replace', { ip: '10.5.3.0', mac: '0E:00:00:00:00:03', ifindex: 4 });
    expect(req.flags).toBe(F_REPLACE);
    const m = rt.parseNeighborMessage(bytes(req));
    expect(m.data).toMatchObject({ family: 2, ifindex: 4, state: { permanent: true } });
    expect(parseNeigh(m)).toEqual({ ip: '10.5.3.0', mac: '0e:00:00:00:00:03', ifindex: 4, state: 'permanent' });
    const del = rt.parseNeighborMessage(bytes(neighReq('del', { ip: 'fd00:5:3::', ifindex: 4 })));
    expect(del.data.family).toBe(10);
    expect(del.attrs.lladdr).toBeUndefined();
    expect(() => neighReq('add', { ip: '10.5.3.0', ifindex: 4 })).toThrow(NetlinkInputError);
    expect(neighKey({ ip: '10.5.3.0', ifindex: 4 })).toBe('neigh:4:10.5.3.0');
    expect(describeNeigh({ ip: '10.5.3.0', mac: '0e:00:00:00:00:03', dev: 'flannel.1' })).toBe('neigh 10.5.3.0 lladdr 0e:00:00:00:00:03 dev flannel.1');
  });

  it('builds AF_BRIDGE FDB entries with NTF_SELF, NUD_PERMANENT, NDA_DST and NLM_F_APPEND', () => {
    const req = fdbReq('add', { mac: '0e:00:00:00:00:03', dst: '192.0.2.3', ifindex: 4 });
    expect(req.flags).toBe(F_APPEND);
    const raw = bytes(req);
    expect(raw[0]).toBe(7); // ndm_family AF_BRIDGE
    expect(raw.readUInt16LE(8)).toBe(0x80); // ndm_state NUD_PERMANENT (host order)
    expect(raw[10]).toBe(0x02); // ndm_flags NTF_SELF
    const m = rt.parseNeighborMessage(raw);
    expect(parseFdb(m)).toEqual({ mac: '0e:00:00:00:00:03', dst: '192.0.2.3', ifindex: 4 });
    expect(parseNeigh({ ...m, data: { ...m.data, family: 2 } })?.ip).toBe('192.0.2.3');
    expect(fdbKey({ mac: '0E:00:00:00:00:03', dst: '192.0.2.3', ifindex: 4 })).toBe('fdb:4:0e:00:00:00:00:03:192.0.2.3');
    expect(describeFdb({ mac: '0e:00:00:00:00:03', dst: '192.0.2.3', dev: 'flannel.1' })).toBe(
      'fdb 0e:00:00:00:00:03 dst 192.0.2.3 dev flannel.1 self permanent',
    );
  });
});

describe('errors', () => {
  it('carries op, object, errno and its name', () => {
    const e = new NetlinkError('addRoute', 'route 10.5.3.0/24 via 10.5.3.0 dev flannel.1', 19);
    expect(e).toMatchObject({ code: 'NETLINK', op: 'addRoute', errno: 19, errnoName: 'ENODEV', transient: false, name: 'NetlinkError' });
    expect(e.message).toBe('addRoute route 10.5.3.0/24 via 10.5.3.0 dev flannel.1: ENODEV (no such device)');
    expect(new NetlinkError('dumpRoutes', 'routes', 16).transient).toBe(true); // EBUSY
    expect(errnoName(95)).toBe('EOPNOTSUPP');
    expect(errnoName(11)).toBe('EAGAIN');
  });

  it('converts whatever npm netlink throws in one place', () => {
    expect(toNetlinkError('addRoute', 'r', new Error('Request rejected: EEXIST'))).toMatchObject({ errno: 17, errnoName: 'EEXIST' });
    expect(toNetlinkError('addRoute', 'r', new Error('Request rejected: -4095'))).toMatchObject({ errno: 4095 });
    expect(toNetlinkError('watch', 'g', Object.assign(new Error('x'), { errno: 105, code: 'ENOBUFS' }))).toMatchObject({ errnoName: 'ENOBUFS', transient: true });
    expect(toNetlinkError('getLink', 'l', new Error('Timeout has been reached'))).toMatchObject({ errnoName: 'ETIMEDOUT', transient: true });
    const odd = toNetlinkError('getLink', 'l', new Error('Multipart message not terminated properly'));
    expect(odd).toMatchObject({ errnoName: 'EPROTO' });
    expect(odd.message).toContain('Multipart message not terminated properly');
    const input = new NetlinkInputError('dst', 'x', 'bad');
    expect(toNetlinkError('addRoute', 'r', input)).toBe(input);
  });
});

// ------------------------------------------------------------------------------- notifications

class FakeSocket extends EventEmitter implements WatchSocket {
  groups: number[] = [];
  closed = false;
  addMembership(group: number): void {
    this.groups.push(group);
  }
  dropMembership(group: number): void {
    this.groups = this.groups.filter((g) => g !== group);
  }
  close(): void {
    this.closed = true;
  }
  deliver(...reqs: Request[]): void {
    const msgs: NetlinkMessage[] = reqs.map((r) => ({ type: r.type, flags: 0, seq: 0, port: 0, data: bytes(r) }));
    this.emit('message', msgs);
  }
}

const newRoute = (dst: string): Request => routeReq('add', { dst, ifindex: 2 }, 2);

/** The next `n` events, or fewer if the iteration ends; bounded by `ms`. */
async function take(it: AsyncIterator<NetlinkEvent>, n: number, ms = 2_000): Promise<NetlinkEvent[]> {
  const out: NetlinkEvent[] = [];
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no event within ${ms} ms`)), ms)));
  try {
    for (let i = 0; i < n; i++) {
      const r = await Promise.race([it.next(), timeout]);
      if (r.done) break;
      out.push(r.value);
    }
  } finally {
    clearTimeout(timer);
  }
  return out;
}

const enobufs = (): ErrnoException =>
  Object.assign(new Error('recvmsg'), { name: 'ErrnoException' as const, errno: 105, code: 'ENOBUFS', syscall: 'recvmsg' });

describe('notifications', () => {
  it('parses link and route messages into typed events', () => {
    const add = routeReq('add', { dst: '10.5.3.0/24', gw: '10.5.3.0', onlink: true }, 4);
    expect(parseEvent(add.type, bytes(add))).toEqual({
      kind: 'route', action: 'new', route: { dst: '10.5.3.0/24', gw: '10.5.3.0', ifindex: 4, onlink: true, family: 4 },
    });
    const del = routeReq('del', { dst: '10.5.3.0/24' }, undefined);
    expect(parseEvent(del.type, bytes(del))).toMatchObject({ kind: 'route', action: 'del' });
    const link = linkSetReq('flannel.1', { mtu: 1400 });
    expect(parseEvent(rt.MessageType.NEWLINK, bytes(link))).toMatchObject({ kind: 'link', action: 'new', link: { name: 'flannel.1', mtu: 1400 } });
    const neigh = neighReq('add', { ip: '10.5.3.0', mac: '0e:00:00:00:00:03', ifindex: 4 });
    expect(parseEvent(neigh.type, bytes(neigh))).toEqual({
      kind: 'neigh', action: 'new', neigh: { ifindex: 4, bridge: false, ip: '10.5.3.0', mac: '0e:00:00:00:00:03', state: 'permanent' },
    });
    const fdb = fdbReq('del', { mac: '0e:00:00:00:00:03', dst: '192.0.2.3', ifindex: 4 });
    expect(parseEvent(fdb.type, bytes(fdb))).toEqual({
      kind: 'neigh', action: 'del', neigh: { ifindex: 4, bridge: true, ip: '192.0.2.3', mac: '0e:00:00:00:00:03', state: 'permanent' },
    });
    const addr = addrReq('add', '10.5.1.0/32', 4);
    expect(parseEvent(addr.type, bytes(addr))).toBeUndefined();
  });

  it('joins the groups and yields events until the signal aborts, then closes the socket', async () => {
    const sock = new FakeSocket();
    const ac = new AbortController();
    const w = new NetlinkWatch({ groups: ['link', 'ipv4-route', 'ipv6-route'], signal: ac.signal }, sock, silentLogger);
    expect(sock.groups).toEqual([1, 7, 11]);
    const it = w[Symbol.asyncIterator]();
    sock.deliver(newRoute('10.5.3.0/24'), newRoute('10.5.4.0/24'));
    const got = await take(it, 2);
    expect(got.map((e) => e.kind === 'route' && e.route.dst)).toEqual(['10.5.3.0/24', '10.5.4.0/24']);
    const pending = it.next();
    ac.abort();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(sock.closed).toBe(true);
  });

  it('skips new routes and neighbours unparsed when asked for deletions only, and keeps every link change', async () => {
    const sock = new FakeSocket();
    const ac = new AbortController();
    const w = new NetlinkWatch({ groups: ['link', 'ipv4-route', 'neigh'], signal: ac.signal, onlyDeletions: true }, sock, silentLogger);
    expect(sock.groups).toEqual([rt.MulticastGroups.LINK, rt.MulticastGroups.IPV4_ROUTE, rt.MulticastGroups.NEIGH]);
    const it = w[Symbol.asyncIterator]();
    const neigh = neighReq('add', { ip: '10.5.3.0', mac: '0e:00:00:00:00:03', ifindex: 4 });
    const neighDel = neighReq('del', { ip: '10.5.3.0', ifindex: 4 });
    const link: Request = { ...linkSetReq('flannel.1', { mtu: 1400 }), type: rt.MessageType.NEWLINK };
    sock.deliver(newRoute('10.5.3.0/24'), neigh, routeReq('del', { dst: '10.5.3.0/24' }, 2), link, neighDel);
    const got = await take(it, 3);
    expect(got.map((e) => `${e.kind} ${'action' in e ? e.action : ''}`)).toEqual(['route del', 'link new', 'neigh del']);
    ac.abort();
  });

  it('leaves its groups while paused, and on resume joins them again and reports an overflow (changes went unseen)', async () => {
    const sock = new FakeSocket();
    const ac = new AbortController();
    const w = new NetlinkWatch({ groups: ['ipv4-route', 'neigh'], signal: ac.signal }, sock, silentLogger);
    const it = w[Symbol.asyncIterator]();
    w.pause();
    w.pause(); // idempotent
    expect(sock.groups).toEqual([]);
    w.resume();
    w.resume(); // one overflow, not two
    expect(sock.groups).toEqual([rt.MulticastGroups.IPV4_ROUTE, rt.MulticastGroups.NEIGH]);
    sock.deliver(routeReq('del', { dst: '10.5.3.0/24' }, 2));
    const got = await take(it, 2);
    expect(got.map((e) => e.kind)).toEqual(['overflow', 'route']);
    let closedOnce = 0;
    w.onClose = () => closedOnce++;
    ac.abort();
    w.pause(); // after close: nothing to leave
    expect(closedOnce).toBe(1);
  });

  it('reports an overflow instead of growing without bound', async () => {
    const sock = new FakeSocket();
    const ac = new AbortController();
    const w = new NetlinkWatch({ groups: ['ipv4-route'], signal: ac.signal, maxQueued: 2 }, sock, silentLogger);
    const it = w[Symbol.asyncIterator]();
    // The consumer fell behind: what was queued is dropped for one marker, later events follow it.
    sock.deliver(newRoute('10.5.1.0/24'), newRoute('10.5.2.0/24'), newRoute('10.5.3.0/24'));
    expect(await take(it, 2)).toEqual([{ kind: 'overflow' }, expect.objectContaining({ route: expect.objectContaining({ dst: '10.5.3.0/24' }) })]);
    // The kernel dropped notifications (ENOBUFS): one marker however often it says so.
    sock.emit('error', enobufs());
    sock.emit('error', enobufs());
    sock.deliver(newRoute('10.5.4.0/24'));
    expect(await take(it, 2)).toEqual([{ kind: 'overflow' }, expect.objectContaining({ kind: 'route' })]);
    expect(sock.closed).toBe(false);
    ac.abort();
    expect((await it.next()).done).toBe(true);
  });

  it('ends with a NetlinkError on any other socket error, after closing the socket', async () => {
    const sock = new FakeSocket();
    const w = new NetlinkWatch({ groups: ['link'], signal: new AbortController().signal }, sock, silentLogger);
    sock.emit('error', Object.assign(new Error('recvmsg'), { name: 'ErrnoException' as const, errno: 9, code: 'EBADF', syscall: 'recvmsg' }));
    await expect(take(w[Symbol.asyncIterator](), 1)).rejects.toMatchObject({ op: 'watch', errnoName: 'EBADF' });
    expect(sock.closed).toBe(true);
  });

  it('is empty and closed when the signal is already aborted', async () => {
    const sock = new FakeSocket();
    const w = new NetlinkWatch({ groups: ['link'], signal: AbortSignal.abort() }, sock, silentLogger);
    expect(await take(w[Symbol.asyncIterator](), 1)).toEqual([]);
    expect(sock.closed).toBe(true);
    expect(sock.groups).toEqual([]);
  });
});
