// kube-apiserver's flags, by its names (pflag spelling: --flag=value or --flag value, _ as -).
import { Command, InvalidArgumentError, Option } from 'commander';
import { DurationError, parseDuration } from '../core/index.js';
import { DEFAULT_PREFERRED_ADDRESS_TYPES, parseAddressTypes } from './kubelet-proxy.js';

export const DEFAULT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

export interface ApiServerOptions {
  readonly etcdServers: readonly string[];
  readonly etcdCafile?: string;
  readonly etcdCertfile?: string;
  readonly etcdKeyfile?: string;
  readonly etcdPrefix: string;
  readonly securePort: number;
  readonly bindAddress: string;
  readonly advertiseAddress?: string;
  readonly tlsCertFile?: string;
  readonly tlsPrivateKeyFile?: string;
  readonly certDir: string;
  readonly clientCaFile?: string;
  readonly tokenAuthFile?: string;
  readonly serviceClusterIpRange: string;
  readonly serviceNodePortRange: string;
  readonly authorizationMode: string;
  /** --anonymous-auth: requests without credentials are system:anonymous (ignored under AlwaysAllow alone, as kube-apiserver does). */
  readonly anonymousAuth: boolean;
  /** --enable-admission-plugins / --disable-admission-plugins, over kube-apiserver's default set. */
  readonly enableAdmissionPlugins?: string;
  readonly disableAdmissionPlugins?: string;
  /** DefaultTolerationSeconds: the tolerationSeconds of the not-ready and unreachable NoExecute tolerations it adds. */
  readonly defaultNotReadyTolerationSeconds: number;
  readonly defaultUnreachableTolerationSeconds: number;
  readonly writeKubeconfig?: string;
  /** --service-account-signing-key-file: the RSA key that signs tokens (made in --cert-dir when absent). */
  readonly serviceAccountSigningKeyFile?: string;
  /** --service-account-key-file (repeatable): the public keys that verify tokens (the signing key's when none). */
  readonly serviceAccountKeyFiles: readonly string[];
  /** --service-account-issuer (repeatable): the first is written into tokens, every one is accepted. */
  readonly serviceAccountIssuers: readonly string[];
  /** --api-audiences: the audiences a token must be for to authenticate here (the first issuer when absent). */
  readonly apiAudiences: readonly string[];
  /** --service-account-max-token-expiration, seconds (0: no maximum). */
  readonly serviceAccountMaxTokenExpirationSeconds: number;
  readonly insecurePort: number;
  readonly insecureBindAddress: string;
  readonly logLevel: string;
  /** The client certificate and key the apiserver presents to kubelets (logs, exec, port-forward). */
  readonly kubeletClientCertificate?: string;
  readonly kubeletClientKey?: string;
  /** Verifies the kubelets' serving certificates; absent, they are not verified (as kube-apiserver). */
  readonly kubeletCertificateAuthority?: string;
  readonly kubeletPreferredAddressTypes: readonly string[];
  /** Milliseconds to reach a kubelet. */
  readonly kubeletTimeout: number;
}

export const VERSION = 'v1.32.0';

function parseBool(v: string): boolean {
  if (/^(1|t|true)$/i.test(v)) return true;
  if (/^(0|f|false)$/i.test(v)) return false;
  throw new InvalidArgumentError('expected true or false');
}

/** A repeatable flag: every occurrence, each also split on commas (as pflag's StringSlice). */
const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), ...v.split(',').map((x) => x.trim()).filter(Boolean)];
const repeat = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

function durationSeconds(v: string): number {
  try {
    const ms = parseDuration(v);
    if (ms < 0) throw new InvalidArgumentError('must not be negative');
    return Math.floor(ms / 1000);
  } catch (e) {
    if (e instanceof DurationError) throw new InvalidArgumentError(e.reason);
    throw e;
  }
}

function port(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 65535) throw new InvalidArgumentError('expected a port number, 0-65535');
  return Number(v);
}

function addressTypes(v: string): string[] {
  try {
    return parseAddressTypes(v);
  } catch (e) {
    throw new InvalidArgumentError(e instanceof Error ? e.message : String(e));
  }
}

function durationMs(v: string): number {
  try {
    const ms = parseDuration(v);
    if (ms <= 0) throw new InvalidArgumentError('must be positive');
    return ms;
  } catch (e) {
    if (e instanceof DurationError) throw new InvalidArgumentError(e.reason);
    throw e;
  }
}

