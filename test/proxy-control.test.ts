// The proxy's control-plane logic without etcd (Endpoints from pods: controllers-endpoints.test.ts): ClusterIP/node port choice and
// the maintainer's reservation plan, and the command-line flags.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { allocationNeeds, electionLease, holderOf, parsePortRange, parseServiceRange, pickFree, planRanges } from '../proxy/index.js';
import { addProxyOptions, flagDuration, proxyOptions } from '../proxy/options.js';

describe('allocation', () => {
  it('picks a free index from a random start, probing upwards, and none when full', () => {
    expect(pickFree(10, () => false, () => 0.35)).toBe(3);
    expect(pickFree(10, (i) => i === 3 || i === 4, () => 0.35)).toBe(5);
    expect(pickFree(10, (i) => i !== 1, () => 0.99)).toBe(1);
    expect(pickFree(10, () => true, () => 0.5)).toBeUndefined();
  });

  it('knows what a service lacks', () => {
    expect(allocationNeeds({ metadata: { name: 'a' }, spec: { ports: [{ port: 1 }] } })).toEqual({ clusterIP: true, nodePorts: [] });
    expect(allocationNeeds({ metadata: { name: 'a' }, spec: { clusterIP: 'None', ports: [{ port: 1 }] } })).toEqual({ clusterIP: false, nodePorts: [] });
    expect(allocationNeeds({ metadata: { name: 'a' }, spec: { type: 'NodePort', clusterIP: '10.254.0.3', ports: [{ port: 1 }, { port: 2, nodePort: 30001 }] } })).toEqual({ clusterIP: false, nodePorts: [0] });
  });

  it('parses ranges; the network and broadcast addresses are never handed out', () => {
    expect(parseServiceRange('10.254.0.0/16')).toEqual({ base: 0x0afe0000, size: 65536, cidr: '10.254.0.0/16' });
    expect(parseServiceRange('10.254.1.7/24').cidr).toBe('10.254.1.0/24');
    expect(() => parseServiceRange('fd00::/64')).toThrow(/IPv4/);
    expect(parsePortRange('30000-32767')).toEqual({ min: 30000, max: 32767 });
    expect(() => parsePortRange('32767-30000')).toThrow(/min/);
  });

  it("plans the maintainer's reservations: reserve explicit ones, release orphans, report conflicts", () => {
    const range = parseServiceRange('10.254.0.0/16');
    const ports = parsePortRange('30000-32767');
    const s = (name: string, clusterIP: string, nodePort?: number, rev = '5') => ({
      namespace: 'default',
      name,
      modRevision: rev,
      svc: { metadata: { name }, spec: { clusterIP, type: 'NodePort' as const, ports: [{ port: 80, ...(nodePort && { nodePort }) }] } },
    });
    const plan = planRanges(
      [s('a', '10.254.0.10', 30080), s('b', '10.254.0.11'), s('c', '10.254.0.11'), s('out', '192.168.0.1', 80)],
      [
        { key: '/registry/ranges/serviceips/10.254.0.10', owner: { namespace: 'default', name: 'a' }, modRevision: '3' },
        { key: '/registry/ranges/serviceips/10.254.0.11', owner: { namespace: 'default', name: 'b' }, modRevision: '3' },
        { key: '/registry/ranges/serviceips/10.254.0.99', owner: { namespace: 'default', name: 'gone' }, modRevision: '4' },
        { key: '/registry/ranges/serviceips/10.254.0.98', owner: { namespace: 'default', name: 'a' }, modRevision: '4' },
      ],
      range,
      ports,
    );
    expect(plan.reserve.map((r) => [r.key, r.service.name])).toEqual([['/registry/ranges/servicenodeports/30080', 'a']]);
    expect(plan.release).toEqual([
      { key: '/registry/ranges/serviceips/10.254.0.99', modRevision: '4', owner: { namespace: 'default', name: 'gone' } },
      { key: '/registry/ranges/serviceips/10.254.0.98', modRevision: '4', owner: { namespace: 'default', name: 'a' }, ownerRevision: '5' },
    ]);
    expect(plan.conflicts).toEqual([{ key: '/registry/ranges/serviceips/10.254.0.11', service: 'default/c', holder: 'default/b' }]);
  });
});

