// Pure translation between our typed records and npm `netlink`'s rtnetlink messages: request builders,
// reply parsers, and the notification parser. No socket here, so all of it is unit-tested without root.
//
// Gaps of npm `netlink` 0.3.0 filled by hand here:
//  - IFLA_LINKINFO is typed as an opaque Buffer: we nest IFLA_INFO_KIND / IFLA_INFO_DATA ourselves with
//    ifla.formatInfo + ifla.formatVxlan and flatten the attribute stream into that Buffer.
//  - IFLA_VXLAN_PORT is a raw Buffer (big-endian u16); so are IFLA_VXLAN_LOCAL / LOCAL6.
//  - RTNH_F_ONLINK (4) is not among rt.RouteFlags: it travels in `flags.__unknown`.
//  - RTA_TABLE is always sent (u32), so tables above 255 work; rtm_table carries it only when it fits.
import { AttrStream, FlagsNew, ifla, rt, type StreamData } from './pkg.js';
import {
  AF_BRIDGE, AF_UNSPEC, afOf, bytesToCidr, bytesToIp, bytesToMac, cidrToBytes, familyOf, familyOfAf, ipToBytes, macToBytes,
  parseRouteDst,
} from './addr.js';
import { NetlinkInputError } from './errors.js';
import {
  TABLE_MAIN, type Addr, type DevRef, type Family, type Fdb, type Link, type LinkChange, type Neigh,
  type NeighState, type NetlinkEvent, type Route, type VxlanInfo, type VxlanSpec,
} from './types.js';

/** The metric the kernel gives a route added without one: IPv6 uses IP6_RT_PRIO_USER (1024). */
export const defaultMetric = (fam: Family): number => (fam === 6 ? 1024 : 0);

/** RTNH_F_ONLINK, carried in rtm_flags. */
export const RTNH_F_ONLINK = 4;
/** The Linux (and flannel) default vxlan UDP port. */
export const DEFAULT_VXLAN_PORT = 8472;

const { MessageType } = rt;
type MessageType = rt.MessageType;

/** One rtnetlink request: message type, NLM_F_* flags (besides REQUEST|ACK) and the typed body. */
export interface Request {
  readonly type: MessageType;
  readonly flags: number;
  readonly body: rt.LinkMessage | rt.AddressMessage | rt.RouteMessage | rt.NeighborMessage;
}

export const F_ADD = FlagsNew.CREATE | FlagsNew.EXCL;
export const F_REPLACE = FlagsNew.CREATE | FlagsNew.REPLACE;
export const F_APPEND = FlagsNew.CREATE | FlagsNew.APPEND;

/** Flattens an attribute stream into one Buffer (for attributes npm `netlink` types as Buffer). */
export function streamToBuffer(data: StreamData): Buffer {
  const s = new AttrStream();
  s.emit(data);
  return Buffer.concat(s.bufs);
}

/** Serialises a request body (after the nlmsghdr, which the socket adds). */
export function encodeBody(body: Request['body']): Uint8Array[] {
  const s = new AttrStream();
  switch (body.kind) {
    case 'link': rt.formatLinkMessage(body, s); break;
    case 'address': rt.formatAddressMessage(body, s); break;
    case 'route': rt.formatRouteMessage(body, s); break;
    case 'neighbor': rt.formatNeighborMessage(body, s); break;
  }
  return s.bufs;
}

// ---------------------------------------------------------------- validation

function checkInt(field: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new NetlinkInputError(field, v, `must be an integer ${min}..${max}`);
  return v;
}

export const devText = (d: DevRef | undefined): string | undefined =>
  d === undefined ? undefined : typeof d === 'number' ? `#${d}` : d;

/** The link part of a request addressing a device by index or by name. */
function linkRef(dev: DevRef): { data: rt.Link; attrs: ifla.LinkAttrs } {
  if (typeof dev === 'number') return { data: { index: checkInt('dev', dev, 1, 0x7fffffff) }, attrs: {} };
  if (dev === '' || dev.length > 15) throw new NetlinkInputError('dev', dev, 'interface names are 1..15 characters');
  return { data: {}, attrs: { ifname: dev } };
}

// ---------------------------------------------------------------- links

export interface VxlanWant extends VxlanInfo {
  readonly name: string;
}

