// The host-local IPAM config, read from the whole network config as the Go plugin's LoadIPAMConfig
// reads it: `ipam.ranges` (range sets), the legacy single range (`ipam.subnet`, `rangeStart`,
// `rangeEnd`, `gateway`) prepended as a set of its own, `runtimeConfig.ipRanges` prepended before
// both; requested addresses from CNI_ARGS `IP=`, `args.cni.ips` and `runtimeConfig.ips`; `routes`,
// `dataDir`, `resolvConf`. Range sets must not overlap each other. Pure.
import { ConfigError } from '../config.js';
import { AddressError, type Cidr, type IpAddr, parseCidr, parseIp } from '../../core/index.js';
import { CniArgsError } from './errors.js';
import {
  type JsonObject,
  type JsonValue,
  fieldPath,
  indexPath,
  objectAt,
  optArray,
  optInt,
  optObject,
  optString,
  stringAt,
} from './json.js';
import { type IpRangeSet, canonicalizeRange, canonicalizeRangeSet, rangeFieldsOf, rangeSetsOverlap } from './range.js';

export const DEFAULT_DATA_DIR = '/var/lib/cni/networks';

/** A route handed back in the result: `dst` and the optional fields of the CNI spec's route. */
export interface IpamRoute {
  readonly dst: Cidr;
  readonly gw?: IpAddr;
  readonly mtu?: number;
  readonly advmss?: number;
  readonly priority?: number;
  readonly table?: number;
  readonly scope?: number;
}

export interface IpamDns {
  readonly nameservers?: readonly string[];
  readonly domain?: string;
  readonly search?: readonly string[];
  readonly options?: readonly string[];
}

export interface IpamConfig {
  /** The network's name: the store is `<dataDir>/<name>`. */
  readonly name: string;
  readonly type: string;
  /** The parent of the per-network store directory. */
  readonly dataDir: string;
  /** Range sets in allocation order; index i keeps its round-robin position in `last_reserved_ip.<i>`. */
  readonly ranges: readonly IpRangeSet[];
  readonly routes: readonly IpamRoute[];
  readonly resolvConf?: string;
  /** Addresses the runtime asked for, deduplicated, in the order given. */
  readonly requestedIps: readonly IpAddr[];
}

/** `K=V;K2=V2` as the CNI library splits it: every pair must have exactly one `=`. */
export function parseCniArgs(args: string): Map<string, string> {
  const out = new Map<string, string>();
  if (args === '') return out;
  for (const pair of args.split(';')) {
    const kv = pair.split('=');
    if (kv.length !== 2) throw new CniArgsError(pair, `invalid pair ${JSON.stringify(pair)}`);
    out.set(kv[0]!, kv[1]!);
  }
  return out;
}

/** An address as the plugins accept it in args: `10.5.72.9` or `10.5.72.9/24` (prefix ignored). */
function requestedIp(s: string, path: string): IpAddr {
  try {
    return s.includes('/') ? parseCidr(s).addr : parseIp(s);
  } catch (e) {
    if (e instanceof AddressError) throw new ConfigError(path, s, `cannot understand ip: ${e.reason}`);
    throw e;
  }
}

function ipsFrom(list: readonly JsonValue[] | undefined, path: string): IpAddr[] {
  return (list ?? []).map((v, i) => requestedIp(stringAt(v, indexPath(path, i)), indexPath(path, i)));
}

/** The host-local keys of CNI_ARGS: IP and IgnoreUnknown (others are an error unless IgnoreUnknown). */
function ipFromEnvArgs(envArgs: string): IpAddr | undefined {
  const args = parseCniArgs(envArgs);
  let ip: IpAddr | undefined;
  let ignoreUnknown = false;
  const unknown: string[] = [];
  for (const [k, v] of args) {
    if (k === 'IgnoreUnknown') {
      const b = v.toLowerCase();
      if (b !== '1' && b !== 'true' && b !== '0' && b !== 'false') throw new CniArgsError(`${k}=${v}`, `error parsing value of pair "${k}=${v}": not a boolean`);
      ignoreUnknown = b === '1' || b === 'true';
    } else if (k === 'IP') {
      try {
        ip = v.includes('/') ? parseCidr(v).addr : parseIp(v);
      } catch (e) {
        if (e instanceof AddressError) throw new CniArgsError(`${k}=${v}`, `error parsing value of pair "${k}=${v}": ${e.reason}`);
        throw e;
      }
    } else {
      unknown.push(`${k}=${v}`);
    }
  }
  if (unknown.length > 0 && !ignoreUnknown) throw new CniArgsError(unknown.join(';'), `unknown args ${JSON.stringify(unknown)}`);
  return ip;
}

