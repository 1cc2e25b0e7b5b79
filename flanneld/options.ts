// flanneld's flags, with flannel's names and defaults. Every flag can also come from the
// environment as FLANNELD_<NAME> (what flanneld.service's EnvironmentFile sets); the command line wins.
import { Command, Option, InvalidArgumentError } from 'commander';
import { addEtcdOptions, type EtcdFlagValues, etcdFlagValues } from '../common/index.js';
import { DEFAULT_ETCD_PREFIX, DEFAULT_LEASE_TTL_SEC, isIp } from '../ipam/index.js';

export interface DaemonOptions extends EtcdFlagValues {
  readonly etcdPrefix: string;
  readonly iface: string[];
  readonly ifaceRegex: string[];
  readonly publicIp?: string;
  readonly publicIpv6?: string;
  readonly subnetFile: string;
  readonly subnetLeaseRenewMargin: number;
  readonly subnetLeaseTtl: number;
  readonly ipMasq: boolean;
  readonly iptablesResync: number;
  readonly iptablesForwardRules: boolean;
  readonly dockerOptsFile?: string;
  readonly healthzIp: string;
  readonly healthzPort: number;
  readonly logLevel: string;
  /** --kube-subnet-mgr: the subnet is the Node's podCIDR, the peers the annotated Nodes (no etcd). */
  readonly kubeSubnetMgr: boolean;
  readonly kubeApiUrl?: string;
  readonly kubeconfigFile?: string;
  readonly kubeAnnotationPrefix: string;
  readonly netConfPath: string;
  readonly setNodeNetworkUnavailable: boolean;
}

export const VERSION = '0.1.0';

const envName = (flag: string) => `FLANNELD_${flag.replace(/-/g, '_').toUpperCase()}`;

function parseBool(v: string): boolean {
  if (/^(1|t|true|yes)$/i.test(v)) return true;
  if (/^(0|f|false|no)$/i.test(v)) return false;
  throw new InvalidArgumentError('expected true or false');
}

function parseUint(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('expected a whole number');
  return Number(v);
}

function parseMinutes(v: string): number {
  if (!/^\d+(\.\d+)?$/.test(v)) throw new InvalidArgumentError('expected minutes, e.g. 60 or 0.5');
  return Number(v);
}

function parsePort(v: string): number {
  const n = parseUint(v);
  if (n > 65535) throw new InvalidArgumentError('expected a port number 0..65535');
  return n;
}

function parseIpFlag(family: 4 | 6) {
  return (v: string): string => {
    if (!isIp(v) || (family === 4) !== !v.includes(':')) throw new InvalidArgumentError(`expected an IPv${family} address`);
    return v;
  };
}

/** Repeatable flags; from the environment a comma-separated list. */
const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), ...v.split(',').map((s) => s.trim()).filter(Boolean)];

function opt(flags: string, description: string, name: string): Option {
  return new Option(flags, description).env(envName(name));
}

