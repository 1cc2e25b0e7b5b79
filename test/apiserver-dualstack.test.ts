// Dual-stack Services: the apiserver's per-family service ranges, a new Service's ipFamilies and
// ipFamilyPolicy completed from the cluster's families as the Service REST storage does, and the static
// checks of clusterIPs/ipFamilies/ipFamilyPolicy as Kubernetes' validation makes them.
import { describe, expect, it } from 'vitest';
import { addressAt, initIpFamilies, type IpFamily, offsetOf, parseServiceCidrs } from '../apiserver/index.js';
import { serviceStrategy, type KubeObject } from '../apiserver/kinds/index.js';

const DUAL: IpFamily[] = ['IPv4', 'IPv6'];
const V4: IpFamily[] = ['IPv4'];
const V6_FIRST: IpFamily[] = ['IPv6', 'IPv4'];

function init(spec: Record<string, unknown>, families: IpFamily[]): { spec: Record<string, unknown>; errs: string[] } {
  const s: Record<string, unknown> = { selector: { app: 'web' }, ports: [{ port: 80 }], ...spec };
  const errs = initIpFamilies(s, families).map((e) => `${e.field}: ${e.detail ?? ''}`);
  return { spec: { ipFamilies: s.ipFamilies, ipFamilyPolicy: s.ipFamilyPolicy }, errs };
}

describe('--service-cluster-ip-range', () => {
  it('takes one range, or two of different families, the first the primary', () => {
    const [v4] = parseServiceCidrs('10.96.0.0/16');
    expect(v4).toMatchObject({ family: 'IPv4', cidr: '10.96.0.0/16', size: 65534 });
    const [a, b] = parseServiceCidrs('fd00:96::/112, 10.96.0.5/24');
    expect(a).toMatchObject({ family: 'IPv6', cidr: 'fd00:96::/112', size: 65534 });
    expect(b).toMatchObject({ family: 'IPv4', cidr: '10.96.0.0/24', size: 254 });
    expect(addressAt(a!, 0)).toBe('fd00:96::1');
    expect(addressAt(b!, 253)).toBe('10.96.0.254');
    expect(offsetOf(a!, 'fd00:96::ffff')).toBeUndefined(); // the last address
    expect(offsetOf(a!, 'fd00:96::a')).toBe(9);
    expect(offsetOf(a!, '10.96.0.10')).toBeUndefined();
    expect(offsetOf(b!, '10.96.1.10')).toBeUndefined();
  });

  it('refuses three ranges, two of a family, bad CIDRs and v6 ranges past 2^20 addresses', () => {
    expect(() => parseServiceCidrs('10.0.0.0/16,fd00::/112,10.1.0.0/16')).toThrow(/must not contain more than two entries/);
    expect(() => parseServiceCidrs('10.0.0.0/16,10.1.0.0/16')).toThrow(/must be of different IP family/);
    expect(() => parseServiceCidrs('10.0.0.0/16,fd00::')).toThrow(/\[1\] is not a valid CIDR/);
    expect(() => parseServiceCidrs('fd00::/64')).toThrow(/the mask must be >= 108/);
    expect(() => parseServiceCidrs('10.0.0.0/31')).toThrow(/must be a \/30 or larger/);
  });
});