/** Fills the defaults of a vxlan spec once the underlay device is resolved to an ifindex. */
export function vxlanWant(spec: VxlanSpec, devIndex: number | undefined): VxlanWant {
  return {
    name: spec.name,
    vni: checkInt('vni', spec.vni, 0, 0xffffff),
    port: checkInt('port', spec.port ?? DEFAULT_VXLAN_PORT, 1, 0xffff),
    learning: spec.learning ?? false,
    gbp: spec.gbp ?? false,
    ...(spec.local !== undefined ? { local: bytesToIp(ipToBytes(spec.local, 'local')) } : {}),
    ...(devIndex !== undefined ? { dev: devIndex } : {}),
  };
}

/** IFLA_LINKINFO for a vxlan device: {INFO_KIND "vxlan", INFO_DATA {ID, LOCAL|LOCAL6, LINK, PORT, LEARNING, GBP}}. */
export function vxlanLinkInfo(v: VxlanInfo): Buffer {
  const port = Buffer.alloc(2);
  port.writeUInt16BE(v.port);
  const data: ifla.Vxlan = { id: v.vni, port, learning: v.learning ? 1 : 0 };
  if (v.local !== undefined) {
    if (familyOf(v.local, 'local') === 4) data.local = ipToBytes(v.local);
    else data.local6 = ipToBytes(v.local);
  }
  if (v.dev !== undefined) data.link = v.dev;
  if (v.gbp) data.gbp = true;
  return streamToBuffer(ifla.formatInfo({ kind: 'vxlan', data: streamToBuffer(ifla.formatVxlan(data)) }));
}

/** IFLA_LINKINFO with only a kind (bridge, dummy). */
export const kindLinkInfo = (kind: string): Buffer => streamToBuffer(ifla.formatInfo({ kind }));

/** RTM_NEWLINK with NLM_F_CREATE|NLM_F_EXCL. */
export function linkCreateReq(name: string, linkinfo: Buffer, opts: { mtu?: number; mac?: string }): Request {
  const { attrs } = linkRef(name);
  if (opts.mtu !== undefined) attrs.mtu = checkInt('mtu', opts.mtu, 68, 0xffff);
  if (opts.mac !== undefined) attrs.address = macToBytes(opts.mac);
  attrs.linkinfo = linkinfo;
  return { type: MessageType.NEWLINK, flags: F_ADD, body: { kind: 'link', data: {}, attrs } };
}

/** RTM_SETLINK changing MAC, MTU and/or IFF_UP in one message. */
export function linkSetReq(dev: DevRef, change: LinkChange): Request {
  const { data, attrs } = linkRef(dev);
  if (change.mtu !== undefined) attrs.mtu = checkInt('mtu', change.mtu, 68, 0xffff);
  if (change.mac !== undefined) attrs.address = macToBytes(change.mac);
  if (change.up !== undefined) {
    data.change = { up: true };
    data.flags = change.up ? { up: true } : {};
  }
  return { type: MessageType.SETLINK, flags: 0, body: { kind: 'link', data, attrs } };
}

export function linkDelReq(dev: DevRef): Request {
  const { data, attrs } = linkRef(dev);
  return { type: MessageType.DELLINK, flags: 0, body: { kind: 'link', data, attrs } };
}

export function linkGetReq(dev: DevRef): Request {
  const { data, attrs } = linkRef(dev);
  return { type: MessageType.GETLINK, flags: 0, body: { kind: 'link', data, attrs } };
}

/** A dump request for one object kind and address family (AF_UNSPEC, AF_INET, AF_INET6, AF_BRIDGE). */
export function dumpReq(kind: 'link' | 'address' | 'route' | 'neighbor', af: number = AF_UNSPEC): Request {
  const flags = 0x300; // NLM_F_DUMP
  switch (kind) {
    case 'link': return { type: MessageType.GETLINK, flags, body: { kind, data: { family: af }, attrs: {} } };
    case 'address': return { type: MessageType.GETADDR, flags, body: { kind, data: { family: af }, attrs: {} } };
    case 'route': return { type: MessageType.GETROUTE, flags, body: { kind, data: { family: af }, attrs: {} } };
    case 'neighbor': return { type: MessageType.GETNEIGH, flags, body: { kind, data: { family: af }, attrs: {} } };
  }
}

