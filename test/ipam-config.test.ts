import { describe, expect, it } from 'vitest';
import { createBackendRegistry } from '../flanneld/backends.js';
import { checkConfigText } from '../flanneld/config-check.js';
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
  it('matches keys case-insensitively, the later of two keys for one field winning', () => {
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

// One test per rule of flannel's own parsing (pkg/subnet/config.go ParseConfig + CheckNetworkConfig,
// Go's encoding/json into its Config struct, pkg/ip's JSON decoders, pkg/backend/manager.go's type
// lookup, main.go's family check). The README's config section lists where we are stricter.
describe('conformance with flannel', () => {
  const ok = (doc: object) => parseNetworkConfig(JSON.stringify(doc));
  const path = (doc: unknown) => err(doc).path;
  const only6 = { EnableIPv4: false, EnableIPv6: true, IPv6Network: 'fc00::/48' };

  it('the document must be a JSON object (null decodes to nothing, then Network is missing)', () => {
    expect(path('[]')).toBe('(document)');
    expect(path('"x"')).toBe('(document)');
    expect(path('null')).toBe('(document)');
    expect(path('{} {}')).toBe('(document)');
  });
  it('of keys differing only in case, the later wins (encoding/json), in either order', () => {
    expect(v4({ Network: '10.6.0.0/16', network: '10.7.0.0/16' }).net).toBe('10.7.0.0/16');
    expect(v4({ network: '10.7.0.0/16', Network: '10.6.0.0/16' }).net).toBe('10.6.0.0/16');
  });
  it('ignores unknown keys', () => {
    expect(v4({ Network: '10.5.0.0/16', Color: 'blue', SubnetLength: 'x' }).len).toBe(24);
  });
  it('a null bool or number is no value: the default holds', () => {
    expect(v4({ Network: '10.5.0.0/16', EnableIPv4: null, SubnetLen: null }).len).toBe(24);
  });
  it('EnableNFTables: false is accepted, a non-bool refused, true refused on purpose (iptables only)', () => {
    expect(v4({ Network: '10.5.0.0/16', EnableNFTables: false }).len).toBe(24);
    expect(path({ Network: '10.5.0.0/16', EnableNFTables: 'no' })).toBe('EnableNFTables');
    expect(err({ Network: '10.5.0.0/16', EnableNFTables: true }).message).toMatch(/not supported/);
  });
  it('refuses a Network of prefix /0 (flannel: Empty, "define a correct Network")', () => {
    expect(path({ Network: '0.0.0.0/0' })).toBe('Network');
    expect(path({ Network: '10.1.2.3/0' })).toBe('Network');
    expect(v4({ Network: '0.0.0.0/8' }).net).toBe('0.0.0.0/8');
  });
  it('refuses a null or empty Network like a bad CIDR', () => {
    expect(err({ Network: null }).message).toMatch(/CIDR/);
    expect(err({ Network: '' }).message).toMatch(/CIDR/);
    expect(path({ Network: 16 })).toBe('Network');
  });
  it('refuses a bad Network even when IPv4 is disabled (Go decodes every field present)', () => {
    expect(path({ ...only6, Network: 'garbage' })).toBe('Network');
    expect(path({ ...only6, Network: 'fc00::/48' })).toBe('Network');
    expect(path({ ...only6, SubnetMin: '10.5.300.0' })).toBe('SubnetMin');
    expect(path({ ...only6, SubnetLen: 'x' })).toBe('SubnetLen');
    expect(path({ Network: '10.5.0.0/16', IPv6Network: 'nope' })).toBe('IPv6Network');
    expect(path({ Network: '10.5.0.0/16', IPv6SubnetMax: 7 })).toBe('IPv6SubnetMax');
    expect(ok({ ...only6, Network: '10.5.0.0/16', SubnetLen: 31 }).v4).toBeUndefined(); // decoded, not checked
  });
  it('SubnetLen 0 is the default; /31 and beyond, or fewer than four subnets, are refused', () => {
    expect(v4({ Network: '10.5.0.0/16', SubnetLen: 0 }).len).toBe(24);
    expect(v4({ Network: '10.5.0.0/16', SubnetLen: 30 }).len).toBe(30);
    expect(v4({ Network: '10.5.0.0/16', SubnetLen: 18 }).len).toBe(18);
    expect(path({ Network: '10.5.0.0/16', SubnetLen: 31 })).toBe('SubnetLen');
    expect(path({ Network: '10.5.0.0/16', SubnetLen: 17 })).toBe('SubnetLen');
    expect(path({ Network: '10.5.0.0/16', SubnetLen: 24.5 })).toBe('SubnetLen');
  });
  it('refuses a network smaller than /28 without SubnetLen, and a /29 with one', () => {
    expect(v4({ Network: '10.5.0.0/28' }).len).toBe(30);
    expect(path({ Network: '10.5.0.0/29' })).toBe('Network');
    expect(path({ Network: '10.5.0.0/29', SubnetLen: 30 })).toBe('SubnetLen');
  });
  it('takes SubnetMin/SubnetMax 0.0.0.0 as unset (Go\'s zero value), filling in the defaults', () => {
    expect(v4({ Network: '10.5.0.0/16', SubnetMin: '0.0.0.0', SubnetMax: '0.0.0.0' })).toMatchObject({ min: '10.5.1.0', max: '10.5.255.0' });
  });
  it('refuses SubnetMin/SubnetMax null or "" (ip.IP4 decodes them and fails)', () => {
    expect(path({ Network: '10.5.0.0/16', SubnetMin: null })).toBe('SubnetMin');
    expect(path({ Network: '10.5.0.0/16', SubnetMax: '' })).toBe('SubnetMax');
    expect(path({ Network: '10.5.0.0/16', SubnetMin: 'fc00::' })).toBe('SubnetMin');
  });
  it('takes an IPv4-mapped IPv6 SubnetMin as the IPv4 address, as Go\'s To4 does', () => {
    expect(v4({ Network: '10.5.0.0/16', SubnetMin: '::ffff:10.5.4.0' }).min).toBe('10.5.4.0');
  });
  it('accepts SubnetMin at the network address itself (flannel only skips it by default)', () => {
    expect(v4({ Network: '10.5.0.0/16', SubnetMin: '10.5.0.0' }).min).toBe('10.5.0.0');
  });
  it('refuses SubnetMin/SubnetMax outside the network or off a SubnetLen boundary', () => {
    expect(path({ Network: '10.5.0.0/16', SubnetMax: '10.6.0.0' })).toBe('SubnetMax');
    expect(path({ Network: '10.5.0.0/16', SubnetLen: 25, SubnetMin: '10.5.1.64' })).toBe('SubnetMin');
    expect(v4({ Network: '10.5.0.0/16', SubnetLen: 25, SubnetMin: '10.5.1.128' }).min).toBe('10.5.1.128');
  });
  it('is stricter on purpose: SubnetMin above SubnetMax is refused (flannel accepts, then never finds a subnet)', () => {
    expect(path({ Network: '10.5.0.0/16', SubnetMin: '10.5.9.0', SubnetMax: '10.5.8.0' })).toBe('SubnetMin');
    expect(v4({ Network: '10.5.0.0/16', SubnetMin: '10.5.9.0', SubnetMax: '10.5.9.0' }).max).toBe('10.5.9.0');
  });
  it('needs a family: neither EnableIPv4 nor EnableIPv6 is refused (main.go: "none defined stack")', () => {
    expect(path({ EnableIPv4: false, Network: '10.5.0.0/16' })).toBe('EnableIPv4');
  });
  it('refuses a missing, null or /0 IPv6Network when IPv6 is enabled', () => {
    expect(path({ EnableIPv4: false, EnableIPv6: true })).toBe('IPv6Network');
    expect(path({ EnableIPv4: false, EnableIPv6: true, IPv6Network: null })).toBe('IPv6Network');
    expect(path({ EnableIPv4: false, EnableIPv6: true, IPv6Network: '::/0' })).toBe('IPv6Network');
  });
  it('is stricter on purpose: an IPv4 CIDR as IPv6Network is refused (flannel decodes it as ::ffff:…)', () => {
    expect(path({ EnableIPv4: false, EnableIPv6: true, IPv6Network: '10.5.0.0/16' })).toBe('IPv6Network');
  });
  it('clears host bits in IPv6Network and defaults to /64 up to a /62, else the network split in four', () => {
    const a = ok({ ...only6, IPv6Network: 'fc00::1:2/48' }).v6!;
    expect(formatCidr(a.network)).toBe('fc00::/48');
    expect(ok({ ...only6, IPv6Network: 'fc00::/62' }).v6!.subnetLen).toBe(64);
    expect(ok({ ...only6, IPv6Network: 'fc00::/63' }).v6!.subnetLen).toBe(65);
    expect(ok({ ...only6, IPv6Network: 'fc00::/124' }).v6!.subnetLen).toBe(126);
    expect(path({ ...only6, IPv6Network: 'fc00::/125' })).toBe('IPv6Network');
  });
  it('refuses IPv6SubnetLen beyond /126 or with fewer than four subnets', () => {
    expect(ok({ ...only6, IPv6SubnetLen: 126 }).v6!.subnetLen).toBe(126);
    expect(path({ ...only6, IPv6SubnetLen: 127 })).toBe('IPv6SubnetLen');
    expect(path({ ...only6, IPv6SubnetLen: 49 })).toBe('IPv6SubnetLen');
  });
  it('takes IPv6SubnetMin/Max null (a nil pointer) or "::" as unset, refuses ""', () => {
    const d = ok({ ...only6, IPv6SubnetMin: null, IPv6SubnetMax: '::' }).v6!;
    expect([formatIp(d.subnetMin), formatIp(d.subnetMax)]).toEqual(['fc00:0:0:1::', 'fc00:0:0:ffff::']);
    expect(path({ ...only6, IPv6SubnetMin: '' })).toBe('IPv6SubnetMin');
  });
  it('refuses IPv6SubnetMin/Max outside the network, off a boundary, or IPv4', () => {
    expect(path({ ...only6, IPv6SubnetMax: 'fc01::' })).toBe('IPv6SubnetMax');
    expect(path({ ...only6, IPv6SubnetMin: 'fc00:0:0:1::1' })).toBe('IPv6SubnetMin');
    expect(path({ ...only6, IPv6SubnetMin: '10.5.1.0' })).toBe('IPv6SubnetMin');
  });
  it('defaults an absent Backend to udp, but refuses "Backend": null (flannel then looks up backend "")', () => {
    expect(ok({ Network: '10.5.0.0/16' }).backendType).toBe('udp');
    expect(path({ Network: '10.5.0.0/16', Backend: null })).toBe('Backend');
  });
  it('refuses a Backend that is not an object, or without a string Type', () => {
    expect(path({ Network: '10.5.0.0/16', Backend: ['vxlan'] })).toBe('Backend');
    expect(path({ Network: '10.5.0.0/16', Backend: { Type: '' } })).toBe('Backend.Type');
    expect(path({ Network: '10.5.0.0/16', Backend: { Type: 1 } })).toBe('Backend.Type');
  });
  it('looks the backend Type up lowercased, as flannel\'s manager does ("VXLAN", "Host-GW")', () => {
    expect(ok({ Network: '10.5.0.0/16', Backend: { Type: 'VXLAN' } }).backendType).toBe('vxlan');
    expect(ok({ Network: '10.5.0.0/16', Backend: { Type: 'Host-GW' } }).backendType).toBe('host-gw');
    const backends = createBackendRegistry();
    for (const t of ['VXLAN', 'Host-GW', 'UDP', 'Alloc']) {
      const r = checkConfigText(JSON.stringify({ Network: '10.5.0.0/16', Backend: { Type: t } }), backends);
      expect(r.ok, `${t}: ${r.output}`).toBe(true);
    }
  });
  it('refuses other spellings of host-gw, as flannel registers only "host-gw"', () => {
    const backends = createBackendRegistry();
    for (const t of ['hostgw', 'host_gw', 'host gw']) {
      const r = checkConfigText(JSON.stringify({ Network: '10.5.0.0/16', Backend: { Type: t } }), backends);
      expect(r.ok).toBe(false);
      expect(r.output).toContain('Backend.Type');
    }
  });
  it('reads Backend.Type case-insensitively, the later key winning', () => {
    expect(ok({ Network: '10.5.0.0/16', Backend: { type: 'udp', TYPE: 'host-gw' } }).backendType).toBe('host-gw');
  });
  it('config check prints the effective config of a lowercased backend, keeping the Backend object as given', () => {
    const r = checkConfigText('{"network":"10.5.0.0/16","backend":{"type":"VXLAN","vni":3}}', createBackendRegistry());
    expect(r.ok).toBe(true);
    const out = JSON.parse(r.output) as Record<string, unknown>;
    expect(out).toMatchObject({ Network: '10.5.0.0/16', SubnetLen: 24, EnableIPv4: true, EnableIPv6: false });
    expect(out.Backend).toMatchObject({ VNI: 3 });
  });
});