describe('ipFamilies and ipFamilyPolicy at create', () => {
  it('defaults to SingleStack of the primary family', () => {
    expect(init({}, DUAL)).toEqual({ spec: { ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack' }, errs: [] });
    expect(init({}, V6_FIRST)).toEqual({ spec: { ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack' }, errs: [] });
  });

  it('adds the second family for PreferDualStack and RequireDualStack on a dual-stack cluster', () => {
    expect(init({ ipFamilyPolicy: 'PreferDualStack' }, DUAL).spec).toEqual({ ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack' });
    expect(init({ ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv6'] }, DUAL).spec).toEqual({ ipFamilies: ['IPv6', 'IPv4'], ipFamilyPolicy: 'RequireDualStack' });
    // PreferDualStack on a single-stack cluster: one family, no error.
    expect(init({ ipFamilyPolicy: 'PreferDualStack' }, V4)).toEqual({ spec: { ipFamilies: ['IPv4'], ipFamilyPolicy: 'PreferDualStack' }, errs: [] });
  });

  it('reads families off given clusterIPs; two mean RequireDualStack', () => {
    expect(init({ clusterIPs: ['fd00::10'] }, DUAL).spec).toEqual({ ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack' });
    expect(init({ clusterIPs: ['10.96.0.10', 'fd00::10'] }, DUAL).spec).toEqual({ ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' });
  });

  it('refuses what the cluster is not configured for', () => {
    expect(init({ ipFamilyPolicy: 'RequireDualStack' }, V4).errs).toEqual(['spec.ipFamilyPolicy: this cluster is not configured for dual-stack services']);
    expect(init({ ipFamilies: ['IPv6'] }, V4).errs).toEqual(['spec.ipFamilies[0]: not configured on this cluster']);
    expect(init({ clusterIPs: ['fd00::10'] }, V4).errs).toEqual(['spec.clusterIPs[0]: may not use IPv6 on a cluster which is not configured for it', 'spec.ipFamilies[0]: not configured on this cluster']);
  });

  it('gives a headless service without selector both families unless SingleStack, even on a single-stack cluster', () => {
    expect(init({ clusterIP: 'None', selector: {} }, V4)).toEqual({ spec: { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' }, errs: [] });
    expect(init({ clusterIP: 'None', selector: {}, ipFamilyPolicy: 'SingleStack' }, DUAL).spec).toEqual({ ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack' });
    // With a selector it is as any other service.
    expect(init({ clusterIP: 'None' }, DUAL).spec).toEqual({ ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack' });
  });

  it('clears both on ExternalName', () => {
    expect(init({ type: 'ExternalName', ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack' }, DUAL).spec).toEqual({ ipFamilies: undefined, ipFamilyPolicy: undefined });
  });
});

describe('the static checks of the IP fields', () => {
  const check = (spec: Record<string, unknown>): string[] => {
    const o: KubeObject = { metadata: { name: 'web', namespace: 'default' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }], ...spec } };
    serviceStrategy.defaults(o);
    return serviceStrategy.validate(o).map((e) => `${e.field}: ${e.type}${e.detail ? ` (${e.detail})` : ''}`);
  };

  it('accepts a dual-stack pair and a headless None', () => {
    expect(check({ clusterIPs: ['10.96.0.10', 'fd00::10'], ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' })).toEqual([]);
    expect(check({ clusterIP: 'None', ipFamilyPolicy: 'PreferDualStack' })).toEqual([]);
  });

  it('refuses bad policies, families and address lists with Kubernetes\' messages', () => {
    expect(check({ ipFamilyPolicy: 'DualStack' })).toEqual(['spec.ipFamilyPolicy: FieldValueNotSupported (supported values: "PreferDualStack", "RequireDualStack", "SingleStack")']);
    expect(check({ ipFamilies: ['IPv4', 'IPv4'], ipFamilyPolicy: 'RequireDualStack' })).toEqual(['spec.ipFamilies[1]: FieldValueDuplicate']);
    expect(check({ ipFamilies: ['IPv5'] })).toEqual(['spec.ipFamilies[0]: FieldValueNotSupported (supported values: "IPv4", "IPv6")']);
    expect(check({ clusterIPs: ['10.96.0.10', '10.96.0.11'], ipFamilyPolicy: 'RequireDualStack' })).toEqual(['spec.clusterIPs: FieldValueInvalid (may specify no more than one IP for each IP family)']);
    expect(check({ clusterIPs: ['10.96.0.10', 'fd00::1', '10.96.0.12'], ipFamilyPolicy: 'RequireDualStack' })).toEqual(['spec.clusterIPs: FieldValueInvalid (may only hold up to 2 values)']);
    expect(check({ clusterIPs: ['None', 'fd00::1'] })).toEqual(["spec.clusterIPs: FieldValueInvalid ('None' must be the first and only value)"]);
    expect(check({ clusterIPs: ['10.96.0.10', 'None'], ipFamilyPolicy: 'RequireDualStack' })).toEqual([
      'spec.clusterIPs[1]: FieldValueInvalid (must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff))',
    ]);
    expect(check({ clusterIPs: ['10.96.0.10', 'fd00::10'], ipFamilyPolicy: 'SingleStack' })).toEqual([
      "spec.ipFamilyPolicy: FieldValueInvalid (must be RequireDualStack or PreferDualStack when multiple 'clusterIPs' are specified)",
    ]);
    expect(check({ ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'SingleStack' })).toEqual([
      "spec.ipFamilyPolicy: FieldValueInvalid (must be RequireDualStack or PreferDualStack when multiple 'ipFamilies' are specified)",
    ]);
    expect(check({ clusterIPs: ['fd00::10'], ipFamilies: ['IPv4'] })).toEqual(['spec.clusterIPs[0]: FieldValueInvalid (expected an IPv4 value as indicated by `ipFamilies[0]`)']);
  });
});
