// The serviceaccount controller and the root-ca-cert-publisher: their decisions (pure), and one sync each
// against a recording fake API client and hand-filled caches.
import { describe, expect, it } from 'vitest';
import { type ApiClient, ApiStatusError, type Corrupt, type Stored } from '../cluster/index.js';
import { PrefixCache, silentLogger } from '../common/index.js';
import { defaultAccountToCreate, PerNamespaceController, ROOT_CA_DESCRIPTION, rootCaAction, rootCaPolicy, serviceAccountPolicy, WorkQueue } from '../controllers/index.js';

type Obj = Record<string, unknown>;
const noSource = { list: () => Promise.reject(new Error('unused')), watch: () => ({ [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('unused')) }) }) };
const cache = (prefix: string) => new PrefixCache<Stored<Obj>, Corrupt>(noSource, { prefix, log: silentLogger }, () => {});
const ns = (name: string, terminating = false): Obj => ({ metadata: { name, ...(terminating && { deletionTimestamp: '2024-01-01T00:00:00Z' }) }, status: { phase: terminating ? 'Terminating' : 'Active' } });

describe('decisions', () => {
  it('a default account in every active namespace that lacks one', () => {
    expect(defaultAccountToCreate(ns('a'), undefined)).toEqual({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } });
    expect(defaultAccountToCreate(ns('a'), { metadata: { name: 'default' } })).toBeUndefined();
    expect(defaultAccountToCreate(ns('a', true), undefined)).toBeUndefined();
    expect(defaultAccountToCreate(undefined, undefined)).toBeUndefined();
  });
  it('kube-root-ca.crt created, put back when its data differs, left alone when right', () => {
    expect(rootCaAction(ns('a'), undefined, 'CA')).toEqual({ verb: 'create', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kube-root-ca.crt', annotations: { 'kubernetes.io/description': ROOT_CA_DESCRIPTION } }, data: { 'ca.crt': 'CA' } } });
    const right = { metadata: { name: 'kube-root-ca.crt', resourceVersion: '5', annotations: { 'kubernetes.io/description': ROOT_CA_DESCRIPTION } }, data: { 'ca.crt': 'CA' } };
    expect(rootCaAction(ns('a'), right, 'CA')).toBeUndefined();
    expect(rootCaAction(ns('a'), { ...right, data: { 'ca.crt': 'OLD', extra: 'x' } }, 'CA')).toEqual({ verb: 'update', body: { ...right, data: { 'ca.crt': 'CA' } } });
    expect(rootCaAction(ns('a', true), undefined, 'CA')).toBeUndefined();
  });
});

function setup(policy: ReturnType<typeof serviceAccountPolicy>, fail?: ApiStatusError) {
  const calls: { method: string; path: string; body?: unknown }[] = [];
  const client = {
    request: (method: string, path: string, o: { body?: unknown } = {}) => {
      calls.push({ method, path, ...(o.body !== undefined && { body: o.body }) });
      return fail ? Promise.reject(fail) : Promise.resolve({});
    },
  } as unknown as ApiClient;
  const namespaces = cache('/registry/namespaces/');
  const objects = cache(policy.prefix);
  const queue = new WorkQueue();
  const c = new PerNamespaceController(policy, { client, namespaces, objects, queue, log: silentLogger });
  const addNs = (name: string, terminating = false) => namespaces.items.set(`/registry/namespaces/${name}`, { key: `/registry/namespaces/${name}`, modRevision: '1', obj: ns(name, terminating) });
  return { calls, c, queue, addNs, objects };
}

describe('PerNamespaceController', () => {
  it('creates the default account of a namespace, and queues the namespace again when its account changes', async () => {
    const { calls, c, queue, addNs, objects } = setup(serviceAccountPolicy());
    addNs('shop');
    c.namespacesChanged(new Set(['/registry/namespaces/shop']));
    expect(queue.length).toBe(1);
    await c.sync('shop');
    expect(calls).toEqual([{ method: 'POST', path: '/api/v1/namespaces/shop/serviceaccounts', body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } } }]);
    objects.items.set('/registry/serviceaccounts/shop/default', { key: '/registry/serviceaccounts/shop/default', modRevision: '2', obj: { metadata: { name: 'default' } } });
    calls.length = 0;
    await c.sync('shop');
    expect(calls).toEqual([]);
    c.objectsChanged(new Set(['/registry/serviceaccounts/shop/other', '/registry/serviceaccounts/web/default']));
    expect(queue.length).toBe(2);
  });

  it('updates a changed kube-root-ca.crt in place; a namespace being deleted or an account made meanwhile is not an error', async () => {
    const { calls, c, addNs, objects } = setup(rootCaPolicy('CA'));
    addNs('shop');
    objects.items.set('/registry/configmaps/shop/kube-root-ca.crt', { key: '/registry/configmaps/shop/kube-root-ca.crt', modRevision: '3', obj: { metadata: { name: 'kube-root-ca.crt', resourceVersion: '3' }, data: { 'ca.crt': 'OLD' } } });
    await c.sync('shop');
    expect(calls).toMatchObject([{ method: 'PUT', path: '/api/v1/namespaces/shop/configmaps/kube-root-ca.crt', body: { metadata: { resourceVersion: '3' }, data: { 'ca.crt': 'CA' } } }]);
    const exists = setup(serviceAccountPolicy(), new ApiStatusError('POST', '/x', 409, 'AlreadyExists', 'serviceaccounts "default" already exists'));
    exists.addNs('shop');
    await expect(exists.c.sync('shop')).resolves.toBeUndefined();
    const terminating = setup(serviceAccountPolicy(), new ApiStatusError('POST', '/x', 403, 'Forbidden', 'unable to create new content in namespace shop because it is being terminated'));
    terminating.addNs('shop');
    await expect(terminating.c.sync('shop')).resolves.toBeUndefined();
    const other = setup(serviceAccountPolicy(), new ApiStatusError('POST', '/x', 500, 'InternalError', 'etcd down'));
    other.addNs('shop');
    await expect(other.c.sync('shop')).rejects.toThrow(/etcd down/);
  });
});
