// The proxy's external frontends: externalIPs, LoadBalancer ingress addresses with
// loadBalancerSourceRanges, externalTrafficPolicy and internalTrafficPolicy Local, checked through the
// fake nftables and its packet tracer, and the health check counts the healthCheckNodePort answers from.
import { describe, expect, it } from 'vitest';
import type { Endpoints, Service } from '../cluster/index.js';
import { silentLogger } from '../common/index.js';
import { type ConntrackPort, HealthCheckServers, Proxier, ProxyMetrics, healthCheckResponse, parseService } from '../proxy/index.js';
import { FakeNft } from './harness/index.js';

const CFG = { masqMark: 0x4000, clusterCIDR: '10.5.0.0/16' };
const LOCAL = ['192.0.2.11', '10.5.1.1', '127.0.0.1'];
const CLIENT = '198.51.100.7';

function svc(name: string, spec: Record<string, unknown>, status?: Record<string, unknown>): Service {
  return { metadata: { name, namespace: 'default', creationTimestamp: '2024-01-01T00:00:00Z' }, spec: { ports: [{ port: 80, targetPort: 8080 }], ...spec }, ...(status && { status }) };
}

/** Endpoints on node a (10.5.1.x) and node b (anything else). */
function eps(name: string, ips: readonly string[], port = 8080): Endpoints {
  return {
    metadata: { name, namespace: 'default' },
    subsets: ips.length ? [{ addresses: ips.map((ip) => ({ ip, nodeName: ip.startsWith('10.5.1.') ? 'a' : 'b' })), ports: [{ port, protocol: 'TCP' }] }] : [],
  };
}

const noConntrack: ConntrackPort = { flush: async () => 0 };

async function proxier(services: Record<string, Service>, endpoints: Record<string, Endpoints>) {
  const nft = new FakeNft();
  const p = new Proxier({ nodeName: 'a', ruleset: CFG, minSyncMs: 0, syncPeriodMs: 60_000 }, { nft, conntrack: noConntrack, log: silentLogger });
  p.resetServices(new Map(Object.entries(services).map(([k, v]) => [`default/${k}`, v])));
  p.resetEndpoints(new Map(Object.entries(endpoints).map(([k, v]) => [`default/${k}`, v])));
  p.setSynced('services');
  p.setSynced('endpoints');
  await p.sync();
  return { nft, p };
}

const tcp = (src: string, dst: string, dport: number, o: { hook?: 'output'; rnd?: () => number } = {}) => ({ src, dst, proto: 'tcp' as const, dport, localAddrs: LOCAL, ...o });

describe('parseService: external frontends and traffic policies', () => {
  it('reads externalIPs, the LoadBalancer ingress addresses, source ranges and the policies', () => {
    const s = svc(
      'lb',
      {
        type: 'LoadBalancer',
        clusterIP: '10.254.0.20',
        externalIPs: ['192.168.122.15', '192.168.122.15'],
        loadBalancerSourceRanges: ['198.51.100.0/24', '198.51.100.128/25', '203.0.113.9', ' 10.1.2.3/8'],
        externalTrafficPolicy: 'Local',
        internalTrafficPolicy: 'Local',
        healthCheckNodePort: 32000,
        ports: [{ port: 80, nodePort: 30080 }],
      },
      { loadBalancer: { ingress: [{ ip: '192.0.2.11' }, { hostname: 'lb.example.com' }] } },
    );
    expect(parseService('default/lb', s)[0]).toMatchObject({
      externalIPs: ['192.168.122.15'],
      loadBalancerIPs: ['192.0.2.11'],
      sourceRanges: ['10.0.0.0/8', '198.51.100.0/24', '203.0.113.9/32'],
      externalLocal: true,
      internalLocal: true,
      healthCheckNodePort: 32000,
    });
  });

  it('ignores the ingress and source ranges of a service that is not a LoadBalancer', () => {
    const s = svc('c', { clusterIP: '10.254.0.21', loadBalancerSourceRanges: ['10.0.0.0/8'] }, { loadBalancer: { ingress: [{ ip: '192.0.2.11' }] } });
    const [p] = parseService('default/c', s);
    expect(p!.loadBalancerIPs).toBeUndefined();
    expect(p!.sourceRanges).toBeUndefined();
  });

  it('names the bad field', () => {
    expect(() => parseService('default/x', svc('x', { externalIPs: ['192.0.2.1', 'fd00::1', 'nope'] }))).toThrow(/spec.externalIPs\[2\] must be an IP address/);
    expect(() => parseService('default/x', svc('x', { type: 'LoadBalancer', loadBalancerSourceRanges: ['10.0.0.0/33'] }))).toThrow(/spec.loadBalancerSourceRanges\[0\] must be an IPv4 or IPv6 CIDR/);
    expect(() => parseService('default/x', svc('x', { externalTrafficPolicy: 'Nearby' }))).toThrow(/spec.externalTrafficPolicy must be Cluster or Local/);
    expect(() => parseService('default/x', svc('x', { type: 'LoadBalancer' }, { loadBalancer: { ingress: [{ ip: 'nope' }] } }))).toThrow(/status.loadBalancer.ingress\[0\].ip/);
  });
});

