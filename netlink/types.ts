// The typed records of the netlink layer. Addresses are canonical strings (family derived from the text),
// MACs are "aa:bb:cc:dd:ee:ff", devices are referred to by ifindex or by name.

import type { Family } from '../common/index.js';
import type { NetlinkWrite } from './wire.js';

export type { Family, NetlinkWrite };

/** A device reference on input: its ifindex or its name. */
export type DevRef = number | string;

/** The vxlan properties the kernel reports for a vxlan link (IFLA_INFO_DATA). */
export interface VxlanInfo {
  readonly vni: number;
  /** Source (VTEP) address, when one is configured. */
  readonly local?: string;
  /** UDP destination port. */
  readonly port: number;
  readonly learning: boolean;
  readonly gbp: boolean;
  /** ifindex of the underlay device, when one is configured. */
  readonly dev?: number;
}

export interface Link {
  readonly index: number;
  readonly name: string;
  /** IFLA_INFO_KIND ("vxlan", "bridge", "veth", ...); absent for physical devices and lo. */
  readonly kind?: string;
  /** Absent for devices without a link-layer address (ipip, wireguard). */
  readonly mac?: string;
  readonly mtu: number;
  /** IFF_UP (administrative state). */
  readonly up: boolean;
  readonly vxlan?: VxlanInfo;
}

/** What a vxlan device must look like (flannel's flannel.<VNI>). */
export interface VxlanSpec {
  readonly name: string;
  readonly vni: number;
  readonly local?: string;
  /** Underlay device (ifindex or name). */
  readonly dev?: DevRef;
  /** UDP destination port; default 8472 (the Linux and flannel default). */
  readonly port?: number;
  /** Default false: flannel programs the FDB statically. */
  readonly learning?: boolean;
  readonly gbp?: boolean;
  /** Applied at creation only; use setLink to change an existing device. */
  readonly mtu?: number;
  readonly mac?: string;
}

export interface BridgeSpec {
  readonly name: string;
  readonly mtu?: number;
  readonly mac?: string;
}

export interface LinkChange {
  readonly mac?: string;
  readonly mtu?: number;
  readonly up?: boolean;
}

export interface Addr {
  /** "10.5.1.0/32", "fd00::1/128": the address with its prefix length. */
  readonly cidr: string;
  readonly ifindex: number;
  readonly family: Family;
}

export interface AddrSpec {
  readonly cidr: string;
  readonly dev: DevRef;
}

/** RT_TABLE_MAIN. */
export const TABLE_MAIN = 254;

export interface Route {
  /** Destination network, "10.5.3.0/24"; "0.0.0.0/0" / "::/0" for a default route. */
  readonly dst: string;
  readonly gw?: string;
  /** Output device; on input `dev` may be given instead (name or ifindex). */
  readonly ifindex?: number;
  readonly dev?: DevRef;
  /** RTNH_F_ONLINK: the gateway is on the link even if no prefix covers it (flannel's vxlan routes). */
  readonly onlink?: boolean;
  /** Default RT_TABLE_MAIN (254). */
  readonly table?: number;
  readonly metric?: number;
  /** Preferred source address. */
  readonly src?: string;
  /** Derived from `dst` when omitted on input; always present on output. */
  readonly family?: Family;
}

export type NeighState =
  | 'permanent' | 'noarp' | 'reachable' | 'stale' | 'delay' | 'probe' | 'failed' | 'incomplete' | 'none';

export interface Neigh {
  readonly ip: string;
  /** Absent for entries that were never resolved (incomplete, failed). */
  readonly mac?: string;
  readonly ifindex: number;
  readonly state: NeighState;
}

/** A permanent ARP/NDP entry to program. */
export interface NeighSpec {
  readonly ip: string;
  readonly mac: string;
  readonly dev: DevRef;
}

/** A vxlan FDB entry: frames for `mac` are sent to the VTEP at `dst` (NTF_SELF, NUD_PERMANENT). */
export interface Fdb {
  readonly mac: string;
  readonly dst: string;
  readonly ifindex: number;
}

export interface FdbSpec {
  readonly mac: string;
  readonly dst: string;
  readonly dev: DevRef;
}

export type WatchGroup = 'link' | 'ipv4-route' | 'ipv6-route' | 'neigh';

