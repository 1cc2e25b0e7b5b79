import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { checkConfigText } from '../flanneld/config-check.js';
import { createBackendRegistry } from '../flanneld/backends.js';
import { ExternalInterfaceError, selectExternalInterface, type KernelView } from '../flanneld/iface.js';
import { addDaemonOptions, daemonOptions } from '../flanneld/options.js';

const kernel: KernelView = {
  links: [
    { index: 1, name: 'lo', mtu: 65536, up: true },
    { index: 2, name: 'eth0', mtu: 1500, up: true },
    { index: 3, name: 'eth1', mtu: 9000, up: true },
  ],
  addrs: [
    { cidr: '127.0.0.1/8', ifindex: 1, family: 4 },
    { cidr: '192.0.2.11/24', ifindex: 2, family: 4 },
    { cidr: 'fe80::1/64', ifindex: 2, family: 6 },
    { cidr: '198.51.100.7/24', ifindex: 3, family: 4 },
    { cidr: 'fd00::7/64', ifindex: 3, family: 6 },
  ],
  routes: [{ dst: '0.0.0.0/0', gw: '192.0.2.1', ifindex: 2, family: 4 }],
};
const base = { iface: [], ifaceRegex: [], ipv4: true, ipv6: false };

describe('external interface choice', () => {
  it('defaults to the interface of the default route', () => {
    expect(selectExternalInterface(base, kernel)).toEqual({ name: 'eth0', index: 2, mtu: 1500, addrs: new Map([[4, { local: '192.0.2.11', publicIP: '192.0.2.11' }]]) });
  });
  it('takes --iface by name or address, first match wins, and --public-ip', () => {
    expect(selectExternalInterface({ ...base, iface: ['nosuch', 'eth1'] }, kernel).name).toBe('eth1');
    expect(selectExternalInterface({ ...base, iface: ['198.51.100.7'], publicIP: '203.0.113.9' }, kernel)).toMatchObject({ name: 'eth1', addrs: new Map([[4, { local: '198.51.100.7', publicIP: '203.0.113.9' }]]), mtu: 9000 });
  });
  it('matches --iface-regex against addresses, then names', () => {
    expect(selectExternalInterface({ ...base, ifaceRegex: ['^198\\.51'] }, kernel).name).toBe('eth1');
    expect(selectExternalInterface({ ...base, ifaceRegex: ['^eth1$'] }, kernel).name).toBe('eth1');
  });
  it('explains what is missing', () => {
    expect(() => selectExternalInterface({ ...base, iface: ['wlan0'] }, kernel)).toThrow(ExternalInterfaceError);
    expect(() => selectExternalInterface(base, { ...kernel, routes: [] })).toThrow(/no default IPv4 route/);
    expect(() => selectExternalInterface({ ...base, ipv6: true, iface: ['eth0'] }, kernel)).toThrow(/no global IPv6 address/);
    expect(selectExternalInterface({ ...base, ipv6: true, iface: ['eth1'] }, kernel).addrs.get(6)).toEqual({ local: 'fd00::7', publicIP: 'fd00::7' });
  });
});

describe('flags', () => {
  const parse = (argv: string[], env: Record<string, string> = {}) => {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const cmd = addDaemonOptions(new Command('flanneld')).exitOverride();
      cmd.parse(argv, { from: 'user' });
      return daemonOptions(cmd.opts());
    } finally {
      for (const k of Object.keys(env)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  };
  it('has flannel defaults', () => {
    expect(parse([])).toMatchObject({
      etcdEndpoints: ['http://127.0.0.1:4001', 'http://127.0.0.1:2379'],
      etcdPrefix: '/coreos.com/network',
      subnetFile: '/run/flannel/subnet.env',
      subnetLeaseRenewMargin: 60,
      ipMasq: false,
      healthzIp: '0.0.0.0',
      healthzPort: 0,
      iface: [],
    });
  });
  it('reads FLANNELD_* when the flag is not given; the command line wins', () => {
    const o = parse(['--iface=eth1', '--iface', '10.0.0.1'], { FLANNELD_IFACE: 'eth9', FLANNELD_IP_MASQ: 'true', FLANNELD_ETCD_ENDPOINTS: 'http://a:2379,http://b:2379' });
    expect(o.iface).toEqual(['eth1', '10.0.0.1']);
    expect(o.ipMasq).toBe(true);
    expect(o.etcdEndpoints).toEqual(['http://a:2379', 'http://b:2379']);
    expect(parse([], { FLANNELD_IP_MASQ: 'false' }).ipMasq).toBe(false);
    expect(parse(['--ip-masq']).ipMasq).toBe(true);
  });
  it('rejects bad values with the flag named', () => {
    expect(() => parse(['--healthz-port=70000'])).toThrow(/healthz-port/);
    expect(() => parse(['--public-ip=fc00::1'])).toThrow(/public-ip/);
    expect(() => parse(['--subnet-lease-renew-margin=2000'])).toThrow(/renew-margin/);
  });
});

describe('config check', () => {
  it('prints the effective config with the backend defaults', () => {
    const r = checkConfigText('{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}', createBackendRegistry());
    expect(r.ok).toBe(true);
    expect(JSON.parse(r.output)).toEqual({
      Network: '10.5.0.0/16',
      SubnetLen: 24,
      SubnetMin: '10.5.1.0',
      SubnetMax: '10.5.255.0',
      EnableIPv4: true,
      EnableIPv6: false,
      Backend: { Type: 'vxlan', VNI: 1, Port: 8472, GBP: false, Learning: false, DirectRouting: false },
    });
  });
  it('gives one line naming the problem', () => {
    for (const [raw, needle] of [
      ['{"Network":"10.5.0.0/16","Backend":{"Type":"carrier-pigeon"}}', 'Backend.Type'],
      ['{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan","VNI":"one"}}', 'Backend.VNI'],
      ['{"Network":"10.5.0.0/33"}', 'Network'],
    ] as const) {
      const r = checkConfigText(raw, createBackendRegistry());
      expect(r.ok).toBe(false);
      expect(r.output).toContain(needle);
      expect(r.output.trim().split('\n')).toHaveLength(1);
    }
  });
});