describe('external frontends through the fake kernel', () => {
  const web = svc('web', { clusterIP: '10.254.0.10', externalIPs: ['192.168.122.15'] });
  const webEps = eps('web', ['10.5.1.2', '10.5.2.3']);

  it('sends an external IP to the endpoints from outside, from a pod and from the node, masqueraded', async () => {
    const { nft } = await proxier({ web }, { web: webEps });
    const out = nft.trace(tcp(CLIENT, '192.168.122.15', 80, { rnd: () => 0.9 }));
    expect(out).toMatchObject({ verdict: 'accept', dnat: { ip: '10.5.2.3', port: 8080 }, masquerade: true });
    expect(out.path).toContain('ext-pick-tcp-2');
    expect(nft.trace(tcp('10.5.1.9', '192.168.122.15', 80, { rnd: () => 0 })).dnat).toEqual({ ip: '10.5.1.2', port: 8080 });
    expect(nft.trace(tcp('192.0.2.11', '192.168.122.15', 80, { hook: 'output' })).dnat).toBeDefined();
    expect(nft.trace(tcp(CLIENT, '192.168.122.15', 81)).dnat).toBeUndefined(); // not a service port
  });

  it('rejects an external IP without endpoints and forgets it with the service', async () => {
    const { nft, p } = await proxier({ web }, {});
    expect(nft.trace(tcp(CLIENT, '192.168.122.15', 80)).verdict).toBe('reject');
    p.updateService('default/web', undefined);
    await p.sync();
    expect(nft.trace(tcp(CLIENT, '192.168.122.15', 80))).toMatchObject({ verdict: 'accept', masquerade: false });
    expect(nft.trace(tcp(CLIENT, '192.168.122.15', 80)).dnat).toBeUndefined();
  });

  it('adds an external IP in a partial sync of its own elements', async () => {
    const { nft, p } = await proxier({ web: svc('web', { clusterIP: '10.254.0.10' }) }, { web: webEps });
    p.updateService('default/web', web);
    await p.sync();
    const last = nft.applied.at(-1)!;
    expect(last).not.toMatch(/flush/);
    expect(last).toMatch(/add element ip kube-proxy service-ips \{ 192\.168\.122\.15 \. tcp \. 80 : goto ext-pick-tcp-2 \}/);
    expect(last).toMatch(/add element ip kube-proxy endpoints-tcp \{ 192\.168\.122\.15 \. 80 \. 0 : 10\.5\.1\.2 \. 8080, 192\.168\.122\.15 \. 80 \. 1 : 10\.5\.2\.3 \. 8080 \}/);
  });

  it('serves the LoadBalancer ingress address, only to the source ranges', async () => {
    const lb = svc('lb', { type: 'LoadBalancer', clusterIP: '10.254.0.30', loadBalancerSourceRanges: ['198.51.100.0/24'], ports: [{ port: 80, nodePort: 30090 }] }, { loadBalancer: { ingress: [{ ip: '192.0.2.11' }] } });
    const { nft } = await proxier({ lb }, { lb: webEps });
    expect(nft.trace(tcp(CLIENT, '192.0.2.11', 80))).toMatchObject({ verdict: 'accept', masquerade: true });
    expect(nft.trace(tcp('203.0.113.5', '192.0.2.11', 80)).verdict).toBe('drop');
    // The ranges guard the LoadBalancer address, not the ClusterIP or the node port.
    expect(nft.trace(tcp('203.0.113.5', '192.0.2.11', 30090)).dnat).toBeDefined();
    expect(nft.trace(tcp('10.5.3.3', '10.254.0.30', 80)).dnat).toBeDefined();
  });

  it('externalTrafficPolicy Local: outside clients keep their address and reach only this node', async () => {
    const lb = svc('lb', { type: 'LoadBalancer', clusterIP: '10.254.0.30', externalTrafficPolicy: 'Local', ports: [{ port: 80, nodePort: 30090 }] }, { loadBalancer: { ingress: [{ ip: '192.0.2.11' }] } });
    const { nft } = await proxier({ lb }, { lb: eps('lb', ['10.5.1.2', '10.5.2.3', '10.5.2.4']) });
    for (const rnd of [() => 0, () => 0.5, () => 0.99]) {
      expect(nft.trace(tcp(CLIENT, '192.0.2.11', 80, { rnd }))).toMatchObject({ verdict: 'accept', dnat: { ip: '10.5.1.2', port: 8080 }, masquerade: false });
      expect(nft.trace(tcp(CLIENT, '192.0.2.11', 30090, { rnd }))).toMatchObject({ verdict: 'accept', dnat: { ip: '10.5.1.2', port: 8080 }, masquerade: false });
    }
    // Pods take the cluster-wide path.
    expect(nft.trace(tcp('10.5.1.9', '192.0.2.11', 80, { rnd: () => 0.99 })).dnat).toEqual({ ip: '10.5.2.4', port: 8080 });
  });

  it('externalTrafficPolicy Local without a local endpoint drops outside traffic, pods still get through', async () => {
    const lb = svc('lb', { type: 'LoadBalancer', clusterIP: '10.254.0.30', externalTrafficPolicy: 'Local', ports: [{ port: 80, nodePort: 30090 }] }, { loadBalancer: { ingress: [{ ip: '192.0.2.11' }] } });
    const { nft, p } = await proxier({ lb }, { lb: eps('lb', ['10.5.2.3']) });
    expect(nft.trace(tcp(CLIENT, '192.0.2.11', 80)).verdict).toBe('drop');
    expect(nft.trace(tcp(CLIENT, '192.0.2.11', 30090)).verdict).toBe('drop');
    expect(nft.trace(tcp('10.5.1.9', '192.0.2.11', 80)).dnat).toEqual({ ip: '10.5.2.3', port: 8080 });
    // A local endpoint appears: a partial sync opens the Local path.
    p.updateEndpoints('default/lb', eps('lb', ['10.5.1.4', '10.5.2.3']));
    await p.sync();
    expect(nft.trace(tcp(CLIENT, '192.0.2.11', 80))).toMatchObject({ dnat: { ip: '10.5.1.4', port: 8080 }, masquerade: false });
  });

  it('internalTrafficPolicy Local: the ClusterIP goes to this node only, and drops without a local endpoint', async () => {
    const local = svc('local', { clusterIP: '10.254.0.40', internalTrafficPolicy: 'Local' });
    const { nft, p } = await proxier({ local }, { local: eps('local', ['10.5.1.2', '10.5.2.3']) });
    for (const rnd of [() => 0, () => 0.99]) expect(nft.trace(tcp('10.5.1.9', '10.254.0.40', 80, { rnd })).dnat).toEqual({ ip: '10.5.1.2', port: 8080 });
    p.updateEndpoints('default/local', eps('local', ['10.5.2.3']));
    await p.sync();
    expect(nft.trace(tcp('10.5.1.9', '10.254.0.40', 80)).verdict).toBe('drop');
    p.updateEndpoints('default/local', eps('local', []));
    await p.sync();
    expect(nft.trace(tcp('10.5.1.9', '10.254.0.40', 80)).verdict).toBe('reject');
  });

  it('counts the local endpoints of each service with a healthCheckNodePort', async () => {
    const lb = svc('lb', { type: 'LoadBalancer', clusterIP: '10.254.0.30', externalTrafficPolicy: 'Local', healthCheckNodePort: 32000, ports: [{ port: 80, nodePort: 30090 }] });
    const cluster = svc('cl', { type: 'LoadBalancer', clusterIP: '10.254.0.31', healthCheckNodePort: 32001, ports: [{ port: 80, nodePort: 30091 }] });
    const { p } = await proxier({ lb, cl: cluster }, { lb: eps('lb', ['10.5.1.2', '10.5.1.3', '10.5.2.3']) });
    expect([...p.state.healthChecks()]).toEqual([['default/lb', { port: 32000, localEndpoints: 2 }]]);
  });
});

