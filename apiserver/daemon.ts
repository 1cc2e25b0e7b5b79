// One kube-apiserver: certificates, etcd, the handler on the secure port (and the insecure one when
// asked), the objects every cluster has (the system namespaces, default/kubernetes), and the sweep
// that finishes deleted namespaces. Stateless: any number of them may share one etcd.
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { createServer as createHttpsServer } from 'node:https';
import { hostname } from 'node:os';
import { Counter, Registry } from 'prom-client';
import { createEtcdClient, errorMessage, FlannelError, type Logger, withTimeout } from '../common/index.js';
import { parsePortRange } from '../proxy/index.js';
import { Authenticator, parseTokenFile, type UserInfo } from './auth.js';
import { ensureAdminClient, ensureCa, ensureServing, servingSans, writeKubeconfig } from './certs.js';
import { ApiError } from './errors.js';
import type { Obj } from './object.js';
import type { ApiServerOptions } from './options.js';
import { componentStatuses } from './components.js';
import { ALL_STRATEGIES, type Strategy } from './kinds/index.js';
import { aggregateClusterRoles, StoragePolicySource } from './authorization.js';
import { Authorizer, type AuthorizationMode, bootstrapClusterRoleBindings, bootstrapClusterRoles, bootstrapRoleBindings, bootstrapRoles, NodeGraph, parseAuthorizationModes, reconcileClusterRole, reconcileClusterRoleBinding } from './authz/index.js';
import { AdmissionChain, type AdmissionPlugin, defaultTolerationSeconds, type EnabledPlugins, enabledPlugins, limitRanger, namespaceLifecycle, nodeRestriction, type PluginName, type QuotaStore, recalculateQuotas, resourceQuota, serviceAccountAdmission, EmptyListCache } from './admission/index.js';
import { runNamespaceCache } from './namespace-cache.js';
import { loadServiceAccountKeys, ServiceAccountKeyError, type ServiceAccountKeys, ServiceAccountTokenAuthenticator, TokenIssuer } from './serviceaccount/index.js';
import { KubeletProxy, specNodeName } from './kubelet-proxy.js';
import { ApiHandler } from './server.js';
import { firstServiceIp, ServiceAllocation } from './services.js';
import { parseServiceCidrs } from './service-ips.js';
import { Storage } from './storage.js';

export class ApiServerConfigError extends FlannelError {
  readonly code = 'APISERVER_CONFIG';
  constructor(
    readonly flag: string,
    message: string,
  ) {
    super(message);
  }
}

export const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'] as const;
const PROTECTED_NAMESPACES = ['default', 'kube-system', 'kube-public'];
const SWEEP_MS = 5_000;

export interface RunningApiServer {
  readonly securePort: number;
  readonly insecurePort?: number;
  close(): Promise<void>;
}

const isLoopback = (ip: string): boolean => ip === '::1' || ip.startsWith('127.') || ip === 'localhost';

async function listen(srv: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, host, () => resolve());
  });
  const a = srv.address();
  return typeof a === 'object' && a ? a.port : port;
}

/** Creates an object unless it exists (the objects every cluster starts with). */
async function ensureObject(storage: Storage, def: Strategy, ns: string | undefined, obj: Obj, log: Logger): Promise<void> {
  try {
    await storage.create(def, ns, obj);
    log.info({ resource: def.def.resource, namespace: ns, name: (obj.metadata as { name: string }).name }, 'system object created');
  } catch (e) {
    if (!(e instanceof ApiError && e.reason === 'AlreadyExists')) throw e;
  }
}

/**
 * A bootstrap ClusterRole or ClusterRoleBinding: created when absent, else reconciled as kube-apiserver's
 * rbac/bootstrap-roles hook does (what is missing added, unless annotated autoupdate=false).
 */
async function ensureBootstrap(storage: Storage, def: Strategy, obj: Obj, reconcile: (stored: Obj, want: Obj) => Obj | undefined, log: Logger): Promise<void> {
  const { name, namespace: ns } = obj.metadata as { name: string; namespace?: string };
  try {
    await storage.create(def, ns, obj);
    log.info({ resource: def.def.resource, name }, 'system object created');
    return;
  } catch (e) {
    if (!(e instanceof ApiError && e.reason === 'AlreadyExists')) throw e;
  }
  // Read first: an object that lacks nothing is not written (its resourceVersion stays).
  if (reconcile(await storage.get(def, ns, name), obj) === undefined) return;
  await storage.rewrite(def, ns, name, (cur) => reconcile(cur, obj) ?? cur);
  log.info({ resource: def.def.resource, namespace: ns, name }, 'bootstrap policy reconciled');
}

