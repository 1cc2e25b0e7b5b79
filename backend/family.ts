// A lease and our own attributes, read and written by address family. flannel's JSON keeps the two
// families in twin fields (Subnet / IPv6Subnet, PublicIP / PublicIPv6, BackendData / BackendV6Data);
// the backends go through these instead of choosing a field with `family === 4 ? … : …` each time.
import { type Cidr, type Family, formatIp, isIp, type Lease, type LeaseAttrs, parseIp } from '../ipam/index.js';
import type { ExternalInterface } from './types.js';

const ATTR = {
  4: { publicIP: 'publicIP', backendData: 'backendData' },
  6: { publicIP: 'publicIPv6', backendData: 'backendV6Data' },
} as const;

/** The lease's subnet of this family, if it has one. */
export const leaseSubnet = (l: Pick<Lease, 'subnet' | 'ipv6Subnet'>, family: Family): Cidr | undefined => (family === 4 ? l.subnet : l.ipv6Subnet);

/** The lease's BackendData (BackendV6Data) for this family, as written. */
export const leaseBackendData = (l: Lease, family: Family): unknown => l.attrs[ATTR[family].backendData];

/** The peer's public IP of this family in canonical form, or undefined when it has none (or not of this family). */
export function leasePublicIP(l: Lease, family: Family): string | undefined {
  const ip = l.attrs[ATTR[family].publicIP];
  if (!ip || !isIp(ip)) return undefined;
  const a = parseIp(ip);
  return a.family === family ? formatIp(a) : undefined;
}

/** Our lease attributes for one family: its public IP, and the backend's data when it has some. */
export function familyAttrs(family: Family, publicIP: string, backendData?: unknown): LeaseAttrs {
  return { [ATTR[family].publicIP]: publicIP, ...(backendData !== undefined && { [ATTR[family].backendData]: backendData }) };
}

/** The public IPs we publish: one per family the external interface carries. */
export function publishedIPs(ext: ExternalInterface): LeaseAttrs {
  let attrs: LeaseAttrs = {};
  for (const [family, a] of ext.addrs) attrs = { ...attrs, ...familyAttrs(family, a.publicIP) };
  return attrs;
}