function parseVxlanInfo(data: Buffer): VxlanInfo {
  const v = ifla.parseVxlan(data);
  const local = v.local ?? v.local6;
  return {
    vni: v.id ?? 0,
    port: v.port && v.port.length === 2 ? v.port.readUInt16BE(0) : DEFAULT_VXLAN_PORT,
    learning: v.learning === 1,
    gbp: v.gbp === true,
    ...(local ? { local: bytesToIp(local) } : {}),
    ...(v.link ? { dev: v.link } : {}),
  };
}

export function parseLink(m: rt.LinkMessage): Link {
  let kind: string | undefined;
  let vxlan: VxlanInfo | undefined;
  if (m.attrs.linkinfo) {
    const info = ifla.parseInfo(m.attrs.linkinfo);
    kind = info.kind;
    if (kind === 'vxlan' && info.data) vxlan = parseVxlanInfo(info.data);
  }
  const mac = m.attrs.address && m.attrs.address.length === 6 ? bytesToMac(m.attrs.address) : undefined;
  return {
    index: m.data.index ?? 0,
    name: m.attrs.ifname ?? '',
    mtu: m.attrs.mtu ?? 0,
    up: m.data.flags?.up === true,
    ...(kind !== undefined ? { kind } : {}),
    ...(mac !== undefined ? { mac } : {}),
    ...(vxlan ? { vxlan } : {}),
  };
}

/**
 * Why an existing link cannot serve as the wanted vxlan device ("vni 1 != 2, port 8472 != 4789"), or
 * undefined when it can. Fields the caller left unset (local, dev) are not compared. MTU and MAC are
 * not properties of identity: set them with setLink.
 */
export function vxlanIncompat(want: VxlanWant, have: Link): string | undefined {
  if (have.kind !== 'vxlan' || !have.vxlan) return `kind vxlan != ${have.kind ?? 'none'}`;
  const h = have.vxlan;
  const diffs: string[] = [];
  const cmp = (name: string, w: unknown, hv: unknown): void => {
    if (w !== hv) diffs.push(`${name} ${String(w)} != ${String(hv ?? 'none')}`);
  };
  cmp('vni', want.vni, h.vni);
  if (want.local !== undefined) cmp('local', want.local, h.local);
  if (want.dev !== undefined) cmp('dev', want.dev, h.dev);
  cmp('port', want.port, h.port);
  cmp('learning', want.learning, h.learning);
  cmp('gbp', want.gbp, h.gbp);
  return diffs.length ? diffs.join(', ') : undefined;
}

export function describeVxlan(v: VxlanWant): string {
  const parts = [`vxlan ${v.name} vni ${v.vni}`];
  if (v.local !== undefined) parts.push(`local ${v.local}`);
  if (v.dev !== undefined) parts.push(`dev #${v.dev}`);
  parts.push(`dstport ${v.port}`, v.learning ? 'learning' : 'nolearning');
  if (v.gbp) parts.push('gbp');
  return parts.join(' ');
}

export const describeLink = (dev: DevRef): string => `link ${devText(dev) ?? ''}`;

// ---------------------------------------------------------------- addresses

export function addrReq(op: 'add' | 'del', cidr: string, ifindex: number): Request {
  const c = cidrToBytes(cidr);
  const body: rt.AddressMessage = {
    kind: 'address',
    data: { family: afOf(c.family), prefixlen: c.prefix, index: ifindex },
    attrs: { local: c.addr, address: c.addr },
  };
  return { type: op === 'add' ? MessageType.NEWADDR : MessageType.DELADDR, flags: op === 'add' ? F_ADD : 0, body };
}

export function parseAddr(m: rt.AddressMessage): Addr | undefined {
  const family = familyOfAf(m.data.family ?? 0);
  const a = m.attrs.local ?? m.attrs.address;
  if (!family || !a) return undefined;
  return { cidr: bytesToCidr(a, m.data.prefixlen ?? 0), ifindex: m.data.index ?? 0, family };
}

export const describeAddr = (cidr: string, dev: DevRef): string => `address ${cidr} dev ${devText(dev) ?? ''}`;

// ---------------------------------------------------------------- routes

/**
 * The route with canonical addresses and its family filled in; the main table and the family's default
 * metric are left out so that wanted and dumped routes compare equal. Throws NetlinkInputError on bad input.
 */
