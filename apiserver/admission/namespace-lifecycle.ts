// NamespaceLifecycle: nothing is created in a namespace that does not exist or is being deleted.
import type { AdmissionPlugin } from './types.js';

/** How the plugin learns a namespace's state (the storage's namespace cache, or a live read). Throws the refusal. */
export type NamespaceCheck = (resource: { readonly group: string; readonly resource: string }, namespace: string, name: string) => Promise<void>;

export function namespaceLifecycle(check: NamespaceCheck): AdmissionPlugin {
  return {
    name: 'NamespaceLifecycle',
    operations: ['CREATE'],
    async admit(a) {
      // A namespace's own create, and cluster-scoped kinds, are in no namespace.
      if (!a.resource.namespaced || a.namespace === '') return;
      // Reviews and other subresource creates (pods/binding, serviceaccounts/token) act on what exists.
      if (a.subresource !== '') return;
      await check(a.resource, a.namespace, a.name);
    },
  };
}
