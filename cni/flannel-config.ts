// The flannel CNI meta-plugin's inputs and the delegate config it renders (flannel-io/cni-plugin's
// doCmdAdd, with typed values instead of map[string]interface{}). Pure.
//
//   netconf  {name, cniVersion, subnetFile?, dataDir?, delegate?: {...overrides}, ipam?: {...}, runtimeConfig?}
//   subnet.env  FLANNEL_NETWORK, FLANNEL_SUBNET, FLANNEL_IPV6_NETWORK, FLANNEL_IPV6_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ
//   delegate = {cniVersion, name, type: "bridge", bridge: "cni0", isGateway: true, ipMasq: !FLANNEL_IPMASQ,
//               mtu: FLANNEL_MTU, ...other delegate keys, ipam: {...netconf ipam, type: "host-local",
//               ranges: [[{subnet: FLANNEL_SUBNET's network}], [{subnet: IPv6 subnet}]],
//               routes: [...ipam.routes, {dst: FLANNEL_NETWORK}, {dst: FLANNEL_IPV6_NETWORK}]}, runtimeConfig}
// Values the delegate object sets win over the defaults; `name` and `ipam` belong to flannel there.
// (We name the bridge explicitly, "cni0" being the bridge plugin's own default, so a saved config
// says which device it used.)
import { FlannelError, AddressError, type Cidr, cidrEqual, formatCidr, networkOf, parseCidr } from '../core/index.js';
import { ConfigError } from '../ipam/config.js';
import {
  type IpamRoute,
  type JsonObject,
  optBool,
  optInt,
  optObject,
  optString,
  optArray,
  parseRoutes,
} from '../ipam/host-local/index.js';
import { parseEnvFile } from '../ipam/subnet-env.js';
import { routeJson } from './result.js';

export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env';
export const DEFAULT_FLANNEL_DATA_DIR = '/var/lib/cni/flannel';
export const DEFAULT_BRIDGE = 'cni0';

export interface FlannelNetConf {
  readonly name: string;
  readonly cniVersion?: string;
  readonly subnetFile: string;
  /** Where the rendered delegate config is saved per container, for DEL and CHECK. */
  readonly dataDir: string;
  readonly delegate: JsonObject;
  readonly ipam?: JsonObject;
  readonly runtimeConfig?: JsonObject;
}

/** What flanneld wrote to subnet.env. */
export interface FlannelEnv {
  readonly networks: readonly Cidr[];
  /** The node's subnet (the network, host bits cleared). */
  readonly subnet?: Cidr;
  readonly ipv6Networks: readonly Cidr[];
  readonly ipv6Subnet?: Cidr;
  readonly mtu: number;
  /** flanneld masquerades (--ip-masq), so the bridge must not. */
  readonly ipMasq: boolean;
}

export interface DelegateIpam {
  readonly type: string;
  readonly ranges: readonly (readonly { readonly subnet: string }[])[];
  readonly routes: readonly IpamRoute[];
  /** The netconf's other ipam keys (dataDir, resolvConf, ...), as written. */
  readonly rest: JsonObject;
}

export interface DelegateConfig {
  readonly cniVersion?: string;
  readonly name: string;
  readonly type: string;
  /** Bridge delegates only. */
  readonly bridge?: string;
  readonly isGateway?: boolean;
  readonly ipMasq: boolean;
  readonly mtu: number;
  readonly ipam: DelegateIpam;
  readonly runtimeConfig?: JsonObject;
  /** The delegate object's other keys (hairpinMode, isDefaultGateway, ...), as written. */
  readonly rest: JsonObject;
}

