// The admission plugins' logic: DefaultTolerationSeconds, LimitRanger, ResourceQuota (with a store that
// compare-and-swaps like etcd, to race two creates), and the exact quantities they compare and print.
import { describe, expect, it } from 'vitest';
import {
  addDefaultTolerations,
  AdmissionChain,
  applyLimitRangeDefaults,
  defaultTolerationSeconds,
  limitRanger,
  limitRangeViolations,
  type QuotaStore,
  recalculateQuotas,
  resourceQuota,
  usageOf,
} from '../apiserver/admission/index.js';
import { ApiError } from '../apiserver/index.js';
import { formatQuantity, limitRangeStrategy, parseExactQuantity, quotaColumns, resourceQuotaStrategy } from '../apiserver/kinds/index.js';

type Obj = Record<string, unknown>;
const pod = (name: string, containers: Obj[], extra: Obj = {}): Obj => ({ metadata: { name, namespace: 'team' }, spec: { containers, ...extra } });
const ctr = (name: string, resources?: Obj): Obj => ({ name, image: 'busybox', ...(resources && { resources }) });
const podAttrs = { resource: { group: '', version: 'v1', resource: 'pods', kind: 'Pod', namespaced: true }, subresource: '', namespace: 'team', user: { name: 'u', groups: [] }, dryRun: false } as const;

describe('quantities', () => {
  it('prints the canonical form Kubernetes prints', () => {
    const f = (s: string): string => formatQuantity(parseExactQuantity(s)!);
    expect(['1', '2000m', '1500m', '0.5', '1000', '128Mi', '1024Ki', '1536Mi', '512', '1Gi', '0', '1e3', '100m'].map(f)).toEqual(['1', '2', '1500m', '500m', '1k', '128Mi', '1Mi', '1536Mi', '512', '1Gi', '0', '1e3', '100m']);
    expect(parseExactQuantity('1.5x')).toBeUndefined();
    expect(parseExactQuantity(2)?.nano).toBe(2_000_000_000n);
  });
});

describe('DefaultTolerationSeconds', () => {
  it('adds the not-ready and unreachable NoExecute tolerations a pod lacks', () => {
    const p = pod('p', [ctr('c')], { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'x', effect: 'NoSchedule' }] });
    addDefaultTolerations(p, { notReadySeconds: 300, unreachableSeconds: 120 });
    expect((p.spec as Obj).tolerations).toEqual([
      { key: 'dedicated', operator: 'Equal', value: 'x', effect: 'NoSchedule' },
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 120 },
    ]);
  });

  it('keeps a pod that tolerates them already (by key, by an empty key, by an empty effect) as it is', () => {
    const own = pod('p', [ctr('c')], { tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 5 }] });
    addDefaultTolerations(own, { notReadySeconds: 300, unreachableSeconds: 300 });
    expect((own.spec as Obj).tolerations).toEqual([
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 5 },
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ]);
    const all = pod('p', [ctr('c')], { tolerations: [{ operator: 'Exists' }] });
    addDefaultTolerations(all, { notReadySeconds: 300, unreachableSeconds: 300 });
    expect((all.spec as Obj).tolerations).toEqual([{ operator: 'Exists' }]);
  });

  it('runs on pods only, not on their subresources', async () => {
    const chain = new AdmissionChain([defaultTolerationSeconds({ notReadySeconds: 300, unreachableSeconds: 300 })]);
    const svc: Obj = { metadata: { name: 's' }, spec: {} };
    await chain.for({ ...podAttrs, resource: { ...podAttrs.resource, resource: 'services', kind: 'Service' }, operation: 'CREATE', name: 's' }).mutate(svc, undefined);
    expect((svc.spec as Obj).tolerations).toBeUndefined();
    const binding: Obj = { spec: {} };
    await chain.for({ ...podAttrs, subresource: 'status', operation: 'UPDATE', name: 'p' }).mutate(binding, undefined);
    expect((binding.spec as Obj).tolerations).toBeUndefined();
    const p = pod('p', [ctr('c')]);
    await chain.for({ ...podAttrs, operation: 'CREATE', name: 'p' }).mutate(p, undefined);
    expect((p.spec as Obj).tolerations).toHaveLength(2);
  });
});

