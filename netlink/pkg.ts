// The netlink package, required rather than imported: an ES import of a CommonJS package makes Node
// lex every file it re-exports to learn their names, which was most of this package's load time at
// a daemon's start. The modules of this folder import it from here; the types it names are the ones
// they use (add one here when a module needs another).
import { createRequire } from 'node:module';
import type * as Netlink from 'netlink';

const nodeRequire = createRequire(import.meta.url);

/**
 * The package's index also loads its generic-netlink, nl80211 (a quarter of a megabyte of generated
 * structs) and WireGuard modules, a fifth of a flanneld start, for nothing we use: the files holding
 * what we use are required one by one. A release that moves them gets the whole package instead.
 */
function load(): typeof Netlink {
  try {
    // Literal paths: the bundle (scripts/build-bundle.mjs) takes these files in.
    const some = {
      ...(nodeRequire('netlink/dist/constants') as object),
      ...(nodeRequire('netlink/dist/raw') as object),
      ...(nodeRequire('netlink/dist/structs') as object),
      ...(nodeRequire('netlink/dist/netlink') as object),
      rt: nodeRequire('netlink/dist/rt/structs') as object,
      ifla: nodeRequire('netlink/dist/rt/ifla') as object,
    } as unknown as typeof Netlink;
    if (USED.every((k) => some[k] !== undefined) && typeof some.rt.parseMessage === 'function' && typeof some.ifla.parseVxlan === 'function') return some;
  } catch {
    // another layout: the index has them all
  }
  return nodeRequire('netlink') as typeof Netlink;
}
const USED = ['AttrStream', 'FlagsNew', 'Flags', 'MessageType', 'Protocol', 'RawNetlinkSocket', 'createNetlink', 'parseError'] as const;
const pkg = load();

export const { AttrStream, FlagsNew, Flags, MessageType, Protocol, RawNetlinkSocket, createNetlink, parseError } = pkg;
export type RawNetlinkSocket = Netlink.RawNetlinkSocket;
export type { ErrnoException, NetlinkMessage, NetlinkSocket, StreamData } from 'netlink';

export const rt = pkg.rt;
export const ifla = pkg.ifla;
// The types of the package's `rt` and `ifla` namespaces, under the same names as their values.
export declare namespace rt {
  type AddressMessage = Netlink.rt.AddressMessage;
  type Link = Netlink.rt.Link;
  type LinkMessage = Netlink.rt.LinkMessage;
  type Message = Netlink.rt.Message;
  type MessageType = Netlink.rt.MessageType;
  type MulticastGroups = Netlink.rt.MulticastGroups;
  type Neighbor = Netlink.rt.Neighbor;
  type NeighborAttrs = Netlink.rt.NeighborAttrs;
  type NeighborMessage = Netlink.rt.NeighborMessage;
  type NeighborState = Netlink.rt.NeighborState;
  type Route = Netlink.rt.Route;
  type RouteAttrs = Netlink.rt.RouteAttrs;
  type RouteFlags = Netlink.rt.RouteFlags;
  type RouteMessage = Netlink.rt.RouteMessage;
  type RouteType = Netlink.rt.RouteType;
}
export declare namespace ifla {
  type LinkAttrs = Netlink.ifla.LinkAttrs;
  type Vxlan = Netlink.ifla.Vxlan;
}