/** subnet.env is unreadable as flannel's: a bad value, or required keys missing. */
export class SubnetFileError extends FlannelError {
  readonly code = 'SUBNET_FILE';
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

const DELEGATE_KNOWN = new Set(['type', 'bridge', 'isGateway', 'ipMasq', 'mtu', 'cniVersion']);

export function parseFlannelNetConf(doc: JsonObject): FlannelNetConf {
  const name = optString(doc, 'name', '');
  if (!name) throw new ConfigError('name', undefined, 'is required');
  const delegate = optObject(doc, 'delegate', '') ?? {};
  // Checked here so a bad override is reported before anything is written.
  optString(delegate, 'type', 'delegate');
  if (Object.hasOwn(delegate, 'name')) throw new ConfigError('delegate.name', delegate.name, "must not be set: flannel sets the delegate's name");
  if (Object.hasOwn(delegate, 'ipam')) throw new ConfigError('delegate.ipam', undefined, 'must not be set: flannel builds the IPAM config (set top-level "ipam" to add to it)');
  const cniVersion = optString(doc, 'cniVersion', '');
  const ipam = optObject(doc, 'ipam', '');
  const runtimeConfig = optObject(doc, 'runtimeConfig', '');
  return {
    name,
    ...(cniVersion && { cniVersion }),
    subnetFile: optString(doc, 'subnetFile', '') || DEFAULT_SUBNET_FILE,
    dataDir: optString(doc, 'dataDir', '') || DEFAULT_FLANNEL_DATA_DIR,
    delegate,
    ...(ipam && { ipam }),
    ...(runtimeConfig && { runtimeConfig }),
  };
}

/** subnet.env as flannel's plugin reads it: lists of networks deduplicated, MTU a uint32. */
export function parseFlannelEnv(text: string, file: string): FlannelEnv {
  const env = parseEnvFile(text);
  const cidr = (key: string, v: string): Cidr => {
    try {
      return parseCidr(v.trim());
    } catch (e) {
      if (e instanceof AddressError) throw new SubnetFileError(file, `${key}: ${e.message}`);
      throw e;
    }
  };
  const list = (key: string): Cidr[] => {
    const v = env.get(key);
    if (v === undefined || v === '') return [];
    const out: Cidr[] = [];
    for (const part of v.split(',')) {
      const c = networkOf(cidr(key, part));
      if (!out.some((o) => cidrEqual(o, c))) out.push(c);
    }
    return out;
  };
  const one = (key: string): Cidr | undefined => {
    const v = env.get(key);
    return v === undefined || v === '' ? undefined : networkOf(cidr(key, v));
  };
  const networks = list('FLANNEL_NETWORK');
  const ipv6Networks = list('FLANNEL_IPV6_NETWORK');
  const subnet = one('FLANNEL_SUBNET');
  const ipv6Subnet = one('FLANNEL_IPV6_SUBNET');
  const mtuRaw = env.get('FLANNEL_MTU');
  let mtu: number | undefined;
  if (mtuRaw !== undefined) {
    mtu = Number(mtuRaw);
    if (!/^\d+$/.test(mtuRaw) || mtu > 0xffffffff) throw new SubnetFileError(file, `FLANNEL_MTU: ${JSON.stringify(mtuRaw)} is not an unsigned integer`);
  }
  const masqRaw = env.get('FLANNEL_IPMASQ');
  const missing: string[] = [];
  if (networks.length === 0 && ipv6Networks.length === 0) missing.push('FLANNEL_NETWORK', 'FLANNEL_IPV6_NETWORK');
  if (!subnet && !ipv6Subnet) missing.push('FLANNEL_SUBNET', 'FLANNEL_IPV6_SUBNET');
  if (mtu === undefined) missing.push('FLANNEL_MTU');
  if (masqRaw === undefined) missing.push('FLANNEL_IPMASQ');
  if (missing.length > 0 || mtu === undefined) throw new SubnetFileError(file, `is missing ${missing.join(', ')}`);
  return { networks, ...(subnet && { subnet }), ipv6Networks, ...(ipv6Subnet && { ipv6Subnet }), mtu, ipMasq: masqRaw === 'true' };
}

/** The IPAM ranges for the node's subnets: one range set per family. */
export function flannelRanges(env: FlannelEnv): { subnet: string }[][] {
  return [env.subnet, env.ipv6Subnet].filter((s): s is Cidr => s !== undefined).map((s) => [{ subnet: formatCidr(s) }]);
}

export function buildDelegateConfig(conf: FlannelNetConf, env: FlannelEnv): DelegateConfig {
  const d = conf.delegate;
  const type = optString(d, 'type', 'delegate') ?? 'bridge';
  const ipMasq = optBool(d, 'ipMasq', 'delegate') ?? !env.ipMasq;
  const mtu = optInt(d, 'mtu', 'delegate', 0, 0xffffffff) ?? env.mtu;
  const isBridge = type === 'bridge';
  const isGateway = optBool(d, 'isGateway', 'delegate') ?? (isBridge ? true : undefined);
  const bridge = optString(d, 'bridge', 'delegate') ?? (isBridge ? DEFAULT_BRIDGE : undefined);
  const cniVersion = conf.cniVersion ?? optString(d, 'cniVersion', 'delegate');

  const ipamIn = conf.ipam ?? {};
  const routes = [
    ...parseRoutes(optArray(ipamIn, 'routes', 'ipam'), 'ipam.routes'),
    ...[...env.networks, ...env.ipv6Networks].map((dst): IpamRoute => ({ dst })),
  ];
  const ipamRest: Record<string, JsonObject[string]> = {};
  for (const [k, v] of Object.entries(ipamIn)) if (k !== 'type' && k !== 'ranges' && k !== 'routes') ipamRest[k] = v;
  const rest: Record<string, JsonObject[string]> = {};
  for (const [k, v] of Object.entries(d)) if (!DELEGATE_KNOWN.has(k)) rest[k] = v;

  return {
    ...(cniVersion && { cniVersion }),
    name: conf.name,
    type,
    ...(bridge !== undefined && { bridge }),
    ...(isGateway !== undefined && { isGateway }),
    ipMasq,
    mtu,
    ipam: { type: optString(ipamIn, 'type', 'ipam') ?? 'host-local', ranges: flannelRanges(env), routes, rest: ipamRest },
    ...(conf.runtimeConfig && { runtimeConfig: conf.runtimeConfig }),
    rest,
  };
}

/** The delegate's stdin: known keys first, then the delegate's own extra keys, then ipam. */
export function renderDelegateConfig(d: DelegateConfig): string {
  return JSON.stringify({
    ...(d.cniVersion && { cniVersion: d.cniVersion }),
    name: d.name,
    type: d.type,
    ...(d.bridge !== undefined && { bridge: d.bridge }),
    ...(d.isGateway !== undefined && { isGateway: d.isGateway }),
    ipMasq: d.ipMasq,
    mtu: d.mtu,
    ...d.rest,
    ipam: { ...d.ipam.rest, type: d.ipam.type, ranges: d.ipam.ranges, routes: d.ipam.routes.map(routeJson) },
    ...(d.runtimeConfig && { runtimeConfig: d.runtimeConfig }),
  });
}
