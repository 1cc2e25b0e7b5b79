// A pod's resolv.conf, as the kubelet decides it from the pod's dnsPolicy and dnsConfig, its
// --cluster-dns and --cluster-domain, and the node's resolv.conf (--resolv-conf). Pure.
//
//   ClusterFirst (the default)   nameserver: the cluster DNS; search: <ns>.svc.<domain> svc.<domain> <domain>
//                                and the node's; options ndots:5. A host-network pod, or no --cluster-dns,
//                                falls back to Default, as Kubernetes does.
//   ClusterFirstWithHostNet      ClusterFirst, for host-network pods too.
//   Default                      the node's resolv.conf.
//   None                         nothing but the pod's dnsConfig.
// Any policy then takes the pod's dnsConfig: nameservers and searches appended (without repeats),
// options merged by name (the pod's value wins). Past Kubernetes' limits (3 nameservers, 32 search
// domains, 2048 characters of search list) the rest is dropped, with a warning for the pod's events.
import type { Pod } from '../cluster/index.js';
import type { ResolvConf } from '../dns/index.js';

export interface ClusterDnsSettings {
  /** --cluster-dns: the cluster DNS servers (empty: none). */
  readonly clusterDns: readonly string[];
  /** --cluster-domain (empty: none). */
  readonly clusterDomain: string;
  /** The node's resolv.conf, as --resolv-conf reads. */
  readonly host: ResolvConf;
}

export const MAX_NAMESERVERS = 3;
export const MAX_SEARCHES = 32;
export const MAX_SEARCH_CHARS = 2048;

export interface PodDns {
  readonly conf: ResolvConf;
  /** The limits that were exceeded, in Kubernetes' words (empty: none). */
  readonly warnings: readonly string[];
}

interface DnsConfigSpec {
  readonly nameservers: string[];
  readonly searches: string[];
  readonly options: { name: string; value?: string }[];
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x !== '') : []);

function dnsConfigOf(pod: Pod): DnsConfigSpec | undefined {
  const c = pod.spec.dnsConfig;
  if (typeof c !== 'object' || c === null) return undefined;
  const o = c as Record<string, unknown>;
  const options = Array.isArray(o.options)
    ? o.options.flatMap((x: unknown) => {
        if (typeof x !== 'object' || x === null) return [];
        const { name, value } = x as { name?: unknown; value?: unknown };
        return typeof name === 'string' && name ? [{ name, ...(typeof value === 'string' && { value }) }] : [];
      })
    : [];
  return { nameservers: strings(o.nameservers), searches: strings(o.searches), options };
}

const uniq = (xs: readonly string[]): string[] => [...new Set(xs)];

/** `ndots:5` and `ndots:2` are one option; the later wins, in the earlier one's place. */
function mergeOptions(base: readonly string[], extra: readonly { name: string; value?: string }[]): string[] {
  const m = new Map<string, string | undefined>();
  for (const o of base) {
    const i = o.indexOf(':');
    m.set(i < 0 ? o : o.slice(0, i), i < 0 ? undefined : o.slice(i + 1));
  }
  for (const o of extra) m.set(o.name, o.value);
  return [...m].map(([k, v]) => (v === undefined ? k : `${k}:${v}`));
}

type Kind = 'cluster' | 'host' | 'none';

function kindOf(pod: Pod): Kind {
  const policy = typeof pod.spec.dnsPolicy === 'string' ? pod.spec.dnsPolicy : 'ClusterFirst';
  const hostNetwork = pod.spec.hostNetwork === true;
  if (policy === 'None') return 'none';
  if (policy === 'ClusterFirstWithHostNet') return 'cluster';
  if (policy === 'Default') return 'host';
  return hostNetwork ? 'host' : 'cluster';
}

export function podDnsConfig(pod: Pod, s: ClusterDnsSettings): PodDns {
  const ns = pod.metadata.namespace || 'default';
  let kind = kindOf(pod);
  if (kind === 'cluster' && s.clusterDns.length === 0) kind = 'host';
  let nameservers: string[];
  let searches: string[];
  let options: string[];
  if (kind === 'none') [nameservers, searches, options] = [[], [], []];
  else if (kind === 'host') [nameservers, searches, options] = [[...s.host.nameservers], [...s.host.searches], [...s.host.options]];
  else {
    const d = s.clusterDomain.replace(/\.$/, '');
    nameservers = [...s.clusterDns];
    searches = uniq([...(d ? [`${ns}.svc.${d}`, `svc.${d}`, d] : []), ...s.host.searches]);
    options = ['ndots:5'];
  }
  const extra = dnsConfigOf(pod);
  if (extra) {
    nameservers = uniq([...nameservers, ...extra.nameservers]);
    searches = uniq([...searches, ...extra.searches]);
    options = mergeOptions(options, extra.options);
  }
  const warnings: string[] = [];
  if (nameservers.length > MAX_NAMESERVERS) {
    nameservers = nameservers.slice(0, MAX_NAMESERVERS);
    warnings.push(`Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: ${nameservers.join(' ')}`);
  }
  let trimmed = false;
  if (searches.length > MAX_SEARCHES) [searches, trimmed] = [searches.slice(0, MAX_SEARCHES), true];
  while (searches.join(' ').length > MAX_SEARCH_CHARS) [searches, trimmed] = [searches.slice(0, -1), true];
  if (trimmed) warnings.push(`Search Line limits were exceeded, some search paths have been omitted, the applied search line is: ${searches.join(' ')}`);
  return { conf: { nameservers, searches, options }, warnings };
}

/** The kubelet writes the pod's resolv.conf only where it is not what Docker gives anyway (the node's file): with --cluster-dns, policy None, or a dnsConfig. */
export function kubeletManagesDns(pod: Pod, s: ClusterDnsSettings): boolean {
  return s.clusterDns.length > 0 || pod.spec.dnsPolicy === 'None' || (typeof pod.spec.dnsConfig === 'object' && pod.spec.dnsConfig !== null);
}
