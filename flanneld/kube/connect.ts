// Where flanneld finds the API and its own Node, as flannel does: --kubeconfig-file and/or
// --kube-api-url (the URL wins over the kubeconfig's server), else the pod's in-cluster service
// account (cluster/'s in-cluster config, as client-go's rest.InClusterConfig reads it); the node is
// NODE_NAME, else the spec.nodeName of the pod POD_NAMESPACE/POD_NAME.
import { type ApiClient, type ApiConnection, InClusterError, inClusterServer, loadInClusterConfig, loadKubeconfig, NOT_IN_CLUSTER, SERVICE_ACCOUNT_DIR } from '../../cluster/index.js';
import { errorMessage, FlannelError } from '../../core/index.js';

export class KubeSetupError extends FlannelError {
  readonly code = 'KUBE_SETUP';
}

export interface KubeConnectFlags {
  readonly kubeconfigFile?: string;
  readonly kubeApiUrl?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

export async function kubeConnection(f: KubeConnectFlags, env: Env, saDir = SERVICE_ACCOUNT_DIR): Promise<ApiConnection> {
  const url = f.kubeApiUrl?.replace(/\/+$/, '');
  if (url !== undefined && !/^https?:\/\/[^/]+$/.test(url)) throw new KubeSetupError(`--kube-api-url ${JSON.stringify(f.kubeApiUrl)}: expected http(s)://host[:port]`);
  if (f.kubeconfigFile) {
    const conn = await loadKubeconfig(f.kubeconfigFile);
    return url ? { ...conn, servers: [url] } : conn;
  }
  if (url) return { servers: [url] };
  try {
    // Outside a pod the flags are what is missing: say so before client-go's words.
    if (inClusterServer(env) === undefined) throw new KubeSetupError(`no API to talk to: give --kubeconfig-file or --kube-api-url, or run in a pod (${NOT_IN_CLUSTER})`);
    return (await loadInClusterConfig(env, saDir)).conn;
  } catch (e) {
    if (e instanceof InClusterError) throw new KubeSetupError(errorMessage(e));
    throw e;
  }
}

/** NODE_NAME, else the node of the pod POD_NAMESPACE/POD_NAME (one GET of the pod). */
export async function resolveNodeName(env: Env, client: Pick<ApiClient, 'request'>, signal?: AbortSignal): Promise<string> {
  if (env.NODE_NAME) return env.NODE_NAME;
  const pod = env.POD_NAME;
  const ns = env.POD_NAMESPACE;
  if (!pod || !ns) throw new KubeSetupError('which node is this? set NODE_NAME, or POD_NAME and POD_NAMESPACE (env variables POD_NAME and POD_NAMESPACE must be set)');
  let obj: unknown;
  try {
    obj = await client.request('GET', `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(pod)}`, signal ? { signal } : {});
  } catch (e) {
    throw new KubeSetupError(`error retrieving pod spec for '${ns}/${pod}': ${errorMessage(e)}`);
  }
  const spec = typeof obj === 'object' && obj !== null ? (obj as { spec?: { nodeName?: unknown } }).spec : undefined;
  if (typeof spec?.nodeName !== 'string' || spec.nodeName === '') throw new KubeSetupError(`node name not present in pod spec '${ns}/${pod}'`);
  return spec.nodeName;
}