describe('LimitRanger', () => {
  const lr = (limits: Obj[]): Obj => {
    const o: Obj = { metadata: { name: 'limits', namespace: 'team' }, spec: { limits } };
    limitRangeStrategy.defaults(o);
    return o;
  };

  it('defaults the LimitRange itself as Kubernetes does: default from max, defaultRequest from default', () => {
    const o = lr([{ type: 'Container', max: { cpu: '1' }, min: { memory: '64Mi' } }]);
    expect((o.spec as Obj).limits).toEqual([{ type: 'Container', max: { cpu: '1' }, min: { memory: '64Mi' }, default: { cpu: '1' }, defaultRequest: { cpu: '1', memory: '64Mi' } }]);
    expect(limitRangeStrategy.validate(lr([{ type: 'Pod', default: { cpu: '1' } }]))).toContainEqual(expect.objectContaining({ field: 'spec.limits[0].default', type: 'FieldValueForbidden' }));
    expect(limitRangeStrategy.validate(lr([{ type: 'Container', min: { cpu: '2' }, max: { cpu: '1' } }])).map((e) => e.detail)).toContain('min value 2 is greater than max value 1');
    expect(limitRangeStrategy.validate(lr([{ type: 'Container', max: { cpu: 'lots' } }])).map((e) => e.field)).toContain('spec.limits[0].max[cpu]');
  });

  it('gives containers their default requests and limits, noted in the annotation', () => {
    const ranges = [lr([{ type: 'Container', default: { cpu: '500m', memory: '128Mi' }, defaultRequest: { cpu: '100m' } }])];
    const p = pod('web', [ctr('a'), ctr('b', { limits: { cpu: '1' }, requests: { cpu: '1' } })], { initContainers: [ctr('init')] });
    applyLimitRangeDefaults(p, ranges);
    const cs = (p.spec as Obj).containers as Obj[];
    expect(cs[0]!.resources).toEqual({ limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '100m', memory: '128Mi' } });
    expect(cs[1]!.resources).toEqual({ limits: { cpu: '1', memory: '128Mi' }, requests: { cpu: '1', memory: '128Mi' } });
    expect((p.metadata as { annotations: Obj }).annotations['kubernetes.io/limit-ranger']).toBe(
      'LimitRanger plugin set: cpu, memory request for container a; cpu, memory limit for container a; memory request for container b; memory limit for container b; cpu, memory request for init container init; cpu, memory limit for init container init',
    );
  });

  it("refuses what is outside min, max and maxLimitRequestRatio with Kubernetes' messages", () => {
    const ranges = [lr([{ type: 'Container', max: { cpu: '1' }, min: { memory: '64Mi' }, maxLimitRequestRatio: { cpu: '2' } }])];
    expect(limitRangeViolations(pod('x', [ctr('c', { limits: { cpu: '2', memory: '64Mi' }, requests: { cpu: '1500m', memory: '64Mi' } })]), ranges)).toEqual(['maximum cpu usage per Container is 1, but limit is 2']);
    expect(limitRangeViolations(pod('x', [ctr('c', { limits: { cpu: '1' }, requests: { cpu: '250m', memory: '32Mi' } })]), ranges)).toEqual([
      'minimum memory usage per Container is 64Mi, but request is 32Mi',
      'cpu max limit to request ratio per Container is 2, but provided ratio is 4.000000',
    ]);
    expect(limitRangeViolations(pod('x', [ctr('c', { requests: { memory: '64Mi' } })]), ranges)).toEqual([
      'maximum cpu usage per Container is 1.  No limit is specified',
      'cpu max limit to request ratio per Container is 2, but no request is specified or request is 0',
    ]);
    const podRange = [lr([{ type: 'Pod', max: { memory: '1Gi' } }])];
    const two = pod('x', [ctr('a', { limits: { memory: '768Mi' } }), ctr('b', { limits: { memory: '512Mi' } })]);
    expect(limitRangeViolations(two, podRange)).toEqual(['maximum memory usage per Pod is 1Gi, but limit is 1280Mi']);
  });

  it('as a plugin: defaults before validation, refuses with the 403 naming the pod', async () => {
    const ranges = [lr([{ type: 'Container', max: { cpu: '1' } }])];
    const chain = new AdmissionChain([limitRanger(() => Promise.resolve(structuredClone(ranges)))]);
    const ok = pod('ok', [ctr('c')]);
    const hooks = chain.for({ ...podAttrs, operation: 'CREATE', name: 'ok' });
    await hooks.mutate(ok, undefined);
    await hooks.validate(ok, undefined);
    expect(((ok.spec as Obj).containers as Obj[])[0]!.resources).toEqual({ limits: { cpu: '1' }, requests: { cpu: '1' } });
    const big = pod('big', [ctr('c', { limits: { cpu: '2' } })]);
    const h2 = chain.for({ ...podAttrs, operation: 'CREATE', name: 'big' });
    await h2.mutate(big, undefined);
    const err = await h2.validate(big, undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).toStatus()).toMatchObject({ code: 403, reason: 'Forbidden', message: 'pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2' });
  });
});

