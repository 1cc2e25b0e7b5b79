import { describe, expect, it } from 'vitest';
import { AdmissionChain, AdmissionConfigError, type AdmissionPlugin, EmptyListCache, enabledPlugins, namespaceLifecycle } from '../apiserver/admission/index.js';
import { forbidden } from '../apiserver/index.js';

describe('admission plugins from the flags', () => {
  it('runs the default set without flags, NodeRestriction only when enabled', () => {
    expect(enabledPlugins(undefined, undefined).names).toEqual(['NamespaceLifecycle', 'LimitRanger', 'ServiceAccount', 'DefaultTolerationSeconds', 'ResourceQuota']);
    expect(enabledPlugins('NodeRestriction', undefined).names).toContain('NodeRestriction');
  });

  it('keeps kube-apiserver order whatever order the flag gives', () => {
    expect(enabledPlugins('ResourceQuota,NodeRestriction,NamespaceLifecycle', 'LimitRanger,DefaultTolerationSeconds').names).toEqual(['NamespaceLifecycle', 'ServiceAccount', 'NodeRestriction', 'ResourceQuota']);
  });

  it("accepts kube-apiserver's other plugins with a warning, refuses unknown names and contradictions", () => {
    expect(enabledPlugins('NodeRestriction,PodSecurity, Priority', '').ignored).toEqual(['PodSecurity', 'Priority']);
    expect(() => enabledPlugins('NodeRestrictions', undefined)).toThrow(AdmissionConfigError);
    expect(() => enabledPlugins('NodeRestrictions', undefined)).toThrow(/"NodeRestrictions" is unknown/);
    expect(() => enabledPlugins('ServiceAccount', 'ServiceAccount')).toThrow(/both name ServiceAccount/);
  });
});

describe('the chain', () => {
  const base = { resource: { group: '', version: 'v1', resource: 'pods', kind: 'Pod', namespaced: true }, subresource: '', namespace: 'team', name: 'p', user: { name: 'u', groups: [] }, dryRun: false } as const;

  it('runs every mutating plugin in order, then every validating one, for its operations only', async () => {
    const seen: string[] = [];
    const plugin = (name: string, ops: AdmissionPlugin['operations']): AdmissionPlugin => ({
      name,
      operations: ops,
      admit: (a) => {
        seen.push(`admit ${name} ${a.operation}`);
        (a.object!.metadata as Record<string, unknown>)[name] = true;
      },
      validate: (a) => void seen.push(`validate ${name} ${String((a.object?.metadata as Record<string, unknown> | undefined)?.[name])}`),
    });
    const chain = new AdmissionChain([plugin('A', ['CREATE']), plugin('B', ['CREATE', 'UPDATE']), plugin('C', ['DELETE'])]);
    const obj = { metadata: {} };
    const hooks = chain.for({ ...base, operation: 'CREATE' });
    await hooks.mutate(obj, undefined);
    await hooks.validate(obj, undefined);
    expect(seen).toEqual(['admit A CREATE', 'admit B CREATE', 'validate A true', 'validate B true']);
  });

  it('NamespaceLifecycle checks creates of namespaced objects only', async () => {
    const asked: string[] = [];
    const chain = new AdmissionChain([
      namespaceLifecycle((res, ns, name) => {
        asked.push(`${res.resource} ${ns}/${name}`);
        return Promise.reject(forbidden(res.group, res.resource, name, `unable to create new content in namespace ${ns} because it is being terminated`));
      }),
    ]);
    await expect(chain.for({ ...base, operation: 'CREATE' }).mutate({ metadata: {} }, undefined)).rejects.toThrow(/being terminated/);
    await chain.for({ ...base, operation: 'UPDATE' }).mutate({ metadata: {} }, {});
    await chain.for({ ...base, operation: 'CREATE', subresource: 'binding' }).mutate({ metadata: {} }, undefined);
    await chain.for({ ...base, operation: 'CREATE', namespace: '', resource: { ...base.resource, resource: 'nodes', kind: 'Node', namespaced: false } }).mutate({ metadata: {} }, undefined);
    expect(asked).toEqual(['pods team/p']);
  });
});

describe("the admission plugins' empty-namespace cache", () => {
  it('remembers a namespace with none for its TTL or until one is written there; reads live whenever there are some', async () => {
    let now = 0;
    const stored = new Map<string, Record<string, unknown>[]>();
    let reads = 0;
    const cache = new EmptyListCache(
      (ns) => {
        reads++;
        return Promise.resolve(stored.get(ns) ?? []);
      },
      1_000,
      () => now,
    );
    expect(await cache.get('a')).toEqual([]);
    expect(await cache.get('a')).toEqual([]);
    expect(reads).toBe(1);
    stored.set('a', [{ metadata: { name: 'q' } }]);
    cache.invalidate('a');
    expect(await cache.get('a')).toHaveLength(1);
    expect(await cache.get('a')).toHaveLength(1);
    expect(reads).toBe(3);
    stored.set('b', [{ metadata: { name: 'other-apiserver' } }]);
    expect(await cache.get('b')).toHaveLength(1);
    stored.delete('b');
    expect(await cache.get('b')).toEqual([]);
    stored.set('b', [{ metadata: { name: 'written-elsewhere' } }]);
    expect(await cache.get('b')).toEqual([]);
    now = 1_001;
    expect(await cache.get('b')).toHaveLength(1);
  });
});
