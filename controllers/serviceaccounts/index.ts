// The serviceaccount controller (a `default` ServiceAccount in every namespace) and the root-ca-cert-publisher (kube-root-ca.crt).
export { DEFAULT_ACCOUNT, defaultAccountToCreate, namespaceActive, ROOT_CA_CONFIGMAP, ROOT_CA_DESCRIPTION, rootCaAction, type RootCaAction } from './logic.js';
export { PerNamespaceController, rootCaPolicy, serviceAccountPolicy, type PerNamespaceDeps, type PerNamespacePolicy } from './controller.js';
