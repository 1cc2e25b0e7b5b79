// kube-proxy's flags (the subset this proxy has), with the etcd flags named as flanneld names them.
// Every flag can also come from the environment as KUBE_PROXY_<NAME>; the command line wins.
import { hostname } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { type ApiFlags, apiFlagsOf } from '../cluster/index.js';
import { addEtcdOptions, DurationError, type EtcdFlagValues, etcdFlagValues, isIp, parseCidr, parseDuration } from '../common/index.js';
import { parsePortRange, parseServiceRange, type IpRange, type PortRange } from './allocator.js';

export interface ProxyOptions extends EtcdFlagValues {
  /** The API to use (--kubeconfig or --master); etcd when absent. */
  readonly api?: ApiFlags;
  readonly hostnameOverride: string;
  readonly serviceRange: IpRange;
  readonly nodePortRange: PortRange;
  readonly clusterCidr?: string;
  readonly minSyncPeriodMs: number;
  readonly syncPeriodMs: number;
  readonly masqueradeBit: number;
  readonly healthzBindAddress: string;
  readonly healthzPort: number;
  /** --metrics-bind-address: /metrics (port 0: off). */
  readonly metricsBind: { readonly ip: string; readonly port: number };
  readonly leaderElectLeaseDurationSec: number;
  readonly cleanup: boolean;
  readonly logLevel: string;
}

export const VERSION = '0.1.0';
const envName = (flag: string) => `KUBE_PROXY_${flag.replace(/-/g, '_').toUpperCase()}`;

/**
 * A duration flag in whole milliseconds: Go's grammar (`1s`, `500ms`, `1m30s`, `0.5s`), or, as this proxy
 * has always also taken, plain seconds (`5`, `0.25`); never negative.
 */
export function flagDuration(v: string): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  let ms: number;
  try {
    ms = parseDuration(v);
  } catch (e) {
    if (!(e instanceof DurationError)) throw e;
    throw new InvalidArgumentError(`${e.reason}: expected a duration such as 500ms, 1s or 1m`);
  }
  if (ms < 0) throw new InvalidArgumentError('a duration here cannot be negative');
  return Math.round(ms);
}

/** `ip:port` (`[v6]:port`), as kube-proxy's --metrics-bind-address takes it. */
function parseHostPort(v: string): { ip: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(v);
  const ip = m?.[1] ?? m?.[2];
  if (!m || !ip || !isIp(ip) || Number(m[3]) > 65535) throw new Error('expected ip:port, e.g. 127.0.0.1:10249');
  return { ip, port: Number(m[3]) };
}

function parseUint(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('expected a whole number');
  return Number(v);
}

const opt = (flags: string, description: string, name: string): Option => new Option(flags, description).env(envName(name));

export function addProxyOptions(cmd: Command): Command {
  return addEtcdOptions(cmd, envName)
    .addOption(opt('--kubeconfig <file>', 'work through the Kubernetes API this kubeconfig names (instead of --etcd-endpoints)', 'kubeconfig'))
    .addOption(opt('--master <url>', 'work through the Kubernetes API at this plain-HTTP server (comma-separated: the first that answers), e.g. http://master:8080', 'master'))
    .addOption(opt('--hostname-override <name>', "this node's name (pods' spec.nodeName); default the hostname", 'hostname-override'))
    .addOption(opt('--service-cluster-ip-range <cidr>', 'the range ClusterIPs are allocated from', 'service-cluster-ip-range').default('10.254.0.0/16'))
    .addOption(opt('--service-node-port-range <min-max>', 'the range node ports are allocated from', 'service-node-port-range').default('30000-32767'))
    .addOption(opt('--cluster-cidr <cidr>', 'the pod network; traffic to a ClusterIP from outside it is masqueraded', 'cluster-cidr'))
    .addOption(opt('--min-sync-period <duration>', 'least time between two rule syncs: changes within it are applied together', 'min-sync-period').default('500ms'))
    .addOption(opt('--sync-period <duration>', 'a full resync of the rules at least this often', 'sync-period').default('30s'))
    .addOption(opt('--masquerade-bit <bit>', 'the packet mark bit for traffic to masquerade (flanneld --ip-masq leaves 0x4000, bit 14, alone)', 'masquerade-bit').default('14'))
    .addOption(opt('--healthz-bind-address <ip>', 'the address /healthz listens on', 'healthz-bind-address').default('0.0.0.0'))
    .addOption(opt('--healthz-port <port>', 'the port /healthz listens on (0: off)', 'healthz-port').default('10256'))
    .addOption(opt('--metrics-bind-address <ip:port>', 'where /metrics (Prometheus) listens; port 0: off', 'metrics-bind-address').default('127.0.0.1:10249'))
    .addOption(opt('--leader-elect-lease-duration <duration>', "on etcd, the endpoints maintainer's lease: another node takes over this long after it dies", 'leader-elect-lease-duration').default('15s'))
    .addOption(opt('--cleanup', 'remove the proxy\'s nftables table and exit', 'cleanup'))
    .addOption(opt('--log-level <level>', 'log level: trace, debug, info, warn, error', 'log-level').choices(['trace', 'debug', 'info', 'warn', 'error']).default('info'));
}