export function parseRoute(v: JsonValue, path: string): IpamRoute {
  const o = objectAt(v, path);
  const dstRaw = optString(o, 'dst', path);
  if (dstRaw === undefined) throw new ConfigError(fieldPath(path, 'dst'), undefined, 'is required');
  let dst: Cidr;
  try {
    dst = parseCidr(dstRaw);
  } catch (e) {
    if (e instanceof AddressError) throw new ConfigError(fieldPath(path, 'dst'), dstRaw, e.reason);
    throw e;
  }
  const gwRaw = optString(o, 'gw', path);
  let gw: IpAddr | undefined;
  if (gwRaw !== undefined && gwRaw !== '') {
    try {
      gw = parseIp(gwRaw);
    } catch (e) {
      if (e instanceof AddressError) throw new ConfigError(fieldPath(path, 'gw'), gwRaw, e.reason);
      throw e;
    }
    if (gw.family !== dst.addr.family) throw new ConfigError(fieldPath(path, 'gw'), gwRaw, `is not of the family of dst ${dstRaw}`);
  }
  const u32 = 0xffffffff;
  const mtu = optInt(o, 'mtu', path, 0, u32);
  const advmss = optInt(o, 'advmss', path, 0, u32);
  const priority = optInt(o, 'priority', path, 0, u32);
  const table = optInt(o, 'table', path, 0, u32);
  const scope = optInt(o, 'scope', path, 0, 255);
  return {
    dst,
    ...(gw && { gw }),
    ...(mtu !== undefined && { mtu }),
    ...(advmss !== undefined && { advmss }),
    ...(priority !== undefined && { priority }),
    ...(table !== undefined && { table }),
    ...(scope !== undefined && { scope }),
  };
}

export const parseRoutes = (list: readonly JsonValue[] | undefined, path: string): IpamRoute[] => (list ?? []).map((r, i) => parseRoute(r, indexPath(path, i)));

/** Reads the IPAM config from a whole network config (the plugin's stdin) and CNI_ARGS. */
export function parseIpamConfig(netconf: JsonObject, envArgs = ''): IpamConfig {
  const name = optString(netconf, 'name', '') ?? '';
  if (name === '') throw new ConfigError('name', undefined, 'is required');
  const ipam = optObject(netconf, 'ipam', '');
  if (!ipam) throw new ConfigError('ipam', undefined, "IPAM config missing 'ipam' key");

  const requested: IpAddr[] = [];
  const fromEnv = ipFromEnvArgs(envArgs);
  if (fromEnv) requested.push(fromEnv);
  const args = optObject(netconf, 'args', '');
  const cniArgs = args && optObject(args, 'cni', 'args');
  if (cniArgs) requested.push(...ipsFrom(optArray(cniArgs, 'ips', 'args.cni'), 'args.cni.ips'));
  const rc = optObject(netconf, 'runtimeConfig', '');
  if (rc) requested.push(...ipsFrom(optArray(rc, 'ips', 'runtimeConfig'), 'runtimeConfig.ips'));

  // runtimeConfig.ipRanges, then the legacy single range, then ipam.ranges (Go's prepend order).
  const ranges: IpRangeSet[] = [];
  const paths: string[] = [];
  const rtRanges = rc && optArray(rc, 'ipRanges', 'runtimeConfig');
  (rtRanges ?? []).forEach((s, i) => {
    ranges.push(canonicalizeRangeSet(s, indexPath('runtimeConfig.ipRanges', i)));
    paths.push(indexPath('runtimeConfig.ipRanges', i));
  });
  const legacy = rangeFieldsOf(ipam, 'ipam');
  if (legacy.subnet !== undefined && legacy.subnet !== '') {
    ranges.push([canonicalizeRange(legacy, 'ipam')]);
    paths.push('ipam');
  }
  (optArray(ipam, 'ranges', 'ipam') ?? []).forEach((s, i) => {
    ranges.push(canonicalizeRangeSet(s, indexPath('ipam.ranges', i)));
    paths.push(indexPath('ipam.ranges', i));
  });
  if (ranges.length === 0) throw new ConfigError('ipam.ranges', undefined, 'no IP ranges specified');
  for (let i = 0; i < ranges.length; i++) {
    for (let j = i + 1; j < ranges.length; j++) {
      if (rangeSetsOverlap(ranges[i]!, ranges[j]!)) throw new ConfigError(paths[j]!, undefined, `range set ${j} overlaps with range set ${i} (${paths[i]})`);
    }
  }

  const seen = new Set<string>();
  const requestedIps = requested.filter((a) => {
    const k = `${a.family}/${a.value}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });

  const resolvConf = optString(ipam, 'resolvConf', 'ipam');
  return {
    name,
    type: optString(ipam, 'type', 'ipam') ?? 'host-local',
    dataDir: optString(ipam, 'dataDir', 'ipam') || DEFAULT_DATA_DIR,
    ranges,
    routes: parseRoutes(optArray(ipam, 'routes', 'ipam'), 'ipam.routes'),
    ...(resolvConf && { resolvConf }),
    requestedIps,
  };
}

/** resolv.conf as host-local reads it: nameserver, domain, search, options; comments skipped. */
export function parseResolvConf(text: string): IpamDns {
  const nameservers: string[] = [];
  const search: string[] = [];
  const options: string[] = [];
  let domain: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const f = line.split(/\s+/);
    if (f.length < 2) continue;
    switch (f[0]) {
      case 'nameserver':
        nameservers.push(f[1]!);
        break;
      case 'domain':
        domain = f[1]!;
        break;
      case 'search':
        search.push(...f.slice(1));
        break;
      case 'options':
        options.push(...f.slice(1));
        break;
    }
  }
  return {
    ...(nameservers.length > 0 && { nameservers }),
    ...(domain !== undefined && { domain }),
    ...(search.length > 0 && { search }),
    ...(options.length > 0 && { options }),
  };
}
