import { describe, expect, it } from 'vitest';
import {
  type Json,
  type JsonMap,
  PatchError,
  applyJsonPatch,
  applyMergePatch,
  applyPatch,
  applyStrategicMergePatch,
  decodeJsonPatch,
  mergeKeysFor,
  patchTypeOf,
} from '../apiserver/patch/index.js';

const errorOf = (f: () => unknown): PatchError => {
  try {
    f();
  } catch (e) {
    if (e instanceof PatchError) return e;
    throw e;
  }
  throw new Error('expected a PatchError');
};

describe('JSON merge patch (RFC 7386)', () => {
  it.each<[Json, Json, Json]>([
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ])('%j + %j → %j', (target, patch, want) => {
    const before = structuredClone(target);
    expect(applyMergePatch(target, patch)).toEqual(want);
    expect(target).toEqual(before);
  });

  it('refuses a patch that is not an object for an object, with a 400', () => {
    const e = errorOf(() => applyPatch('merge', { a: 1 }, [1], 'v1', 'Pod'));
    expect(e.status).toBe(400);
  });
});

describe('JSON patch (RFC 6902)', () => {
  const apply = (doc: Json, ops: unknown): Json => applyJsonPatch(doc, decodeJsonPatch(ops));

  it('adds object members and array elements, "-" appending', () => {
    expect(apply({ foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux' }])).toEqual({ foo: 'bar', baz: 'qux' });
    expect(apply({ foo: ['bar', 'baz'] }, [{ op: 'add', path: '/foo/1', value: 'qux' }])).toEqual({ foo: ['bar', 'qux', 'baz'] });
    expect(apply({ foo: ['bar'] }, [{ op: 'add', path: '/foo/-', value: ['abc'] }])).toEqual({ foo: ['bar', ['abc']] });
    expect(apply({ foo: 1 }, [{ op: 'add', path: '', value: { x: 2 } }])).toEqual({ x: 2 });
  });

  it('removes, replaces, moves, copies', () => {
    expect(apply({ baz: 'qux', foo: 'bar' }, [{ op: 'remove', path: '/baz' }])).toEqual({ foo: 'bar' });
    expect(apply({ foo: ['bar', 'qux', 'baz'] }, [{ op: 'remove', path: '/foo/1' }])).toEqual({ foo: ['bar', 'baz'] });
    expect(apply({ baz: 'qux', foo: 'bar' }, [{ op: 'replace', path: '/baz', value: 'boo' }])).toEqual({ baz: 'boo', foo: 'bar' });
    expect(apply({ foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } }, [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }])).toEqual({
      foo: { bar: 'baz' },
      qux: { corge: 'grault', thud: 'fred' },
    });
    expect(apply({ foo: ['all', 'grass', 'cows', 'eat'] }, [{ op: 'move', from: '/foo/1', path: '/foo/3' }])).toEqual({ foo: ['all', 'cows', 'eat', 'grass'] });
    const copied = apply({ a: { b: [1] } }, [{ op: 'copy', from: '/a', path: '/c' }]) as JsonMap;
    expect(copied).toEqual({ a: { b: [1] }, c: { b: [1] } });
  });

  it('unescapes ~1 and ~0 in pointers (label keys with a slash)', () => {
    const doc = { metadata: { labels: { 'app.kubernetes.io/name': 'x', 'a~b': 'y' } } };
    expect(
      apply(doc, [
        { op: 'replace', path: '/metadata/labels/app.kubernetes.io~1name', value: 'z' },
        { op: 'remove', path: '/metadata/labels/a~0b' },
      ]),
    ).toEqual({ metadata: { labels: { 'app.kubernetes.io/name': 'z' } } });
  });

  it('tests values, deep and by type, and fails the whole patch on a failed test with a 422', () => {
    const doc = { baz: 'qux', foo: ['a', 2, 'c'], n: 1 };
    expect(apply(doc, [{ op: 'test', path: '/foo', value: ['a', 2, 'c'] }, { op: 'test', path: '/baz', value: 'qux' }])).toEqual(doc);
    const e = errorOf(() => apply(doc, [{ op: 'replace', path: '/baz', value: 'x' }, { op: 'test', path: '/n', value: '1' }]));
    expect(e.status).toBe(422);
    expect(e.message).toBe('testing value /n failed: test failed');
    expect(doc.baz).toBe('qux');
  });

  it.each<[Json, unknown, string]>([
    [{ foo: 'bar' }, [{ op: 'add', path: '/baz/bat', value: 'qux' }], 'doc is missing path: "/baz/bat"'],
    [{ foo: 'bar' }, [{ op: 'replace', path: '/baz', value: 1 }], 'replace operation does not apply: doc is missing key: /baz: missing value'],
    [{ foo: 'bar' }, [{ op: 'remove', path: '/baz' }], 'Unable to remove nonexistent key: baz: missing value'],
    [{ foo: [1] }, [{ op: 'add', path: '/foo/5', value: 1 }], 'Unable to access invalid index: 5: /foo/5'],
    [{ foo: [1] }, [{ op: 'remove', path: '/foo/1' }], 'Unable to access invalid index: 1: /foo/1'],
  ])('refuses %j with %j', (doc, ops, message) => {
    const e = errorOf(() => apply(doc, ops));
    expect(e.status).toBe(422);
    expect(e.message).toBe(message);
  });

  it('refuses malformed patches with a 400 and too long ones with a 413', () => {
    expect(errorOf(() => decodeJsonPatch({ op: 'add' })).status).toBe(400);
    expect(errorOf(() => decodeJsonPatch([{ op: 'frob', path: '/a' }])).message).toBe('Unexpected kind: frob');
    expect(errorOf(() => decodeJsonPatch([{ op: 'add', path: '/a' }])).message).toBe('operation missing value: add');
    expect(errorOf(() => decodeJsonPatch([{ op: 'move', path: '/a' }])).message).toBe('operation missing from: move');
    expect(errorOf(() => decodeJsonPatch([{ op: 'remove' }])).message).toBe('operation missing path: remove');
    const long = Array.from({ length: 10_001 }, () => ({ op: 'test', path: '', value: 1 }));
    expect(errorOf(() => decodeJsonPatch(long)).status).toBe(413);
  });
});

const podMerge = mergeKeysFor('v1', 'Pod');
const deployMerge = mergeKeysFor('apps/v1', 'Deployment');
const smp = (orig: Json, patch: unknown, table = podMerge): JsonMap => applyStrategicMergePatch(orig, patch, table);

describe('strategic merge patch', () => {
  const deployment = (): JsonMap => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'patch-demo', labels: { app: 'nginx' }, finalizers: ['a'] },
    spec: {
      replicas: 2,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: { app: 'nginx' } },
        spec: {
          containers: [{ name: 'patch-demo-ctr', image: 'nginx', ports: [{ containerPort: 80, protocol: 'TCP' }], env: [{ name: 'A', value: '1' }] }],
          tolerations: [{ effect: 'NoSchedule', key: 'dedicated', value: 'test-team' }],
        },
      },
    },
  });
  const podSpecOf = (d: JsonMap): JsonMap => ((d['spec'] as JsonMap)['template'] as JsonMap)['spec'] as JsonMap;

  it('adds a container by name, placing the new one first as the real server does', () => {
    const out = smp(deployment(), { spec: { template: { spec: { containers: [{ name: 'patch-demo-ctr-2', image: 'redis' }] } } } }, deployMerge);
    expect((podSpecOf(out)['containers'] as JsonMap[]).map((c) => c['name'])).toEqual(['patch-demo-ctr-2', 'patch-demo-ctr']);
    expect((podSpecOf(out)['containers'] as JsonMap[])[1]!['image']).toBe('nginx');
  });

  it('replaces a list without a merge key (tolerations)', () => {
    const out = smp(deployment(), { spec: { template: { spec: { tolerations: [{ effect: 'NoSchedule', key: 'disktype', value: 'ssd' }] } } } }, deployMerge);
    expect(podSpecOf(out)['tolerations']).toEqual([{ effect: 'NoSchedule', key: 'disktype', value: 'ssd' }]);
  });

  it('merges into the container of the same name (kubectl set image), keeping its other fields', () => {
    const orig = deployment();
    const before = structuredClone(orig);
    const out = smp(orig, { spec: { template: { spec: { containers: [{ name: 'patch-demo-ctr', image: 'nginx:1.25' }] } } } }, deployMerge);
    expect(podSpecOf(out)['containers']).toEqual([
      { name: 'patch-demo-ctr', image: 'nginx:1.25', ports: [{ containerPort: 80, protocol: 'TCP' }], env: [{ name: 'A', value: '1' }] },
    ]);
    expect(orig).toEqual(before);
  });

  it('merges container ports by containerPort and env by name', () => {
    const out = smp(deployment(), {
      spec: {
        template: {
          spec: {
            containers: [{ name: 'patch-demo-ctr', ports: [{ containerPort: 80, name: 'http' }, { containerPort: 443 }], env: [{ name: 'A', value: '2' }, { name: 'B', value: 'x' }] }],
          },
        },
      },
    }, deployMerge);
    const c = (podSpecOf(out)['containers'] as JsonMap[])[0]!;
    expect(c['ports']).toEqual([{ containerPort: 80, protocol: 'TCP', name: 'http' }, { containerPort: 443 }]);
    expect(c['env']).toEqual([{ name: 'A', value: '2' }, { name: 'B', value: 'x' }]);
  });

  it('merges service ports by port and conditions by type', () => {
    const svc = { spec: { ports: [{ port: 80, targetPort: 8080 }, { port: 443, targetPort: 8443 }] } };
    expect(smp(svc, { spec: { ports: [{ port: 443, name: 'https' }] } }, mergeKeysFor('v1', 'Service'))['spec']).toEqual({
      ports: [{ port: 80, targetPort: 8080 }, { port: 443, targetPort: 8443, name: 'https' }],
    });
    const node = { status: { conditions: [{ type: 'Ready', status: 'False' }, { type: 'MemoryPressure', status: 'False' }] } };
    expect(smp(node, { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }] } }, mergeKeysFor('v1', 'Node'))['status']).toEqual({
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }, { type: 'MemoryPressure', status: 'False' }],
    });
  });

  it('deletes keys with null (kubectl label a-) and merges labels and annotations', () => {
    const out = smp({ metadata: { labels: { a: '1', b: '2' }, annotations: { x: 'y' } } }, { metadata: { labels: { a: null, c: '3' }, annotations: { z: 'w' } } });
    expect(out).toEqual({ metadata: { labels: { b: '2', c: '3' }, annotations: { x: 'y', z: 'w' } } });
  });

  it('merges finalizers as a set and removes with $deleteFromPrimitiveList', () => {
    expect(smp({ metadata: { finalizers: ['a', 'b'] } }, { metadata: { finalizers: ['c', 'a'] } })).toEqual({ metadata: { finalizers: ['c', 'a', 'b'] } });
    expect(smp({ metadata: { finalizers: ['a', 'b', 'c'] } }, { metadata: { '$deleteFromPrimitiveList/finalizers': ['b'] } })).toEqual({
      metadata: { finalizers: ['a', 'c'] },
    });
    expect(smp({ metadata: {} }, { metadata: { '$deleteFromPrimitiveList/finalizers': ['b'] } })).toEqual({ metadata: {} });
  });

  it('$patch: delete removes a list element by merge key, and empties a map', () => {
    const out = smp(deployment(), { spec: { template: { spec: { containers: [{ name: 'patch-demo-ctr', $patch: 'delete' }] } } } }, deployMerge);
    expect(podSpecOf(out)['containers']).toEqual([]);
    expect(smp({ metadata: { labels: { a: '1' } } }, { metadata: { labels: { $patch: 'delete' } } })).toEqual({ metadata: { labels: {} } });
  });

  it('$patch: replace replaces a list or a map', () => {
    const out = smp(deployment(), { spec: { template: { spec: { containers: [{ name: 'only', image: 'busybox' }, { $patch: 'replace' }] } } } }, deployMerge);
    expect(podSpecOf(out)['containers']).toEqual([{ name: 'only', image: 'busybox' }]);
    expect(smp({ metadata: { labels: { a: '1', b: '2' } } }, { metadata: { labels: { $patch: 'replace', c: '3' } } })).toEqual({ metadata: { labels: { c: '3' } } });
  });

  it('$setElementOrder orders the merged list (what kubectl apply sends)', () => {
    const pod = { spec: { containers: [{ name: 'a', image: 'x' }, { name: 'b', image: 'y' }] } };
    const out = smp(pod, { spec: { '$setElementOrder/containers': [{ name: 'b' }, { name: 'c' }, { name: 'a' }], containers: [{ name: 'c', image: 'z' }] } });
    expect((out['spec'] as JsonMap)['containers']).toEqual([{ name: 'b', image: 'y' }, { name: 'c', image: 'z' }, { name: 'a', image: 'x' }]);
    const e = errorOf(() => smp(pod, { spec: { '$setElementOrder/containers': [{ name: 'a' }], containers: [{ name: 'c', image: 'z' }] } }));
    expect(e.status).toBe(400);
  });

  it('$retainKeys drops the original keys it does not list (deployment strategy to Recreate)', () => {
    const out = smp(deployment(), { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } }, deployMerge);
    expect((out['spec'] as JsonMap)['strategy']).toEqual({ type: 'Recreate' });
    const e = errorOf(() => smp(deployment(), { spec: { strategy: { $retainKeys: ['type'], rollingUpdate: { maxSurge: 2 } } } }, deployMerge));
    expect(e.message).toBe('invalid patch format of retainKeys');
  });

  it('applies kubectl apply’s patch, and a second apply (an empty patch) changes nothing', () => {
    const live = deployment();
    const applyPatch1 = {
      metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } },
      spec: {
        replicas: 3,
        template: {
          spec: {
            '$setElementOrder/containers': [{ name: 'patch-demo-ctr' }],
            containers: [{ name: 'patch-demo-ctr', image: 'nginx:1.25', '$setElementOrder/env': [{ name: 'A' }], env: [{ name: 'A', value: '3' }] }],
          },
        },
      },
    };
    const once = smp(live, applyPatch1, deployMerge);
    expect((once['spec'] as JsonMap)['replicas']).toBe(3);
    expect((podSpecOf(once)['containers'] as JsonMap[])[0]).toEqual({
      name: 'patch-demo-ctr',
      image: 'nginx:1.25',
      ports: [{ containerPort: 80, protocol: 'TCP' }],
      env: [{ name: 'A', value: '3' }],
    });
    expect(smp(once, {}, deployMerge)).toEqual(once);
  });

  it('switches a volume source with $retainKeys inside a merged list element (what apply sends)', () => {
    const pod: JsonMap = { spec: { volumes: [{ name: 'data', emptyDir: {} }, { name: 'cfg', configMap: { name: 'c' } }] } };
    const out = smp(pod, { spec: { volumes: [{ $retainKeys: ['hostPath', 'name'], name: 'data', hostPath: { path: '/srv' } }] } });
    expect((out['spec'] as JsonMap)['volumes']).toEqual([{ name: 'data', hostPath: { path: '/srv' } }, { name: 'cfg', configMap: { name: 'c' } }]);
  });

  it('replaces the whole object with a top-level $patch: replace', () => {
    expect(smp({ a: 1, b: { c: 2 } }, { $patch: 'replace', b: { d: 3 } })).toEqual({ b: { d: 3 } });
  });

  it('orders a scalar list by $setElementOrder and removes with $deleteFromPrimitiveList in one patch', () => {
    const out = smp(
      { metadata: { finalizers: ['a', 'b', 'c'] } },
      { metadata: { '$setElementOrder/finalizers': ['c', 'd', 'a'], finalizers: ['d'], '$deleteFromPrimitiveList/finalizers': ['b'] } },
    );
    expect(out).toEqual({ metadata: { finalizers: ['c', 'd', 'a'] } });
  });

  it('takes new elements and maps whole, without their nulls and directives', () => {
    const out = smp({ spec: {} }, { spec: { containers: [{ name: 'a', image: 'x', command: null }], nodeSelector: { a: 'b', c: null } } });
    expect(out).toEqual({ spec: { containers: [{ name: 'a', image: 'x' }], nodeSelector: { a: 'b' } } });
  });

  it('replaces a value of another type, and merges a map it did not know', () => {
    expect(smp({ spec: { x: [1] } }, { spec: { x: { a: 1 } } })).toEqual({ spec: { x: { a: 1 } } });
    expect(smp({ spec: { unknown: { a: 1 } } }, { spec: { unknown: { b: 2 } } })).toEqual({ spec: { unknown: { a: 1, b: 2 } } });
  });

  it('refuses elements without the merge key (422) and unknown directives (400)', () => {
    const e1 = errorOf(() => smp({ spec: { containers: [{ name: 'a' }] } }, { spec: { containers: [{ image: 'x' }] } }));
    expect(e1.status).toBe(422);
    expect(e1.message).toBe('map: map[image:x] does not contain declared merge key: name');
    const e2 = errorOf(() => smp({ metadata: {} }, { metadata: { $patch: 'frob' } }));
    expect(e2.status).toBe(400);
    expect(e2.message).toBe('unknown patch type: frob in map: map[$patch:frob]');
    expect(errorOf(() => smp({}, [1])).message).toBe('invalid JSON document');
  });

  it('merges pod templates in every workload kind', () => {
    const rc = { spec: { template: { spec: { containers: [{ name: 'a', image: 'x' }] } } } };
    const p = { spec: { template: { spec: { containers: [{ name: 'a', image: 'y' }] } } } };
    for (const [v, k] of [['v1', 'ReplicationController'], ['apps/v1', 'ReplicaSet'], ['apps/v1', 'DaemonSet'], ['batch/v1', 'Job']] as const) {
      expect(applyPatch('strategic', rc, p, v, k)).toEqual(p);
    }
    const cj = { spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'a', image: 'x' }, { name: 'b', image: 'x' }] } } } } } };
    const out = applyPatch('strategic', cj, { spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'b', image: 'z' }] } } } } } }, 'batch/v1', 'CronJob');
    expect(out).toEqual({ spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'a', image: 'x' }, { name: 'b', image: 'z' }] } } } } } });
  });
});

describe('patch content types', () => {
  it('maps the three Content-Types and nothing else', () => {
    expect(patchTypeOf('application/merge-patch+json')).toBe('merge');
    expect(patchTypeOf('application/json-patch+json; charset=utf-8')).toBe('json');
    expect(patchTypeOf('application/strategic-merge-patch+json')).toBe('strategic');
    expect(patchTypeOf('application/apply-patch+yaml')).toBeUndefined();
    expect(patchTypeOf(undefined)).toBeUndefined();
  });
});
