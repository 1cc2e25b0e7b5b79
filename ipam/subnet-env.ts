// /run/flannel/subnet.env: what Docker (--bip), the CNI plugin and operators read. The file is
// written atomically so a reader never sees half of it.
import { readFile } from 'node:fs/promises';
import type { NetworkConfig } from './config.js';
import type { Lease } from './lease.js';
import { type Cidr, addIp, formatIp, parseCidr, networkOf } from '../core/index.js';

export interface SubnetEnv {
  readonly network?: Cidr;
  /** The node's subnet, written as its first address with the subnet's length (10.5.72.1/24). */
  readonly subnet?: Cidr;
  readonly ipv6Network?: Cidr;
  readonly ipv6Subnet?: Cidr;
  readonly mtu: number;
  readonly ipMasq: boolean;
}

export function subnetEnvFor(cfg: NetworkConfig, lease: Pick<Lease, 'subnet' | 'ipv6Subnet'>, mtu: number, ipMasq: boolean): SubnetEnv {
  const firstHost = (c: Cidr): Cidr => ({ addr: addIp(c.addr, 1n), prefix: c.prefix });
  return {
    ...(cfg.v4 && lease.subnet && { network: cfg.v4.network, subnet: firstHost(lease.subnet) }),
    ...(cfg.v6 && lease.ipv6Subnet && { ipv6Network: cfg.v6.network, ipv6Subnet: firstHost(lease.ipv6Subnet) }),
    mtu,
    ipMasq,
  };
}

export function renderSubnetEnv(e: SubnetEnv): string {
  const lines: string[] = [];
  const cidr = (c: Cidr) => `${formatIp(c.addr)}/${c.prefix}`;
  if (e.network) lines.push(`FLANNEL_NETWORK=${cidr(e.network)}`);
  if (e.subnet) lines.push(`FLANNEL_SUBNET=${cidr(e.subnet)}`);
  if (e.ipv6Network) lines.push(`FLANNEL_IPV6_NETWORK=${cidr(e.ipv6Network)}`);
  if (e.ipv6Subnet) lines.push(`FLANNEL_IPV6_SUBNET=${cidr(e.ipv6Subnet)}`);
  lines.push(`FLANNEL_MTU=${e.mtu}`, `FLANNEL_IPMASQ=${e.ipMasq}`);
  return lines.join('\n') + '\n';
}

/** KEY=VALUE lines as a shell would source them (comments and blank lines ignored). */
export function parseEnvFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const eq = t.indexOf('=');
    if (eq <= 0) continue;
    out.set(t.slice(0, eq).trim(), t.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'));
  }
  return out;
}

/** The subnets a previous run wrote, so a restarted node asks for the same ones back. */
export function previousSubnets(text: string): { subnet?: Cidr; ipv6Subnet?: Cidr } {
  const env = parseEnvFile(text);
  const read = (k: string): Cidr | undefined => {
    const v = env.get(k);
    if (!v) return undefined;
    try {
      return networkOf(parseCidr(v));
    } catch {
      return undefined;
    }
  };
  const subnet = read('FLANNEL_SUBNET');
  const ipv6Subnet = read('FLANNEL_IPV6_SUBNET');
  return { ...(subnet && { subnet }), ...(ipv6Subnet && { ipv6Subnet }) };
}

export async function readPreviousSubnets(path: string): Promise<{ subnet?: Cidr; ipv6Subnet?: Cidr }> {
  try {
    return previousSubnets(await readFile(path, 'utf8'));
  } catch {
    return {};
  }
}

// The atomic write is common/, shared with every other file a reader must never see half-written.
export { writeFileAtomic } from '../core/index.js';

