// The identities the labs and the demo run the daemons with, as a real cluster does: the apiserver under
// --authorization-mode=Node,RBAC with NodeRestriction, and each daemon with its own client certificate
// (signed by the apiserver's CA) and kubeconfig, so that it holds its bootstrap rights only.
import path from 'node:path';
import { writeUserKubeconfig } from '../../apiserver/index.js';

/** The apiserver flags of the labs: Node and RBAC authorization, NodeRestriction admission. */
export const SECURE_APISERVER_ARGS: readonly string[] = ['--authorization-mode=Node,RBAC', '--enable-admission-plugins=NodeRestriction'];

export type Daemon = 'kubelet' | 'kube-proxy' | 'kube-scheduler' | 'kube-controller-manager' | 'admin';

/** Who a daemon is to the apiserver: a kubelet is its node (system:node:<name> in system:nodes). */
export function daemonIdentity(daemon: Daemon, node?: string): { user: string; groups: string[] } {
  switch (daemon) {
    case 'kubelet':
      if (!node) throw new Error('a kubelet identity needs its node name');
      return { user: `system:node:${node}`, groups: ['system:nodes'] };
    case 'kube-proxy':
      return { user: 'system:kube-proxy', groups: [] };
    case 'kube-scheduler':
      return { user: 'system:kube-scheduler', groups: [] };
    case 'kube-controller-manager':
      return { user: 'system:kube-controller-manager', groups: [] };
    case 'admin':
      return { user: 'kubernetes-admin', groups: ['system:masters'] };
  }
}

/**
 * Writes `<dir>/<daemon>[-<node>].kubeconfig` for the daemon, its certificate signed by the CA in `certDir`
 * (the apiserver's --cert-dir); returns the file.
 */
export async function writeDaemonKubeconfig(certDir: string, server: string, dir: string, daemon: Daemon, node?: string): Promise<string> {
  const file = path.join(dir, `${daemon}${node ? `-${node}` : ''}.kubeconfig`);
  await writeUserKubeconfig({ certDir, server, file, ...daemonIdentity(daemon, node) });
  return file;
}