/** Adds the daemon's options to `cmd` (the root command). */
export function addDaemonOptions(cmd: Command): Command {
  return addEtcdOptions(cmd, envName)
    .addOption(opt('--etcd-prefix <path>', 'etcd prefix', 'etcd-prefix').default(DEFAULT_ETCD_PREFIX))
    .addOption(opt('--iface <name-or-ip>', 'interface to use (IP or name) for inter-host communication; repeatable, first match wins', 'iface').argParser(collect))
    .addOption(opt('--iface-regex <regex>', 'regex matching the first interface (IP or name) to use; repeatable', 'iface-regex').argParser(collect))
    .addOption(opt('--public-ip <ip>', 'IP accessible by other nodes for inter-host communication', 'public-ip').argParser(parseIpFlag(4)))
    .addOption(opt('--public-ipv6 <ip>', 'IPv6 accessible by other nodes for inter-host communication', 'public-ipv6').argParser(parseIpFlag(6)))
    .addOption(opt('--subnet-file <path>', 'filename where env variables (subnet, MTU, ...) will be written to', 'subnet-file').default('/run/flannel/subnet.env'))
    .addOption(opt('--subnet-lease-renew-margin <minutes>', 'subnet lease renewal margin, in minutes', 'subnet-lease-renew-margin').argParser(parseMinutes).default(60))
    .addOption(opt('--subnet-lease-ttl <seconds>', 'subnet lease TTL (for tests)', 'subnet-lease-ttl').argParser(parseUint).default(DEFAULT_LEASE_TTL_SEC).hideHelp())
    .addOption(opt('--ip-masq [bool]', 'setup IP masquerade rule for traffic destined outside of overlay network', 'ip-masq').argParser(parseBool).preset(true).default(false))
    .addOption(opt('--iptables-resync <seconds>', 'resync period for iptables rules, in seconds', 'iptables-resync').argParser(parseUint).default(5))
    .addOption(opt('--iptables-forward-rules [bool]', 'add default accept rules to the FORWARD chain in iptables', 'iptables-forward-rules').argParser(parseBool).preset(true).default(true))
    .addOption(opt('--docker-opts-file <path>', 'also write Docker\'s --bip/--mtu/--ip-masq options here (as mk-docker-opts.sh did), e.g. /run/flannel/docker', 'docker-opts-file'))
    .addOption(opt('--healthz-ip <ip>', 'the IP address for healthz server to listen', 'healthz-ip').default('0.0.0.0'))
    .addOption(opt('--healthz-port <port>', 'the port for healthz server to listen (0 to disable)', 'healthz-port').argParser(parsePort).default(0))
    .addOption(opt('--kube-subnet-mgr [bool]', 'contact the Kubernetes API for subnet assignment instead of etcd', 'kube-subnet-mgr').argParser(parseBool).preset(true).default(false))
    .addOption(opt('--kube-api-url <url>', 'Kubernetes API server URL; not needed when flanneld runs in a pod', 'kube-api-url'))
    .addOption(opt('--kubeconfig-file <path>', 'kubeconfig file location; not needed when flanneld runs in a pod', 'kubeconfig-file'))
    .addOption(opt('--kube-annotation-prefix <prefix>', 'Kubernetes annotation prefix; can contain a single "/", otherwise one is appended', 'kube-annotation-prefix').default('flannel.alpha.coreos.com'))
    .addOption(opt('--net-config-path <path>', 'path to the network configuration file (with --kube-subnet-mgr)', 'net-config-path').default('/etc/kube-flannel/net-conf.json'))
    .addOption(opt('--set-node-network-unavailable [bool]', 'set NodeNetworkUnavailable after ready (with --kube-subnet-mgr)', 'set-node-network-unavailable').argParser(parseBool).preset(true).default(true))
    .addOption(opt('--log-level <level>', 'log level: trace, debug, info, warn, error', 'log-level').choices(['trace', 'debug', 'info', 'warn', 'error']).default('info'));
}

/** The parsed flags, with list flags split and defaults applied. */
export function daemonOptions(raw: Record<string, unknown>): DaemonOptions {
  const list = (v: unknown): string[] => (Array.isArray(v) ? v : typeof v === 'string' ? collect(v, []) : []);
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const o = {
    ...etcdFlagValues(raw),
    etcdPrefix: String(raw.etcdPrefix),
    iface: list(raw.iface),
    ifaceRegex: list(raw.ifaceRegex),
    publicIp: str(raw.publicIp),
    publicIpv6: str(raw.publicIpv6),
    subnetFile: String(raw.subnetFile),
    subnetLeaseRenewMargin: Number(raw.subnetLeaseRenewMargin),
    subnetLeaseTtl: Number(raw.subnetLeaseTtl),
    ipMasq: raw.ipMasq === true,
    iptablesResync: Number(raw.iptablesResync),
    iptablesForwardRules: raw.iptablesForwardRules !== false,
    dockerOptsFile: str(raw.dockerOptsFile),
    healthzIp: String(raw.healthzIp),
    healthzPort: Number(raw.healthzPort),
    logLevel: String(raw.logLevel),
    kubeSubnetMgr: raw.kubeSubnetMgr === true,
    kubeApiUrl: str(raw.kubeApiUrl),
    kubeconfigFile: str(raw.kubeconfigFile),
    kubeAnnotationPrefix: String(raw.kubeAnnotationPrefix),
    netConfPath: String(raw.netConfigPath),
    setNodeNetworkUnavailable: raw.setNodeNetworkUnavailable !== false,
  };
  if (o.iptablesResync < 1) throw new InvalidArgumentError('--iptables-resync must be at least 1 second');
  if (o.subnetLeaseRenewMargin * 60 >= o.subnetLeaseTtl) {
    throw new InvalidArgumentError(`--subnet-lease-renew-margin ${o.subnetLeaseRenewMargin}m must be shorter than the lease TTL (${o.subnetLeaseTtl}s)`);
  }
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as unknown as DaemonOptions;
}
