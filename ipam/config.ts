// flannel's network config (`<prefix>/config`): parsing, defaults and validation in one place.
// The rules follow flannel's ParseConfig (Go's encoding/json into its Config struct: every field
// present is type-checked, whichever families are enabled), CheckNetworkConfig (defaults, ranges,
// boundaries) and its backend lookup (the Type lowercased). Where flannel accepts nonsense
// (SubnetMin above SubnetMax, an IPv4 CIDR as IPv6Network) we reject it on purpose and name the
// field; the README lists those differences.
import { FlannelError, isObject, jsonKey, AddressError, type Cidr, type Family, type IpAddr, blockSize, contains, familyBits, formatCidr, formatIp, hostMask, networkOf, parseCidr, parseIp } from '../core/index.js';

export class ConfigError extends FlannelError {
  readonly code = 'CONFIG';
  constructor(
    readonly path: string,
    readonly value: unknown,
    readonly reason: string,
  ) {
    super(`invalid network config: ${path}${value === undefined ? '' : ` (${JSON.stringify(value)})`}: ${reason}`);
  }
}

/** One address family's share of the config: the network and how it is cut into node subnets. */
export interface FamilyNetwork {
  readonly family: Family;
  readonly network: Cidr;
  readonly subnetLen: number;
  readonly subnetMin: IpAddr;
  readonly subnetMax: IpAddr;
}

export interface NetworkConfig {
  readonly v4?: FamilyNetwork;
  readonly v6?: FamilyNetwork;
  /** Lowercased, as flannel looks backends up: "VXLAN" and "Host-GW" are vxlan and host-gw. */
  readonly backendType: string;
  /** The Backend object as given (keys as written), for the backend's own parser. */
  readonly backend: Readonly<Record<string, unknown>>;
}

/** Field names of flannel's Config, matched case-insensitively like Go's encoding/json. */
const FIELDS = [
  'Network',
  'SubnetLen',
  'SubnetMin',
  'SubnetMax',
  'EnableIPv4',
  'EnableIPv6',
  'EnableNFTables',
  'IPv6Network',
  'IPv6SubnetLen',
  'IPv6SubnetMin',
  'IPv6SubnetMax',
  'Backend',
] as const;
type Field = (typeof FIELDS)[number];

/** The default backend when the config has no Backend, as in flannel. */
export const DEFAULT_BACKEND = 'udp';

