import { describe, expect, it } from 'vitest';
import type { Container, Pod } from '../cluster/index.js';
import { dockerSecurity, isHostNetwork } from '../kubelet/index.js';

const c = (securityContext?: unknown): Container => ({ name: 'c', image: 'i', ...(securityContext !== undefined && { securityContext }) });

describe('dockerSecurity', () => {
  it("kube-flannel's context: not privileged, NET_ADMIN and NET_RAW added with Docker's CAP_ prefix", () => {
    expect(dockerSecurity(c({ privileged: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } }))).toEqual({ CapAdd: ['CAP_NET_ADMIN', 'CAP_NET_RAW'] });
  });
  it('privileged, drops (ALL kept as Docker spells it), names already prefixed or in lower case', () => {
    expect(dockerSecurity(c({ privileged: true, capabilities: { add: ['cap_sys_admin'], drop: ['ALL'] } }))).toEqual({ Privileged: true, CapAdd: ['CAP_SYS_ADMIN'], CapDrop: ['ALL'] });
  });
  it('nothing asked, nothing set; junk in the lists is left out', () => {
    expect(dockerSecurity(c())).toEqual({});
    expect(dockerSecurity(c({ capabilities: { add: 'NET_ADMIN', drop: [3, ''] } }))).toEqual({});
  });
});

describe('isHostNetwork', () => {
  const pod = (spec: Record<string, unknown>): Pod => ({ metadata: { name: 'p' }, spec: { containers: [], ...spec } }) as Pod;
  it('only hostNetwork: true', () => {
    expect(isHostNetwork(pod({ hostNetwork: true }))).toBe(true);
    expect(isHostNetwork(pod({}))).toBe(false);
    expect(isHostNetwork(pod({ hostNetwork: 'true' }))).toBe(false);
  });
});