export function canonicalRoute(r: Route): Route & { family: Family } {
  const dst = parseRouteDst(r.dst);
  const family = dst.family;
  if (r.family !== undefined && r.family !== family) throw new NetlinkInputError('family', r.family, `dst ${r.dst} is IPv${family}`);
  const sameFamily = (field: string, s: string): string => {
    const b = ipToBytes(s, field);
    if ((b.length === 4 ? 4 : 6) !== family) throw new NetlinkInputError(field, s, `dst ${r.dst} is IPv${family}`);
    return bytesToIp(b);
  };
  return {
    dst: bytesToCidr(dst.addr, dst.prefix),
    family,
    ...(r.gw !== undefined ? { gw: sameFamily('gw', r.gw) } : {}),
    ...(r.ifindex !== undefined ? { ifindex: r.ifindex } : {}),
    ...(r.dev !== undefined ? { dev: r.dev } : {}),
    ...(r.onlink ? { onlink: true } : {}),
    ...(r.table !== undefined && r.table !== TABLE_MAIN ? { table: checkInt('table', r.table, 1, 0xffffffff) } : {}),
    ...(r.metric && r.metric !== defaultMetric(family) ? { metric: checkInt('metric', r.metric, 0, 0xffffffff) } : {}),
    ...(r.src !== undefined ? { src: sameFamily('src', r.src) } : {}),
  };
}

/** RTM_NEWROUTE / RTM_DELROUTE for a unicast route; `ifindex` is the resolved output device. */
export function routeReq(op: 'add' | 'replace' | 'del', route: Route, ifindex: number | undefined): Request {
  const r = canonicalRoute(route);
  const dst = parseRouteDst(r.dst);
  const table = r.table ?? TABLE_MAIN;
  const data: rt.Route = { family: afOf(r.family), dstLen: dst.prefix, table: table < 256 ? table : 0 };
  const attrs: rt.RouteAttrs = { table };
  if (dst.prefix > 0) attrs.dst = dst.addr;
  if (r.gw !== undefined) attrs.gateway = ipToBytes(r.gw);
  if (ifindex !== undefined) attrs.oif = ifindex;
  if (r.metric !== undefined) attrs.priority = r.metric;
  if (op === 'del') {
    data.scope = 'NOWHERE'; // match any scope, as `ip route del` does
  } else {
    data.protocol = 'BOOT';
    data.type = 'UNICAST';
    data.scope = r.gw !== undefined ? 'UNIVERSE' : 'LINK';
    if (r.onlink) data.flags = { __unknown: RTNH_F_ONLINK };
    if (r.src !== undefined) attrs.prefsrc = ipToBytes(r.src);
  }
  const type = op === 'del' ? MessageType.DELROUTE : MessageType.NEWROUTE;
  return { type, flags: op === 'add' ? F_ADD : op === 'replace' ? F_REPLACE : 0, body: { kind: 'route', data, attrs } };
}

const ROUTE_TYPE_NAMES: Readonly<Record<number, string>> = {
  2: 'local', 3: 'broadcast', 4: 'anycast', 5: 'multicast', 6: 'blackhole', 7: 'unreachable', 8: 'prohibit', 9: 'throw',
};

export type ParsedRoute = Route & { readonly family: Family; readonly type?: string };

export function parseRoute(m: rt.RouteMessage): ParsedRoute | undefined {
  const family = familyOfAf(m.data.family ?? 0);
  if (!family) return undefined;
  const dstLen = m.data.dstLen ?? 0;
  const dst = m.attrs.dst ?? Buffer.alloc(family === 4 ? 4 : 16);
  const table = m.attrs.table ?? m.data.table ?? TABLE_MAIN;
  const typeNum = typeof m.data.type === 'number' ? m.data.type : rt.RouteType[m.data.type ?? 'UNICAST'];
  const typeName = ROUTE_TYPE_NAMES[typeNum];
  return {
    dst: bytesToCidr(dst, dstLen),
    family,
    ...(m.attrs.gateway ? { gw: bytesToIp(m.attrs.gateway) } : {}),
    ...(m.attrs.oif !== undefined ? { ifindex: m.attrs.oif } : {}),
    ...(((m.data.flags?.__unknown ?? 0) & RTNH_F_ONLINK) !== 0 ? { onlink: true } : {}),
    ...(table !== TABLE_MAIN ? { table } : {}),
    ...(m.attrs.priority && m.attrs.priority !== defaultMetric(family) ? { metric: m.attrs.priority } : {}),
    ...(m.attrs.prefsrc ? { src: bytesToIp(m.attrs.prefsrc) } : {}),
    ...(typeName ? { type: typeName } : {}),
  };
}

