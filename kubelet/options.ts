// The kubelet's flags. Every flag can also come from the environment as KUBELET_<NAME> (what a
// systemd EnvironmentFile sets); the command line wins. The etcd flags are flanneld's.
import { Command, InvalidArgumentError, Option } from 'commander';
import { type ApiFlags, apiFlagsOf } from '../cluster/index.js';
import { addEtcdOptions, type EtcdFlagValues, etcdFlagValues, isIp } from '../common/index.js';
import { DEFAULT_BACKOFF } from './backoff.js';
import { DEFAULT_PAUSE_IMAGE } from './runtime.js';
import type { KubeletServerFlags } from './server/index.js';
import { DurationError, parseDuration } from '../common/index.js';

/** The flags; the HTTPS server's (--port, --address, TLS, authentication, authorization) are KubeletServerFlags. */
export interface KubeletOptions extends EtcdFlagValues, KubeletServerFlags {
  /** The API to use (--kubeconfig or --api-servers); etcd when absent. */
  readonly api?: ApiFlags;
  readonly hostnameOverride?: string;
  readonly nodeIp?: string;
  readonly dockerEndpoint: string;
  readonly podManifestPath?: string;
  readonly subnetFile: string;
  readonly rootDir: string;
  readonly podInfraContainerImage: string;
  readonly pauseBusybox: string;
  readonly healthzBindAddress: string;
  readonly healthzPort: number;
  readonly syncFrequency: number;
  readonly fileCheckFrequency: number;
  readonly plegRelistPeriod: number;
  readonly nodeStatusUpdateFrequency: number;
  readonly nodeMonitorPeriod: number;
  readonly nodeMonitorGracePeriod: number;
  readonly crashloopBackoffBase: number;
  readonly crashloopBackoffMax: number;
  readonly crashloopBackoffReset: number;
  readonly maxPods: number;
  /** --cluster-dns: the DNS servers of pods with dnsPolicy ClusterFirst. */
  readonly clusterDns: readonly string[];
  readonly clusterDomain: string;
  /** The node's resolv.conf ('' : none), for dnsPolicy Default and the search list. */
  readonly resolvConf: string;
  readonly logLevel: string;
  /** --network-plugin: 'docker' (Docker's bridge, the default) or 'cni'. */
  readonly networkPlugin: NetworkPlugin;
  readonly cniConfDir: string;
  readonly cniBinDirs: readonly string[];
  readonly cniCacheDir: string;
}

export type NetworkPlugin = 'docker' | 'cni';

/** --network-plugin: the kubelet's '' (no plugin: Docker's own bridge, which this kubelet calls docker) or cni. */
export function networkPlugin(v: string): NetworkPlugin {
  const t = v.trim();
  if (t === '' || t === 'docker') return 'docker';
  if (t === 'cni') return 'cni';
  throw new InvalidArgumentError(`${JSON.stringify(t)} is not a network plugin of this kubelet: expected cni, or docker (Docker's bridge, also '')`);
}

/** --cni-bin-dir: a comma-separated list of directories. */
export function dirList(v: string): string[] {
  const out = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (!out.length) throw new InvalidArgumentError('expected at least one directory');
  return out;
}

export const VERSION = '0.1.0';

const envName = (flag: string): string => `KUBELET_${flag.replace(/-/g, '_').toUpperCase()}`;

/**
 * A duration flag in milliseconds: Go's grammar ("10s", "1m30s", "500ms"), or, as this kubelet has always
 * also taken, a bare number of seconds ("5", "0.5"); never negative. Surrounding blanks are ignored.
 */
export function flagDuration(v: string): number {
  const t = v.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  let ms: number;
  try {
    ms = parseDuration(t);
  } catch (e) {
    if (!(e instanceof DurationError)) throw e;
    throw new InvalidArgumentError(`${e.reason}: expected a duration such as 10s, 500ms, 1m or a number of seconds`);
  }
  if (ms < 0) throw new InvalidArgumentError('a duration here cannot be negative');
  return ms;
}

function uint(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('expected a whole number');
  return Number(v);
}

