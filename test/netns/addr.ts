// Just enough IPv4 arithmetic for lab addressing (underlay hosts, pod addresses on a bridge).

export interface Cidr4 {
  /** The address as written (may be a host address, e.g. a gateway `10.5.3.1/24`). */
  readonly addr: number;
  readonly len: number;
}

export function parseIp4(s: string): number {
  const parts = s.split('.');
  if (parts.length !== 4) throw new RangeError(`not an IPv4 address: ${s}`);
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) throw new RangeError(`not an IPv4 address: ${s}`);
    n = n * 256 + Number(p);
  }
  return n;
}

export function formatIp4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseCidr4(s: string): Cidr4 {
  const [a, l, ...rest] = s.split('/');
  const len = Number(l);
  if (a === undefined || l === undefined || rest.length || !Number.isInteger(len) || len < 0 || len > 32) {
    throw new RangeError(`not an IPv4 CIDR: ${s}`);
  }
  return { addr: parseIp4(a), len };
}

export function networkOf(c: Cidr4): number {
  return c.len === 0 ? 0 : (c.addr & (~0 << (32 - c.len))) >>> 0;
}

/** The n-th address of the network (n = 1 is the first host address); throws if outside it. */
export function nthHost(c: Cidr4, n: number): string {
  const size = 2 ** (32 - c.len);
  if (!Number.isInteger(n) || n < 1 || n >= size - 1) throw new RangeError(`host #${n} is outside /${c.len}`);
  return formatIp4(networkOf(c) + n);
}

/** Offset of addr inside the network of c, or -1 if it is outside. */
export function offsetIn(c: Cidr4, addr: number): number {
  const size = 2 ** (32 - c.len);
  const off = addr - networkOf(c);
  return off >= 0 && off < size ? off : -1;
}
