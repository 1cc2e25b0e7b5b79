// The per-namespace controllers of kube-controller-manager's serviceaccounts family: one object of a fixed
// name kept in every namespace (the `default` ServiceAccount; the kube-root-ca.crt ConfigMap). Namespaces
// and the objects come from list+watch caches; a change to either queues its namespace, and a worker
// compares the two (logic.ts) and creates or updates through the API.
import { type ApiClient, ApiStatusError, isStatus, type Corrupt, keys, REGISTRY, type Stored } from '../../cluster/index.js';
import type { Logger, PrefixCache } from '../../common/index.js';
import type { WorkQueue } from '../queue.js';
import { DEFAULT_ACCOUNT, defaultAccountToCreate, ROOT_CA_CONFIGMAP, rootCaAction, type RootCaAction } from './logic.js';

type Obj = Record<string, unknown>;
type Cache = PrefixCache<Stored<Obj>, Corrupt>;

/** What one such controller keeps: the objects' key prefix and name, their API collection, and the decision. */
export interface PerNamespacePolicy {
  readonly controller: string;
  readonly prefix: string;
  readonly name: string;
  readonly collection: string;
  decide(ns: Obj | undefined, existing: Obj | undefined): RootCaAction;
}

export const serviceAccountPolicy = (): PerNamespacePolicy => ({
  controller: 'serviceaccount',
  prefix: keys.serviceAccounts(),
  name: DEFAULT_ACCOUNT,
  collection: 'serviceaccounts',
  decide: (ns, existing) => {
    const body = defaultAccountToCreate(ns, existing);
    return body ? { verb: 'create', body } : undefined;
  },
});

export const rootCaPolicy = (caPem: string): PerNamespacePolicy => ({
  controller: 'root-ca-cert-publisher',
  prefix: keys.configMaps(),
  name: ROOT_CA_CONFIGMAP,
  collection: 'configmaps',
  decide: (ns, existing) => rootCaAction(ns, existing, caPem),
});

export interface PerNamespaceDeps {
  readonly client: ApiClient;
  readonly namespaces: Cache;
  readonly objects: Cache;
  readonly queue: WorkQueue;
  readonly log: Logger;
  readonly signal?: AbortSignal;
}

const NS_PREFIX = `${REGISTRY}/namespaces/`;

export class PerNamespaceController {
  constructor(
    readonly policy: PerNamespacePolicy,
    private readonly d: PerNamespaceDeps,
  ) {}

  get kind(): string {
    return this.policy.controller;
  }

  /** Namespace keys changed: each is queued. */
  namespacesChanged(changed: ReadonlySet<string>): void {
    for (const k of changed) if (k.startsWith(NS_PREFIX)) this.d.queue.add(k.slice(NS_PREFIX.length));
  }

  /** Object keys changed: the namespace of each one of ours is queued. */
  objectsChanged(changed: ReadonlySet<string>): void {
    for (const k of changed) {
      const parts = k.startsWith(this.policy.prefix) ? k.slice(this.policy.prefix.length).split('/') : [];
      if (parts.length === 2 && parts[1] === this.policy.name) this.d.queue.add(parts[0]!);
    }
  }

  /** One namespace brought in line; undefined (nothing to retry later). Throws to be retried with back-off. */
  async sync(ns: string): Promise<undefined> {
    const nsObj = this.d.namespaces.items.get(`${NS_PREFIX}${ns}`)?.obj;
    const existing = this.d.objects.items.get(`${this.policy.prefix}${ns}/${this.policy.name}`)?.obj;
    const action = this.policy.decide(nsObj, existing);
    if (!action) return undefined;
    const coll = `/api/v1/namespaces/${encodeURIComponent(ns)}/${this.policy.collection}`;
    const sig = this.d.signal ? { signal: this.d.signal } : {};
    try {
      if (action.verb === 'create') await this.d.client.request('POST', coll, { body: action.body, attempts: 1, ...sig });
      else await this.d.client.request('PUT', `${coll}/${encodeURIComponent(this.policy.name)}`, { body: action.body, attempts: 1, ...sig });
      this.d.log.info({ namespace: ns, [this.policy.collection]: this.policy.name, verb: action.verb }, `${this.policy.collection === 'serviceaccounts' ? 'service account' : 'config map'} ${action.verb}d`);
    } catch (e) {
      // Made meanwhile (the cache will say so), or the namespace is going or gone: nothing to do.
      if (isStatus(e, 409) && action.verb === 'create') return undefined;
      if (isStatus(e, 403, 404) && !this.d.namespaces.items.has(`${NS_PREFIX}${ns}`)) return undefined;
      if (isStatus(e, 403) && String((e as ApiStatusError).statusMessage).includes('being terminated')) return undefined;
      throw e;
    }
    return undefined;
  }
}