/** A neighbour notification (RTNLGRP_NEIGH): an ARP/NDP entry, or (bridge) an FDB entry. */
export interface NeighEvent {
  readonly ifindex: number;
  /** AF_BRIDGE: an FDB entry (ip is then its NDA_DST, the VTEP, when it has one). */
  readonly bridge: boolean;
  readonly ip?: string;
  readonly mac?: string;
  readonly state: NeighState;
}

export type NetlinkEvent =
  | { readonly kind: 'link'; readonly action: 'new' | 'del'; readonly link: Link }
  | { readonly kind: 'route'; readonly action: 'new' | 'del'; readonly route: Route }
  | { readonly kind: 'neigh'; readonly action: 'new' | 'del'; readonly neigh: NeighEvent }
  /** Notifications were lost (kernel ENOBUFS or our queue bound): the consumer must resync from a dump. */
  | { readonly kind: 'overflow' };

export interface WatchOptions {
  readonly groups: readonly WatchGroup[];
  /** Ends the iteration and closes the subscription socket. */
  readonly signal: AbortSignal;
  /** Events buffered before an overflow is reported; default 4096. */
  readonly maxQueued?: number;
  /**
   * Route and neighbour notifications: deletions only (links: every change). The kernel announces
   * each of our own writes too; skipping the new ones unparsed keeps a drift watch cheap.
   */
  readonly onlyDeletions?: boolean;
}

export interface RouteFilter {
  readonly family?: Family;
  /** Default RT_TABLE_MAIN; 'all' for every table. */
  readonly table?: number | 'all';
  readonly ifindex?: number;
}

export interface DevFilter {
  readonly family?: Family;
  readonly ifindex?: number;
}

/**
 * The netlink port used by backends. Every write is idempotent: creating what exists with the same
 * properties succeeds, deleting what is absent succeeds (deletes resolve to whether something was removed).
 * Every kernel error is a NetlinkError.
 */
export interface Netlink {
  /** Creates the vxlan device, or accepts an existing compatible one; see VxlanOptions for incompatible ones. */
  ensureVxlan(spec: VxlanSpec, opts?: VxlanOptions): Promise<Link>;
  ensureBridge(spec: BridgeSpec): Promise<Link>;
  setLink(dev: DevRef, change: LinkChange): Promise<void>;
  deleteLink(dev: DevRef): Promise<boolean>;
  getLink(dev: DevRef): Promise<Link | undefined>;
  dumpLinks(): Promise<Link[]>;

  addAddr(a: AddrSpec): Promise<void>;
  deleteAddr(a: AddrSpec): Promise<boolean>;
  dumpAddrs(filter?: DevFilter): Promise<Addr[]>;

  /** Fails with EEXIST only when a route with the same key exists with different properties. */
  addRoute(r: Route): Promise<void>;
  replaceRoute(r: Route): Promise<void>;
  deleteRoute(r: Route): Promise<boolean>;
  dumpRoutes(filter?: RouteFilter): Promise<Route[]>;

  /** Fails with EEXIST only when the IP is already bound to a different MAC. */
  addNeigh(n: NeighSpec): Promise<void>;
  replaceNeigh(n: NeighSpec): Promise<void>;
  deleteNeigh(n: Pick<NeighSpec, 'ip' | 'dev'>): Promise<boolean>;
  dumpNeighs(filter?: DevFilter): Promise<Neigh[]>;

  /** `bridge fdb append <mac> dev <dev> dst <dst> self permanent`. */
  addFdb(f: FdbSpec): Promise<void>;
  deleteFdb(f: FdbSpec): Promise<boolean>;
  dumpFdb(filter?: { readonly ifindex?: number }): Promise<Fdb[]>;

  /**
   * Many route, neighbour and FDB writes, many per sendmsg, in order; resolves to each one's errno
   * (0: done). A write that fails comes back with its errno and nothing else: no EEXIST tolerance, no
   * name resolution (devices are ifindexes). Callers fall back to the single methods for the failures.
   */
  writeBatch(writes: readonly NetlinkWrite[]): Promise<number[]>;

  /**
   * Subscribes at once (so a dump taken after this call misses nothing) and yields events until the
   * signal aborts. The subscription socket keeps the process alive while it is open.
   */
  watch(opts: WatchOptions): AsyncIterable<NetlinkEvent>;

  close(): void;
}

export interface VxlanOptions {
  /**
   * What to do when a device of that name exists with incompatible properties: 'fail' throws a
   * LinkIncompatError (default); 'recreate' deletes it and creates it again, logging the difference.
   */
  readonly onIncompat?: 'fail' | 'recreate';
}
