// kube-controller-manager's flags (the subset this one has), named and defaulted as Kubernetes has them.
import { hostname } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DurationError, FlannelError, isIp, parseCidr, parseDuration } from '../common/index.js';

/** The controllers this manager runs (`--controllers` names them as Kubernetes does). */
export const KNOWN_CONTROLLERS = ['replicationcontroller', 'replicaset', 'deployment', 'job', 'cronjob', 'daemonset', 'endpoint', 'nodelifecycle', 'nodeipam', 'podgc', 'garbagecollector', 'serviceaccount', 'root-ca-cert-publisher', 'service-lb-controller'] as const;
export type ControllerName = (typeof KNOWN_CONTROLLERS)[number];

export class ControllersFlagError extends FlannelError {
  readonly code = 'CONTROLLERS_FLAG';
  constructor(readonly item: string) {
    super(`--controllers: ${JSON.stringify(item)} is not a known controller (known: ${KNOWN_CONTROLLERS.join(', ')})`);
  }
}

export interface ControllerManagerOptions {
  readonly kubeconfig?: string;
  readonly master?: string;
  readonly leaderElect: boolean;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly leaseNamespace: string;
  readonly leaseName: string;
  readonly controllers: ReadonlySet<ControllerName>;
  readonly concurrentRcSyncs: number;
  readonly concurrentReplicasetSyncs: number;
  readonly concurrentDeploymentSyncs: number;
  readonly concurrentJobSyncs: number;
  readonly concurrentCronJobSyncs: number;
  readonly concurrentDaemonsetSyncs: number;
  readonly concurrentEndpointSyncs: number;
  readonly concurrentGcSyncs: number;
  readonly nodeMonitorPeriodMs: number;
  readonly nodeMonitorGracePeriodMs: number;
  readonly nodeStartupGracePeriodMs: number;
  readonly nodeEvictionRate: number;
  readonly secondaryNodeEvictionRate: number;
  readonly unhealthyZoneThreshold: number;
  readonly largeClusterSizeThreshold: number;
  readonly podEvictionTimeoutMs: number;
  readonly allocateNodeCidrs: boolean;
  readonly clusterCidr?: string;
  readonly nodeCidrMaskSize: number;
  readonly bindAddress: string;
  readonly securePort: number;
  readonly certDir: string;
  /** --root-ca-file: the CA bundle published as kube-root-ca.crt (the kubeconfig's CA when absent). */
  readonly rootCaFile?: string;
  readonly identity: string;
  readonly logLevel: string;
}

export const VERSION = '0.1.0';

/** Pure: `--controllers` (`*` every controller on by default, `foo` enables, `-foo` disables) → the set to run. */
export function controllersOf(spec: string): Set<ControllerName> {
  const items = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const star = items.includes('*');
  const out = new Set<ControllerName>(star ? KNOWN_CONTROLLERS : []);
  for (const it of items) {
    if (it === '*') continue;
    const off = it.startsWith('-');
    const name = off ? it.slice(1) : it;
    if (!(KNOWN_CONTROLLERS as readonly string[]).includes(name)) throw new ControllersFlagError(it);
    if (off) out.delete(name as ControllerName);
    else out.add(name as ControllerName);
  }
  return out;
}

function duration(flag: string, v: string): number {
  try {
    const ms = parseDuration(v);
    if (ms <= 0) throw new InvalidArgumentError(`--${flag}: must be positive`);
    return ms;
  } catch (e) {
    if (e instanceof DurationError) throw new InvalidArgumentError(`--${flag}: ${e.reason}`);
    throw e;
  }
}

function rate(flag: string, v: string, max = Infinity): number {
  if (!/^\d+(\.\d+)?$/.test(v) || Number(v) > max) throw new InvalidArgumentError(`--${flag}: expected a number from 0${max === Infinity ? '' : ` to ${max}`}`);
  return Number(v);
}

const BOOLS = ['true', 'false', '1', '0', 't', 'f', 'TRUE', 'FALSE', 'True', 'False'];
function bool(flag: string, v: unknown): boolean {
  const s = v === true ? 'true' : String(v);
  if (!BOOLS.includes(s)) throw new InvalidArgumentError(`--${flag}: ${JSON.stringify(s)} is not a boolean`);
  return ['true', '1', 't', 'TRUE', 'True'].includes(s);
}

function positiveInt(flag: string, v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError(`--${flag}: expected a whole number of at least 1`);
  return Number(v);
}