/** The parsed flags; throws InvalidArgumentError naming the flag. `etcdGiven`: --etcd-endpoints was set, not defaulted. */
export function proxyOptions(raw: Record<string, unknown>, etcdGiven = false): ProxyOptions {
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const flag = <T>(name: string, fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      throw new InvalidArgumentError(`--${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  const bit = flag('masquerade-bit', () => parseUint(String(raw.masqueradeBit)));
  if (bit > 31) throw new InvalidArgumentError('--masquerade-bit: must be 0..31');
  const port = flag('healthz-port', () => parseUint(String(raw.healthzPort)));
  if (port > 65535) throw new InvalidArgumentError('--healthz-port: must be 0..65535');
  const healthzBindAddress = String(raw.healthzBindAddress);
  if (!isIp(healthzBindAddress)) throw new InvalidArgumentError('--healthz-bind-address: expected an IP address');
  const metricsBind = flag('metrics-bind-address', () => parseHostPort(String(raw.metricsBindAddress ?? '127.0.0.1:10249')));
  const clusterCidr = str(raw.clusterCidr);
  // Dual stack as kube-proxy takes it: one CIDR per family, comma-separated.
  if (clusterCidr !== undefined)
    flag('cluster-cidr', () => {
      const fams = clusterCidr.split(',').map((c) => parseCidr(c.trim()).addr.family);
      if (fams.length > 2 || (fams.length === 2 && fams[0] === fams[1])) throw new Error('expected one CIDR, or two of different families');
    });
  const api = apiFlagsOf(str(raw.kubeconfig), str(raw.master), '--master', etcdGiven);
  const o: ProxyOptions = {
    ...etcdFlagValues(raw),
    ...(api && { api }),
    hostnameOverride: str(raw.hostnameOverride) ?? hostname(),
    serviceRange: flag('service-cluster-ip-range', () => parseServiceRange(String(raw.serviceClusterIpRange))),
    nodePortRange: flag('service-node-port-range', () => parsePortRange(String(raw.serviceNodePortRange))),
    ...(clusterCidr !== undefined && { clusterCidr }),
    minSyncPeriodMs: flag('min-sync-period', () => flagDuration(String(raw.minSyncPeriod))),
    syncPeriodMs: flag('sync-period', () => flagDuration(String(raw.syncPeriod))),
    masqueradeBit: bit,
    healthzBindAddress,
    healthzPort: port,
    metricsBind,
    leaderElectLeaseDurationSec: Math.max(2, Math.round(flag('leader-elect-lease-duration', () => flagDuration(String(raw.leaderElectLeaseDuration))) / 1000)),
    cleanup: raw.cleanup === true || raw.cleanup === 'true',
    logLevel: String(raw.logLevel),
  };
  if (o.syncPeriodMs < 1000) throw new InvalidArgumentError('--sync-period: must be at least 1s');
  if (o.minSyncPeriodMs > o.syncPeriodMs) throw new InvalidArgumentError('--min-sync-period: must not exceed --sync-period');
  return o;
}
