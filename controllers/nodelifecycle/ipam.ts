// Node IPAM's range allocator, pure: --cluster-cidr cut into blocks of --node-cidr-mask-size; the
// blocks the nodes already hold are taken (rebuilt from the nodes at every start, so a restart never
// hands out a block twice), and a node without spec.podCIDR gets the lowest free one after the last
// one given (so a released block is not reused at once).
import { addIp, blockSize, type Cidr, contains, formatCidr, networkOf, parseCidr } from '../../common/index.js';

export class CidrAllocator {
  private readonly net: Cidr;
  private readonly count: bigint;
  private readonly used = new Set<bigint>();
  private next = 0n;

  constructor(
    clusterCidr: string,
    readonly maskSize: number,
  ) {
    this.net = networkOf(parseCidr(clusterCidr));
    if (maskSize < this.net.prefix) throw new Error(`--node-cidr-mask-size /${maskSize} is larger than --cluster-cidr ${clusterCidr}`);
    this.count = 1n << BigInt(maskSize - this.net.prefix);
  }

  get size(): bigint {
    return this.count;
  }

  private indexOf(cidr: string): bigint | undefined {
    let c: Cidr;
    try {
      c = parseCidr(cidr);
    } catch {
      return undefined;
    }
    if (c.prefix !== this.maskSize || !contains(this.net, c.addr)) return undefined;
    return (networkOf(c).addr.value - this.net.addr.value) / blockSize(c.addr.family, this.maskSize);
  }

  /** A node holds this CIDR (one of ours or not: a foreign one is ignored). */
  occupy(cidr: string): boolean {
    const i = this.indexOf(cidr);
    if (i === undefined) return false;
    this.used.add(i);
    return true;
  }

  release(cidr: string): void {
    const i = this.indexOf(cidr);
    if (i !== undefined) this.used.delete(i);
  }

  /** The next free block, taken; undefined when the range is full. */
  allocate(): string | undefined {
    for (let k = 0n; k < this.count; k++) {
      const i = (this.next + k) % this.count;
      if (this.used.has(i)) continue;
      this.used.add(i);
      this.next = (i + 1n) % this.count;
      return formatCidr({ addr: addIp(this.net.addr, i * blockSize(this.net.addr.family, this.maskSize)), prefix: this.maskSize });
    }
    return undefined;
  }
}
