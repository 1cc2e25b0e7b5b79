// The peer table of the udp data path, computed from the leases (pure): for each peer subnet, the
// peer's PublicIP that packets for it are sent to. flannel's udp leases carry no BackendType (and no
// BackendData), so a lease without one is a udp peer; leases of other backends (a node still on
// vxlan during a migration) cannot be reached through our port and are skipped with the reason.
import { leasePublicIP, type SkippedPeer } from '../backend/index.js';
import { type Cidr, contains, formatCidr, formatIp, overlaps, parseIp } from '../ipam/index.js';
import type { Lease } from '../ipam/index.js';

export interface PeerEntry {
  /** The peer's subnet address, "10.5.3.0". */
  readonly subnet: string;
  readonly prefixLen: number;
  /** Where its packets go: the peer's PublicIP (port: ours, the same on every node). */
  readonly peerIP: string;
}

export interface PeerTable {
  /** Our own subnet: packets for it are never sent out, and only packets for it are accepted. */
  readonly own?: { readonly subnet: string; readonly prefixLen: number };
  /** Sorted by subnet, one per subnet. */
  readonly entries: readonly PeerEntry[];
}

export function udpPeerTable(
  peers: readonly Lease[],
  own: Cidr | undefined,
  network: Cidr,
): { table: PeerTable; skipped: SkippedPeer[] } {
  const entries: PeerEntry[] = [];
  const skipped: SkippedPeer[] = [];
  const seen = new Set<string>();
  for (const l of peers) {
    const sn = l.subnet;
    if (!sn) continue; // an IPv6-only lease: nothing for an IPv4 data path
    const subnet = formatCidr(sn);
    const skip = (reason: string) => skipped.push({ subnet, reason });
    if (l.attrs.backendType !== undefined) {
      skip(`backend ${l.attrs.backendType} is not udp`);
      continue;
    }
    const ip = leasePublicIP(l, 4);
    if (!ip) {
      skip('no IPv4 PublicIP');
      continue;
    }
    if (own && overlaps(own, sn)) {
      skip('overlaps our own subnet');
      continue;
    }
    if (!contains(network, sn.addr) || sn.prefix < network.prefix) {
      skip(`outside the network ${formatCidr(network)}`);
      continue;
    }
    if (seen.has(subnet)) {
      skip('duplicate subnet');
      continue;
    }
    seen.add(subnet);
    entries.push({ subnet: formatIp(sn.addr), prefixLen: sn.prefix, peerIP: ip });
  }
  entries.sort((a, b) => cmpIp(a.subnet, b.subnet) || a.prefixLen - b.prefixLen);
  return {
    table: { ...(own && { own: { subnet: formatIp(own.addr), prefixLen: own.prefix } }), entries },
    skipped,
  };
}

const cmpIp = (a: string, b: string): number => {
  const x = parseIp(a).value;
  const y = parseIp(b).value;
  return x < y ? -1 : x > y ? 1 : 0;
};

const NO_OWN = 0xff;

/** The native loop's encoding: [ownNet, ownPrefix (255: none), then net, prefix, peer per entry], IPv4 as integers. */
export function encodePeerTable(t: PeerTable): Uint32Array {
  const w = new Uint32Array(2 + 3 * t.entries.length);
  w[0] = t.own ? ip4(t.own.subnet) : 0;
  w[1] = t.own ? t.own.prefixLen : NO_OWN;
  t.entries.forEach((e, i) => {
    w[2 + 3 * i] = ip4(e.subnet);
    w[3 + 3 * i] = e.prefixLen;
    w[4 + 3 * i] = ip4(e.peerIP);
  });
  return w;
}

function ip4(s: string): number {
  const a = parseIp(s);
  if (a.family !== 4) throw new RangeError(`${s} is not an IPv4 address`);
  return Number(a.value);
}

/** A stable text form for logs and change detection. */
export const describePeerTable = (t: PeerTable): string =>
  t.entries.map((e) => `${e.subnet}/${e.prefixLen}→${e.peerIP}`).join(',');