/** An object, or undefined when it does not exist (other failures are thrown). */
async function objectOrNone(storage: Storage, def: Strategy, ns: string, name: string): Promise<Obj | undefined> {
  try {
    return await storage.get(def, ns, name);
  } catch (e) {
    if (e instanceof ApiError && e.httpStatus === 404) return undefined;
    throw e;
  }
}

/** Runs an apiserver until `signal` aborts; resolves once its listeners and etcd client are closed. */
export async function runApiServer(o: ApiServerOptions, log: Logger, signal: AbortSignal): Promise<void> {
  const srv = await startApiServer(o, log);
  try {
    if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  } finally {
    await srv.close();
  }
}

export async function startApiServer(o: ApiServerOptions, log: Logger): Promise<RunningApiServer> {
  let modes: AuthorizationMode[];
  try {
    modes = parseAuthorizationModes(o.authorizationMode);
  } catch (e) {
    throw new ApiServerConfigError('--authorization-mode', `--authorization-mode=${o.authorizationMode}: ${errorMessage(e)}`);
  }
  if ((o.tlsCertFile === undefined) !== (o.tlsPrivateKeyFile === undefined)) {
    throw new ApiServerConfigError('--tls-cert-file', '--tls-cert-file and --tls-private-key-file go together');
  }
  if (o.writeKubeconfig && o.clientCaFile) {
    throw new ApiServerConfigError('--write-kubeconfig', `--write-kubeconfig signs the admin certificate with the CA in --cert-dir, which is trusted only without --client-ca-file`);
  }
  let admissionPlugins: EnabledPlugins;
  try {
    admissionPlugins = enabledPlugins(o.enableAdmissionPlugins, o.disableAdmissionPlugins);
  } catch (e) {
    throw new ApiServerConfigError('--enable-admission-plugins', errorMessage(e));
  }
  if (admissionPlugins.ignored.length) log.warn({ plugins: admissionPlugins.ignored }, 'admission plugins this apiserver does not have are ignored');
  const serviceCidrs = parseServiceCidrs(o.serviceClusterIpRange);
  const nodePortRange = parsePortRange(o.serviceNodePortRange);
  const advertise = o.advertiseAddress ?? (o.bindAddress === '0.0.0.0' || o.bindAddress === '::' ? '127.0.0.1' : o.bindAddress);

  // Serving certificate: given, or made (and kept) in --cert-dir with every name clients use. The CA
  // there also signs the admin kubeconfig's certificate, and verifies clients without --client-ca-file.
  const needCa = !o.tlsCertFile || !o.clientCaFile || o.writeKubeconfig !== undefined;
  const ca = needCa ? await ensureCa(o.certDir) : undefined;
  const serving = o.tlsCertFile
    ? { cert: o.tlsCertFile, key: o.tlsPrivateKeyFile! }
    : await ensureServing(
        o.certDir,
        ca!,
        servingSans([o.bindAddress, advertise, '127.0.0.1', firstServiceIp(serviceCidrs[0]!)], ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', 'localhost', hostname()]),
      );
  const clientCa = await readFile(o.clientCaFile ?? ca!.cert);
  let saKeys: ServiceAccountKeys;
  try {
    saKeys = await loadServiceAccountKeys(o.certDir, o.serviceAccountSigningKeyFile, o.serviceAccountKeyFiles);
  } catch (e) {
    if (e instanceof ServiceAccountKeyError) throw new ApiServerConfigError(e.file === o.serviceAccountSigningKeyFile || o.serviceAccountKeyFiles.length === 0 ? '--service-account-signing-key-file' : '--service-account-key-file', e.message);
    throw e;
  }
  log.info({ signingKey: saKeys.signingFile, verifyingKeys: saKeys.verifying.length, issuers: o.serviceAccountIssuers, apiAudiences: o.apiAudiences }, 'service account tokens');
  if ((o.kubeletClientCertificate === undefined) !== (o.kubeletClientKey === undefined)) {
    throw new ApiServerConfigError('--kubelet-client-certificate', '--kubelet-client-certificate and --kubelet-client-key go together');
  }
  const kubeletClient = {
    ...(o.kubeletClientCertificate && { cert: await readFile(o.kubeletClientCertificate), key: await readFile(o.kubeletClientKey!) }),
    ...(o.kubeletCertificateAuthority && { ca: await readFile(o.kubeletCertificateAuthority) }),
    preferredAddressTypes: o.kubeletPreferredAddressTypes,
    timeoutMs: o.kubeletTimeout,
  };
  let tokens = new Map<string, UserInfo>();
  if (o.tokenAuthFile) tokens = parseTokenFile(await readFile(o.tokenAuthFile, 'utf8'));

  const client = createEtcdClient({
    endpoints: o.etcdServers,
    ...(o.etcdCafile && { cafile: o.etcdCafile }),
    ...(o.etcdCertfile && { certfile: o.etcdCertfile }),
    ...(o.etcdKeyfile && { keyfile: o.etcdKeyfile }),
    callTimeoutMs: 10_000,
  });
  const services = new ServiceAllocation(client, o.etcdPrefix, serviceCidrs, nodePortRange);
  const storage = new Storage({ client, prefix: o.etcdPrefix, log, services });
  const kind = (r: string): Strategy => ALL_STRATEGIES.find((k) => k.def.group === '' && k.def.resource === r)!;

  const policy = new StoragePolicySource(storage, ALL_STRATEGIES, log);
  // The aggregated ClusterRoles' rules, rewritten one pass at a time (a request for another while one runs is
  // folded into one more pass after it).
  let aggregating: Promise<void> | undefined;
  let aggregateAgain = false;
  let closing = false;
  const aggregate = (): void => {
    if (!modes.includes('RBAC') || closing) return;
    if (aggregating) {
      aggregateAgain = true;
      return;
    }
    aggregating = aggregateClusterRoles(policy, storage, ALL_STRATEGIES, log)
      .then(() => undefined)
      .catch((e: unknown) => log.warn({ err: errorMessage(e) }, 'cluster role aggregation failed'))
      .finally(() => {
        aggregating = undefined;
        if (aggregateAgain) {
          aggregateAgain = false;
          aggregate();
        }
      });
  };
  // The Node authorizer's graph: the pods by node, from the pods' list and watch and this apiserver's own writes.
  const podKind = kind('pods');
  const nodeGraph = modes.includes('Node') ? new NodeGraph() : undefined;
  if (nodeGraph) storage.onWrite((def, o, deleted) => def === podKind && nodeGraph.apply({ type: deleted ? 'DELETED' : 'MODIFIED', object: o }));
  const authorizer = new Authorizer(modes, modes.includes('RBAC') ? policy : undefined, nodeGraph);
  const nsKind = kind('namespaces');
  const orUndefined = async (read: Promise<Obj>): Promise<Obj | undefined> => {
    try {
      return await read;
    } catch (e) {
      if (e instanceof ApiError && e.httpStatus === 404) return undefined;
      throw e;
    }
  };
  const everything = { labels: [], fields: [] };
  const quotaKind = kind('resourcequotas');
  const limitKind = kind('limitranges');
  const noQuotas = new EmptyListCache(async (ns) => (await storage.list(quotaKind, ns, everything)).items);
  const noLimits = new EmptyListCache(async (ns) => (await storage.list(limitKind, ns, everything)).items);
  storage.onWrite((def, obj) => {
    const ns = String((obj.metadata as { namespace?: unknown } | undefined)?.namespace ?? '');
    if (def === quotaKind) noQuotas.invalidate(ns);
    else if (def === limitKind) noLimits.invalidate(ns);
  });
  const quotaStore: QuotaStore = {
    quotas: async (ns) => (ns ? noQuotas.get(ns) : (await storage.list(quotaKind, undefined, everything)).items),
    objects: async (group, resource, ns) => {
      const s = ALL_STRATEGIES.find((k) => k.def.group === group && k.def.resource === resource && k.def.storage !== '');
      return s ? (await storage.list(s, ns, everything)).items : [];
    },
    writeStatus: async (quota, status) => {
      const meta = quota.metadata as { name: string; namespace: string };
      try {
        await storage.update(quotaKind, meta.namespace, meta.name, { ...quota, status }, 'status');
        return true;
      } catch (e) {
        if (e instanceof ApiError && e.reason === 'Conflict') return false;
        throw e;
      }
    },
  };
  const quotaOn = admissionPlugins.names.includes('ResourceQuota');
  const plugins: Partial<Record<PluginName, () => AdmissionPlugin>> = {
    NamespaceLifecycle: () => namespaceLifecycle((res, ns, name) => storage.admitNamespace(nsKind, res, ns, name)),
    LimitRanger: () => limitRanger((ns) => noLimits.get(ns)),
    DefaultTolerationSeconds: () => defaultTolerationSeconds({ notReadySeconds: o.defaultNotReadyTolerationSeconds, unreachableSeconds: o.defaultUnreachableTolerationSeconds }),
    NodeRestriction: () => nodeRestriction({ node: (name) => orUndefined(storage.get(kind('nodes'), undefined, name)), pod: (ns, name) => orUndefined(storage.get(podKind, ns, name)) }),
    ResourceQuota: () => resourceQuota(quotaStore),
    ServiceAccount: () => serviceAccountAdmission((ns, name) => objectOrNone(storage, kind('serviceaccounts'), ns, name)),
  };
  // The quota controller's part: usage counted again after deletes, and by the sweep (finished pods, expired graces).
  const recounting = new Set<string>();
  const recountQuotas = (ns: string): void => {
    // One recount of a namespace (or of all, '') at a time: the sweep's may outlast its interval.
    if (!quotaOn || closing || recounting.has(ns)) return;
    recounting.add(ns);
    recalculateQuotas(quotaStore, ns)
      .catch((e: unknown) => log.warn({ namespace: ns, err: errorMessage(e) }, 'quota recalculation failed'))
      .finally(() => recounting.delete(ns));
  };
  const tokenCfg = { issuers: o.serviceAccountIssuers, apiAudiences: o.apiAudiences };
  const uidLookup = async (resource: 'serviceaccounts' | 'pods' | 'secrets', ns: string, name: string): Promise<string | undefined> => {
    const got = await objectOrNone(storage, kind(resource), ns, name);
    const uid = (got?.metadata as { uid?: unknown } | undefined)?.uid;
    return typeof uid === 'string' ? uid : undefined;
  };
  const auth = new Authenticator(tokens, new ServiceAccountTokenAuthenticator(saKeys.verifying, tokenCfg, uidLookup), o.apiAudiences);
  const admission = new AdmissionChain(admissionPlugins.names.flatMap((n) => plugins[n]?.() ?? []));
  log.info({ plugins: admissionPlugins.names }, 'admission plugins');
  const registry = new Registry();
  const requests = new Counter({ name: 'apiserver_request_total', help: 'Requests by verb, resource and HTTP code.', labelNames: ['verb', 'resource', 'code'], registers: [registry] });
  const kubeletProxy = new KubeletProxy(kubeletClient, { getPod: (ns, name) => storage.get(podKind, ns, name), getNode: (name) => storage.get(kind('nodes'), undefined, name), nodeNameHint: (ns, name) => specNodeName(storage.cachedHint(podKind, ns, name)), cachedNode: (name) => storage.cachedHint(kind('nodes'), undefined, name), cachedPod: (ns, name) => storage.cachedHint(podKind, ns, name), log });
  const handler = new ApiHandler({
    storage,
    kinds: ALL_STRATEGIES,
    log,
    serverAddress: `${advertise}:${o.securePort}`,
    protectedNamespaces: PROTECTED_NAMESPACES,
    ready: async () => (await withTimeout(client.get(`${o.etcdPrefix}/namespaces/default`).exec().then(() => true), 2_000)) === true,
    componentStatuses: () => componentStatuses(() => client.get(`${o.etcdPrefix}/namespaces/default`).exec()),
    metrics: async () => registry.metrics(),
    onRequest: (verb, resource, code) => requests.inc({ verb, resource, code: String(code) }),
    authorizer,
    admission,
    // As kube-apiserver: AlwaysAllow alone turns anonymous requests off (they stay 401).
    anonymous: o.anonymousAuth && authorizer.enforcing,
    onDeleted: (def, ns) => {
      if (ns) recountQuotas(ns);
    },
    serviceAccountTokens: { issuer: new TokenIssuer(saKeys.signing, tokenCfg), apiAudiences: o.apiAudiences, maxExpirationSeconds: o.serviceAccountMaxTokenExpirationSeconds },
    tokenReviewer: auth,
    kubelet: kubeletProxy,
    onPolicyWrite: (resource) => {
      policy.invalidate();
      if (resource === 'clusterroles') aggregate();
    },
  });

  // What every cluster has. Several apiservers starting at once: the loser of each create sees AlreadyExists.
  for (const ns of SYSTEM_NAMESPACES) await ensureObject(storage, kind('namespaces'), undefined, { metadata: { name: ns } }, log);
  // The bootstrap RBAC policy (with RBAC on, as its post-start hook does), created when absent (an administrator's change to one is kept).
  const rbacKind = (r: string): Strategy => ALL_STRATEGIES.find((k) => k.def.group === 'rbac.authorization.k8s.io' && k.def.resource === r)!;
  if (modes.includes('RBAC')) {
    for (const role of bootstrapClusterRoles()) await ensureBootstrap(storage, rbacKind('clusterroles'), role, reconcileClusterRole, log);
    for (const binding of bootstrapClusterRoleBindings()) await ensureBootstrap(storage, rbacKind('clusterrolebindings'), binding, reconcileClusterRoleBinding, log);
    for (const role of bootstrapRoles()) await ensureBootstrap(storage, rbacKind('roles'), role, reconcileClusterRole, log);
    for (const binding of bootstrapRoleBindings()) await ensureBootstrap(storage, rbacKind('rolebindings'), binding, reconcileClusterRoleBinding, log);
    aggregate();
    await aggregating;
  }
  const kubernetesIp = firstServiceIp(serviceCidrs[0]!);
  await ensureObject(storage, kind('services'), 'default', { metadata: { name: 'kubernetes', labels: { component: 'apiserver', provider: 'kubernetes' } }, spec: { clusterIP: kubernetesIp, ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: o.securePort }] } }, log);
  await ensureObject(storage, kind('endpoints'), 'default', { metadata: { name: 'kubernetes', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } }, subsets: [{ addresses: [{ ip: advertise }], ports: [{ name: 'https', port: o.securePort, protocol: 'TCP' }] }] }, log);

  // The watch caches (one etcd watch per kind, shared by every client watch) and the namespace cache.
  await storage.startCaches(ALL_STRATEGIES);
  const graphAbort = new AbortController();
  let graphLoop: Promise<void> | undefined;
  if (nodeGraph) {
    const none = { labels: [], fields: [] };
    graphLoop = runNamespaceCache(nodeGraph, (send, signal, progress) => storage.watch(podKind, undefined, undefined, none, send, signal, progress), log, graphAbort.signal, 1_000, 'node authorizer graph');
    // Serving before the first list is in would refuse kubelets what their pods name.
    for (let i = 0; i < 300 && !nodeGraph.synced; i++) await new Promise((r) => setTimeout(r, 100));
    if (nodeGraph.synced) log.info({ pods: nodeGraph.size }, 'node authorizer graph synced');
    else log.warn('node authorizer graph not synced after 30s; serving (nodes are refused what their pods name until it is)');
  }

  const secure = createHttpsServer({ key: await readFile(serving.key), cert: await readFile(serving.cert), ca: clientCa, requestCert: true, rejectUnauthorized: false }, (req, res) => void handler.handle(req, res, auth));
  secure.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void handler.handleUpgrade(req, socket, head, auth));
  const securePort = await listen(secure, o.securePort, o.bindAddress);
  log.info({ addr: `${o.bindAddress}:${securePort}`, advertise }, 'serving securely');
  let insecure: Server | undefined;
  let insecurePort: number | undefined;
  if (o.insecurePort > 0) {
    if (!isLoopback(o.insecureBindAddress)) log.warn({ addr: `${o.insecureBindAddress}:${o.insecurePort}` }, 'insecure port open beyond loopback: anyone who reaches it is cluster admin');
    insecure = createHttpServer((req, res) => void handler.handle(req, res, undefined));
    insecure.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void handler.handleUpgrade(req, socket, head, undefined));
    insecurePort = await listen(insecure, o.insecurePort, o.insecureBindAddress);
    log.info({ addr: `${o.insecureBindAddress}:${insecurePort}` }, 'serving insecurely');
  }
  if (o.writeKubeconfig) {
    const admin = await ensureAdminClient(o.certDir, ca!);
    const host = advertise.includes(':') ? `[${advertise}]` : advertise;
    await writeKubeconfig(o.writeKubeconfig, `https://${host}:${securePort}`, await readFile(o.tlsCertFile ?? ca!.cert, 'utf8'), admin);
    log.info({ file: o.writeKubeconfig }, 'admin kubeconfig written');
  }

  let sweeping = false;
  const sweep = setInterval(() => {
    // Also picks up ClusterRoles written through another apiserver.
    aggregate();
    recountQuotas('');
    if (sweeping) return;
    sweeping = true;
    handler
      .sweepNamespaces()
      .catch((e: unknown) => log.warn({ err: errorMessage(e) }, 'namespace sweep failed'))
      .finally(() => (sweeping = false));
  }, SWEEP_MS);
  sweep.unref();

  return {
    securePort,
    ...(insecurePort !== undefined && { insecurePort }),
    close: async () => {
      clearInterval(sweep);
      closing = true;
      await aggregating;
      const closed = (s: Server): Promise<void> => new Promise((r) => s.close(() => r()));
      secure.closeAllConnections();
      insecure?.closeAllConnections();
      await Promise.all([closed(secure), ...(insecure ? [closed(insecure)] : [])]);
      kubeletProxy.close();
      graphAbort.abort();
      await graphLoop;
      await storage.stopCaches();
      client.close();
    },
  };
}
