// Where each kind lives in etcd, as early Kubernetes laid it out under /registry.
export const REGISTRY = '/registry';

export const keys = {
  node: (name: string) => `${REGISTRY}/minions/${name}`,
  nodes: () => `${REGISTRY}/minions/`,
  pod: (ns: string, name: string) => `${REGISTRY}/pods/${ns}/${name}`,
  pods: (ns?: string) => (ns ? `${REGISTRY}/pods/${ns}/` : `${REGISTRY}/pods/`),
  service: (ns: string, name: string) => `${REGISTRY}/services/specs/${ns}/${name}`,
  services: (ns?: string) => (ns ? `${REGISTRY}/services/specs/${ns}/` : `${REGISTRY}/services/specs/`),
  endpoints: (ns: string, name: string) => `${REGISTRY}/services/endpoints/${ns}/${name}`,
  allEndpoints: () => `${REGISTRY}/services/endpoints/`,
  secret: (ns: string, name: string) => `${REGISTRY}/secrets/${ns}/${name}`,
  configMap: (ns: string, name: string) => `${REGISTRY}/configmaps/${ns}/${name}`,
  configMaps: () => `${REGISTRY}/configmaps/`,
  namespaces: () => `${REGISTRY}/namespaces/`,
  serviceAccounts: () => `${REGISTRY}/serviceaccounts/`,
  event: (ns: string, name: string) => `${REGISTRY}/events/${ns}/${name}`,
  events: (ns?: string) => (ns ? `${REGISTRY}/events/${ns}/` : `${REGISTRY}/events/`),
  networkPolicies: () => `${REGISTRY}/networkpolicies/`,
} as const;

/** `<prefix><namespace>/<name>` → [namespace, name], or undefined for a key of another shape. */
export function namespacedName(prefix: string, key: string): [string, string] | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const parts = key.slice(prefix.length).split('/');
  return parts.length === 2 && parts[0] && parts[1] ? [parts[0], parts[1]] : undefined;
}
