// Address text <-> bytes, for both families through one code path.
//
// The API of this layer speaks strings ("10.5.3.0/24", "fd00::1", "aa:bb:cc:dd:ee:ff"); the kernel speaks
// byte buffers whose length says the family. Everything here is pure so it can be unit-tested, and every
// string that leaves the layer is canonical (lower case, RFC 5952 IPv6 compression) so it can be used in keys.
import { isIP } from 'node:net';
import { NetlinkInputError } from './errors.js';
import type { Family } from './types.js';

/** Linux address family numbers. */
export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_BRIDGE = 7;
export const AF_INET6 = 10;

export const afOf = (fam: Family): number => (fam === 4 ? AF_INET : AF_INET6);
export const bitsOf = (fam: Family): number => (fam === 4 ? 32 : 128);

export function familyOfAf(af: number): Family | undefined {
  return af === AF_INET ? 4 : af === AF_INET6 ? 6 : undefined;
}

/** The family of an address or CIDR string. Throws NetlinkInputError when it is neither. */
export function familyOf(s: string, field = 'address'): Family {
  const v = isIP(s.split('/', 1)[0] ?? '');
  if (v === 4 || v === 6) return v;
  throw new NetlinkInputError(field, s, 'not an IPv4 or IPv6 address');
}

/** Parses an IP address (no prefix) into network-order bytes. */
export function ipToBytes(s: string, field = 'address'): Buffer {
  const fam = isIP(s);
  if (fam === 4) return Buffer.from(s.split('.').map(Number));
  if (fam !== 6 || s.includes('%')) throw new NetlinkInputError(field, s, 'not an IPv4 or IPv6 address');
  // An embedded dotted quad (::ffff:192.0.2.1) becomes its two hex groups first.
  const text = s.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_m, a: string, b: string, c: string, d: string) =>
    `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`,
  );
  const [head = '', rest] = text.split('::');
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  const left = parse(head);
  const right = parse(rest ?? '');
  const groups = rest === undefined ? left : [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** Formats network-order bytes (4 or 16) as a canonical address string. */
export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join('.');
  if (b.length !== 16) throw new NetlinkInputError('address', Buffer.from(b).toString('hex'), 'address must be 4 or 16 bytes');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] ?? 0) << 8) | (b[i + 1] ?? 0));
  // RFC 5952: compress the longest run (>= 2) of zero groups, the first one on a tie.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Canonical text of an address string ("FD00:0::1" -> "fd00::1"). */
export const canonicalIp = (s: string, field = 'address'): string => bytesToIp(ipToBytes(s, field));

export interface ParsedCidr {
  readonly family: Family;
  readonly addr: Buffer;
  readonly prefix: number;
}

/** Parses "addr/prefix"; a bare address gets the full-length prefix. Host bits are kept. */
export function parseCidr(s: string, field = 'cidr'): ParsedCidr {
  const [ip = '', len, extra] = s.split('/');
  if (extra !== undefined) throw new NetlinkInputError(field, s, 'not a CIDR');
  const family = familyOf(ip, field);
  const addr = ipToBytes(ip, field);
  const max = bitsOf(family);
  const prefix = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
  if (!(prefix >= 0 && prefix <= max)) throw new NetlinkInputError(field, s, `prefix must be 0..${max}`);
  return { family, addr, prefix };
}

/** True when `addr` has no bits set beyond `prefix`. */
export function isNetworkAddress(addr: Uint8Array, prefix: number): boolean {
  for (let bit = prefix; bit < addr.length * 8; bit++) {
    if (((addr[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1) return false;
  }
  return true;
}

/** A route destination: a network address with no host bits, as the kernel demands for IPv4. */
export function parseRouteDst(s: string, field = 'dst'): ParsedCidr {
  const c = parseCidr(s, field);
  if (!isNetworkAddress(c.addr, c.prefix)) throw new NetlinkInputError(field, s, 'host bits set beyond the prefix');
  return c;
}

export const formatCidr = (addr: Uint8Array, prefix: number): string => `${bytesToIp(addr)}/${prefix}`;

/** Canonical text of a CIDR string. */
export function canonicalCidr(s: string, field = 'cidr'): string {
  const c = parseCidr(s, field);
  return formatCidr(c.addr, c.prefix);
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

export function macToBytes(s: string, field = 'mac'): Buffer {
  if (!MAC_RE.test(s)) throw new NetlinkInputError(field, s, 'MAC must look like aa:bb:cc:dd:ee:ff');
  return Buffer.from(s.replaceAll(':', ''), 'hex');
}

export const bytesToMac = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');

export const canonicalMac = (s: string, field = 'mac'): string => bytesToMac(macToBytes(s, field));
