// healthCheckNodePort on update, as the Service REST storage and strategy handle it: a service that comes
// to need one (type LoadBalancer with externalTrafficPolicy Local) gets the one it names, checked, or a
// free one; one that stops needing it has it wiped (when the client left it as it was) and released; one
// that keeps needing it keeps it (immutable). The etcd side is a listing of reservation keys here; the
// transaction itself is in test/integration/apiserver-hc-nodeport-kubectl.test.ts with the real kubectl.
import type { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { ApiError, parseServiceCidrs, ServiceAllocation } from '../apiserver/index.js';
import { serviceStrategy, type KubeObject } from '../apiserver/kinds/index.js';

const PORTS = '/registry/ranges/servicenodeports/';

/** The one etcd read the allocation makes: the reserved keys under a prefix. */
function reservedKeys(keys: string[]): Etcd3 {
  return { getAll: () => ({ prefix: (p: string) => ({ keys: async () => keys.filter((k) => k.startsWith(p)) }) }) } as unknown as Etcd3;
}
const alloc = (taken: number[] = []) => new ServiceAllocation(reservedKeys(taken.map((p) => `${PORTS}${p}`)), '/registry', parseServiceCidrs('10.96.0.0/16'), { min: 30000, max: 30009 }, () => 0);

function svc(spec: Record<string, unknown>): KubeObject {
  const o: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default', uid: 'u1' }, spec: { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], selector: { app: 'web' }, ports: [{ port: 80, nodePort: 30001 }], ...spec } };
  serviceStrategy.defaults(o);
  return o;
}
const lb = (extra: Record<string, unknown> = {}) => svc({ type: 'LoadBalancer', ...extra });
const spec = (o: KubeObject) => o.spec as Record<string, unknown>;

/** What the storage does to an update's object before it allocates: prepare, then validate. */
function update(cur: KubeObject, body: KubeObject): { next: KubeObject; errs: string[] } {
  const next = structuredClone(body);
  serviceStrategy.defaults(next);
  serviceStrategy.prepareForUpdate(next, cur);
  return { next, errs: serviceStrategy.validateUpdate(next, cur).map((e) => `${e.field}: ${e.type} ${e.detail}`) };
}

describe('the Service strategy on update', () => {
  it('wipes a healthCheckNodePort, node ports and the policy the new type has no use for, when left as they were', () => {
    const cur = lb({ externalTrafficPolicy: 'Local', healthCheckNodePort: 30005 });
    const toCluster = update(cur, lb({ externalTrafficPolicy: 'Cluster', healthCheckNodePort: 30005 }));
    expect(spec(toCluster.next).healthCheckNodePort).toBeUndefined();
    expect(toCluster.errs).toEqual([]);
    const toClusterIP = update(cur, svc({ type: 'ClusterIP', externalTrafficPolicy: 'Local', healthCheckNodePort: 30005, allocateLoadBalancerNodePorts: true }));
    expect(spec(toClusterIP.next)).not.toHaveProperty('healthCheckNodePort');
    expect(spec(toClusterIP.next)).not.toHaveProperty('externalTrafficPolicy');
    expect(spec(toClusterIP.next)).not.toHaveProperty('allocateLoadBalancerNodePorts');
    expect((spec(toClusterIP.next).ports as Record<string, unknown>[])[0]).not.toHaveProperty('nodePort');
    expect(toClusterIP.errs).toEqual([]);
  });

  it('keeps one the client changed, for the validation to refuse', () => {
    const cur = lb({ externalTrafficPolicy: 'Local', healthCheckNodePort: 30005 });
    expect(update(cur, lb({ externalTrafficPolicy: 'Cluster', healthCheckNodePort: 30006 })).errs).toEqual([
      "spec.healthCheckNodePort: FieldValueInvalid may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
    ]);
  });

  it('refuses a change of the healthCheckNodePort of a service that keeps needing it', () => {
    const cur = lb({ externalTrafficPolicy: 'Local', healthCheckNodePort: 30005 });
    expect(update(cur, lb({ externalTrafficPolicy: 'Local', healthCheckNodePort: 30006 })).errs).toEqual(['spec.healthCheckNodePort: FieldValueForbidden field is immutable']);
    expect(update(cur, lb({ externalTrafficPolicy: 'Local', healthCheckNodePort: 30005, sessionAffinity: 'ClientIP' })).errs).toEqual([]);
  });
});

describe('healthCheckNodePort allocation on update', () => {
  it('allocates a free one when a LoadBalancer turns Local, and reserves it', async () => {
    const a = alloc([30000, 30001]);
    const cur = lb({ externalTrafficPolicy: 'Cluster' });
    const { next } = update(cur, lb({ externalTrafficPolicy: 'Local' }));
    const { reservations, releases } = await a.allocateUpdate(cur, next, false);
    expect(spec(next).healthCheckNodePort).toBe(30002);
    expect(reservations).toEqual([{ key: `${PORTS}30002`, owner: { namespace: 'default', name: 'web', uid: 'u1' } }]);
    expect(releases).toEqual([]);
  });

  it('allocates one when a NodePort service becomes a Local LoadBalancer', async () => {
    const cur = svc({ type: 'NodePort', externalTrafficPolicy: 'Local' });
    const { next } = update(cur, lb({ externalTrafficPolicy: 'Local' }));
    expect((await alloc([30001]).allocateUpdate(cur, next, false)).reservations.map((r) => r.key)).toEqual([`${PORTS}30000`]);
  });

  it('keeps a value the client names when it is free and in range', async () => {
    const cur = lb({ externalTrafficPolicy: 'Cluster' });
    const { next } = update(cur, lb({ externalTrafficPolicy: 'Local', healthCheckNodePort: 30007 }));
    expect((await alloc([30001]).allocateUpdate(cur, next, false)).reservations.map((r) => r.key)).toEqual([`${PORTS}30007`]);
    expect(spec(next).healthCheckNodePort).toBe(30007);
  });

  it("refuses a named one that is taken (the service's own node port too) or out of range, as kube-apiserver's InternalError", async () => {
    const cur = lb({ externalTrafficPolicy: 'Cluster' });
    const refusal = async (hc: number, taken: number[]) => {
      const { next } = update(cur, lb({ externalTrafficPolicy: 'Local', healthCheckNodePort: hc }));
      const e = await alloc(taken)
        .allocateUpdate(cur, next, false)
        .then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(ApiError);
      return { code: (e as ApiError).httpStatus, message: (e as ApiError).message };
    };
    expect(await refusal(30004, [30001, 30004])).toEqual({ code: 500, message: 'Internal error occurred: failed to allocate requested HealthCheck NodePort 30004: provided port is already allocated' });
    expect(await refusal(30001, [30001])).toMatchObject({ message: expect.stringContaining('NodePort 30001: provided port is already allocated') });
    expect(await refusal(31000, [30001])).toEqual({
      code: 500,
      message: 'Internal error occurred: failed to allocate requested HealthCheck NodePort 31000: provided port is not in the valid range. The range of valid ports is 30000-30009',
    });
  });

  it('says the range is full when no port is left', async () => {
    const cur = lb({ externalTrafficPolicy: 'Cluster' });
    const { next } = update(cur, lb({ externalTrafficPolicy: 'Local' }));
    const all = Array.from({ length: 10 }, (_, i) => 30000 + i);
    await expect(alloc(all).allocateUpdate(cur, next, false)).rejects.toThrow('Internal error occurred: failed to allocate a HealthCheck NodePort 0: range is full');
  });

  it('releases it when the service goes back to Cluster, and its node ports too on a change to ClusterIP', async () => {
    const cur = lb({ externalTrafficPolicy: 'Local', healthCheckNodePort: 30005 });
    const a = alloc([30001, 30005]);
    const back = update(cur, lb({ externalTrafficPolicy: 'Cluster', healthCheckNodePort: 30005 })).next;
    expect(await a.allocateUpdate(cur, back, false)).toEqual({ reservations: [], releases: [`${PORTS}30005`] });
    const clusterIP = update(cur, svc({ type: 'ClusterIP', externalTrafficPolicy: 'Local', healthCheckNodePort: 30005 })).next;
    expect((await a.allocateUpdate(cur, clusterIP, false)).releases.sort()).toEqual([`${PORTS}30001`, `${PORTS}30005`]);
  });

  it('neither allocates nor releases for a service that keeps it', async () => {
    const cur = lb({ externalTrafficPolicy: 'Local', healthCheckNodePort: 30005 });
    const { next } = update(cur, lb({ externalTrafficPolicy: 'Local', healthCheckNodePort: 30005, sessionAffinity: 'ClientIP' }));
    expect(await alloc([30001, 30005]).allocateUpdate(cur, next, false)).toEqual({ reservations: [], releases: [] });
  });
});

describe('node ports on update', () => {
  it('allocates them on a change from ClusterIP to NodePort, and for a port added', async () => {
    const cur = svc({ type: 'ClusterIP', ports: [{ port: 80 }] });
    const { next } = update(cur, svc({ type: 'NodePort', ports: [{ port: 80 }] }));
    const r = await alloc([30000]).allocateUpdate(cur, next, false);
    expect((spec(next).ports as Record<string, unknown>[])[0]!.nodePort).toBe(30001);
    expect(r).toEqual({ reservations: [{ key: `${PORTS}30001`, owner: { namespace: 'default', name: 'web', uid: 'u1' } }], releases: [] });
    const np = svc({ type: 'NodePort' });
    const added = update(np, svc({ type: 'NodePort', ports: [{ name: 'a', port: 80, nodePort: 30001 }, { name: 'b', port: 81 }] })).next;
    expect((await alloc([30001]).allocateUpdate(np, added, false)).reservations.map((x) => x.key)).toEqual([`${PORTS}30000`]);
  });

  it('takes a renumbered one if free, releasing the old, and refuses a taken one with the field error', async () => {
    const cur = svc({ type: 'NodePort' });
    const moved = update(cur, svc({ type: 'NodePort', ports: [{ port: 80, nodePort: 30008 }] })).next;
    expect(await alloc([30001]).allocateUpdate(cur, moved, false)).toMatchObject({ reservations: [{ key: `${PORTS}30008` }], releases: [`${PORTS}30001`] });
    const clash = update(cur, svc({ type: 'NodePort', ports: [{ port: 80, nodePort: 30003 }] })).next;
    await expect(alloc([30001, 30003]).allocateUpdate(cur, clash, false)).rejects.toMatchObject({ httpStatus: 422, details: { causes: [{ field: 'spec.ports[0].nodePort', message: 'Invalid value: 30003: provided port is already allocated' }] } });
  });
});

