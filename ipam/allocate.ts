// Choosing a free subnet is pure: the registry's create-if-absent transaction decides who wins.
import type { FamilyNetwork } from './config.js';
import { type Cidr, blockSize, contains, overlaps } from '../core/index.js';

/** Is this subnet one the config could hand out (inside SubnetMin..SubnetMax, of SubnetLen)? */
export function subnetFitsConfig(net: FamilyNetwork, sn: Cidr): boolean {
  return (
    sn.addr.family === net.family &&
    sn.prefix === net.subnetLen &&
    contains(net.network, sn.addr) &&
    sn.addr.value >= net.subnetMin.value &&
    sn.addr.value <= net.subnetMax.value
  );
}

/**
 * Up to `limit` free subnets between SubnetMin and SubnetMax, in address order. Taken subnets of
 * the configured length are looked up in a set; any other length (from an older config) is
 * checked for overlap.
 */
export function freeSubnets(net: FamilyNetwork, taken: readonly Cidr[], limit: number): Cidr[] {
  const sameLen = new Set<bigint>();
  const odd: Cidr[] = [];
  for (const t of taken) {
    if (t.addr.family !== net.family) continue;
    if (t.prefix === net.subnetLen) sameLen.add(t.addr.value);
    else odd.push(t);
  }
  const step = blockSize(net.family, net.subnetLen);
  const out: Cidr[] = [];
  for (let v = net.subnetMin.value; v <= net.subnetMax.value && out.length < limit; v += step) {
    if (sameLen.has(v)) continue;
    const c: Cidr = { addr: { family: net.family, value: v }, prefix: net.subnetLen };
    if (odd.some((t) => overlaps(t, c))) continue;
    out.push(c);
  }
  return out;
}

/**
 * A random free subnet among the first `window` free ones, or undefined when the range is full.
 * Randomness keeps nodes that start together from racing for the same subnet; flannel's window of
 * 100 makes a thousand simultaneous starts collide round after round, so ours spans the whole range
 * (capped for huge IPv6 ranges, where collisions are rare anyway).
 */
export function pickFreeSubnet(net: FamilyNetwork, taken: readonly Cidr[], rnd: () => number, window = 65_536): Cidr | undefined {
  const free = freeSubnets(net, taken, window);
  if (free.length === 0) return undefined;
  return free[Math.min(free.length - 1, Math.floor(rnd() * free.length))];
}
