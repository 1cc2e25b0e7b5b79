// One address arithmetic for both families (the CNI plugins' cidr.go idea): an address is a family
// and a bigint, so IPv4 and IPv6 share every function below. ip-num stays behind this file.
import { createRequire } from 'node:module';
import { FlannelError } from '../common/errors.js';

// ip-num is loaded on the first IPv6 address only: it costs tens of milliseconds at start-up, which
// every CNI plugin invocation would pay.
let ipNum: typeof import('ip-num') | undefined;
const ipv6Lib = (): typeof import('ip-num') => (ipNum ??= createRequire(import.meta.url)('ip-num') as typeof import('ip-num'));

export type Family = 4 | 6;

export interface IpAddr {
  readonly family: Family;
  readonly value: bigint;
}

export interface Cidr {
  readonly addr: IpAddr;
  readonly prefix: number;
}

export class AddressError extends FlannelError {
  readonly code = 'ADDRESS';
  constructor(
    readonly input: string,
    readonly reason: string,
  ) {
    super(`${JSON.stringify(input)} ${reason}`);
  }
}

export const familyBits = (f: Family): number => (f === 4 ? 32 : 128);

const IPV4_RE = /^\d{1,3}(\.\d{1,3}){3}$/;

export function parseIp(s: string): IpAddr {
  if (IPV4_RE.test(s)) {
    // Hand-parsed: this is on the hot path of listing thousands of leases.
    let value = 0;
    for (const o of s.split('.')) {
      if (o.length > 1 && o.startsWith('0')) throw new AddressError(s, 'is not an IPv4 address (octets with leading zeros are ambiguous)');
      const n = Number(o);
      if (n > 255) throw new AddressError(s, 'is not an IPv4 address (octet above 255)');
      value = value * 256 + n;
    }
    return { family: 4, value: BigInt(value) };
  }
  if (s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s)) {
    try {
      return { family: 6, value: ipv6Lib().IPv6.fromString(s).getValue() };
    } catch {
      // fall through to the common error
    }
  }
  throw new AddressError(s, 'is not an IP address');
}

export function isIp(s: string): boolean {
  try {
    parseIp(s);
    return true;
  } catch {
    return false;
  }
}

/** IPv4 dotted quad; IPv6 in the shortest form (RFC 5952), as Go's net.IP prints it. */
export function formatIp(a: IpAddr): string {
  if (a.family === 4) {
    const v = Number(a.value);
    return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  return ipv6Lib().collapseIPv6Number(ipv6Lib().IPv6.fromBigInt(a.value).toString()).toLowerCase();
}

export function parseCidr(s: string): Cidr {
  const slash = s.indexOf('/');
  if (slash < 0) throw new AddressError(s, 'is not a CIDR (expected address/prefix)');
  const addr = parseIp(s.slice(0, slash));
  const p = s.slice(slash + 1);
  const prefix = Number(p);
  if (!/^\d{1,3}$/.test(p) || prefix > familyBits(addr.family)) {
    throw new AddressError(s, `has an invalid prefix length (0..${familyBits(addr.family)})`);
  }
  return { addr, prefix };
}

export const formatCidr = (c: Cidr): string => `${formatIp(c.addr)}/${c.prefix}`;

export function hostMask(f: Family, prefix: number): bigint {
  return (1n << BigInt(familyBits(f) - prefix)) - 1n;
}

/** The number of addresses in a block of this prefix length. */
export function blockSize(f: Family, prefix: number): bigint {
  return 1n << BigInt(familyBits(f) - prefix);
}

/** The CIDR with its host bits cleared. */
export function networkOf(c: Cidr): Cidr {
  return { addr: { family: c.addr.family, value: c.addr.value & ~hostMask(c.addr.family, c.prefix) }, prefix: c.prefix };
}

export const hasHostBits = (c: Cidr): boolean => (c.addr.value & hostMask(c.addr.family, c.prefix)) !== 0n;

export function addIp(a: IpAddr, n: bigint): IpAddr {
  const v = a.value + n;
  if (v < 0n || v >= 1n << BigInt(familyBits(a.family))) {
    throw new AddressError(formatIp(a), `plus ${n} leaves the IPv${a.family} address space`);
  }
  return { family: a.family, value: v };
}

export function contains(c: Cidr, a: IpAddr): boolean {
  if (c.addr.family !== a.family) return false;
  const mask = ~hostMask(a.family, c.prefix);
  return (c.addr.value & mask) === (a.value & mask);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.addr.family !== b.addr.family) return false;
  return contains(a.prefix <= b.prefix ? a : b, (a.prefix <= b.prefix ? b : a).addr);
}

/** The first address after the block (the next block of the same size). */
export function nextBlock(c: Cidr): IpAddr {
  return { family: c.addr.family, value: networkOf(c).addr.value + blockSize(c.addr.family, c.prefix) };
}

export const ipEqual = (a: IpAddr, b: IpAddr): boolean => a.family === b.family && a.value === b.value;
export const cidrEqual = (a: Cidr, b: Cidr): boolean => a.prefix === b.prefix && ipEqual(a.addr, b.addr);
