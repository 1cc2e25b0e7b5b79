// The pure half of the kubelet's CNI network plugin (--network-plugin=cni), as dockershim drives libcni:
// which network config of the conf dir is the pod network, the config each plugin of the list gets,
// the environment of a plugin run, the pod's address in a result, and libcni's cache of results
// (<cache-dir>/results/<network>-<container>-<ifname>), which is what DEL replays and what a restarted
// kubelet reads a running sandbox's address back from. The I/O is cni-network.ts.

/** The interface every pod gets (the kubelet's DefaultInterfaceName). */
export const POD_IFNAME = 'eth0';

/** One network config list, as libcni's NetworkConfigList: its name, version and plugins' configs. */
export interface NetworkConfigList {
  readonly name: string;
  readonly cniVersion: string;
  readonly plugins: readonly Record<string, unknown>[];
  /** The bytes the list was read from (libcni caches them with the result). */
  readonly bytes: string;
  /** The file it came from. */
  readonly file: string;
}

export class CniConfigError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'CniConfigError';
  }
}

/** Extensions libcni reads from the conf dir. */
const CONF_EXT = /\.(conflist|conf|json)$/;

export const isConfFile = (name: string): boolean => CONF_EXT.test(name);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseJson(text: string, file: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new CniConfigError(file, `not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isObject(doc)) throw new CniConfigError(file, 'not a JSON object');
  return doc;
}

function pluginOf(v: unknown, file: string, where: string): Record<string, unknown> {
  if (!isObject(v)) throw new CniConfigError(file, `${where} is not an object`);
  if (typeof v.type !== 'string' || v.type === '') throw new CniConfigError(file, `${where} has no "type"`);
  if (v.type.includes('/')) throw new CniConfigError(file, `${where} has an invalid "type" ${JSON.stringify(v.type)}`);
  return v;
}

const versionOf = (doc: Record<string, unknown>, file: string): string => {
  if (doc.cniVersion === undefined) return '0.1.0';
  if (typeof doc.cniVersion !== 'string') throw new CniConfigError(file, '"cniVersion" is not a string');
  return doc.cniVersion;
};

/** A `.conflist` (or, for any other extension, a single `.conf` wrapped into a list of one, as libcni does). Throws CniConfigError. */
export function parseNetworkConfig(file: string, text: string, asList = file.endsWith('.conflist')): NetworkConfigList {
  const doc = parseJson(text, file);
  if (asList) {
    if (typeof doc.name !== 'string' || doc.name === '') throw new CniConfigError(file, 'the list has no "name"');
    if (!('plugins' in doc)) throw new CniConfigError(file, 'the list has no "plugins"');
    if (!Array.isArray(doc.plugins)) throw new CniConfigError(file, '"plugins" is not an array');
    const plugins = doc.plugins.map((p, i) => pluginOf(p, file, `plugins[${i}]`));
    return { name: doc.name, cniVersion: versionOf(doc, file), plugins, bytes: text, file };
  }
  const plugin = pluginOf(doc, file, 'the config');
  if (typeof doc.name !== 'string' || doc.name === '') throw new CniConfigError(file, 'the config has no "name"');
  const cniVersion = versionOf(doc, file);
  // libcni's ConfListFromConf: the list's bytes are the wrapping list, not the file.
  const bytes = JSON.stringify({ cniVersion, name: doc.name, plugins: [plugin] });
  return { name: doc.name, cniVersion, plugins: [plugin], bytes, file };
}

export interface ConfigChoice {
  /** The pod network: the lexically first file that parses and has plugins. */
  readonly network: NetworkConfigList | undefined;
  /** Files passed over before it, each with why. */
  readonly skipped: readonly { readonly file: string; readonly reason: string }[];
}

/**
 * Picks the pod network from the conf dir's files (name → text) as dockershim's getDefaultCNINetwork:
 * the conf files in lexical order; one that does not parse, or has no plugins, is skipped.
 * `usable` (optional) vets a parsed list further (the plugins' binaries exist), returning why not.
 */
export function chooseNetworkConfig(files: ReadonlyMap<string, string>, usable?: (l: NetworkConfigList) => string | undefined): ConfigChoice {
  const skipped: { file: string; reason: string }[] = [];
  for (const file of [...files.keys()].filter(isConfFile).sort()) {
    let list: NetworkConfigList;
    try {
      list = parseNetworkConfig(file, files.get(file)!);
    } catch (e) {
      skipped.push({ file, reason: e instanceof CniConfigError ? e.reason : String(e) });
      continue;
    }
    if (list.plugins.length === 0) {
      skipped.push({ file, reason: 'the list has no plugins' });
      continue;
    }
    const why = usable?.(list);
    if (why !== undefined) {
      skipped.push({ file, reason: why });
      continue;
    }
    return { network: list, skipped };
  }
  return { network: undefined, skipped };
}

/** The config one plugin of the list gets on stdin: its own, with the list's name and cniVersion, and prevResult when there is one. */
export function pluginConfig(list: NetworkConfigList, index: number, prevResult: Record<string, unknown> | undefined): string {
  const p = list.plugins[index];
  if (!p) throw new RangeError(`plugin ${index} of ${list.name} does not exist`);
  const { prevResult: _ignored, ...own } = p;
  return JSON.stringify({ ...own, name: list.name, cniVersion: list.cniVersion, ...(prevResult && { prevResult }) });
}

/** The pod a sandbox is for. */
export interface PodRef {
  readonly namespace: string;
  readonly name: string;
}

/** CNI_ARGS as the kubelet sets them, as key/value pairs (libcni caches them so). */
export function cniArgs(pod: PodRef, sandboxId: string): [string, string][] {
  return [
    ['IgnoreUnknown', '1'],
    ['K8S_POD_NAMESPACE', pod.namespace],
    ['K8S_POD_NAME', pod.name],
    ['K8S_POD_INFRA_CONTAINER_ID', sandboxId],
  ];
}

export type CniVerb = 'ADD' | 'DEL';

/** The CNI_ variables of one plugin run. `netns` is '' for a DEL whose sandbox has gone. */
export function pluginEnv(verb: CniVerb, sandboxId: string, netns: string, args: readonly (readonly [string, string])[], binDirs: readonly string[]): Record<string, string> {
  return {
    CNI_COMMAND: verb,
    CNI_CONTAINERID: sandboxId,
    CNI_NETNS: netns,
    CNI_IFNAME: POD_IFNAME,
    CNI_ARGS: args.map(([k, v]) => `${k}=${v}`).join(';'),
    CNI_PATH: binDirs.join(':'),
  };
}

/** The sandbox's network namespace as dockershim names it. */
export const netnsPath = (pid: number): string => `/proc/${pid}/ns/net`;

/** Whether the list's version has DEL take the cached result as prevResult (libcni: 0.4.0 and later). */
export function delTakesPrevResult(cniVersion: string): boolean {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(cniVersion);
  if (!m) return false;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > 0 || min >= 4;
}

/** The addresses (without prefix) a result gives `ifName`, IPv4 first: `ips` of 0.3.0 and later, `ip4`/`ip6` of older versions. */
export function podIPs(result: Record<string, unknown>, ifName = POD_IFNAME): string[] {
  const out: string[] = [];
  const bare = (cidr: unknown): string | undefined => (typeof cidr === 'string' && cidr !== '' ? cidr.split('/')[0] : undefined);
  if (Array.isArray(result.ips)) {
    const ifaces = Array.isArray(result.interfaces) ? result.interfaces : [];
    const hasNamed = ifaces.some((i) => isObject(i) && i.name === ifName);
    for (const ip of result.ips) {
      if (!isObject(ip)) continue;
      // An address tied to another interface (the host's veth end, a bridge) is not the pod's.
      if (typeof ip.interface === 'number' && hasNamed) {
        const i = ifaces[ip.interface];
        if (!isObject(i) || i.name !== ifName) continue;
      }
      const a = bare(ip.address);
      if (a) out.push(a);
    }
  } else {
    for (const k of ['ip4', 'ip6']) {
      const v = result[k];
      const a = isObject(v) ? bare(v.ip) : undefined;
      if (a) out.push(a);
    }
  }
  return out.sort((x, y) => Number(x.includes(':')) - Number(y.includes(':')));
}

// ---- libcni's result cache

/** libcni's cachedInfo, as it writes it. */
export interface CacheEntry {
  readonly kind: 'cniCacheV1';
  readonly containerId: string;
  /** The list's bytes, base64 (Go's []byte). */
  readonly config: string;
  readonly ifName: string;
  readonly networkName: string;
  readonly cniArgs?: readonly (readonly [string, string])[];
  readonly result?: Record<string, unknown>;
}

/** The cache file of one attachment, relative to the cache dir. */
export const cacheFile = (network: string, sandboxId: string, ifName = POD_IFNAME): string => `results/${network}-${sandboxId}-${ifName}`;

export function cacheEntry(list: NetworkConfigList, sandboxId: string, args: readonly (readonly [string, string])[], result: Record<string, unknown>): CacheEntry {
  return { kind: 'cniCacheV1', containerId: sandboxId, config: Buffer.from(list.bytes).toString('base64'), ifName: POD_IFNAME, networkName: list.name, cniArgs: args, result };
}

/** A cache file's entry with the list it recorded; throws CniConfigError naming the file. */
export function parseCacheEntry(file: string, text: string): { entry: CacheEntry; list: NetworkConfigList } {
  const doc = parseJson(text, file);
  if (doc.kind !== 'cniCacheV1') throw new CniConfigError(file, `not a cniCacheV1 entry (kind ${JSON.stringify(doc.kind)})`);
  if (typeof doc.containerId !== 'string' || typeof doc.networkName !== 'string' || typeof doc.config !== 'string') throw new CniConfigError(file, 'no containerId, networkName or config');
  const bytes = Buffer.from(doc.config, 'base64').toString('utf8');
  // The recorded bytes are a list whatever file they came from: parse them as one.
  const list = parseNetworkConfig(file, bytes, true);
  const args = Array.isArray(doc.cniArgs) ? doc.cniArgs.filter((a): a is [string, string] => Array.isArray(a) && a.length === 2 && typeof a[0] === 'string' && typeof a[1] === 'string') : undefined;
  const entry: CacheEntry = {
    kind: 'cniCacheV1',
    containerId: doc.containerId,
    config: doc.config,
    ifName: typeof doc.ifName === 'string' ? doc.ifName : POD_IFNAME,
    networkName: doc.networkName,
    ...(args && { cniArgs: args }),
    ...(isObject(doc.result) && { result: doc.result }),
  };
  return { entry, list };
}

/** The kubelet's words for a node whose CNI config is not there yet (the Ready condition's message). */
export const CNI_NOT_READY_MESSAGE = 'container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:docker: network plugin is not ready: cni config uninitialized';

/** A plugin's CNI error (code, msg, details) in libcni's words. */
export const pluginErrorText = (msg: string, details: string): string => (details ? `${msg}; ${details}` : msg);
