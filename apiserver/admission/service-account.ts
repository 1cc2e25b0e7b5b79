// ServiceAccount (plugin/pkg/admission/serviceaccount): a pod is created with its namespace's `default`
// account unless it names one; the account must exist; and unless the pod or the account turns
// automountServiceAccountToken off, every container (and init container) mounts, read-only at
// /var/run/secrets/kubernetes.io/serviceaccount, a projected volume `kube-api-access-<5 random>` of a
// bound token (filled by the kubelet through TokenRequest), the cluster CA (ConfigMap kube-root-ca.crt)
// and the namespace. Mirror pods are left alone, and may not name an account.
import { randomInt } from 'node:crypto';
import { ApiError } from '../errors.js';
import type { Obj } from '../object.js';
import type { AdmissionPlugin } from './types.js';

export const DEFAULT_SERVICE_ACCOUNT = 'default';
export const TOKEN_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
export const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt';
/** The kubelet's token lifetime: an hour and a bit, so a token is told apart from a user's 1h request. */
export const PROJECTED_TOKEN_SECONDS = 3607;
const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';
// names.SimpleNameGenerator's alphabet: no vowels (no words), no look-alikes.
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** The account, or undefined when it does not exist; throws on any other failure. */
export type ServiceAccountGetter = (namespace: string, name: string) => Promise<Obj | undefined>;

const isRec = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export const randomSuffix = (n = 5): string => Array.from({ length: n }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');

/** The projected volume kube-apiserver adds. */
export function apiAccessVolume(name: string): Obj {
  return {
    name,
    projected: {
      defaultMode: 0o644,
      sources: [
        { serviceAccountToken: { expirationSeconds: PROJECTED_TOKEN_SECONDS, path: 'token' } },
        { configMap: { name: ROOT_CA_CONFIGMAP, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
      ],
    },
  };
}

/**
 * The mutation, pure: the volume and the mounts added to `spec` (a pod's) unless a container already mounts
 * something at the path; `suffix` names the volume. True when the volume was added.
 */
export function mountApiAccess(spec: Obj, suffix: () => string = randomSuffix): boolean {
  const volumes = Array.isArray(spec.volumes) ? (spec.volumes as unknown[]) : [];
  const names = new Set(volumes.filter(isRec).map((v) => v.name));
  let name = `kube-api-access-${suffix()}`;
  for (let i = 0; i < 10 && names.has(name); i++) name = `kube-api-access-${suffix()}`;
  let needed = false;
  for (const field of ['initContainers', 'containers'] as const) {
    const list = Array.isArray(spec[field]) ? (spec[field] as unknown[]) : [];
    for (const c of list.filter(isRec)) {
      const mounts = Array.isArray(c.volumeMounts) ? (c.volumeMounts as unknown[]) : [];
      // A mount of the user's at the path wins, as Kubernetes leaves it.
      if (mounts.some((m) => isRec(m) && m.mountPath === TOKEN_MOUNT_PATH)) continue;
      c.volumeMounts = [...mounts, { name, readOnly: true, mountPath: TOKEN_MOUNT_PATH }];
      needed = true;
    }
  }
  if (needed) spec.volumes = [...volumes, apiAccessVolume(name)];
  return needed;
}

const forbiddenPod = (name: string, why: string): ApiError => new ApiError(403, 'Forbidden', `pods "${name}" is forbidden: ${why}`, { name, kind: 'pods' });

export function serviceAccountAdmission(getAccount: ServiceAccountGetter, suffix: () => string = randomSuffix): AdmissionPlugin {
  return {
    name: 'ServiceAccount',
    operations: ['CREATE'],
    async admit(a) {
      if (a.resource.group !== '' || a.resource.resource !== 'pods' || a.subresource !== '' || !a.object) return;
      const pod = a.object;
      const meta = isRec(pod.metadata) ? pod.metadata : {};
      if (!isRec(pod.spec)) return; // the kind's validation refuses it
      const spec = pod.spec;
      const annotations = isRec(meta.annotations) ? meta.annotations : {};
      if (MIRROR_ANNOTATION in annotations) {
        if (typeof spec.serviceAccountName === 'string' && spec.serviceAccountName !== '') throw forbiddenPod(a.name, 'a mirror pod may not reference service accounts');
        return;
      }
      if (typeof spec.serviceAccountName !== 'string' || spec.serviceAccountName === '') spec.serviceAccountName = DEFAULT_SERVICE_ACCOUNT;
      const saName = spec.serviceAccountName as string;
      const sa = await getAccount(a.namespace, saName);
      if (!sa) throw forbiddenPod(a.name, `error looking up service account ${a.namespace}/${saName}: serviceaccount "${saName}" not found`);
      // The deprecated field follows the name, as the API's defaulting does.
      spec.serviceAccount = saName;
      const automount = typeof spec.automountServiceAccountToken === 'boolean' ? spec.automountServiceAccountToken : sa.automountServiceAccountToken !== false;
      if (automount) mountApiAccess(spec, suffix);
      if ((!Array.isArray(spec.imagePullSecrets) || spec.imagePullSecrets.length === 0) && Array.isArray(sa.imagePullSecrets) && sa.imagePullSecrets.length) {
        spec.imagePullSecrets = structuredClone(sa.imagePullSecrets);
      }
    },
  };
}