function port(v: string): number {
  const n = uint(v);
  if (n > 65535) throw new InvalidArgumentError('expected a port number 0..65535');
  return n;
}

function ipList(v: string): string[] {
  const out = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const ip of out) if (!isIp(ip)) throw new InvalidArgumentError(`"${ip}" is not an IP address`);
  return out;
}

function bool(v: string): boolean {
  if (/^(1|t|true)$/i.test(v)) return true;
  if (/^(0|f|false)$/i.test(v)) return false;
  throw new InvalidArgumentError('expected true or false');
}

function opt(flags: string, description: string): Option {
  const name = /--([a-z0-9-]+)/.exec(flags)![1]!;
  return new Option(flags, description).env(envName(name));
}

export function addKubeletOptions(cmd: Command): Command {
  return addEtcdOptions(cmd, envName)
    .addOption(opt('--kubeconfig <file>', 'work through the Kubernetes API this kubeconfig names (instead of --etcd-endpoints)'))
    .addOption(opt('--api-servers <urls>', 'work through the Kubernetes API at these plain-HTTP servers, comma-separated (the first that answers), e.g. http://master:8080'))
    .addOption(opt('--hostname-override <name>', "the node's name (default: the hostname)"))
    .addOption(opt('--node-ip <ip>', "the node's address: pods' hostIP and the node's InternalIP (default: the address of the default route's interface)"))
    .addOption(opt('--docker-endpoint <url>', 'the Docker Engine API').default('unix:///var/run/docker.sock'))
    .addOption(opt('--pod-manifest-path <path>', 'a directory of static pod manifests (YAML or JSON), or one file'))
    .addOption(opt('--subnet-file <path>', "flannel's subnet.env (the node's podCIDR)").default('/run/flannel/subnet.env'))
    .addOption(opt('--root-dir <path>', 'where pod volumes (emptyDir) live').default('/var/lib/kubelet'))
    .addOption(opt('--pod-infra-container-image <image>', 'the infra (pause) image; made locally from --pause-busybox when not present').default(DEFAULT_PAUSE_IMAGE))
    .addOption(opt('--pause-busybox <path>', 'a static busybox binary for making the pause image').default('/bin/busybox'))
    .addOption(opt('--healthz-bind-address <ip>', 'the address of the healthz server').default('127.0.0.1'))
    .addOption(opt('--healthz-port <port>', 'the port of the healthz server (/healthz, /pods); 0 disables it').argParser(port).default(10248))
    .addOption(opt('--sync-frequency <duration>', 'how often every pod is synced even without a change (Kubernetes\' 1m: PLEG and the sources report changes; this is the safety net)').argParser(flagDuration).default(60_000, '1m'))
    .addOption(opt('--file-check-frequency <duration>', 'how often the static pod manifests are re-read').argParser(flagDuration).default(20_000, '20s'))
    .addOption(opt('--pleg-relist-period <duration>', 'how often Docker is listed for container changes').argParser(flagDuration).default(1_000, '1s'))
    .addOption(opt('--node-status-update-frequency <duration>', "how often the node's status (heartbeat) is written").argParser(flagDuration).default(10_000, '10s'))
    .addOption(opt('--node-monitor-period <duration>', 'how often peers are checked for stale heartbeats (on etcd; on the API the controller manager does it)').argParser(flagDuration).default(5_000, '5s'))
    .addOption(opt('--node-monitor-grace-period <duration>', 'a peer whose heartbeat is older than this is marked NotReady (on etcd)').argParser(flagDuration).default(40_000, '40s'))
    .addOption(opt('--crashloop-backoff-base <duration>', 'first restart back-off of a crashing container').argParser(flagDuration).default(DEFAULT_BACKOFF.baseMs, '10s'))
    .addOption(opt('--crashloop-backoff-max <duration>', 'longest restart back-off').argParser(flagDuration).default(DEFAULT_BACKOFF.maxMs, '5m'))
    .addOption(opt('--crashloop-backoff-reset <duration>', 'a container that ran this long starts its back-off again').argParser(flagDuration).default(DEFAULT_BACKOFF.resetMs, '10m'))
    .addOption(opt('--max-pods <n>', "the node's pod capacity").argParser(uint).default(110))
    .addOption(opt('--cluster-dns <ips>', 'the DNS server(s) of pods with dnsPolicy ClusterFirst, comma-separated (kube-dns\'s ClusterIP)').argParser(ipList).default([], ''))
    .addOption(opt('--cluster-domain <domain>', "the cluster's DNS domain: pods search <ns>.svc.<domain>, svc.<domain> and <domain>").default(''))
    .addOption(opt('--resolv-conf <file>', "the node's resolver configuration, for dnsPolicy Default and the search list of ClusterFirst ('': none)").default('/etc/resolv.conf'))
    .addOption(opt('--network-plugin <name>', "how pods get their network: docker (Docker's bridge, from the subnet file's podCIDR) or cni (the plugins of the first config in --cni-conf-dir)").argParser(networkPlugin).default('docker'))
    .addOption(opt('--cni-conf-dir <dir>', 'with --network-plugin=cni: where the network configs (*.conflist, *.conf, *.json) are read').default('/etc/cni/net.d'))
    .addOption(opt('--cni-bin-dir <dirs>', 'with --network-plugin=cni: where the plugins are found, comma-separated').argParser(dirList).default(['/opt/cni/bin'], '/opt/cni/bin'))
    .addOption(opt('--cni-cache-dir <dir>', "with --network-plugin=cni: libcni's cache of results (what DEL replays)").default('/var/lib/cni/cache'))
    .addOption(opt('--log-level <level>', 'log level: trace, debug, info, warn, error').choices(['trace', 'debug', 'info', 'warn', 'error']).default('info'))
    .addOption(opt('--port <port>', "the port of the kubelet's HTTPS server (logs, exec, attach, port-forward, /pods); 0 disables it").argParser(port).default(10250))
    .addOption(opt('--address <ip>', "the address of the kubelet's HTTPS server").default('0.0.0.0'))
    .addOption(opt('--tls-cert-file <file>', 'the serving certificate (with intermediates after it); a self-signed one in --cert-dir when absent'))
    .addOption(opt('--tls-private-key-file <file>', "the serving certificate's key"))
    .addOption(opt('--cert-dir <dir>', 'where the self-signed serving certificate is kept (default: <root-dir>/pki)'))
    .addOption(opt('--client-ca-file <file>', 'client certificates signed by these authorities are authenticated (CN the user, O the groups)'))
    .addOption(opt('--anonymous-auth [bool]', 'requests without credentials are system:anonymous (else 401)').argParser(bool).preset(true).default(false))
    .addOption(opt('--authentication-token-webhook [bool]', 'bearer tokens are checked with a TokenReview to the API').argParser(bool).preset(true).default(true))
    .addOption(opt('--authentication-token-webhook-cache-ttl <duration>', 'how long TokenReview answers are cached').argParser(flagDuration).default(120_000, '2m'))
    .addOption(opt('--authorization-mode <mode>', 'Webhook (a SubjectAccessReview to the API per request) or AlwaysAllow (default: Webhook on the API, AlwaysAllow on etcd)').choices(['Webhook', 'AlwaysAllow']))
    .addOption(opt('--authorization-webhook-cache-authorized-ttl <duration>', 'how long an allowing SubjectAccessReview answer is cached').argParser(flagDuration).default(300_000, '5m'))
    .addOption(opt('--authorization-webhook-cache-unauthorized-ttl <duration>', 'how long a denying SubjectAccessReview answer is cached').argParser(flagDuration).default(30_000, '30s'));
}

