// From ipam/host-local's typed values to the CNI wire types. Pure.
import type { IpamAllocation, IpamDns, IpamRoute } from '../ipam/host-local/index.js';
import { formatCidr, formatIp } from '../core/index.js';
import type { CniDns, CniIpConfig, CniResult, CniRoute } from './types.js';
import { IMPLEMENTED_VERSION } from './version.js';

export function routeJson(r: IpamRoute): CniRoute {
  return {
    dst: formatCidr(r.dst),
    ...(r.gw && { gw: formatIp(r.gw) }),
    ...(r.mtu !== undefined && { mtu: r.mtu }),
    ...(r.advmss !== undefined && { advmss: r.advmss }),
    ...(r.priority !== undefined && { priority: r.priority }),
    ...(r.table !== undefined && { table: r.table }),
    ...(r.scope !== undefined && { scope: r.scope }),
  };
}

export const ipConfigJson = (a: IpamAllocation): CniIpConfig => ({
  address: formatCidr({ addr: a.ip, prefix: a.prefix }),
  gateway: formatIp(a.gateway),
});

/** An IPAM plugin's result: no interfaces, IPs without an interface index. */
export function ipamResult(ips: readonly IpamAllocation[], routes: readonly IpamRoute[], dns?: IpamDns): CniResult {
  const d: CniDns | undefined = dns && Object.keys(dns).length > 0 ? dns : undefined;
  return {
    cniVersion: IMPLEMENTED_VERSION,
    ips: ips.map(ipConfigJson),
    ...(routes.length > 0 && { routes: routes.map(routeJson) }),
    ...(d && { dns: d }),
  };
}