describe('flags', () => {
  const parse = (args: string[], env: Record<string, string> = {}) => {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const cmd = addProxyOptions(new Command('kube-proxy')).exitOverride();
      cmd.parse(['node', 'kube-proxy', ...args]);
      return proxyOptions(cmd.opts(), cmd.getOptionValueSource('etcdEndpoints') !== 'default');
    } finally {
      process.env = saved;
    }
  };

  it('takes the API (--kubeconfig, the seeds\' --master) or etcd, never both', () => {
    expect(parse([]).api).toBeUndefined();
    expect(parse(['--master=http://master:8080']).api).toEqual({ servers: ['http://master:8080'] });
    expect(parse(['--kubeconfig', '/etc/kubernetes/proxy.conf']).api).toEqual({ kubeconfig: '/etc/kubernetes/proxy.conf' });
    expect(() => parse(['--master=http://master:8080', '--etcd-endpoints=http://10.0.0.1:2379'])).toThrow('--master and --etcd-endpoints cannot both be given');
    expect(() => parse(['--kubeconfig=/k', '--master=http://m:8080'])).toThrow('--kubeconfig and --master');
  });

  it("has kube-proxy's defaults", () => {
    const o = parse(['--hostname-override=a']);
    expect(o).toMatchObject({ hostnameOverride: 'a', minSyncPeriodMs: 500, syncPeriodMs: 30_000, masqueradeBit: 14, healthzPort: 10256, leaderElectLeaseDurationSec: 15, etcdEndpoints: ['http://127.0.0.1:4001', 'http://127.0.0.1:2379'] });
    expect(o.serviceRange.cidr).toBe('10.254.0.0/16');
    expect(o.nodePortRange).toEqual({ min: 30000, max: 32767 });
  });

  it('reads KUBE_PROXY_* from the environment, the command line winning', () => {
    const o = parse(['--sync-period=1m'], { KUBE_PROXY_SYNC_PERIOD: '10s', KUBE_PROXY_MIN_SYNC_PERIOD: '100ms', KUBE_PROXY_ETCD_ENDPOINTS: 'http://a:2379,http://b:2379' });
    expect(o).toMatchObject({ syncPeriodMs: 60_000, minSyncPeriodMs: 100, etcdEndpoints: ['http://a:2379', 'http://b:2379'] });
  });

  it('names the bad flag', () => {
    expect(() => parse(['--min-sync-period=soon'])).toThrow(/--min-sync-period/);
    expect(() => parse(['--service-cluster-ip-range=10.254.0.0/31'])).toThrow(/--service-cluster-ip-range/);
    expect(() => parse(['--cluster-cidr=nope'])).toThrow(/--cluster-cidr/);
    expect(flagDuration('1m30s')).toBe(90_000);
    expect(flagDuration('0.25')).toBe(250);
    expect(flagDuration('1.5ms')).toBe(2);
    expect(() => flagDuration('-1s')).toThrow(/negative/);
    expect(() => parse(['--sync-period=1m30'])).toThrow(/--sync-period.*missing unit/);
  });
});

describe('the etcd election value', () => {
  it('is a coordination.k8s.io/v1 Lease an apiserver can serve, its holder read back', async () => {
    const { leaseStrategy } = await import('../apiserver/kinds/index.js');
    const lease = electionLease('/registry/leases/kube-system/kube-proxy-endpoints', 'node-a', 15, '7587', Date.UTC(2026, 11, 1, 12, 0, 0, 250));
    expect(lease).toMatchObject({
      kind: 'Lease',
      apiVersion: 'coordination.k8s.io/v1',
      metadata: { name: 'kube-proxy-endpoints', namespace: 'kube-system' },
      spec: { holderIdentity: 'node-a', leaseDurationSeconds: 15, renewTime: '2026-12-01T12:00:00.250000Z' },
    });
    expect(leaseStrategy.validate(structuredClone(lease))).toEqual([]);
    expect(holderOf(JSON.stringify(lease))).toBe('node-a');
    expect(holderOf('not json')).toBeUndefined();
  });
});
