// The kubelet's pod resolv.conf: dnsPolicy ClusterFirst / ClusterFirstWithHostNet / Default / None,
// host-network pods, dnsConfig merged, Kubernetes' limits; and the flags that feed it.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import type { Pod } from '../cluster/index.js';
import { renderResolvConf } from '../dns/index.js';
import { kubeletManagesDns, podDnsConfig, type ClusterDnsSettings } from '../kubelet/dns-config.js';
import { addKubeletOptions, kubeletOptions } from '../kubelet/options.js';

const host = { nameservers: ['192.168.1.1', '192.168.1.2'], searches: ['corp.example'], options: ['timeout:2'] };
const s: ClusterDnsSettings = { clusterDns: ['10.254.0.10'], clusterDomain: 'k8s.cluster', host };
const pod = (spec: Record<string, unknown> = {}, ns = 'web'): Pod => ({ metadata: { name: 'p', namespace: ns }, spec: { containers: [{ name: 'c', image: 'busybox' }], ...spec } });

describe('pod DNS', () => {
  it('ClusterFirst (also when unset): the cluster DNS, the cluster search list then the node\'s, ndots:5', () => {
    for (const p of [pod(), pod({ dnsPolicy: 'ClusterFirst' })]) {
      const { conf, warnings } = podDnsConfig(p, s);
      expect(renderResolvConf(conf)).toBe('nameserver 10.254.0.10\nsearch web.svc.k8s.cluster svc.k8s.cluster k8s.cluster corp.example\noptions ndots:5\n');
      expect(warnings).toEqual([]);
    }
  });
  it('Default is the node\'s file; a host-network ClusterFirst pod falls back to it; ClusterFirstWithHostNet does not', () => {
    expect(podDnsConfig(pod({ dnsPolicy: 'Default' }), s).conf).toEqual(host);
    expect(podDnsConfig(pod({ hostNetwork: true }), s).conf).toEqual(host);
    expect(podDnsConfig(pod({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' }), s).conf.nameservers).toEqual(['10.254.0.10']);
  });
  it('ClusterFirst without --cluster-dns is Default', () => {
    expect(podDnsConfig(pod(), { ...s, clusterDns: [] }).conf).toEqual(host);
  });
  it('None takes only dnsConfig; dnsConfig is merged into any policy (options by name, the pod winning)', () => {
    const dnsConfig = { nameservers: ['1.1.1.1'], searches: ['my.example', 'svc.k8s.cluster'], options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }] };
    expect(podDnsConfig(pod({ dnsPolicy: 'None', dnsConfig }), s).conf).toEqual({ nameservers: ['1.1.1.1'], searches: ['my.example', 'svc.k8s.cluster'], options: ['ndots:2', 'edns0'] });
    expect(podDnsConfig(pod({ dnsConfig }), s).conf).toEqual({
      nameservers: ['10.254.0.10', '1.1.1.1'],
      searches: ['web.svc.k8s.cluster', 'svc.k8s.cluster', 'k8s.cluster', 'corp.example', 'my.example'],
      options: ['ndots:2', 'edns0'],
    });
    expect(renderResolvConf(podDnsConfig(pod({ dnsPolicy: 'None' }), s).conf)).toBe('\n');
  });
  it('Kubernetes\' limits: 3 nameservers, 32 search domains, with a warning', () => {
    const r = podDnsConfig(pod({ dnsConfig: { nameservers: ['1.1.1.1', '2.2.2.2', '3.3.3.3'], searches: Array.from({ length: 40 }, (_, i) => `d${i}.example`) } }), s);
    expect(r.conf.nameservers).toEqual(['10.254.0.10', '1.1.1.1', '2.2.2.2']);
    expect(r.conf.searches).toHaveLength(32);
    expect(r.warnings).toHaveLength(2);
    expect(r.warnings[0]).toMatch(/^Nameserver limits were exceeded/);
  });
  it('the kubelet leaves Docker\'s copy of the node\'s file alone unless it has something else to say', () => {
    const none: ClusterDnsSettings = { ...s, clusterDns: [] };
    expect(kubeletManagesDns(pod(), none)).toBe(false);
    expect(kubeletManagesDns(pod(), s)).toBe(true);
    expect(kubeletManagesDns(pod({ dnsPolicy: 'None' }), none)).toBe(true);
    expect(kubeletManagesDns(pod({ dnsConfig: {} }), none)).toBe(true);
  });
});

describe('kubelet DNS flags', () => {
  const parse = (args: string[]) => {
    const cmd = addKubeletOptions(new Command('kubelet')).exitOverride().configureOutput({ writeErr: () => undefined });
    cmd.parse(args, { from: 'user' });
    return kubeletOptions(cmd.opts());
  };
  it('--cluster-dns (comma-separated IPs), --cluster-domain, --resolv-conf', () => {
    const o = parse(['--cluster-dns', '10.254.0.10,10.254.0.11', '--cluster-domain', 'k8s.cluster.', '--resolv-conf', '/tmp/r.conf']);
    expect([o.clusterDns, o.clusterDomain, o.resolvConf]).toEqual([['10.254.0.10', '10.254.0.11'], 'k8s.cluster', '/tmp/r.conf']);
    const d = parse([]);
    expect([d.clusterDns, d.clusterDomain, d.resolvConf]).toEqual([[], '', '/etc/resolv.conf']);
    expect(() => parse(['--cluster-dns', 'kube-dns'])).toThrow(/not an IP address/);
  });
});