/** A QuotaStore over memory whose status writes compare-and-swap on resourceVersion, as etcd's do. */
class MemoryQuotaStore implements QuotaStore {
  readonly quotasByName = new Map<string, Obj>();
  readonly pods: Obj[] = [];
  private rv = 1;
  writes = 0;
  /** Resolves the list calls only when this many are waiting (to make two admissions read the same state). */
  barrier?: { count: number; waiting: (() => void)[] };

  addQuota(name: string, hard: Obj, scopes?: string[]): void {
    this.quotasByName.set(name, { metadata: { name, namespace: 'team', resourceVersion: String(this.rv++) }, spec: { hard, ...(scopes && { scopes }) }, status: {} });
  }
  async quotas(): Promise<Obj[]> {
    if (this.barrier) {
      const b = this.barrier;
      await new Promise<void>((resolve) => {
        b.waiting.push(resolve);
        if (b.waiting.length >= b.count) {
          this.barrier = undefined;
          for (const w of b.waiting) w();
        }
      });
    }
    return [...this.quotasByName.values()].map((q) => structuredClone(q));
  }
  objects(_g: string, resource: string): Promise<Obj[]> {
    return Promise.resolve(resource === 'pods' ? structuredClone(this.pods) : []);
  }
  writeStatus(quota: Obj, status: Obj): Promise<boolean> {
    const name = (quota.metadata as { name: string }).name;
    const cur = this.quotasByName.get(name)!;
    if ((cur.metadata as Obj).resourceVersion !== (quota.metadata as Obj).resourceVersion) return Promise.resolve(false);
    this.writes++;
    this.quotasByName.set(name, { ...cur, metadata: { ...(cur.metadata as Obj), resourceVersion: String(this.rv++) }, status });
    return Promise.resolve(true);
  }
  used(name: string): Obj {
    return (this.quotasByName.get(name)!.status as { used: Obj }).used;
  }
}

