// The Service API's rules for external traffic: externalTrafficPolicy defaulted where the service is
// externally accessible and refused elsewhere, internalTrafficPolicy, healthCheckNodePort and
// loadBalancerSourceRanges validated as Kubernetes validates them.
import { describe, expect, it } from 'vitest';
import { serviceStrategy, type KubeObject } from '../apiserver/kinds/index.js';

const svc = (spec: Record<string, unknown>): KubeObject => ({ metadata: { name: 'web', namespace: 'default' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }], ...spec } });
function check(o: KubeObject): string[] {
  serviceStrategy.defaults(o);
  return serviceStrategy.validate(o).map((e) => `${e.field}: ${e.type}${e.detail ? ` (${e.detail})` : ''}`);
}

describe('Service external traffic fields', () => {
  it('defaults externalTrafficPolicy to Cluster for NodePort, LoadBalancer and ClusterIP with externalIPs only', () => {
    for (const [spec, want] of [
      [{ type: 'NodePort' }, 'Cluster'],
      [{ type: 'LoadBalancer' }, 'Cluster'],
      [{ externalIPs: ['192.168.122.15'] }, 'Cluster'],
      [{}, undefined],
    ] as const) {
      const o = svc(spec);
      expect(check(o)).toEqual([]);
      expect((o.spec as Record<string, unknown>).externalTrafficPolicy).toBe(want);
    }
  });

  it('refuses externalTrafficPolicy where it does not apply, and unknown values', () => {
    expect(check(svc({ externalTrafficPolicy: 'Local' }))).toEqual(['spec.externalTrafficPolicy: FieldValueInvalid (may only be set for externally-accessible services)']);
    expect(check(svc({ type: 'NodePort', externalTrafficPolicy: 'Nearest' }))).toEqual(['spec.externalTrafficPolicy: FieldValueNotSupported (supported values: "Cluster", "Local")']);
    expect(check(svc({ internalTrafficPolicy: 'Node' }))).toEqual(['spec.internalTrafficPolicy: FieldValueNotSupported (supported values: "Cluster", "Local")']);
  });

  it('takes healthCheckNodePort only on a LoadBalancer with externalTrafficPolicy Local', () => {
    expect(check(svc({ type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 32000 }))).toEqual([]);
    expect(check(svc({ type: 'NodePort', externalTrafficPolicy: 'Local', healthCheckNodePort: 32000 }))).toEqual([
      "spec.healthCheckNodePort: FieldValueInvalid (may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local')",
    ]);
  });

  it('takes loadBalancerSourceRanges only on a LoadBalancer, as CIDRs', () => {
    expect(check(svc({ type: 'LoadBalancer', loadBalancerSourceRanges: ['10.0.0.0/8', ' 192.0.2.1/32 ', '2001:db8::/64'] }))).toEqual([]);
    // ParseCIDR's rule: a bare address is not a range, in either family.
    expect(check(svc({ type: 'LoadBalancer', loadBalancerSourceRanges: ['192.0.2.1', '2001:db8::1'] }))).toEqual([
      'spec.loadBalancerSourceRanges[0]: FieldValueInvalid (must be a list of IP ranges. For example, 10.240.0.0/24,10.250.0.0/24 )',
      'spec.loadBalancerSourceRanges[1]: FieldValueInvalid (must be a list of IP ranges. For example, 10.240.0.0/24,10.250.0.0/24 )',
    ]);
    expect(check(svc({ type: 'LoadBalancer', loadBalancerSourceRanges: ['10.0.0.0/33'] }))).toEqual([
      'spec.loadBalancerSourceRanges[0]: FieldValueInvalid (must be a list of IP ranges. For example, 10.240.0.0/24,10.250.0.0/24 )',
    ]);
    expect(check(svc({ loadBalancerSourceRanges: ['10.0.0.0/8'] }))).toEqual(["spec.loadBalancerSourceRanges: FieldValueForbidden (may only be used when `type` is 'LoadBalancer')"]);
  });
});
