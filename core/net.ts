// The one address module for IPv4 and IPv6; it lives in common/ because ipam/, netlink/ and cni/ all use it
// and netlink/ must not depend on ipam/ (nor load its etcd code).
//
// An address is a family and a bigint (the CNI plugins' cidr.go idea), so both families share every function
// below; bytes and text convert through one parser and one formatter. The grammar is Go's net.ParseIP: IPv4
// dotted decimal without leading zeros, IPv6 with at most one "::" and an optional trailing dotted quad, no
// zone ("%eth0"). The text out is canonical (lower case, RFC 5952 compression), so it can be used as a key.
import { FlannelError } from './errors.js';

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

const HEX_GROUP_RE = /^[0-9a-fA-F]{1,4}$/;

/**
 * The value of a dotted quad (four groups of one to three ASCII digits), or undefined if `s` is not
 * one. Char by char, without a regex or split: this is on the path of every lease of a listing.
 */
function parseV4(s: string, whole: string): number | undefined {
  const n = s.length;
  if (n < 7 || n > 15) return undefined;
  // The shape first, as a whole: a string that is not a dotted quad is not an IPv4 address at all,
  // whatever its octets would have been (then parseIp tries IPv6).
  let dots = 0;
  let digits = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return undefined;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (++digits > 3) return undefined;
    } else {
      return undefined;
    }
  }
  if (dots !== 3 || digits === 0) return undefined;
  let value = 0;
  let start = 0;
  for (let i = 0; i <= n; i++) {
    if (i < n && s.charCodeAt(i) !== 46) continue;
    if (i - start > 1 && s.charCodeAt(start) === 48) throw new AddressError(whole, 'is not an IPv4 address (octets with leading zeros are ambiguous)');
    let octet = 0;
    for (let j = start; j < i; j++) octet = octet * 10 + (s.charCodeAt(j) - 48);
    if (octet > 255) throw new AddressError(whole, 'is not an IPv4 address (octet above 255)');
    value = value * 256 + octet;
    start = i + 1;
  }
  return value;
}

function parseV6(s: string): bigint {
  if (s.includes('%')) throw new AddressError(s, 'is not an IPv4 or IPv6 address (zone identifiers are not accepted)');
  const bad = (): never => {
    throw new AddressError(s, 'is not an IPv4 or IPv6 address');
  };
  const halves = s.split('::');
  if (halves.length > 2) bad();
  const groupsOf = (part: string, last: boolean): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    const items = part.split(':');
    items.forEach((g, i) => {
      if (last && i === items.length - 1 && g.includes('.')) {
        // An embedded dotted quad (::ffff:192.0.2.1) stands for the last two groups.
        const v = parseV4(g, s) ?? bad();
        out.push(v >>> 16, v & 0xffff);
      } else if (HEX_GROUP_RE.test(g)) {
        out.push(parseInt(g, 16));
      } else {
        bad();
      }
    });
    return out;
  };
  const compressed = halves.length === 2;
  const left = groupsOf(halves[0] ?? '', !compressed);
  const right = compressed ? groupsOf(halves[1] ?? '', true) : [];
  const n = left.length + right.length;
  // "::" stands for at least one zero group (RFC 4291 §2.2); without it there must be exactly eight.
  if (compressed ? n > 7 : n !== 8) bad();
  const groups = compressed ? [...left, ...new Array<number>(8 - n).fill(0), ...right] : left;
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  return value;
}

export function parseIp(s: string): IpAddr {
  const v4 = parseV4(s, s);
  if (v4 !== undefined) return { family: 4, value: BigInt(v4) };
  if (s.includes(':')) return { family: 6, value: parseV6(s) };
  throw new AddressError(s, 'is not an IPv4 or IPv6 address');
}

export function isIp(s: string): boolean {
  try {
    parseIp(s);
    return true;
  } catch {
    return false;
  }
}

/** IPv4 dotted quad; IPv6 in the shortest form (RFC 5952: the longest run of two or more zero groups, the first on a tie). */
export function formatIp(a: IpAddr): string {
  if (a.family === 4) {
    const v = Number(a.value);
    return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((a.value >> BigInt(i * 16)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Canonical text of an address ("FD00:0::1" -> "fd00::1"). */
export const canonicalIp = (s: string): string => formatIp(parseIp(s));

/** "address/prefix"; the prefix is required (see parseCidrOrIp for a bare address). Host bits are kept. */
export function parseCidr(s: string): Cidr {
  const slash = s.indexOf('/');
  if (slash < 0) throw new AddressError(s, 'is not a CIDR (expected address/prefix)');
  return withPrefix(s, parseIp(s.slice(0, slash)), s.slice(slash + 1));
}

/** "address/prefix", or a bare address with the full-length prefix (as `ip route` reads a destination). */
export function parseCidrOrIp(s: string): Cidr {
  if (!s.includes('/')) {
    const addr = parseIp(s);
    return { addr, prefix: familyBits(addr.family) };
  }
  return parseCidr(s);
}

function withPrefix(s: string, addr: IpAddr, p: string): Cidr {
  const prefix = Number(p);
  if (!/^\d{1,3}$/.test(p) || prefix > familyBits(addr.family)) {
    throw new AddressError(s, `has an invalid prefix length (0..${familyBits(addr.family)})`);
  }
  return { addr, prefix };
}

export const formatCidr = (c: Cidr): string => `${formatIp(c.addr)}/${c.prefix}`;

/** Network-order bytes: 4 for IPv4, 16 for IPv6. */
export function ipToBytes(a: IpAddr): Buffer {
  const n = familyBits(a.family) / 8;
  const out = Buffer.alloc(n);
  let v = a.value;
  for (let i = n - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** The address in network-order bytes; the length (4 or 16) says the family. */
export function ipFromBytes(b: Uint8Array): IpAddr {
  if (b.length !== 4 && b.length !== 16) throw new AddressError(Buffer.from(b).toString('hex'), 'is not an address (must be 4 or 16 bytes)');
  let value = 0n;
  for (const x of b) value = (value << 8n) | BigInt(x);
  return { family: b.length === 4 ? 4 : 6, value };
}

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

export const ipEqual = (a: IpAddr, b: IpAddr): boolean => a.family === b.family && a.value === b.value;
export const cidrEqual = (a: Cidr, b: Cidr): boolean => a.prefix === b.prefix && ipEqual(a.addr, b.addr);
