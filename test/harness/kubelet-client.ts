// The apiserver's identity toward the kubelets' HTTPS servers (pods/log, exec, attach, port-forward), as the
// labs and the demo set it up: a client certificate for kube-apiserver-kubelet-client signed by the CA in the
// apiserver's --cert-dir (made before the apiserver starts, which then finds and keeps it), given to the
// apiserver as --kubelet-client-certificate/--kubelet-client-key; the kubelets trust that CA (--client-ca-file)
// and ask the apiserver whether the user may (SubjectAccessReview), which the binding to
// system:kubelet-api-admin allows.
import path from 'node:path';
import { ensureCa, ensureUserClient } from '../../apiserver/index.js';

export const KUBELET_CLIENT_USER = 'kube-apiserver-kubelet-client';

/** The kubectl arguments of the binding; it must exist before a kubelet asks (a denial is cached for 30 s). */
export const KUBELET_CLIENT_BINDING: readonly string[] = ['create', 'clusterrolebinding', 'kube-apiserver-kubelet', '--clusterrole=system:kubelet-api-admin', `--user=${KUBELET_CLIENT_USER}`];

/** Makes the CA and the client certificate in `certDir`; the apiserver's flags for it and the kubelets' --client-ca-file. */
export async function kubeletClientCredentials(certDir: string): Promise<{ apiserverArgs: string[]; clientCaFile: string }> {
  const ca = await ensureCa(certDir);
  const client = await ensureUserClient(certDir, ca, KUBELET_CLIENT_USER, []);
  return { apiserverArgs: [`--kubelet-client-certificate=${client.cert}`, `--kubelet-client-key=${client.key}`], clientCaFile: path.join(certDir, 'ca.crt') };
}