/** The parsed flags; `etcdGiven`: --etcd-endpoints was set (on the command line or in the environment), not defaulted. */
export function kubeletOptions(raw: Record<string, unknown>, etcdGiven = false): KubeletOptions {
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const o = {
    ...etcdFlagValues(raw),
    api: apiFlagsOf(str(raw.kubeconfig), str(raw.apiServers), '--api-servers', etcdGiven),
    hostnameOverride: str(raw.hostnameOverride),
    nodeIp: str(raw.nodeIp),
    dockerEndpoint: String(raw.dockerEndpoint),
    podManifestPath: str(raw.podManifestPath),
    subnetFile: String(raw.subnetFile),
    rootDir: String(raw.rootDir),
    podInfraContainerImage: String(raw.podInfraContainerImage),
    pauseBusybox: String(raw.pauseBusybox),
    healthzBindAddress: String(raw.healthzBindAddress),
    healthzPort: Number(raw.healthzPort),
    syncFrequency: Number(raw.syncFrequency),
    fileCheckFrequency: Number(raw.fileCheckFrequency),
    plegRelistPeriod: Number(raw.plegRelistPeriod),
    nodeStatusUpdateFrequency: Number(raw.nodeStatusUpdateFrequency),
    nodeMonitorPeriod: Number(raw.nodeMonitorPeriod),
    nodeMonitorGracePeriod: Number(raw.nodeMonitorGracePeriod),
    crashloopBackoffBase: Number(raw.crashloopBackoffBase),
    crashloopBackoffMax: Number(raw.crashloopBackoffMax),
    crashloopBackoffReset: Number(raw.crashloopBackoffReset),
    maxPods: Number(raw.maxPods),
    clusterDns: Array.isArray(raw.clusterDns) ? (raw.clusterDns as string[]) : typeof raw.clusterDns === 'string' ? ipList(raw.clusterDns) : [],
    clusterDomain: String(raw.clusterDomain ?? '').trim().replace(/\.$/, ''),
    resolvConf: String(raw.resolvConf ?? ''),
    logLevel: String(raw.logLevel),
    networkPlugin: typeof raw.networkPlugin === 'string' ? networkPlugin(raw.networkPlugin) : 'docker',
    cniConfDir: String(raw.cniConfDir ?? '/etc/cni/net.d'),
    cniBinDirs: Array.isArray(raw.cniBinDir) ? (raw.cniBinDir as string[]) : typeof raw.cniBinDir === 'string' ? dirList(raw.cniBinDir) : ['/opt/cni/bin'],
    cniCacheDir: String(raw.cniCacheDir ?? '/var/lib/cni/cache'),
    port: Number(raw.port ?? 10250),
    address: String(raw.address ?? '0.0.0.0'),
    tlsCertFile: str(raw.tlsCertFile),
    tlsPrivateKeyFile: str(raw.tlsPrivateKeyFile),
    certDir: str(raw.certDir) ?? `${String(raw.rootDir).replace(/\/+$/, '')}/pki`,
    clientCaFile: str(raw.clientCaFile),
    anonymousAuth: raw.anonymousAuth === true,
    authenticationTokenWebhook: raw.authenticationTokenWebhook !== false,
    authenticationTokenWebhookCacheTtl: Number(raw.authenticationTokenWebhookCacheTtl ?? 120_000),
    authorizationMode: raw.authorizationMode === 'Webhook' || raw.authorizationMode === 'AlwaysAllow' ? raw.authorizationMode : undefined,
    authorizationWebhookCacheAuthorizedTtl: Number(raw.authorizationWebhookCacheAuthorizedTtl ?? 300_000),
    authorizationWebhookCacheUnauthorizedTtl: Number(raw.authorizationWebhookCacheUnauthorizedTtl ?? 30_000),
  };
  for (const k of ['syncFrequency', 'fileCheckFrequency', 'plegRelistPeriod', 'nodeStatusUpdateFrequency', 'nodeMonitorPeriod', 'crashloopBackoffBase', 'crashloopBackoffMax'] as const) {
    if (!(o[k] >= 50)) throw new InvalidArgumentError(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be at least 50ms`);
  }
  if ((o.tlsCertFile === undefined) !== (o.tlsPrivateKeyFile === undefined)) throw new InvalidArgumentError('--tls-cert-file and --tls-private-key-file go together');
  if (o.crashloopBackoffMax < o.crashloopBackoffBase) throw new InvalidArgumentError('--crashloop-backoff-max must not be shorter than --crashloop-backoff-base');
  if (o.nodeMonitorGracePeriod <= o.nodeStatusUpdateFrequency) throw new InvalidArgumentError('--node-monitor-grace-period must be longer than --node-status-update-frequency');
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as unknown as KubeletOptions;
}
