// What the kernel must hold for the peers, per address family (one code path for both):
//   neighbour  <peer subnet>.0 → peer VtepMAC         (permanent, on flannel.<VNI>)
//   FDB        peer VtepMAC → peer PublicIP          (self permanent, on flannel.<VNI>)
//   route      <peer subnet> via <peer subnet>.0 dev flannel.<VNI> onlink
// or, with DirectRouting and the peer on our L2 segment, `<peer subnet> via <PublicIP> dev <iface>`.
// Programming every peer statically (no L2/L3 miss handling) keeps the data path up while flanneld
// restarts or is down.
import { type DesiredState, type SkippedPeer, addFdb, addNeigh, addRoute, emptyKernelState, leaseBackendData, leasePublicIP, leaseSubnet, segmentOf } from '../backend/index.js';
import { type Family, type Lease, formatCidr, formatIp } from '../ipam/index.js';

export interface FamilyPlane {
  readonly family: Family;
  /** ifindex of flannel.<VNI> (flannel-v6.<VNI>). */
  readonly devIndex: number;
  /** ifindex of the underlay interface and its addresses (CIDRs) of this family. */
  readonly extIndex: number;
  readonly extCidrs: readonly string[];
  readonly directRouting: boolean;
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

export function peerVtep(l: Lease, family: Family): { ip: string; mac: string } | string {
  if (l.attrs.backendType !== 'vxlan') return `backend ${l.attrs.backendType ?? 'udp'} is not vxlan`;
  const ip = leasePublicIP(l, family);
  if (!ip) return `no IPv${family} PublicIP`;
  const data = leaseBackendData(l, family);
  const mac = typeof data === 'object' && data !== null ? (data as Record<string, unknown>).VtepMAC : undefined;
  if (typeof mac !== 'string' || !MAC_RE.test(mac)) return `BackendData has no valid VtepMAC`;
  return { ip, mac: mac.toLowerCase() };
}

export function desiredVxlanState(peers: readonly Lease[], p: FamilyPlane): DesiredState {
  const s = emptyKernelState();
  const skipped: SkippedPeer[] = [];
  for (const l of peers) {
    const sn = leaseSubnet(l, p.family);
    if (!sn) continue;
    const vtep = peerVtep(l, p.family);
    if (typeof vtep === 'string') {
      skipped.push({ subnet: formatCidr(sn), reason: vtep });
      continue;
    }
    const dst = formatCidr(sn);
    if (p.directRouting && segmentOf(vtep.ip, p.extCidrs)) {
      addRoute(s, { dst, gw: vtep.ip, ifindex: p.extIndex });
      continue;
    }
    const gw = formatIp(sn.addr);
    addNeigh(s, { ip: gw, mac: vtep.mac, ifindex: p.devIndex });
    addFdb(s, { mac: vtep.mac, dst: vtep.ip, ifindex: p.devIndex });
    addRoute(s, { dst, gw, ifindex: p.devIndex, onlink: true });
  }
  return { state: s, skipped };
}