export function describeRoute(route: Route): string {
  const parts = [`route ${route.dst}`];
  if (route.gw !== undefined) parts.push(`via ${route.gw}`);
  const dev = devText(route.dev ?? route.ifindex);
  if (dev !== undefined) parts.push(`dev ${dev}`);
  if (route.onlink) parts.push('onlink');
  if (route.table !== undefined && route.table !== TABLE_MAIN) parts.push(`table ${route.table}`);
  if (route.metric) parts.push(`metric ${route.metric}`);
  return parts.join(' ');
}

/**
 * The differences that make `have` unusable where `want` is wanted, comparing what `want` specifies
 * (gateway, device, onlink, source), or undefined.
 */
export function routeDiff(want: Route, have: Route & { readonly type?: string }): string | undefined {
  const diffs: string[] = [];
  if ((want.gw ?? 'none') !== (have.gw ?? 'none')) diffs.push(`via ${want.gw ?? 'none'} != ${have.gw ?? 'none'}`);
  if (want.ifindex !== undefined && want.ifindex !== have.ifindex) diffs.push(`dev #${want.ifindex} != #${have.ifindex ?? 'none'}`);
  if (!!want.onlink !== !!have.onlink) diffs.push(`onlink ${!!want.onlink} != ${!!have.onlink}`);
  if (want.src !== undefined && want.src !== have.src) diffs.push(`src ${want.src} != ${have.src ?? 'none'}`);
  if (have.type !== undefined) diffs.push(`type unicast != ${have.type}`);
  return diffs.length ? diffs.join(', ') : undefined;
}

// ---------------------------------------------------------------- neighbours and FDB

/** RTM_NEWNEIGH / RTM_DELNEIGH for a permanent ARP (IPv4) or NDP (IPv6) entry. */
export function neighReq(op: 'add' | 'replace' | 'del', n: { ip: string; mac?: string; ifindex: number }): Request {
  const ip = ipToBytes(n.ip, 'ip');
  const data: rt.Neighbor = { family: afOf(ip.length === 4 ? 4 : 6), ifindex: n.ifindex, state: { permanent: true } };
  const attrs: rt.NeighborAttrs = { dst: ip };
  if (op !== 'del') {
    if (n.mac === undefined) throw new NetlinkInputError('mac', n.mac, 'required');
    attrs.lladdr = macToBytes(n.mac);
  }
  const type = op === 'del' ? MessageType.DELNEIGH : MessageType.NEWNEIGH;
  return { type, flags: op === 'add' ? F_ADD : op === 'replace' ? F_REPLACE : 0, body: { kind: 'neighbor', data, attrs } };
}

/**
 * RTM_NEWNEIGH / RTM_DELNEIGH in AF_BRIDGE with NTF_SELF (the vxlan device's own FDB, not a bridge's),
 * NUD_PERMANENT, lladdr = peer VTEP MAC and NDA_DST = peer VTEP address. Add uses NLM_F_APPEND like
 * `bridge fdb append`, so one MAC may have several destinations.
 */
export function fdbReq(op: 'add' | 'del', f: { mac: string; dst: string; ifindex: number }): Request {
  const data: rt.Neighbor = { family: AF_BRIDGE, ifindex: f.ifindex, state: { permanent: true }, flags: { self: true } };
  const attrs: rt.NeighborAttrs = { lladdr: macToBytes(f.mac), dst: ipToBytes(f.dst, 'dst') };
  const type = op === 'del' ? MessageType.DELNEIGH : MessageType.NEWNEIGH;
  return { type, flags: op === 'add' ? F_APPEND : 0, body: { kind: 'neighbor', data, attrs } };
}

const NUD_ORDER: readonly (NeighState & keyof rt.NeighborState)[] = ['permanent', 'noarp', 'reachable', 'stale', 'delay', 'probe', 'failed', 'incomplete'];

