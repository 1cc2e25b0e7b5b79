// What the service-account controllers decide, per namespace, pure: the serviceaccount controller's
// `default` account (made in every namespace that is not being deleted, made again if deleted), and the
// root-ca-cert-publisher's ConfigMap kube-root-ca.crt holding the cluster CA as ca.crt (made, or put back
// when its data differs).

type Obj = Record<string, unknown>;

export const DEFAULT_ACCOUNT = 'default';
export const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt';
/** The annotation Kubernetes' publisher sets on the ConfigMap. */
export const ROOT_CA_DESCRIPTION =
  'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.';

const isRec = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const meta = (o: Obj | undefined): Obj => (o && isRec(o.metadata) ? o.metadata : {});

/** Whether a namespace takes new objects (not being deleted). */
export const namespaceActive = (ns: Obj | undefined): boolean => ns !== undefined && meta(ns).deletionTimestamp === undefined && (isRec(ns.status) ? ns.status.phase : undefined) !== 'Terminating';

/** The account to create in the namespace, or undefined when there is none to make. */
export function defaultAccountToCreate(ns: Obj | undefined, existing: Obj | undefined): Obj | undefined {
  if (!namespaceActive(ns) || existing !== undefined) return undefined;
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: DEFAULT_ACCOUNT } };
}

export type RootCaAction = { readonly verb: 'create'; readonly body: Obj } | { readonly verb: 'update'; readonly body: Obj } | undefined;

/** The ConfigMap to write in the namespace for this CA bundle, or undefined when it is as it should be. */
export function rootCaAction(ns: Obj | undefined, existing: Obj | undefined, caPem: string): RootCaAction {
  if (!namespaceActive(ns)) return undefined;
  if (existing === undefined) {
    return { verb: 'create', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: ROOT_CA_CONFIGMAP, annotations: { 'kubernetes.io/description': ROOT_CA_DESCRIPTION } }, data: { 'ca.crt': caPem } } };
  }
  const data = isRec(existing.data) ? existing.data : {};
  const annotations = isRec(meta(existing).annotations) ? (meta(existing).annotations as Obj) : {};
  if (data['ca.crt'] === caPem && Object.keys(data).length === 1 && annotations['kubernetes.io/description'] === ROOT_CA_DESCRIPTION) return undefined;
  // The stored object with its data replaced (its resourceVersion kept: the update is a compare-and-set).
  return { verb: 'update', body: { ...existing, metadata: { ...meta(existing), annotations: { ...annotations, 'kubernetes.io/description': ROOT_CA_DESCRIPTION } }, data: { 'ca.crt': caPem } } };
}