export function addControllerManagerOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--kubeconfig <file>', 'the kubeconfig of the API server to work through'))
    .addOption(new Option('--master <url>', 'the API server (overrides the kubeconfig: a plain-HTTP server list here)'))
    .addOption(new Option('--leader-elect [bool]', 'elect one active instance on a coordination.k8s.io Lease').default('true'))
    .addOption(new Option('--leader-elect-lease-duration <duration>', 'how long a follower waits before taking over a lease not renewed').default('15s'))
    .addOption(new Option('--leader-elect-renew-deadline <duration>', 'how long the leader keeps trying to renew before it stops leading').default('10s'))
    .addOption(new Option('--leader-elect-retry-period <duration>', 'how long to wait between two tries to take or renew the lease').default('2s'))
    .addOption(new Option('--leader-elect-resource-namespace <ns>', "the lease's namespace").default('kube-system'))
    .addOption(new Option('--leader-elect-resource-name <name>', "the lease's name").default('kube-controller-manager'))
    .addOption(new Option('--controllers <list>', "controllers to run: '*' all on by default, 'foo' enables foo, '-foo' disables it").default('*'))
    .addOption(new Option('--concurrent-rc-syncs <n>', 'replication controllers synced at once').default('5'))
    .addOption(new Option('--concurrent-replicaset-syncs <n>', 'replica sets synced at once').default('5'))
    .addOption(new Option('--concurrent-deployment-syncs <n>', 'deployments synced at once').default('5'))
    .addOption(new Option('--concurrent-job-syncs <n>', 'jobs synced at once').default('5'))
    .addOption(new Option('--concurrent-cron-job-syncs <n>', 'cron jobs synced at once').default('5'))
    .addOption(new Option('--concurrent-daemonset-syncs <n>', 'daemon sets synced at once').default('2'))
    .addOption(new Option('--concurrent-endpoint-syncs <n>', 'services whose endpoints are synced at once').default('5'))
    .addOption(new Option('--concurrent-gc-syncs <n>', 'garbage collector workers').default('20'))
    .addOption(new Option('--node-monitor-period <duration>', 'how often the node lifecycle controller checks the nodes').default('5s'))
    .addOption(new Option('--node-monitor-grace-period <duration>', 'a node whose heartbeat is older than this is marked Unknown (unreachable)').default('50s'))
    .addOption(new Option('--node-startup-grace-period <duration>', 'how long a node that never posted its status may take before it is marked Unknown').default('1m'))
    .addOption(new Option('--node-eviction-rate <per-second>', 'nodes tainted NoExecute per second in a healthy zone').default('0.1'))
    .addOption(new Option('--secondary-node-eviction-rate <per-second>', 'nodes tainted NoExecute per second in an unhealthy zone of a large cluster (0 in a small one)').default('0.01'))
    .addOption(new Option('--unhealthy-zone-threshold <fraction>', 'a zone with at least this fraction of its nodes (and more than 2) not Ready is unhealthy').default('0.55'))
    .addOption(new Option('--large-cluster-size-threshold <n>', 'a zone with more nodes than this is large (the secondary rate applies)').default('50'))
    .addOption(new Option('--pod-eviction-timeout <duration>', 'kept for compatibility: evictions follow the tolerations (DefaultTolerationSeconds)').default('5m'))
    .addOption(new Option('--allocate-node-cidrs [bool]', 'give each node a pod CIDR from --cluster-cidr (spec.podCIDR)').default('false'))
    .addOption(new Option('--cluster-cidr <cidr>', 'the pod network the node CIDRs are cut from'))
    .addOption(new Option('--node-cidr-mask-size <n>', 'the prefix length of each node CIDR').default('24'))
    .addOption(new Option('--bind-address <ip>', 'the address /healthz (HTTPS) listens on').default('0.0.0.0'))
    .addOption(new Option('--secure-port <port>', 'the port /healthz (HTTPS) listens on (0: off)').default('10257'))
    .addOption(new Option('--cert-dir <dir>', 'where the self-signed serving certificate is kept').default('/var/run/kubernetes'))
    .addOption(new Option('--root-ca-file <file>', "the root CA bundle published in every namespace's kube-root-ca.crt ConfigMap (the kubeconfig's certificate-authority when absent)"))
    .addOption(new Option('--log-level <level>', 'log level: trace, debug, info, warn, error').choices(['trace', 'debug', 'info', 'warn', 'error']).default('info'));
}

