// host-local's address ranges, canonicalized in one place (the Go plugin's Range.Canonicalize and
// RangeSet.Canonicalize): the subnet must be a network address with room for hosts, the gateway
// defaults to the first address, rangeStart to the first address and rangeEnd to the last one (the
// broadcast address excluded for IPv4). Every error names the field it is about. Pure.
import { ConfigError } from '../config.js';
import {
  AddressError,
  type Cidr,
  type IpAddr,
  addIp,
  contains,
  familyBits,
  formatCidr,
  formatIp,
  hasHostBits,
  hostMask,
  networkOf,
  parseCidr,
  parseIp,
} from '../../core/index.js';
import { type JsonObject, type JsonValue, fieldPath, indexPath, objectAt, optString } from './json.js';

/** One canonical range: every field filled in and checked. */
export interface IpRange {
  /** The network (host bits clear). */
  readonly subnet: Cidr;
  /** First allocatable address, inclusive. */
  readonly rangeStart: IpAddr;
  /** Last allocatable address, inclusive. */
  readonly rangeEnd: IpAddr;
  /** Never handed out; returned as the gateway of addresses from this range. */
  readonly gateway: IpAddr;
}

/** Ranges of one family that together yield one address per ADD. */
export type IpRangeSet = readonly IpRange[];

/** The raw fields of a range as a netconf writes them. */
export interface RangeFields {
  readonly subnet?: string;
  readonly rangeStart?: string;
  readonly rangeEnd?: string;
  readonly gateway?: string;
}

export function rangeFieldsOf(o: JsonObject, path: string): RangeFields {
  const subnet = optString(o, 'subnet', path);
  const rangeStart = optString(o, 'rangeStart', path);
  const rangeEnd = optString(o, 'rangeEnd', path);
  const gateway = optString(o, 'gateway', path);
  return { ...(subnet !== undefined && { subnet }), ...(rangeStart !== undefined && { rangeStart }), ...(rangeEnd !== undefined && { rangeEnd }), ...(gateway !== undefined && { gateway }) };
}

function ipField(value: string, path: string): IpAddr {
  try {
    return parseIp(value);
  } catch (e) {
    if (e instanceof AddressError) throw new ConfigError(path, value, e.reason);
    throw e;
  }
}

/** Fills in the defaults and validates; `path` locates the range (e.g. `ipam.ranges[0][1]`). */
export function canonicalizeRange(f: RangeFields, path: string): IpRange {
  if (f.subnet === undefined || f.subnet === '') throw new ConfigError(fieldPath(path, 'subnet'), undefined, 'is required');
  let subnet: Cidr;
  try {
    subnet = parseCidr(f.subnet);
  } catch (e) {
    if (e instanceof AddressError) throw new ConfigError(fieldPath(path, 'subnet'), f.subnet, e.reason);
    throw e;
  }
  const fam = subnet.addr.family;
  const bits = familyBits(fam);
  if (subnet.prefix > bits - 2) {
    throw new ConfigError(fieldPath(path, 'subnet'), f.subnet, `network ${formatCidr(subnet)} too small to allocate from`);
  }
  if (hasHostBits(subnet)) {
    const net = networkOf(subnet);
    throw new ConfigError(fieldPath(path, 'subnet'), f.subnet, `has host bits set; for a /${subnet.prefix} the network address is ${formatIp(net.addr)}`);
  }
  const sameFamily = (a: IpAddr, key: string, raw: string): IpAddr => {
    if (a.family !== fam) throw new ConfigError(fieldPath(path, key), raw, `must be an IPv${fam} address, like subnet ${formatCidr(subnet)}`);
    return a;
  };
  const inSubnet = (a: IpAddr, key: string, raw: string): IpAddr => {
    if (!contains(subnet, sameFamily(a, key, raw))) throw new ConfigError(fieldPath(path, key), raw, `is not in network ${formatCidr(subnet)}`);
    return a;
  };

  const first = addIp(subnet.addr, 1n);
  // The last address of the block; IPv4 keeps the broadcast address out.
  const last: IpAddr = { family: fam, value: subnet.addr.value + hostMask(fam, subnet.prefix) - (fam === 4 ? 1n : 0n) };
  const gateway = f.gateway !== undefined && f.gateway !== '' ? sameFamily(ipField(f.gateway, fieldPath(path, 'gateway')), 'gateway', f.gateway) : first;
  const rangeStart = f.rangeStart !== undefined && f.rangeStart !== '' ? inSubnet(ipField(f.rangeStart, fieldPath(path, 'rangeStart')), 'rangeStart', f.rangeStart) : first;
  const rangeEnd = f.rangeEnd !== undefined && f.rangeEnd !== '' ? inSubnet(ipField(f.rangeEnd, fieldPath(path, 'rangeEnd')), 'rangeEnd', f.rangeEnd) : last;
  if (rangeStart.value > rangeEnd.value) {
    throw new ConfigError(fieldPath(path, 'rangeStart'), f.rangeStart ?? formatIp(rangeStart), `is after rangeEnd ${formatIp(rangeEnd)}`);
  }
  return { subnet, rangeStart, rangeEnd, gateway };
}