describe('health check node ports and metrics', () => {
  it("answers 200 with the local endpoint count where there are some, 503 where none or the proxy is unhealthy", () => {
    const ok = healthCheckResponse('default/lb', 2, true);
    expect(ok.code).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ service: { namespace: 'default', name: 'lb' }, localEndpoints: 2, serviceProxyHealthy: true });
    expect(ok.headers['x-load-balancing-endpoints']).toBe('2');
    expect(healthCheckResponse('default/lb', 0, true).code).toBe(503);
    expect(healthCheckResponse('default/lb', 2, false).code).toBe(503);
  });

  it('serves each healthCheckNodePort on a listener of its own, and closes those no service has', async () => {
    const hc = new HealthCheckServers('127.0.0.1', () => true, silentLogger);
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    try {
      await hc.sync(new Map([['default/lb', { port, localEndpoints: 1 }]]));
      const r = await fetch(`http://127.0.0.1:${port}/`);
      expect(r.status).toBe(200);
      expect(await r.json()).toMatchObject({ localEndpoints: 1 });
      await hc.sync(new Map([['default/lb', { port, localEndpoints: 0 }]]));
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(503);
      await hc.sync(new Map());
      expect(hc.ports).toEqual([]);
      await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
    } finally {
      await hc.close();
    }
  });

  it("records syncs under kube-proxy's metric names", async () => {
    const nft = new FakeNft();
    const metrics = new ProxyMetrics();
    const p = new Proxier({ nodeName: 'a', ruleset: CFG, minSyncMs: 0, syncPeriodMs: 60_000 }, { nft, conntrack: noConntrack, log: silentLogger, metrics });
    const local = svc('local', { clusterIP: '10.254.0.40', internalTrafficPolicy: 'Local' });
    p.resetServices(new Map([['default/local', local]]));
    p.resetEndpoints(new Map([['default/local', eps('local', ['10.5.2.3'])]]));
    p.setSynced('services');
    p.setSynced('endpoints');
    await p.sync();
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^kubeproxy_sync_proxy_rules_duration_seconds_count 1$/m);
    expect(text).toMatch(/^kubeproxy_sync_full_proxy_rules_duration_seconds_count 1$/m);
    expect(text).toMatch(/^kubeproxy_sync_proxy_rules_last_timestamp_seconds \d+/m);
    expect(text).toMatch(/^kubeproxy_sync_proxy_rules_service_changes_total 1$/m);
    expect(text).toMatch(/^kubeproxy_sync_proxy_rules_nftables_elements\{set="no-local-endpoint-services"\} 1$/m);
    expect(text).toMatch(/^kubeproxy_sync_proxy_rules_no_local_endpoints_total\{traffic_policy="internal"\} 1$/m);
  });
});
