import { describe, expect, it } from 'vitest';
import { ConfigError, formatCidr, formatIp, parseNetworkConfig, renderNetworkConfig } from '../ipam/index.js';

const v4 = (doc: object) => {
  const c = parseNetworkConfig(JSON.stringify(doc));
  if (!c.v4) throw new Error('no v4');
  return { net: formatCidr(c.v4.network), len: c.v4.subnetLen, min: formatIp(c.v4.subnetMin), max: formatIp(c.v4.subnetMax), cfg: c };
};
const err = (doc: unknown): ConfigError => {
  try {
    parseNetworkConfig(typeof doc === 'string' ? doc : JSON.stringify(doc));
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
};

describe('network config defaults (flannel rules)', () => {
  it('gives /24 subnets in a /16, skipping the first and ending at the last', () => {
    expect(v4({ Network: '10.5.0.0/16' })).toMatchObject({ net: '10.5.0.0/16', len: 24, min: '10.5.1.0', max: '10.5.255.0' });
  });
  it('keeps /24 up to a /22 network and splits smaller networks in four', () => {
    expect(v4({ Network: '10.5.0.0/22' })).toMatchObject({ len: 24, min: '10.5.1.0', max: '10.5.3.0' });
    expect(v4({ Network: '10.5.0.0/23' })).toMatchObject({ len: 25, min: '10.5.0.128', max: '10.5.1.128' });
    expect(v4({ Network: '10.5.0.0/28' })).toMatchObject({ len: 30, min: '10.5.0.4', max: '10.5.0.12' });
  });
  it('defaults the backend to udp as flannel does, and IPv4 on, IPv6 off', () => {
    const c = v4({ Network: '10.5.0.0/16' }).cfg;
    expect(c.backendType).toBe('udp');
    expect(c.v6).toBeUndefined();
  });
  it('matches keys case-insensitively, an exact match winning', () => {
    const c = v4({ network: '10.6.0.0/16', subnetlen: 26, BACKEND: { type: 'vxlan', vni: 2 } });
    expect(c).toMatchObject({ net: '10.6.0.0/16', len: 26 });
    expect(c.cfg.backendType).toBe('vxlan');
    expect(v4({ network: '10.7.0.0/16', Network: '10.6.0.0/16' }).net).toBe('10.6.0.0/16');
  });
  it('clears host bits in Network like flannel', () => {
    expect(v4({ Network: '10.5.3.7/16' }).net).toBe('10.5.0.0/16');
  });
  it('accepts explicit SubnetMin/SubnetMax on boundaries', () => {
    expect(v4({ Network: '10.5.0.0/16', SubnetMin: '10.5.10.0', SubnetMax: '10.5.20.0' })).toMatchObject({ min: '10.5.10.0', max: '10.5.20.0' });
  });
  it('handles IPv6 and dual stack', () => {
    const c = parseNetworkConfig(JSON.stringify({ Network: '10.5.0.0/16', EnableIPv6: true, IPv6Network: 'fc00::/48' }));
    expect(c.v6 && formatIp(c.v6.subnetMin)).toBe('fc00:0:0:1::');
    expect(c.v6 && formatIp(c.v6.subnetMax)).toBe('fc00:0:0:ffff::');
    expect(c.v6?.subnetLen).toBe(64);
    const only6 = parseNetworkConfig(JSON.stringify({ EnableIPv4: false, EnableIPv6: true, IPv6Network: 'fc00::/120' }));
    expect(only6.v4).toBeUndefined();
    expect(only6.v6?.subnetLen).toBe(122);
  });
  it('renders the effective config with every default', () => {
    const out = renderNetworkConfig(parseNetworkConfig('{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}'));
    expect(out).toEqual({
      Network: '10.5.0.0/16',
      SubnetLen: 24,
      SubnetMin: '10.5.1.0',
      SubnetMax: '10.5.255.0',
      EnableIPv4: true,
      EnableIPv6: false,
      Backend: { Type: 'vxlan' },
    });
  });
});

describe('network config errors name the field', () => {
  it.each([
    ['not json', '{"Network": ', '(document)'],
    ['array', '[]', '(document)'],
    ['missing Network', {}, 'Network'],
    ['bad CIDR', { Network: '10.5.0.0' }, 'Network'],
    ['IPv6 in Network', { Network: 'fc00::/48' }, 'Network'],
    ['too small', { Network: '10.5.0.0/29' }, 'Network'],
    ['SubnetLen too long', { Network: '10.5.0.0/16', SubnetLen: 31 }, 'SubnetLen'],
    ['SubnetLen not 4 subnets', { Network: '10.5.0.0/16', SubnetLen: 17 }, 'SubnetLen'],
    ['SubnetLen as string', { Network: '10.5.0.0/16', SubnetLen: '24' }, 'SubnetLen'],
    ['SubnetLen negative', { Network: '10.5.0.0/16', SubnetLen: -1 }, 'SubnetLen'],
    ['SubnetMin outside', { Network: '10.5.0.0/16', SubnetMin: '10.6.0.0' }, 'SubnetMin'],
    ['SubnetMax off boundary', { Network: '10.5.0.0/16', SubnetMax: '10.5.3.4' }, 'SubnetMax'],
    ['SubnetMin above SubnetMax', { Network: '10.5.0.0/16', SubnetMin: '10.5.20.0', SubnetMax: '10.5.10.0' }, 'SubnetMin'],
    ['SubnetMin not an IP', { Network: '10.5.0.0/16', SubnetMin: '10.5.300.0' }, 'SubnetMin'],
    ['EnableIPv4 as string', { Network: '10.5.0.0/16', EnableIPv4: 'yes' }, 'EnableIPv4'],
    ['nothing enabled', { EnableIPv4: false }, 'EnableIPv4'],
    ['IPv6 without network', { Network: '10.5.0.0/16', EnableIPv6: true }, 'IPv6Network'],
    ['IPv6 too small', { EnableIPv6: true, EnableIPv4: false, IPv6Network: 'fc00::/125' }, 'IPv6Network'],
    ['IPv6SubnetLen too long', { EnableIPv6: true, EnableIPv4: false, IPv6Network: 'fc00::/48', IPv6SubnetLen: 127 }, 'IPv6SubnetLen'],
    ['IPv6SubnetMin outside', { EnableIPv6: true, EnableIPv4: false, IPv6Network: 'fc00::/48', IPv6SubnetMin: 'fd00::' }, 'IPv6SubnetMin'],
    ['Backend not an object', { Network: '10.5.0.0/16', Backend: 'vxlan' }, 'Backend'],
    ['Backend without Type', { Network: '10.5.0.0/16', Backend: { VNI: 1 } }, 'Backend.Type'],
  ])('%s', (_name, doc, path) => {
    const e = err(doc);
    expect(e.path).toBe(path);
    expect(e.message).toContain(path);
    expect(e.message).not.toContain('\n');
  });
});
