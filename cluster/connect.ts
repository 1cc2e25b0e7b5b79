// Which store a daemon uses, picked once from its flags: the Kubernetes API (`--kubeconfig FILE`, or
// the seeds' plain-HTTP server list, `--api-servers` / `--master`) or etcd (`--etcd-endpoints`, the
// etcd-only setup). Giving both is refused, naming the two flags.
import { etcdClientFromFlags, type EtcdFlagValues, FlannelError, type Logger } from '../common/index.js';
import { ApiClient } from './api-client.js';
import { ApiStore } from './api-store.js';
import { loadInClusterConfig } from './in-cluster.js';
import { loadKubeconfig, parseServerList } from './kubeconfig.js';
import { ObjectStore, type ClusterStore } from './store.js';

export class FlagConflictError extends FlannelError {
  readonly code = 'FLAG_CONFLICT';
  constructor(
    readonly first: string,
    readonly second: string,
  ) {
    super(`${first} and ${second} cannot both be given: one selects the API, the other etcd (or the same API twice)`);
  }
}

export class FlagValueError extends FlannelError {
  readonly code = 'FLAG_VALUE';
  constructor(
    readonly flag: string,
    readonly reason: string,
  ) {
    super(`${flag}: ${reason}`);
  }
}

export type ApiFlags = { readonly kubeconfig: string } | { readonly servers: readonly string[] };

/**
 * Pure: the API to use, or undefined for etcd. `serversFlag` is the daemon's name for the server list
 * (`--api-servers`, `--master`); `etcdGiven` whether --etcd-endpoints was set (not its default).
 */
export function apiFlagsOf(kubeconfig: string | undefined, servers: string | undefined, serversFlag: string, etcdGiven: boolean): ApiFlags | undefined {
  const k = kubeconfig?.trim() || undefined;
  const s = servers?.trim() || undefined;
  if (k && s) throw new FlagConflictError('--kubeconfig', serversFlag);
  if (k && etcdGiven) throw new FlagConflictError('--kubeconfig', '--etcd-endpoints');
  if (s && etcdGiven) throw new FlagConflictError(serversFlag, '--etcd-endpoints');
  if (k) return { kubeconfig: k };
  if (!s) return undefined;
  try {
    return { servers: parseServerList(s) };
  } catch (e) {
    throw new FlagValueError(serversFlag, e instanceof Error ? e.message : String(e));
  }
}

export interface OpenedStore {
  readonly store: ClusterStore;
  /** Set on etcd: the store with etcd's extras (transactions, the election's client). */
  readonly etcd?: ObjectStore;
  /** Set on the API. */
  readonly api?: ApiStore;
  close(): void;
}

/**
 * The API client and store from a kubeconfig and/or a server list (reads the kubeconfig and its files). Both
 * given: the kubeconfig's credentials with these servers, as a `--master` beside `--kubeconfig` does. Neither:
 * the in-cluster configuration of a pod (client-go's BuildConfigFromFlags("", "")), or an InClusterError.
 */
export async function openApiStore(conn: { readonly kubeconfig?: string; readonly servers?: readonly string[] }, log: Logger): Promise<{ client: ApiClient; store: ApiStore }> {
  if (!conn.kubeconfig && !conn.servers?.length) {
    const inCluster = await loadInClusterConfig();
    log.info({ server: inCluster.conn.servers[0], namespace: inCluster.namespace }, 'using the in-cluster configuration (the service account of the pod)');
    const client = new ApiClient(inCluster.conn, { log });
    return { client, store: new ApiStore(client, { log }) };
  }
  const loaded = conn.kubeconfig ? await loadKubeconfig(conn.kubeconfig) : { servers: [] as string[] };
  const client = new ApiClient(conn.servers ? { ...loaded, servers: [...conn.servers] } : loaded, { log });
  return { client, store: new ApiStore(client, { log }) };
}

/** The store the flags select (reads the kubeconfig and its files). */
export async function openClusterStore(api: ApiFlags | undefined, etcd: EtcdFlagValues, log: Logger): Promise<OpenedStore> {
  if (!api) {
    const client = etcdClientFromFlags(etcd);
    const store = new ObjectStore(client, log);
    return { store, etcd: store, close: () => client.close() };
  }
  const { client, store } = await openApiStore(api, log);
  log.info({ server: client.server, servers: client.conn.servers.length, kubeconfig: 'kubeconfig' in api ? api.kubeconfig : undefined }, 'using the API server');
  return { store, api: store, close: () => client.close() };
}