export function parseNeigh(m: rt.NeighborMessage): Neigh | undefined {
  const family = familyOfAf(m.data.family ?? 0);
  if (!family || !m.attrs.dst) return undefined;
  const st = m.data.state ?? {};
  const state = NUD_ORDER.find((s) => st[s] === true) ?? 'none';
  return {
    ip: bytesToIp(m.attrs.dst),
    ifindex: m.data.ifindex ?? 0,
    state,
    ...(m.attrs.lladdr && m.attrs.lladdr.length === 6 ? { mac: bytesToMac(m.attrs.lladdr) } : {}),
  };
}

/** An AF_BRIDGE neighbour that is a vxlan remote (NTF_SELF with NDA_DST), or undefined. */
export function parseFdb(m: rt.NeighborMessage): Fdb | undefined {
  if (m.data.family !== AF_BRIDGE || !m.data.flags?.self || !m.attrs.dst || m.attrs.lladdr?.length !== 6) return undefined;
  return { mac: bytesToMac(m.attrs.lladdr), dst: bytesToIp(m.attrs.dst), ifindex: m.data.ifindex ?? 0 };
}

export const describeNeigh = (n: { ip: string; mac?: string; dev: DevRef }): string =>
  `neigh ${n.ip}${n.mac !== undefined ? ` lladdr ${n.mac}` : ''} dev ${devText(n.dev) ?? ''}`;

export const describeFdb = (f: { mac: string; dst: string; dev: DevRef }): string =>
  `fdb ${f.mac} dst ${f.dst} dev ${devText(f.dev) ?? ''} self permanent`;

// ---------------------------------------------------------------- keys for diffing

/** "route:10.5.3.0/24"; table and metric are appended when they are not the defaults (the kernel's route identity). */
export function routeKey(r: Route): string {
  const c = canonicalRoute(r);
  return `route:${c.dst}${c.table !== undefined ? ` table ${c.table}` : ''}${c.metric ? ` metric ${c.metric}` : ''}`;
}

export const neighKey = (n: { ip: string; ifindex: number }): string => `neigh:${n.ifindex}:${bytesToIp(ipToBytes(n.ip))}`;

export const fdbKey = (f: { mac: string; dst: string; ifindex: number }): string =>
  `fdb:${f.ifindex}:${bytesToMac(macToBytes(f.mac))}:${bytesToIp(ipToBytes(f.dst))}`;

export function addrKey(a: { cidr: string; ifindex: number }): string {
  const c = cidrToBytes(a.cidr);
  return `addr:${a.ifindex}:${bytesToCidr(c.addr, c.prefix)}`;
}

// ---------------------------------------------------------------- notifications

/** A multicast notification as a typed event, or undefined for messages we do not report. */
export function parseEvent(type: number, payload: Buffer): NetlinkEvent | undefined {
  switch (type) {
    case MessageType.NEWLINK:
    case MessageType.DELLINK:
      return { kind: 'link', action: type === MessageType.NEWLINK ? 'new' : 'del', link: parseLink(rt.parseLinkMessage(payload)) };
    case MessageType.NEWROUTE:
    case MessageType.DELROUTE: {
      const route = parseRoute(rt.parseRouteMessage(payload));
      return route && { kind: 'route', action: type === MessageType.NEWROUTE ? 'new' : 'del', route };
    }
    case MessageType.NEWNEIGH:
    case MessageType.DELNEIGH: {
      const m = rt.parseNeighborMessage(payload);
      const st = m.data.state ?? {};
      const neigh = {
        ifindex: m.data.ifindex ?? 0,
        bridge: m.data.family === AF_BRIDGE,
        state: NUD_ORDER.find((s) => st[s] === true) ?? ('none' as NeighState),
        ...(m.attrs.dst && (m.attrs.dst.length === 4 || m.attrs.dst.length === 16) ? { ip: bytesToIp(m.attrs.dst) } : {}),
        ...(m.attrs.lladdr && m.attrs.lladdr.length === 6 ? { mac: bytesToMac(m.attrs.lladdr) } : {}),
      };
      return { kind: 'neigh', action: type === MessageType.NEWNEIGH ? 'new' : 'del', neigh };
    }
    default:
      return undefined;
  }
}

/** Whether a notification of this type is a new or changed route or neighbour (for WatchOptions.onlyDeletions). */
export const isNewEntry = (type: number): boolean => type === MessageType.NEWROUTE || type === MessageType.NEWNEIGH;