function seconds(v: string): number {
  if (!/^-?\d+$/.test(v)) throw new InvalidArgumentError('expected a whole number of seconds');
  return Number(v);
}

export function addApiServerOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--etcd-servers <urls>', 'list of etcd servers to connect with (scheme://ip:port), comma separated').default('http://127.0.0.1:2379'))
    .addOption(new Option('--etcd-cafile <file>', 'SSL Certificate Authority file used to secure etcd communication'))
    .addOption(new Option('--etcd-certfile <file>', 'SSL certification file used to secure etcd communication'))
    .addOption(new Option('--etcd-keyfile <file>', 'SSL key file used to secure etcd communication'))
    .addOption(new Option('--etcd-prefix <prefix>', 'the prefix to prepend to all resource paths in etcd').default('/registry'))
    .addOption(new Option('--secure-port <port>', 'the port on which to serve HTTPS with authentication and authorization').argParser(port).default(6443))
    .addOption(new Option('--bind-address <ip>', 'the IP address on which to listen for the --secure-port port').default('0.0.0.0'))
    .addOption(new Option('--advertise-address <ip>', 'the IP address on which to advertise the apiserver to members of the cluster'))
    .addOption(new Option('--tls-cert-file <file>', 'file containing the default x509 certificate for HTTPS (CA cert, if any, concatenated after server cert)'))
    .addOption(new Option('--tls-private-key-file <file>', 'file containing the default x509 private key matching --tls-cert-file'))
    .addOption(new Option('--cert-dir <dir>', 'the directory where the generated TLS certs are kept; ignored for serving if --tls-cert-file and --tls-private-key-file are given').default('/var/run/kubernetes'))
    .addOption(new Option('--client-ca-file <file>', 'any request presenting a client certificate signed by one of these authorities is authenticated (CN the user, O the groups)'))
    .addOption(new Option('--token-auth-file <file>', 'bearer tokens, one per line as token,user,uid,"group1,group2"'))
    .addOption(new Option('--service-cluster-ip-range <cidr>', 'a CIDR notation IP range from which to assign service cluster IPs; dual stack: one range per family, comma-separated (the first is the primary)').default('10.254.0.0/16'))
    .addOption(new Option('--service-node-port-range <range>', 'a port range to reserve for services with NodePort visibility').default('30000-32767'))
    .addOption(new Option('--authorization-mode <modes>', 'ordered list of plug-ins to do authorization on the secure port, comma separated: AlwaysAllow, AlwaysDeny, Node, RBAC').default('AlwaysAllow'))
    .addOption(new Option('--anonymous-auth [bool]', 'enables anonymous requests to the secure port (user system:anonymous, group system:unauthenticated); not with AlwaysAllow alone').argParser(parseBool).preset(true).default(true))
    .addOption(new Option('--enable-admission-plugins <plugins>', 'admission plugins to enable beside the default ones (NamespaceLifecycle, LimitRanger, ServiceAccount, DefaultTolerationSeconds, ResourceQuota), comma separated; the order does not matter'))
    .addOption(new Option('--disable-admission-plugins <plugins>', 'admission plugins to disable, even if on by default, comma separated'))
    .addOption(new Option('--default-not-ready-toleration-seconds <seconds>', 'the tolerationSeconds of the toleration for notReady:NoExecute added to every pod that does not already have it').argParser(seconds).default(300))
    .addOption(new Option('--default-unreachable-toleration-seconds <seconds>', 'the tolerationSeconds of the toleration for unreachable:NoExecute added to every pod that does not already have it').argParser(seconds).default(300))
    .addOption(new Option('--write-kubeconfig <file>', 'write an admin kubeconfig (client certificate CN=admin, O=system:masters) to this file, as k3s does'))
    .addOption(new Option('--service-account-signing-key-file <file>', 'the RSA private key that signs service-account tokens (PEM); made and kept in --cert-dir as sa.key when absent'))
    .addOption(new Option('--service-account-key-file <file>', 'PEM public keys (or private keys, or certificates) that verify service-account tokens; repeatable; the signing key when absent').argParser(repeat))
    .addOption(new Option('--service-account-issuer <url>', 'the issuer (iss) of service-account tokens; repeatable: the first signs, every one is accepted').argParser(repeat))
    .addOption(new Option('--api-audiences <list>', 'the audiences of this API: a token must be for one of them (the first --service-account-issuer when absent), comma separated').argParser(collect))
    .addOption(new Option('--service-account-max-token-expiration <duration>', 'the longest a TokenRequest may ask for (longer requests get this); 0 for no maximum').argParser(durationSeconds).default(0))
    .addOption(new Option('--insecure-port <port>', 'plain HTTP without authentication, every client is admin (0 = off)').argParser(port).default(0))
    .addOption(new Option('--insecure-bind-address <ip>', 'the IP address on which to serve the --insecure-port').default('127.0.0.1'))
    .addOption(new Option('--log-level <level>', 'log level: trace, debug, info, warn, error').choices(['trace', 'debug', 'info', 'warn', 'error']).default('info'))
    .addOption(new Option('--kubelet-client-certificate <file>', 'the client certificate the apiserver presents to kubelets (pods/log, exec, attach, port-forward, nodes/proxy)'))
    .addOption(new Option('--kubelet-client-key <file>', 'the key of --kubelet-client-certificate'))
    .addOption(new Option('--kubelet-certificate-authority <file>', "verifies the kubelets' serving certificates (without it they are not verified)"))
    .addOption(new Option('--kubelet-preferred-address-types <types>', "the order of a Node's address types to reach its kubelet by").argParser(addressTypes).default([...DEFAULT_PREFERRED_ADDRESS_TYPES], DEFAULT_PREFERRED_ADDRESS_TYPES.join(',')))
    .addOption(new Option('--kubelet-timeout <duration>', 'how long to wait to reach a kubelet').argParser(durationMs).default(5_000, '5s'));
}

