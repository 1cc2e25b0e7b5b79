// host-gw: for each peer, `<peer subnet> via <peer PublicIP> dev <underlay>`. That only works when
// every node is on one L2 segment, so a peer that is not on ours is refused with the reason.
import { type DesiredState, type SkippedPeer, addRoute, emptyKernelState, leasePublicIP, leaseSubnet, segmentOf } from '../backend/index.js';
import { type Family, type Lease, formatCidr } from '../ipam/index.js';

export interface RoutePlane {
  readonly family: Family;
  readonly extIndex: number;
  readonly extName: string;
  readonly extCidrs: readonly string[];
}

export function desiredHostGwState(peers: readonly Lease[], p: RoutePlane): DesiredState {
  const s = emptyKernelState();
  const skipped: SkippedPeer[] = [];
  for (const l of peers) {
    const sn = leaseSubnet(l, p.family);
    if (!sn) continue;
    const subnet = formatCidr(sn);
    if (l.attrs.backendType !== 'host-gw') {
      skipped.push({ subnet, reason: `backend ${l.attrs.backendType ?? 'udp'} is not host-gw` });
      continue;
    }
    const gw = leasePublicIP(l, p.family);
    if (!gw) {
      skipped.push({ subnet, reason: `no IPv${p.family} PublicIP` });
      continue;
    }
    if (!segmentOf(gw, p.extCidrs)) {
      skipped.push({
        subnet,
        peer: gw,
        reason: `peer ${gw} is not directly reachable on ${p.extName} (${p.extCidrs.join(', ') || 'no address'}): host-gw needs every node on one L2 segment`,
      });
      continue;
    }
    addRoute(s, { dst: subnet, gw, ifindex: p.extIndex });
  }
  return { state: s, skipped };
}
