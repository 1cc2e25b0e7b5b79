// A subnet lease as flannel stores it: the key names the subnet(s), the value is flannel's
// LeaseAttrs JSON. Parsing is strict and names the key, so one corrupt entry in etcd is skipped
// with a warning instead of taking the daemon down.
import { FlannelError, isObject, jsonField, type Cidr, cidrEqual, formatCidr, formatIp, hasHostBits, parseCidr, parseIp } from '../core/index.js';

export interface LeaseAttrs {
  readonly publicIP?: string;
  readonly publicIPv6?: string;
  /** Absent for udp, as flannel writes it. */
  readonly backendType?: string;
  /** Backend-specific JSON (vxlan: {"VNI":1,"VtepMAC":"…"}), opaque to the store. */
  readonly backendData?: unknown;
  readonly backendV6Data?: unknown;
}

export interface Lease {
  readonly subnet?: Cidr;
  readonly ipv6Subnet?: Cidr;
  readonly attrs: LeaseAttrs;
  /** A key written without a TTL: the subnet is reserved for the node with that PublicIP. */
  readonly reservation: boolean;
}

export class CorruptLeaseError extends FlannelError {
  readonly code = 'CORRUPT_LEASE';
  constructor(
    readonly key: string,
    readonly raw: string,
    readonly reason: string,
  ) {
    super(`corrupt lease ${key}: ${reason}`);
  }
}

const NO_V4 = '0.0.0.0-0';

/** `10.5.72.0-24`, or `10.5.72.0-24&fc00:0:0:48::-64` when dual-stack; IPv6-only leases keep flannel's `0.0.0.0-0&…`. */
export function subnetKeyName(subnet: Cidr | undefined, ipv6Subnet?: Cidr): string {
  const v4 = subnet ? `${formatIp(subnet.addr)}-${subnet.prefix}` : NO_V4;
  return ipv6Subnet ? `${v4}&${formatIp(ipv6Subnet.addr)}-${ipv6Subnet.prefix}` : v4;
}

export const leaseKeyName = (l: Pick<Lease, 'subnet' | 'ipv6Subnet'>): string => subnetKeyName(l.subnet, l.ipv6Subnet);

/** Parses the last path element of a lease key. Returns a reason string when it is not one. */
export function parseSubnetKeyName(name: string): { subnet?: Cidr; ipv6Subnet?: Cidr } | string {
  const parts = name.split('&');
  if (parts.length > 2) return 'more than one "&"';
  const [v4s, v6s] = parts as [string, string | undefined];
  const v4 = v4s === NO_V4 && v6s !== undefined ? undefined : dashedCidr(v4s, 4);
  if (typeof v4 === 'string') return v4;
  const v6 = v6s === undefined ? undefined : dashedCidr(v6s, 6);
  if (typeof v6 === 'string') return v6;
  return { ...(v4 && { subnet: v4 }), ...(v6 && { ipv6Subnet: v6 }) };
}

function dashedCidr(s: string, family: 4 | 6): Cidr | string {
  const dash = s.lastIndexOf('-');
  if (dash < 0) return `"${s}" is not <address>-<prefix>`;
  let c: Cidr;
  try {
    c = parseCidr(`${s.slice(0, dash)}/${s.slice(dash + 1)}`);
  } catch {
    return `"${s}" is not <address>-<prefix>`;
  }
  if (c.addr.family !== family) return `"${s}" is not an IPv${family} subnet`;
  if (hasHostBits(c)) return `"${s}" has host bits set`;
  return c;
}

function familyOf(s: string): 4 | 6 | undefined {
  try {
    return parseIp(s).family;
  } catch {
    return undefined;
  }
}

/** The LeaseAttrs fields, by the slot parseLease collects them in. */
const FIELDS = ['PublicIP', 'PublicIPv6', 'BackendType', 'BackendData', 'BackendV6Data'] as const;

/**
 * The slot of the field a key decodes into, or -1: exact names first (what flannel writes), then as
 * Go matches a struct field (ignoring case; core/json.ts's jsonField, which the lengths keep cheap).
 */