export function apiServerOptions(raw: Record<string, unknown>): ApiServerOptions {
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const etcdServers = String(raw.etcdServers ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (etcdServers.length === 0) throw new InvalidArgumentError('--etcd-servers must be specified');
  const o: Record<string, unknown> = {
    etcdServers,
    etcdPrefix: String(raw.etcdPrefix).replace(/\/+$/, '') || '/registry',
    securePort: Number(raw.securePort),
    bindAddress: String(raw.bindAddress),
    certDir: String(raw.certDir),
    serviceClusterIpRange: String(raw.serviceClusterIpRange),
    serviceNodePortRange: String(raw.serviceNodePortRange),
    authorizationMode: String(raw.authorizationMode),
    anonymousAuth: raw.anonymousAuth !== false,
    defaultNotReadyTolerationSeconds: Number(raw.defaultNotReadyTolerationSeconds ?? 300),
    defaultUnreachableTolerationSeconds: Number(raw.defaultUnreachableTolerationSeconds ?? 300),
    serviceAccountKeyFiles: Array.isArray(raw.serviceAccountKeyFile) ? raw.serviceAccountKeyFile : [],
    serviceAccountIssuers: Array.isArray(raw.serviceAccountIssuer) && raw.serviceAccountIssuer.length ? raw.serviceAccountIssuer : [DEFAULT_ISSUER],
    serviceAccountMaxTokenExpirationSeconds: Number(raw.serviceAccountMaxTokenExpiration ?? 0),
    insecurePort: Number(raw.insecurePort),
    insecureBindAddress: String(raw.insecureBindAddress),
    logLevel: String(raw.logLevel),
    kubeletPreferredAddressTypes: Array.isArray(raw.kubeletPreferredAddressTypes) ? raw.kubeletPreferredAddressTypes : [...DEFAULT_PREFERRED_ADDRESS_TYPES],
    kubeletTimeout: Number(raw.kubeletTimeout ?? 5_000),
  };
  o.apiAudiences = Array.isArray(raw.apiAudiences) && raw.apiAudiences.length ? raw.apiAudiences : [(o.serviceAccountIssuers as string[])[0]];
  for (const k of ['serviceAccountSigningKeyFile', 'etcdCafile', 'etcdCertfile', 'etcdKeyfile', 'advertiseAddress', 'tlsCertFile', 'tlsPrivateKeyFile', 'clientCaFile', 'tokenAuthFile', 'writeKubeconfig', 'enableAdmissionPlugins', 'disableAdmissionPlugins', 'kubeletClientCertificate', 'kubeletClientKey', 'kubeletCertificateAuthority'] as const) {
    const v = str(raw[k]);
    if (v !== undefined) o[k] = v;
  }
  return o as unknown as ApiServerOptions;
}
