// kube-dns's flags (the subset this server has). Every flag can also come from the environment as
// KUBE_DNS_<NAME>; the command line wins. The API is reached as the other daemons reach it: a
// kubeconfig (`--kubecfg-file`, kube-dns's name, or `--kubeconfig`) and/or a plain-HTTP master URL; with
// neither, as kube-dns in its pod does, the in-cluster configuration (the pod's service account).
import { Command, InvalidArgumentError, Option } from 'commander';
import { apiFlagsOf, FlagConflictError } from '../cluster/index.js';
import { isIp } from '../common/index.js';

export interface DnsOptions {
  /** The API: a kubeconfig, a server list, the kubeconfig's credentials with these servers, or neither: in-cluster. */
  readonly api: ApiConn;
  readonly domain: string;
  readonly dnsPort: number;
  readonly dnsBindAddress: string;
  readonly resolvConf: string;
  readonly healthzPort: number;
  readonly cacheSize: number;
  readonly upstreamTimeoutMs: number;
  readonly logLevel: string;
}

export interface ApiConn {
  readonly kubeconfig?: string;
  readonly servers?: readonly string[];
}

export const VERSION = '0.1.0';
const envName = (flag: string): string => `KUBE_DNS_${flag.replace(/-/g, '_').toUpperCase()}`;

function opt(flags: string, description: string): Option {
  return new Option(flags, description).env(envName(/--([a-z0-9-]+)/.exec(flags)![1]!));
}

function uint(v: string, max: number): number {
  if (!/^\d+$/.test(v.trim())) throw new InvalidArgumentError('expected a whole number');
  const n = Number(v);
  if (n > max) throw new InvalidArgumentError(`must be at most ${max}`);
  return n;
}

export function addDnsOptions(cmd: Command): Command {
  return cmd
    .addOption(opt('--domain <domain>', 'the cluster domain this server answers for').default('cluster.local'))
    .addOption(opt('--dns-port <port>', 'the port to serve DNS on, UDP and TCP').default('53'))
    .addOption(opt('--dns-bind-address <ip>', 'the address to serve DNS on').default('0.0.0.0'))
    .addOption(opt('--kubecfg-file <file>', 'the kubeconfig of the Kubernetes API to follow'))
    .addOption(opt('--kubeconfig <file>', 'the same as --kubecfg-file'))
    .addOption(opt('--kube-master-url <url>', 'the Kubernetes API at this URL (comma-separated: the first that answers); with a kubeconfig, its credentials'))
    .addOption(opt('--resolv-conf <file>', 'the upstream resolvers, for names outside the cluster domain (its nameserver lines)').default('/etc/resolv.conf'))
    .addOption(opt('--healthz-port <port>', 'the port of /healthz and /readiness (0: off)').default('8081'))
    .addOption(opt('--cache-size <n>', 'upstream answers kept at most').default('10000'))
    .addOption(opt('--upstream-timeout <ms>', 'how long each upstream is waited for, in milliseconds').default('2000'))
    .addOption(opt('--log-level <level>', 'log level: trace, debug, info, warn, error').choices(['trace', 'debug', 'info', 'warn', 'error']).default('info'));
}

/** The parsed flags; throws InvalidArgumentError naming the flag. */
export function dnsOptions(raw: Record<string, unknown>): DnsOptions {
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
  const flag = <T>(name: string, fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      throw new InvalidArgumentError(`--${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  const domain = String(raw.domain).trim().toLowerCase().replace(/\.$/, '');
  if (!/^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/.test(domain)) throw new InvalidArgumentError(`--domain: "${String(raw.domain)}" is not a DNS domain name`);
  const bind = String(raw.dnsBindAddress).trim();
  if (!isIp(bind)) throw new InvalidArgumentError(`--dns-bind-address: "${bind}" is not an IP address`);
  const cfg = str(raw.kubecfgFile);
  const kc = str(raw.kubeconfig);
  if (cfg && kc && cfg !== kc) throw new FlagConflictError('--kubecfg-file', '--kubeconfig');
  const api = apiFlagsOfBoth(cfg ?? kc, str(raw.kubeMasterUrl)) ?? {};
  return {
    api,
    domain,
    dnsPort: flag('dns-port', () => uint(String(raw.dnsPort), 65535)),
    dnsBindAddress: bind,
    resolvConf: String(raw.resolvConf),
    healthzPort: flag('healthz-port', () => uint(String(raw.healthzPort), 65535)),
    cacheSize: flag('cache-size', () => uint(String(raw.cacheSize), 10_000_000)),
    upstreamTimeoutMs: Math.max(1, flag('upstream-timeout', () => uint(String(raw.upstreamTimeout), 60_000))),
    logLevel: String(raw.logLevel),
  };
}

/** A kubeconfig beside a master URL is its credentials with that server (openApiStore takes both). */
function apiFlagsOfBoth(kubeconfig: string | undefined, master: string | undefined): ApiConn | undefined {
  const servers = master ? apiFlagsOf(undefined, master, '--kube-master-url', false) : undefined;
  if (!kubeconfig && !servers) return undefined;
  return { ...(kubeconfig && { kubeconfig }), ...(servers && 'servers' in servers && { servers: servers.servers }) };
}
