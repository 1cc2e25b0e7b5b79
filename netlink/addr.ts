// The kernel's side of addresses: Linux family numbers, address and CIDR strings to and from the byte
// buffers rtnetlink carries (whose length says the family), and MACs. The parsing and formatting itself
// is common/net.ts, the one address module; here its AddressError becomes a NetlinkInputError that names
// the field. Every string that leaves the layer is canonical (lower case, RFC 5952) so it can be used in keys.
import {
  AddressError, formatIp, ipFromBytes, ipToBytes as addrBytes, networkOf, parseCidrOrIp, parseIp,
  type Cidr, type Family,
} from '../common/index.js';
import { NetlinkInputError } from './errors.js';

/** Linux address family numbers. */
export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_BRIDGE = 7;
export const AF_INET6 = 10;

export const afOf = (fam: Family): number => (fam === 4 ? AF_INET : AF_INET6);

export function familyOfAf(af: number): Family | undefined {
  return af === AF_INET ? 4 : af === AF_INET6 ? 6 : undefined;
}

/** Runs a common/net parse, naming `field` when the input is refused. */
function inField<T>(field: string, s: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof AddressError) throw new NetlinkInputError(field, s, e.reason);
    throw e;
  }
}

/** The family of an address or CIDR string. Throws NetlinkInputError when it is neither. */
export const familyOf = (s: string, field = 'address'): Family => inField(field, s, () => parseCidrOrIp(s).addr.family);

/** Parses an IP address (no prefix) into network-order bytes. */
export const ipToBytes = (s: string, field = 'address'): Buffer => inField(field, s, () => addrBytes(parseIp(s)));

/** Formats network-order bytes (4 or 16) as a canonical address string. */
export const bytesToIp = (b: Uint8Array): string =>
  inField('address', Buffer.from(b).toString('hex'), () => formatIp(ipFromBytes(b)));

/** Canonical text of an address string ("FD00:0::1" -> "fd00::1"). */
export const canonicalIp = (s: string, field = 'address'): string => inField(field, s, () => formatIp(parseIp(s)));

export interface ParsedCidr {
  readonly family: Family;
  readonly addr: Buffer;
  readonly prefix: number;
}

const toParsed = (c: Cidr): ParsedCidr => ({ family: c.addr.family, addr: addrBytes(c.addr), prefix: c.prefix });

/** Parses "addr/prefix" into bytes; a bare address gets the full-length prefix. Host bits are kept. */
export const cidrToBytes = (s: string, field = 'cidr'): ParsedCidr => inField(field, s, () => toParsed(parseCidrOrIp(s)));

/** A route destination: a network address with no host bits, as the kernel demands for IPv4. */
export function parseRouteDst(s: string, field = 'dst'): ParsedCidr {
  const c = inField(field, s, () => parseCidrOrIp(s));
  if (networkOf(c).addr.value !== c.addr.value) throw new NetlinkInputError(field, s, 'host bits set beyond the prefix');
  return toParsed(c);
}

export const bytesToCidr = (addr: Uint8Array, prefix: number): string => `${bytesToIp(addr)}/${prefix}`;

/** Canonical text of a CIDR string. */
export function canonicalCidr(s: string, field = 'cidr'): string {
  const c = cidrToBytes(s, field);
  return bytesToCidr(c.addr, c.prefix);
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

export function macToBytes(s: string, field = 'mac'): Buffer {
  if (!MAC_RE.test(s)) throw new NetlinkInputError(field, s, 'MAC must look like aa:bb:cc:dd:ee:ff');
  return Buffer.from(s.replaceAll(':', ''), 'hex');
}

export const bytesToMac = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');

export const canonicalMac = (s: string, field = 'mac'): string => bytesToMac(macToBytes(s, field));