export function parseNetworkConfig(raw: string): NetworkConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch (e) {
    throw new ConfigError('(document)', undefined, `not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(doc)) throw new ConfigError('(document)', undefined, 'must be a JSON object');
  const f = pickFields(doc);

  const enable4 = optBool(f, 'EnableIPv4') ?? true;
  const enable6 = optBool(f, 'EnableIPv6') ?? false;
  if (optBool(f, 'EnableNFTables') === true) {
    throw new ConfigError('EnableNFTables', true, 'is not supported: flanneld writes its masquerade and forward rules with iptables');
  }
  // Go decodes every field it finds before looking at the Enable flags: a bad value is refused even
  // for a family that is off.
  const fields4 = familyFields(f, 4, { net: 'Network', len: 'SubnetLen', min: 'SubnetMin', max: 'SubnetMax' });
  const fields6 = familyFields(f, 6, { net: 'IPv6Network', len: 'IPv6SubnetLen', min: 'IPv6SubnetMin', max: 'IPv6SubnetMax' });
  const { backendType, backend } = parseBackend(f.Backend, 'Backend' in f);
  // flannel starts with neither family only to exit ("none defined stack").
  if (!enable4 && !enable6) throw new ConfigError('EnableIPv4', false, 'neither IPv4 nor IPv6 is enabled');

  const v4 = enable4 ? familyNetwork(fields4) : undefined;
  const v6 = enable6 ? familyNetwork(fields6) : undefined;
  return { ...(v4 && { v4 }), ...(v6 && { v6 }), backendType, backend };
}

interface FamilyFields {
  readonly family: Family;
  readonly names: { net: Field; len: Field; min: Field; max: Field };
  readonly network: Cidr | undefined;
  readonly subnetLen: number | undefined;
  readonly subnetMin: IpAddr | undefined;
  readonly subnetMax: IpAddr | undefined;
}

/** One family's fields, decoded as Go decodes them into flannel's Config (no defaults, no ranges). */
function familyFields(f: Partial<Record<Field, unknown>>, family: Family, names: FamilyFields['names']): FamilyFields {
  // ip.IP4Net and ip.IP6Net decode null and "" too, and fail; the IPv4 SubnetMin/SubnetMax
  // (ip.IP4) likewise, while the IPv6 ones are pointers, for which null means unset.
  const network = names.net in f ? networkOf(cidrField(names.net, f[names.net], family)) : undefined;
  const subnetLen = optUint(f, names.len);
  const addr = (name: Field) => {
    const v = f[name];
    if (!(name in f) || (v === null && family === 6)) return undefined;
    const a = addrField(name, v, family);
    // The zero address is how Go spells "unset": flannel fills in the default.
    return a.value === 0n ? undefined : a;
  };
  return { family, names, network, subnetLen: subnetLen === 0 ? undefined : subnetLen, subnetMin: addr(names.min), subnetMax: addr(names.max) };
}

function familyNetwork(ff: FamilyFields): FamilyNetwork {
  const { family, names } = ff;
  const bits = familyBits(family);
  // flannel's Empty(): an absent network, or any x/0 (whose address is all zeros once masked).
  if (ff.network === undefined) throw new ConfigError(names.net, undefined, `is required when IPv${family} is enabled`);
  const network = ff.network;
  if (network.prefix === 0) throw new ConfigError(names.net, formatCidr(network), 'is the whole address space: give a network such as "10.5.0.0/16"');

  // Each subnet needs room for the tunnel and bridge addresses (/30, /126), and the network must
  // hold at least four subnets because the first one is never handed out.
  const minUseful = bits - 4;
  let subnetLen = ff.subnetLen ?? 0;
  if (subnetLen > 0) {
    if (subnetLen > bits - 2) throw new ConfigError(names.len, subnetLen, `must be at most /${bits - 2}`);
    if (subnetLen < network.prefix + 2) {
      throw new ConfigError(
        names.len,
        subnetLen,
        `must be at least /${network.prefix + 2} so that ${formatCidr(network)} holds at least four subnets`,
      );
    }
  } else {
    if (network.prefix > minUseful) {
      throw new ConfigError(names.net, formatCidr(network), `is too small: the minimum useful prefix is /${minUseful}`);
    }
    const standard = family === 4 ? 24 : 64;
    subnetLen = network.prefix <= standard - 2 ? standard : network.prefix + 2;
  }

  const size = blockSize(family, subnetLen);
  const subnetMin = ff.subnetMin ?? { family, value: network.addr.value + size };
  const subnetMax = ff.subnetMax ?? { family, value: network.addr.value + blockSize(family, network.prefix) - size };
  for (const [name, a] of [
    [names.min, subnetMin],
    [names.max, subnetMax],
  ] as const) {
    if (!contains(network, a)) throw new ConfigError(name, formatIp(a), `is not in ${names.net} ${formatCidr(network)}`);
    if ((a.value & hostMask(family, subnetLen)) !== 0n) {
      throw new ConfigError(name, formatIp(a), `is not on a /${subnetLen} boundary`);
    }
  }
  // Stricter than flannel on purpose: it accepts this and then never finds a free subnet.
  if (subnetMin.value > subnetMax.value) {
    throw new ConfigError(names.min, formatIp(subnetMin), `is above ${names.max} ${formatIp(subnetMax)}`);
  }
  return { family, network, subnetLen, subnetMin, subnetMax };
}

function parseBackend(raw: unknown, present: boolean): { backendType: string; backend: Record<string, unknown> } {
  // An absent Backend is udp; `"Backend": null` is not absent to flannel (it looks up backend "").
  if (!present) return { backendType: DEFAULT_BACKEND, backend: { Type: DEFAULT_BACKEND } };
  if (!isObject(raw)) throw new ConfigError('Backend', raw, 'must be an object such as {"Type": "vxlan"}');
  const typeKey = jsonKey(raw, 'Type');
  const t = typeKey === undefined ? undefined : raw[typeKey];
  if (typeof t !== 'string' || t === '') throw new ConfigError('Backend.Type', t, 'must be a backend name such as "vxlan"');
  return { backendType: t.toLowerCase(), backend: raw };
}

/** The effective config as flannel's JSON, every default filled in (what `config check` prints). */
export function renderNetworkConfig(cfg: NetworkConfig, backend: Record<string, unknown> = cfg.backend): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (cfg.v4) {
    out.Network = formatCidr(cfg.v4.network);
    out.SubnetLen = cfg.v4.subnetLen;
    out.SubnetMin = formatIp(cfg.v4.subnetMin);
    out.SubnetMax = formatIp(cfg.v4.subnetMax);
  }
  out.EnableIPv4 = cfg.v4 !== undefined;
  out.EnableIPv6 = cfg.v6 !== undefined;
  if (cfg.v6) {
    out.IPv6Network = formatCidr(cfg.v6.network);
    out.IPv6SubnetLen = cfg.v6.subnetLen;
    out.IPv6SubnetMin = formatIp(cfg.v6.subnetMin);
    out.IPv6SubnetMax = formatIp(cfg.v6.subnetMax);
  }
  out.Backend = backend;
  return out;
}

export const configFamilies = (cfg: NetworkConfig): FamilyNetwork[] =>
  [cfg.v4, cfg.v6].filter((n): n is FamilyNetwork => n !== undefined);

// --- field readers: each names the field in its error -------------------------------------------

function pickFields(doc: Record<string, unknown>): Partial<Record<Field, unknown>> {
  const out: Partial<Record<Field, unknown>> = {};
  for (const field of FIELDS) {
    const key = jsonKey(doc, field);
    if (key !== undefined) out[field] = doc[key];
  }
  return out;
}

function optBool(f: Partial<Record<Field, unknown>>, name: Field): boolean | undefined {
  const v = f[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new ConfigError(name, v, 'must be true or false');
  return v;
}

function optUint(f: Partial<Record<Field, unknown>>, name: Field): number | undefined {
  const v = f[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new ConfigError(name, v, 'must be a whole number');
  return v;
}

function addrField(name: Field, v: unknown, family: Family): IpAddr {
  if (typeof v !== 'string') throw new ConfigError(name, v, `must be an IPv${family} address string`);
  let a: IpAddr;
  try {
    a = parseIp(v);
  } catch (e) {
    throw new ConfigError(name, v, e instanceof AddressError ? e.reason : 'is not an IP address');
  }
  // Go's ParseIP4 takes an IPv4-mapped IPv6 address (::ffff:10.5.1.0) as the IPv4 address.
  if (family === 4 && a.family === 6 && a.value >> 32n === 0xffffn) return { family: 4, value: a.value & 0xffffffffn };
  if (a.family !== family) throw new ConfigError(name, v, `must be an IPv${family} address`);
  return a;
}

function cidrField(name: Field, v: unknown, family: Family): Cidr {
  if (typeof v !== 'string') throw new ConfigError(name, v, `must be an IPv${family} CIDR string such as "10.5.0.0/16"`);
  let c: Cidr;
  try {
    c = parseCidr(v);
  } catch (e) {
    throw new ConfigError(name, v, e instanceof AddressError ? e.reason : 'is not a CIDR');
  }
  if (c.addr.family !== family) throw new ConfigError(name, v, `must be an IPv${family} network`);
  return c;
}