function fieldSlot(k: string): number {
  switch (k) {
    case 'PublicIP': return 0;
    case 'PublicIPv6': return 1;
    case 'BackendType': return 2;
    case 'BackendData': return 3;
    case 'BackendV6Data': return 4;
  }
  for (let i = 0; i < FIELDS.length; i++) if (k.length === FIELDS[i]!.length && jsonField({ [k]: true }, FIELDS[i]!) === true) return i;
  return -1;
}

export function parseLease(key: string, raw: string, reservation: boolean): Lease {
  const name = key.slice(key.lastIndexOf('/') + 1);
  const sub = parseSubnetKeyName(name);
  if (typeof sub === 'string') throw new CorruptLeaseError(key, raw, `bad key: ${sub}`);
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch (e) {
    throw new CorruptLeaseError(key, raw, `value is not JSON: ${(e as Error).message}`);
  }
  if (!isObject(doc)) throw new CorruptLeaseError(key, raw, 'value is not a JSON object');
  // Field names match as flannel's json.Unmarshal of LeaseAttrs matches them (case-insensitively; the
  // last non-null key wins): one pass over the keys, not one per field.
  const v: unknown[] = [undefined, undefined, undefined, undefined, undefined];
  for (const k of Object.keys(doc)) {
    const x = doc[k];
    if (x === null) continue;
    const slot = fieldSlot(k);
    if (slot >= 0) v[slot] = x;
  }
  const str = (slot: number, check?: (s: string) => boolean): string | undefined => {
    const x = v[slot];
    if (x === undefined || x === '') return undefined;
    if (typeof x !== 'string' || (check && !check(x))) throw new CorruptLeaseError(key, raw, `${FIELDS[slot]} ${JSON.stringify(x)} is not valid`);
    return x;
  };
  const publicIP = str(0, (x) => familyOf(x) === 4);
  const publicIPv6 = str(1, (x) => familyOf(x) === 6);
  if (publicIP === undefined && publicIPv6 === undefined) throw new CorruptLeaseError(key, raw, 'no PublicIP');
  const backendType = str(2);
  // The same keys in the same order as before (sameLease compares the attributes as JSON text).
  const attrs: { -readonly [K in keyof LeaseAttrs]: LeaseAttrs[K] } = {};
  if (publicIP !== undefined) attrs.publicIP = publicIP;
  if (publicIPv6 !== undefined) attrs.publicIPv6 = publicIPv6;
  if (backendType !== undefined) attrs.backendType = backendType;
  if (v[3] !== undefined) attrs.backendData = v[3];
  if (v[4] !== undefined) attrs.backendV6Data = v[4];
  return { ...sub, attrs, reservation };
}

/** flannel's LeaseAttrs JSON, field for field (Go writes a null PublicIPv6 and omits the empty rest). */
export function renderLeaseAttrs(a: LeaseAttrs): string {
  const out: Record<string, unknown> = { PublicIP: a.publicIP ?? '0.0.0.0', PublicIPv6: a.publicIPv6 ?? null };
  if (a.backendType) out.BackendType = a.backendType;
  if (a.backendData !== undefined) out.BackendData = a.backendData;
  if (a.backendV6Data !== undefined) out.BackendV6Data = a.backendV6Data;
  return JSON.stringify(out);
}

export function sameSubnets(a: Pick<Lease, 'subnet' | 'ipv6Subnet'>, b: Pick<Lease, 'subnet' | 'ipv6Subnet'>): boolean {
  const eq = (x?: Cidr, y?: Cidr) => (x === undefined ? y === undefined : y !== undefined && cidrEqual(x, y));
  return eq(a.subnet, b.subnet) && eq(a.ipv6Subnet, b.ipv6Subnet);
}

export function describeLease(l: Pick<Lease, 'subnet' | 'ipv6Subnet'>): string {
  return [l.subnet, l.ipv6Subnet]
    .filter((c): c is Cidr => c !== undefined)
    .map(formatCidr)
    .join(',');
}
