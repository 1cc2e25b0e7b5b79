// The API from inside a pod, as client-go's rest.InClusterConfig finds it: the `kubernetes` Service's
// address from KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT (the kubelet sets them in every container),
// the pod's service-account token and the cluster's CA from the kube-api-access volume. The token file is
// named as well as read: the kubelet rotates a bound token, and the client reads the file again.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { errorMessage, FlannelError } from '../common/index.js';
import type { ApiConnection } from './kubeconfig.js';

/** Where the ServiceAccount admission mounts the pod's token volume. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export class InClusterError extends FlannelError {
  readonly code = 'IN_CLUSTER';
}

/** client-go's ErrNotInCluster, word for word in meaning: the two variables are what tells a pod it is one. */
export const NOT_IN_CLUSTER = 'unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined';

/** Pure: the API's URL from the environment, or undefined outside a pod; throws InClusterError for a bad value. */
export function inClusterServer(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const host = env.KUBERNETES_SERVICE_HOST?.trim();
  const port = env.KUBERNETES_SERVICE_PORT?.trim();
  if (!host || !port) return undefined;
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) throw new InClusterError(`KUBERNETES_SERVICE_PORT: "${port}" is not a port number`);
  if (!/^[A-Za-z0-9.:-]+$/.test(host)) throw new InClusterError(`KUBERNETES_SERVICE_HOST: "${host}" is not a host name or IP address`);
  return `https://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

export interface InClusterConfig {
  readonly conn: ApiConnection;
  /** The pod's namespace (the volume's `namespace` file), when it has one. */
  readonly namespace?: string;
}

/**
 * The connection from the environment and `dir` (default SERVICE_ACCOUNT_DIR): the token is required, the CA
 * and the namespace are read when present (client-go, too, goes on without a CA file, trusting the system's).
 */
export async function loadInClusterConfig(env: Readonly<Record<string, string | undefined>> = process.env, dir = SERVICE_ACCOUNT_DIR): Promise<InClusterConfig> {
  const server = inClusterServer(env);
  if (!server) throw new InClusterError(NOT_IN_CLUSTER);
  const tokenFile = path.join(dir, 'token');
  let token: string;
  try {
    token = (await readFile(tokenFile, 'utf8')).trim();
  } catch (e) {
    throw new InClusterError(`in-cluster configuration: cannot read the service-account token ${tokenFile}: ${errorMessage(e)}`);
  }
  if (!token) throw new InClusterError(`in-cluster configuration: the service-account token ${tokenFile} is empty`);
  const ca = await readFile(path.join(dir, 'ca.crt')).catch(() => undefined);
  const namespace = (await readFile(path.join(dir, 'namespace'), 'utf8').catch(() => '')).trim();
  return { conn: { servers: [server], token, tokenFile, ...(ca && ca.length > 0 && { ca }) }, ...(namespace && { namespace }) };
}