/** Canonicalizes every range of a set; the set must be non-empty, of one family, without overlaps. */
export function canonicalizeRangeSet(raw: JsonValue, path: string): IpRangeSet {
  if (!Array.isArray(raw)) throw new ConfigError(path, raw, 'must be an array of ranges');
  if (raw.length === 0) throw new ConfigError(path, undefined, 'empty range set');
  const set = raw.map((r: JsonValue, i: number) => canonicalizeRange(rangeFieldsOf(objectAt(r, indexPath(path, i)), indexPath(path, i)), indexPath(path, i)));
  const fam = set[0]!.subnet.addr.family;
  set.forEach((r, i) => {
    if (r.subnet.addr.family !== fam) throw new ConfigError(indexPath(path, i), formatCidr(r.subnet), 'mixed address families in one range set');
  });
  for (let i = 0; i < set.length; i++) {
    for (let j = i + 1; j < set.length; j++) {
      if (rangesOverlap(set[i]!, set[j]!)) {
        throw new ConfigError(indexPath(path, j), formatRange(set[j]!), `overlaps with range ${formatRange(set[i]!)} (${indexPath(path, i)})`);
      }
    }
  }
  return set;
}

/** Is the address allocatable from this range (same family, in the subnet, within start..end)? */
export function rangeContains(r: IpRange, a: IpAddr): boolean {
  return contains(r.subnet, a) && a.value >= r.rangeStart.value && a.value <= r.rangeEnd.value;
}

export const rangeSetContains = (s: IpRangeSet, a: IpAddr): boolean => s.some((r) => rangeContains(r, a));

export const rangeFor = (s: IpRangeSet, a: IpAddr): IpRange | undefined => s.find((r) => rangeContains(r, a));

export function rangesOverlap(a: IpRange, b: IpRange): boolean {
  if (a.subnet.addr.family !== b.subnet.addr.family) return false;
  return rangeContains(a, b.rangeStart) || rangeContains(a, b.rangeEnd) || rangeContains(b, a.rangeStart) || rangeContains(b, a.rangeEnd);
}

export const rangeSetsOverlap = (a: IpRangeSet, b: IpRangeSet): boolean => a.some((r) => b.some((q) => rangesOverlap(r, q)));

/** `10.5.72.1-10.5.72.254`, as the Go plugin prints a range. */
export const formatRange = (r: IpRange): string => `${formatIp(r.rangeStart)}-${formatIp(r.rangeEnd)}`;

export const formatRangeSet = (s: IpRangeSet): string => s.map(formatRange).join(',');

/** The number of addresses in start..end (the gateway included). */
export const rangeSize = (r: IpRange): bigint => r.rangeEnd.value - r.rangeStart.value + 1n;