describe('ResourceQuota', () => {
  const admit = async (store: QuotaStore, p: Obj): Promise<void> => {
    const chain = new AdmissionChain([resourceQuota(store)]);
    await chain.for({ ...podAttrs, operation: 'CREATE', name: (p.metadata as { name: string }).name }).validate(p, undefined);
  };
  const refusal = (p: Promise<void>): Promise<string> => p.then(() => 'admitted', (e: unknown) => (e instanceof ApiError ? e.message : String(e)));

  it("counts pods and their compute, refusing what exceeds hard with Kubernetes' message", async () => {
    const store = new MemoryQuotaStore();
    store.addQuota('compute', { pods: '2', 'requests.cpu': '1', 'limits.memory': '1Gi' });
    const p1 = pod('p1', [ctr('c', { requests: { cpu: '500m' }, limits: { memory: '512Mi' } })]);
    await admit(store, p1);
    expect(store.used('compute')).toEqual({ pods: '1', 'requests.cpu': '500m', 'limits.memory': '512Mi' });
    store.pods.push(p1);
    const p2 = pod('p2', [ctr('c', { requests: { cpu: '600m' }, limits: { memory: '256Mi' } })]);
    expect(await refusal(admit(store, p2))).toBe('pods "p2" is forbidden: exceeded quota: compute, requested: requests.cpu=600m, used: requests.cpu=500m, limited: requests.cpu=1');
    const noCpu = pod('p3', [ctr('c', { limits: { memory: '1Mi' } })]);
    expect(await refusal(admit(store, noCpu))).toBe('pods "p3" is forbidden: failed quota: compute: must specify requests.cpu for: c');
  });

  it('counts objects by count/<resource>.<group> and skips pods outside its scopes', async () => {
    expect([...usageOf('apps', 'deployments', {}, 0).keys()]).toEqual(['count/deployments.apps']);
    expect([...usageOf('', 'secrets', {}, 0).keys()].sort()).toEqual(['count/secrets', 'secrets']);
    expect([...usageOf('', 'pods', { status: { phase: 'Succeeded' } }, 0).keys()]).toEqual(['count/pods']);
    const store = new MemoryQuotaStore();
    store.addQuota('best-effort', { pods: '0' }, ['BestEffort']);
    await admit(store, pod('burstable', [ctr('c', { requests: { cpu: '1' } })]));
    expect(await refusal(admit(store, pod('be', [ctr('c')])))).toBe('pods "be" is forbidden: exceeded quota: best-effort, requested: pods=1, used: pods=0, limited: pods=0');
  });

  it('lets exactly one of two creates racing for the last pod through (status.used compare-and-swapped)', async () => {
    const store = new MemoryQuotaStore();
    store.addQuota('pods', { pods: '2' });
    store.pods.push(pod('old', [ctr('c')]));
    await recalculateQuotas(store, 'team');
    expect(store.used('pods')).toEqual({ pods: '1' });
    // Both admissions read the quota before either writes.
    store.barrier = { count: 2, waiting: [] };
    const results = await Promise.all([refusal(admit(store, pod('a', [ctr('c')]))), refusal(admit(store, pod('b', [ctr('c')])))]);
    expect(results.filter((r) => r === 'admitted')).toHaveLength(1);
    expect(results.find((r) => r !== 'admitted')).toMatch(/^pods "[ab]" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2$/);
    expect(store.used('pods')).toEqual({ pods: '2' });
  });

  it('recalculates used from the live objects (after deletes), writing only what changed', async () => {
    const store = new MemoryQuotaStore();
    store.addQuota('pods', { pods: '5', 'requests.memory': '1Gi' });
    store.pods.push(pod('a', [ctr('c', { requests: { memory: '128Mi' } })]), pod('b', [ctr('c', { requests: { memory: '64Mi' } })]), { ...pod('done', [ctr('c')]), status: { phase: 'Failed' } });
    expect(await recalculateQuotas(store, 'team')).toBe(1);
    expect(store.quotasByName.get('pods')!.status).toEqual({ hard: { pods: '5', 'requests.memory': '1Gi' }, used: { pods: '2', 'requests.memory': '192Mi' } });
    expect(await recalculateQuotas(store, 'team')).toBe(0);
    store.pods.pop();
    store.pods.pop();
    expect(await recalculateQuotas(store, 'team')).toBe(1);
    expect(store.used('pods')).toEqual({ pods: '1', 'requests.memory': '128Mi' });
    expect(quotaColumns(store.quotasByName.get('pods')!)).toEqual({ request: 'pods: 1/5, requests.memory: 128Mi/1Gi', limit: '' });
  });

  it('validates a quota: quantities and scopes', () => {
    const errs = resourceQuotaStrategy.validate({ metadata: { name: 'q', namespace: 'team' }, spec: { hard: { pods: 'many', cpu: '-1' }, scopes: ['Sometimes'] } });
    expect(errs.map((e) => `${e.field}: ${e.type}`)).toEqual(['spec.hard[pods]: FieldValueTypeInvalid', 'spec.hard[cpu]: FieldValueInvalid', 'spec.scopes[0]: FieldValueNotSupported']);
  });
});
