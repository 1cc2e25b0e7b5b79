// The ServiceLB controller's decisions: which services it provides for, and their ingress points from
// the nodes (all Ready ones, or with externalTrafficPolicy Local those holding a ready endpoint).
import { describe, expect, it } from 'vitest';
import { desiredIngress, isServiceLbService, sameIngress } from '../controllers/index.js';

const node = (name: string, ip: string, o: { ready?: boolean; unschedulable?: boolean; v6?: string } = {}) => ({
  metadata: { name },
  spec: { ...(o.unschedulable && { unschedulable: true }) },
  status: {
    conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
    addresses: [{ type: 'Hostname', address: name }, { type: 'InternalIP', address: ip }, ...(o.v6 ? [{ type: 'InternalIP', address: o.v6 }] : [])],
  },
});
const lb = (spec: Record<string, unknown> = {}, status: Record<string, unknown> = {}) => ({ metadata: { name: 'web', namespace: 'default' }, spec: { type: 'LoadBalancer', ports: [{ port: 80 }], ...spec }, status });
const NODES = [node('b', '192.0.2.12'), node('a', '192.0.2.11', { v6: 'fd00::11' }), node('c', '192.0.2.13', { ready: false }), node('d', '192.0.2.14', { unschedulable: true })];

describe('ServiceLB', () => {
  it('provides for LoadBalancer services without a loadBalancerClass only', () => {
    expect(isServiceLbService(lb())).toBe(true);
    expect(isServiceLbService(lb({ loadBalancerClass: 'example.com/other' }))).toBe(false);
    expect(isServiceLbService(lb({ type: 'NodePort' }))).toBe(false);
    expect(desiredIngress(lb({ type: 'ClusterIP' }), NODES, undefined)).toBeUndefined();
  });

  it("puts every Ready, schedulable node's InternalIP of the service's families in the ingress, sorted", () => {
    expect(desiredIngress(lb(), NODES, undefined)).toEqual([
      { ip: '192.0.2.11', ipMode: 'VIP' },
      { ip: '192.0.2.12', ipMode: 'VIP' },
    ]);
    expect(desiredIngress(lb({ ipFamilies: ['IPv4', 'IPv6'] }), NODES, undefined)!.map((i) => i.ip)).toEqual(['192.0.2.11', '192.0.2.12', 'fd00::11']);
  });

  it('with externalTrafficPolicy Local, lists only the nodes holding a ready endpoint', () => {
    const eps = { subsets: [{ addresses: [{ ip: '10.5.2.3', nodeName: 'b' }], notReadyAddresses: [{ ip: '10.5.1.3', nodeName: 'a' }] }] };
    expect(desiredIngress(lb({ externalTrafficPolicy: 'Local' }), NODES, eps)).toEqual([{ ip: '192.0.2.12', ipMode: 'VIP' }]);
    expect(desiredIngress(lb({ externalTrafficPolicy: 'Local' }), NODES, undefined)).toEqual([]);
  });

  it('compares with the status by address and order', () => {
    const want = desiredIngress(lb(), NODES, undefined)!;
    expect(sameIngress(lb({}, { loadBalancer: { ingress: [{ ip: '192.0.2.11' }, { ip: '192.0.2.12' }] } }), want)).toBe(true);
    expect(sameIngress(lb({}, { loadBalancer: {} }), want)).toBe(false);
    expect(sameIngress(lb({}, { loadBalancer: {} }), [])).toBe(true);
  });
});