/** The parsed flags; throws InvalidArgumentError naming the flag. */
export function controllerManagerOptions(raw: Record<string, unknown>): ControllerManagerOptions {
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const le = raw.leaderElect === true ? 'true' : String(raw.leaderElect);
  if (!['true', 'false', '1', '0', 't', 'f', 'TRUE', 'FALSE', 'True', 'False'].includes(le)) throw new InvalidArgumentError(`--leader-elect: ${JSON.stringify(le)} is not a boolean`);
  const leaseDurationMs = duration('leader-elect-lease-duration', String(raw.leaderElectLeaseDuration));
  const renewDeadlineMs = duration('leader-elect-renew-deadline', String(raw.leaderElectRenewDeadline));
  const retryPeriodMs = duration('leader-elect-retry-period', String(raw.leaderElectRetryPeriod));
  // As client-go's NewLeaderElector checks them.
  if (leaseDurationMs <= renewDeadlineMs) throw new InvalidArgumentError('--leader-elect-lease-duration: must be greater than --leader-elect-renew-deadline');
  if (renewDeadlineMs <= retryPeriodMs * 1.2) throw new InvalidArgumentError('--leader-elect-renew-deadline: must be greater than 1.2 × --leader-elect-retry-period');
  const port = Number(raw.securePort);
  if (!/^\d+$/.test(String(raw.securePort)) || port > 65535) throw new InvalidArgumentError('--secure-port: must be 0..65535');
  const bindAddress = String(raw.bindAddress);
  if (!isIp(bindAddress)) throw new InvalidArgumentError('--bind-address: expected an IP address');
  let controllers: Set<ControllerName>;
  try {
    controllers = controllersOf(String(raw.controllers));
  } catch (e) {
    throw new InvalidArgumentError(e instanceof Error ? e.message : String(e));
  }
  const allocateNodeCidrs = bool('allocate-node-cidrs', raw.allocateNodeCidrs);
  const clusterCidr = str(raw.clusterCidr);
  const mask = String(raw.nodeCidrMaskSize);
  if (!/^\d+$/.test(mask) || Number(mask) < 1 || Number(mask) > 30) throw new InvalidArgumentError('--node-cidr-mask-size: expected a prefix length from 1 to 30');
  if (clusterCidr !== undefined) {
    try {
      const c = parseCidr(clusterCidr);
      if (c.prefix > Number(mask)) throw new Error(`is smaller than one node CIDR (/${mask})`);
    } catch (e) {
      throw new InvalidArgumentError(`--cluster-cidr: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (allocateNodeCidrs && clusterCidr === undefined) throw new InvalidArgumentError('--allocate-node-cidrs: needs --cluster-cidr');
  const nodeMonitorPeriodMs = duration('node-monitor-period', String(raw.nodeMonitorPeriod));
  const nodeMonitorGracePeriodMs = duration('node-monitor-grace-period', String(raw.nodeMonitorGracePeriod));
  if (nodeMonitorGracePeriodMs <= nodeMonitorPeriodMs) throw new InvalidArgumentError('--node-monitor-grace-period: must be longer than --node-monitor-period');
  const kubeconfig = str(raw.kubeconfig);
  const master = str(raw.master);
  const rootCaFile = str(raw.rootCaFile);
  return {
    ...(kubeconfig !== undefined && { kubeconfig }),
    ...(rootCaFile !== undefined && { rootCaFile }),
    ...(master !== undefined && { master }),
    leaderElect: ['true', '1', 't', 'TRUE', 'True'].includes(le),
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs,
    leaseNamespace: String(raw.leaderElectResourceNamespace),
    leaseName: String(raw.leaderElectResourceName),
    controllers,
    concurrentRcSyncs: positiveInt('concurrent-rc-syncs', String(raw.concurrentRcSyncs)),
    concurrentReplicasetSyncs: positiveInt('concurrent-replicaset-syncs', String(raw.concurrentReplicasetSyncs)),
    concurrentDeploymentSyncs: positiveInt('concurrent-deployment-syncs', String(raw.concurrentDeploymentSyncs)),
    concurrentJobSyncs: positiveInt('concurrent-job-syncs', String(raw.concurrentJobSyncs)),
    concurrentCronJobSyncs: positiveInt('concurrent-cron-job-syncs', String(raw.concurrentCronJobSyncs)),
    concurrentDaemonsetSyncs: positiveInt('concurrent-daemonset-syncs', String(raw.concurrentDaemonsetSyncs)),
    concurrentEndpointSyncs: positiveInt('concurrent-endpoint-syncs', String(raw.concurrentEndpointSyncs)),
    concurrentGcSyncs: positiveInt('concurrent-gc-syncs', String(raw.concurrentGcSyncs)),
    nodeMonitorPeriodMs,
    nodeMonitorGracePeriodMs,
    nodeStartupGracePeriodMs: duration('node-startup-grace-period', String(raw.nodeStartupGracePeriod)),
    nodeEvictionRate: rate('node-eviction-rate', String(raw.nodeEvictionRate)),
    secondaryNodeEvictionRate: rate('secondary-node-eviction-rate', String(raw.secondaryNodeEvictionRate)),
    unhealthyZoneThreshold: rate('unhealthy-zone-threshold', String(raw.unhealthyZoneThreshold), 1),
    largeClusterSizeThreshold: positiveInt('large-cluster-size-threshold', String(raw.largeClusterSizeThreshold)),
    podEvictionTimeoutMs: duration('pod-eviction-timeout', String(raw.podEvictionTimeout)),
    allocateNodeCidrs,
    ...(clusterCidr !== undefined && { clusterCidr }),
    nodeCidrMaskSize: Number(mask),
    bindAddress,
    securePort: port,
    certDir: String(raw.certDir),
    // client-go's identity: the hostname and a unique suffix.
    identity: `${hostname()}_${crypto.randomUUID()}`,
    logLevel: String(raw.logLevel),
  };
}
