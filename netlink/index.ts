// The typed rtnetlink layer over npm `netlink`: links (vxlan, bridge), addresses, routes, neighbours, vxlan
// FDB entries and link/route notifications, with idempotent ("ensure") writes and errno-carrying errors.
export { openNetlink, type NetlinkOptions } from './socket.js';
export {
  type Addr, type AddrSpec, type BridgeSpec, type DevFilter, type DevRef, type Family, type Fdb, type FdbSpec, type Link,
  type LinkChange, type Neigh, type NeighEvent, type NeighSpec, type NeighState, type Netlink, type NetlinkEvent, type Route,
  type RouteFilter, type NetlinkWrite, type VxlanInfo, type VxlanOptions, type VxlanSpec, type WatchGroup, type WatchOptions, TABLE_MAIN,
} from './types.js';
export { NetlinkError, NetlinkInputError, LinkIncompatError, errnoName, type NetlinkOp } from './errors.js';
export {
  vxlanIncompat, vxlanWant, routeDiff, describeRoute, describeNeigh, describeFdb, describeAddr, routeKey, neighKey, fdbKey,
  addrKey, canonicalRoute, DEFAULT_VXLAN_PORT, type VxlanWant,
} from './codec.js';
export { canonicalIp, canonicalCidr, canonicalMac, familyOf } from './addr.js';
// The raw socket of the package, for the other netlink families (nf_tables notifications): loaded with
// the few files of the package we use, not its whole index.
export { Protocol, RawNetlinkSocket } from './pkg.js';
export { NftGeneration, NftGenerationError, encodeGetGen, parseGenReplies, type GenReply } from './nft-generation.js';
export { parseReplies, type WireReply } from './wire.js';
