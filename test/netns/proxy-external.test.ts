// Services reached from outside the cluster: the apiserver, kube-controller-manager (with the ServiceLB
// controller) and two nodes (flanneld, dockerd, kubelet, kube-proxy on the API), plus a client host on the
// underlay that is no node. Seed 000's web service, with its `publicIPs` written as v1's `externalIPs`,
// answers on 192.168.122.15 (routed to node a by the client, as an operator routes an external IP) from
// the client host and from a pod; a LoadBalancer service gets the nodes' addresses as its ingress and
// answers on them, only to its loadBalancerSourceRanges; with externalTrafficPolicy Local the endpoint
// sees the client's own address and the healthCheckNodePort answers 200 on the node with the endpoint,
// 503 on the other. The endpoints are busybox httpd pods whose cgi-bin/remote prints REMOTE_ADDR.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE } from './docker.js';
import { REPO, waitFor } from './flannel.js';
import { FAST_FLAGS, KubeLab } from './kubelet.js';
import type { Host, Proc } from './lab.js';
import { startProxy } from './proxy.js';
import { SECURE_APISERVER_ARGS, WEB_SERVICE, writeDaemonKubeconfig } from '../harness/index.js';

const KUBECTL = path.join(REPO, '.cache', 'kubernetes-client', 'usr', 'bin', 'kubectl');
const APISERVER = path.join(REPO, 'dist', 'apiserver', 'main.js');
const CONTROLLER_MANAGER = path.join(REPO, 'dist', 'controllers', 'main.js');
const SECURE = 6443;
const EXTERNAL_IP = '192.168.122.15';

interface SvcJson {
  spec: { healthCheckNodePort?: number; externalIPs?: string[] };
  status?: { loadBalancer?: { ingress?: { ip?: string }[] } };
}

describe.skipIf(!existsSync(KUBECTL))('services from outside: externalIPs, LoadBalancer (ServiceLB), externalTrafficPolicy Local', () => {
  let k: KubeLab;
  let apiserver: Proc | undefined;
  let cm: Proc | undefined;
  const proxies: Proc[] = [];
  let apiDir: string;
  let kubeconfig: string;
  const daemonConfigs = new Map<string, string>();
  let hostA: Host;
  let client: Host;

  const kubectlResult = (args: readonly string[], input?: string) =>
    hostA.exec([KUBECTL, `--kubeconfig=${kubeconfig}`, `--cache-dir=${path.join(apiDir, 'kubectl-cache')}`, ...args], { timeoutMs: 30_000, env: { PATH: process.env.PATH ?? '', HOME: apiDir }, ...(input !== undefined && { input }) });
  const kubectl = async (args: readonly string[], input?: string): Promise<string> => {
    const r = await kubectlResult(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: exit ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const service = async (name: string): Promise<SvcJson> => JSON.parse(await kubectl(['get', 'service', name, '-o', 'json'])) as SvcJson;
  /**
   * An HTTP GET from a lab host (curl): the status code (0 when nothing answered), the body, and curl's exit
   * code (7: refused, as with no rule for the address; 28: timed out, as when a rule drops the packets).
   */
  const get = async (h: Host, url: string): Promise<{ code: number; body: string; exit: number | null }> => {
    const r = await h.exec(['curl', '-s', '-m', '2', '-w', '\n%{http_code}', url], { timeoutMs: 10_000 });
    const lines = r.stdout.split('\n');
    return { code: Number(lines.pop() ?? 0), body: unmapped(lines.join('\n').trim()), exit: r.code };
  };
  const CURL_TIMEOUT = 28;
  // busybox httpd listens on a v6 socket: REMOTE_ADDR is the v4-mapped address in brackets.
  const unmapped = (addr: string): string => addr.replace(/^\[(?:::ffff:)?(.*)\]$/, '$1');
  const fromPod = async (url: string): Promise<string | undefined> => {
    const r = await k.execIn('b', 'client', 'c', ['timeout', '5', 'wget', '-qO-', url], 10_000).catch(() => undefined);
    return r?.code === 0 ? unmapped(r.stdout.trim()) : undefined;
  };
  const pod = (name: string, node: string, labels: Record<string, string>, cmd: string): string =>
    [
      'apiVersion: v1',
      'kind: Pod',
      'metadata:',
      `  name: ${name}`,
      '  labels:',
      ...Object.entries(labels).map(([l, v]) => `    ${l}: "${v}"`),
      'spec:',
      `  nodeName: ${node}`,
      '  terminationGracePeriodSeconds: 1',
      '  containers:',
      '  - name: c',
      `    image: ${BUSYBOX_IMAGE}`,
      '    imagePullPolicy: Never',
      `    command: ["sh", "-c", ${JSON.stringify(cmd)}]`,
      '',
    ].join('\n');
  const logs = (): string => `\n--- controller manager\n${(cm?.stderr() ?? '').slice(-2000)}\n--- proxies\n${proxies.map((p) => p.stderr().slice(-2000)).join('\n')}`;

  beforeAll(async () => {
    k = await KubeLab.start({
      hosts: ['a', 'b'],
      kubeletArgs: FAST_FLAGS,
      beforeKubelets: async (kl) => {
        const a = kl.lab.host('a');
        hostA = a;
        apiDir = path.join(a.dir, 'apiserver');
        kubeconfig = path.join(apiDir, 'admin.kubeconfig');
        await mkdir(apiDir, { recursive: true });
        apiserver = a.spawn(
          [
            process.execPath,
            APISERVER,
            `--etcd-servers=${kl.etcd.endpoint}`,
            `--bind-address=${a.ip}`,
            `--advertise-address=${a.ip}`,
            `--secure-port=${SECURE}`,
            `--cert-dir=${path.join(apiDir, 'certs')}`,
            `--write-kubeconfig=${kubeconfig}`,
            ...SECURE_APISERVER_ARGS,
          ],
          { logFile: path.join(apiDir, 'apiserver.log') },
        );
        let last = '';
        const ok = await waitFor('the apiserver ready', async () => existsSync(kubeconfig) && (await kubectl(['get', '--raw=/readyz']).catch((e: unknown) => ((last = String(e)), ''))).trim() === 'ok', 30_000, 250).catch(() => false);
        if (!ok) throw new Error(`the apiserver did not become ready: ${last}\n${apiserver.stderr()}${apiserver.stdout()}`.slice(0, 4000));
        const server = `https://${a.ip}:${SECURE}`;
        const certs = path.join(apiDir, 'certs');
        for (const h of kl.lab.hosts) daemonConfigs.set(h.name, await writeDaemonKubeconfig(certs, server, apiDir, 'kubelet', h.name));
        for (const d of ['kube-proxy', 'kube-controller-manager'] as const) daemonConfigs.set(d, await writeDaemonKubeconfig(certs, server, apiDir, d));
        cm = a.spawn([process.execPath, CONTROLLER_MANAGER, `--kubeconfig=${daemonConfigs.get('kube-controller-manager')!}`, '--secure-port=0'], { logFile: path.join(apiDir, 'controller-manager.log') });
      },
      storeArgs: (n) => [`--kubeconfig=${daemonConfigs.get(n.host.name)!}`],
    });
    const proxyConfig = `--kubeconfig=${daemonConfigs.get('kube-proxy')!}`;
    for (const h of k.lab.hosts) proxies.push(startProxy(h, k.etcd, { tag: 'api', storeArgs: [proxyConfig], args: ['--cluster-cidr=10.5.0.0/16', '--min-sync-period=200ms', '--metrics-bind-address=127.0.0.1:10249'] }));
    // The client: a plain host on the underlay, no node; it routes the external IP to node a.
    client = await k.lab.addHost('client');
    await client.ipCmd(['route', 'add', `${EXTERNAL_IP}/32`, 'via', hostA.ip]);
    await waitFor('the default ServiceAccount', async () => (await kubectlResult(['get', 'serviceaccount', 'default'])).code === 0, 90_000, 500).catch((e: unknown) => {
      throw new Error(`${String(e)}\ncontroller manager:\n${(cm!.stderr() + cm!.stdout()).slice(-3000)}`);
    });
    // One web pod per node (seed 000's label), one only on a (for the Local service), a client pod on b.
    // /who names the pod that answered.
    const web = (name: string) => `echo ${name} > /www/who && exec httpd -f -p 80 -h /www`;
    await kubectl(['create', '-f', '-'], pod('web-a', 'a', { name: 'webserver' }, web('web-a')));
    await kubectl(['create', '-f', '-'], pod('web-b', 'b', { name: 'webserver' }, web('web-b')));
    await kubectl(['create', '-f', '-'], pod('only-a', 'a', { app: 'only-a' }, web('only-a')));
    await kubectl(['create', '-f', '-'], pod('client', 'b', { app: 'client' }, 'exec sleep 3600'));
    await waitFor('the pods Running', async () => {
      const t = await kubectl(['get', 'pods']);
      return ['web-a', 'web-b', 'only-a', 'client'].every((n) => new RegExp(`^${n}\\s+1/1\\s+Running`, 'm').test(t));
    }, 90_000, 500);
  }, 240_000);

  afterAll(async () => {
    await Promise.allSettled(proxies.map((p) => p.stop(5_000)));
    await k?.destroy();
    await cm?.stop(5_000);
    await apiserver?.stop(5_000);
  }, 90_000);

  it("serves seed 000's web service on its external IP to the client host and to a pod; kubectl shows it under EXTERNAL-IP", async () => {
    // v1 names the seed's publicIPs externalIPs.
    const yaml = WEB_SERVICE.replace('publicIPs:', 'externalIPs:');
    expect(await kubectl(['create', '-f', '-'], yaml)).toMatch(/service\/webserve-service created/);
    expect(await kubectl(['get', 'service', 'webserve-service'])).toMatch(/^webserve-service\s+ClusterIP\s+10\.254\.\d+\.\d+\s+192\.168\.122\.15\s+80\/TCP\s/m);
    const r = await waitFor('the web service through the external IP from the client host', async () => {
      const x = await get(client, `http://${EXTERNAL_IP}/cgi-bin/remote`);
      return x.code === 200 ? x : undefined;
    }, 30_000, 300).catch((e: unknown) => {
      throw new Error(`${String(e)}${logs()}`);
    });
    // Masqueraded (externalTrafficPolicy Cluster): the endpoint sees a node's address, not the client's.
    expect(r.body).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(r.body).not.toBe(client.ip);
    const body = await waitFor('the external IP from a pod', () => fromPod(`http://${EXTERNAL_IP}/cgi-bin/remote`), 20_000, 500);
    expect(body).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  });

  it('gives a LoadBalancer service the nodes’ addresses as ingress and answers on them from the client host, only to its source ranges', async () => {
    const lb = ['apiVersion: v1', 'kind: Service', 'metadata:', '  name: web-lb', 'spec:', '  type: LoadBalancer', '  selector:', '    name: webserver', '  ports:', '  - port: 8081', '    targetPort: 80', '  loadBalancerSourceRanges:', '  - 198.51.100.0/24', ''].join('\n');
    expect(await kubectl(['create', '-f', '-'], lb)).toMatch(/service\/web-lb created/);
    const want = [hostA.ip, k.lab.host('b').ip].sort();
    const ingress = await waitFor('the ingress', async () => {
      const ips = ((await service('web-lb')).status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').sort();
      return ips.length === 2 ? ips : undefined;
    }, 30_000, 500).catch((e: unknown) => {
      throw new Error(`${String(e)}${logs()}`);
    });
    expect(ingress).toEqual(want);
    expect(await kubectl(['get', 'service', 'web-lb'])).toMatch(new RegExp(`^web-lb\\s+LoadBalancer\\s+\\S+\\s+${want.map((ip) => ip.replace(/\./g, '\\.')).join(',')}\\s+8081:\\d+/TCP\\s`, 'm'));
    // The client is outside 198.51.100.0/24: its packets are dropped (a timeout, not the refusal of an address without rules), on both nodes.
    for (const ip of want) {
      const r = await waitFor(`web-lb on ${ip}:8081 dropped for the client`, async () => {
        const x = await get(client, `http://${ip}:8081/cgi-bin/remote`);
        return x.exit === CURL_TIMEOUT || x.code === 200 ? x : undefined;
      }, 30_000, 500);
      expect(r.exit).toBe(CURL_TIMEOUT);
    }
    await kubectl(['patch', 'service', 'web-lb', '-p', JSON.stringify({ spec: { loadBalancerSourceRanges: [`${client.ip}/32`] } })]);
    for (const ip of want) {
      const r = await waitFor(`web-lb on ${ip}:8081 from the client`, async () => {
        const x = await get(client, `http://${ip}:8081/cgi-bin/remote`);
        return x.code === 200 ? x : undefined;
      }, 20_000, 300);
      expect(r.body).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    }
  });

  it('externalTrafficPolicy Local: the endpoint sees the client’s address, and the health check node port answers 200 on a, 503 on b', async () => {
    const svc = ['apiVersion: v1', 'kind: Service', 'metadata:', '  name: only-a', 'spec:', '  type: LoadBalancer', '  externalTrafficPolicy: Local', '  selector:', '    app: only-a', '  ports:', '  - port: 8083', '    targetPort: 80', ''].join('\n');
    expect(await kubectl(['create', '-f', '-'], svc)).toMatch(/service\/only-a created/);
    const s = await service('only-a');
    const hc = s.spec.healthCheckNodePort;
    expect(hc).toBeGreaterThanOrEqual(30000);
    // ServiceLB lists only the node holding the endpoint.
    const ingress = await waitFor('the ingress of only-a', async () => {
      const ips = ((await service('only-a')).status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '');
      return ips.length ? ips : undefined;
    }, 30_000, 500);
    expect(ingress).toEqual([hostA.ip]);
    const r = await waitFor('only-a from the client', async () => {
      const x = await get(client, `http://${hostA.ip}:8083/cgi-bin/remote`);
      return x.code === 200 ? x : undefined;
    }, 20_000, 300).catch((e: unknown) => {
      throw new Error(`${String(e)}${logs()}`);
    });
    expect(r.body).toBe(client.ip);
    const onA = await waitFor('the health check on a', async () => {
      const x = await get(client, `http://${hostA.ip}:${hc!}/healthz`);
      return x.code === 200 ? x : undefined;
    }, 20_000, 300);
    expect(JSON.parse(onA.body)).toEqual({ service: { namespace: 'default', name: 'only-a' }, localEndpoints: 1, serviceProxyHealthy: true });
    const onB = await waitFor('the health check on b', async () => {
      const x = await get(client, `http://${k.lab.host('b').ip}:${hc!}/healthz`);
      return x.code === 503 ? x : undefined;
    }, 20_000, 300);
    expect(JSON.parse(onB.body)).toMatchObject({ localEndpoints: 0 });
    // Node b has no local endpoint: outside traffic to its node port is dropped, not sent across.
    const nodePort = JSON.parse(await kubectl(['get', 'service', 'only-a', '-o', 'jsonpath={.spec.ports[0].nodePort}'])) as number;
    expect((await get(client, `http://${k.lab.host('b').ip}:${nodePort}/cgi-bin/remote`)).exit).toBe(CURL_TIMEOUT);
    expect((await get(client, `http://${hostA.ip}:${nodePort}/cgi-bin/remote`)).body).toBe(client.ip);
  });

  it('internalTrafficPolicy Local: a pod on b reaches only the endpoint on b through the ClusterIP', async () => {
    const svc = ['apiVersion: v1', 'kind: Service', 'metadata:', '  name: web-local', 'spec:', '  internalTrafficPolicy: Local', '  selector:', '    name: webserver', '  ports:', '  - port: 80', ''].join('\n');
    expect(await kubectl(['create', '-f', '-'], svc)).toMatch(/service\/web-local created/);
    const ip = (await kubectl(['get', 'service', 'web-local', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    const first = await waitFor('web-local from the client pod', () => fromPod(`http://${ip}/who`), 20_000, 300);
    const seen = new Set([first]);
    for (let i = 0; i < 12; i++) seen.add((await fromPod(`http://${ip}/who`)) ?? 'failed');
    expect([...seen]).toEqual(['web-b']);
    // Through the cluster-wide web service the same pod reaches both.
    const all = await kubectl(['get', 'service', 'webserve-service', '-o', 'jsonpath={.spec.clusterIP}']);
    const both = await waitFor('both web pods through webserve-service', async () => {
      for (let i = 0; i < 10; i++) seen.add((await fromPod(`http://${all.trim()}/who`)) ?? 'failed');
      return seen.has('web-a') ? seen : undefined;
    }, 30_000, 100);
    expect(both.has('web-a')).toBe(true);
  });

  it("exports kube-proxy's metrics and a /healthz with the last sync's age", async () => {
    const m = await hostA.exec(['curl', '-s', '-m', '3', 'http://127.0.0.1:10249/metrics'], { timeoutMs: 10_000 });
    expect(m.stdout).toMatch(/^kubeproxy_sync_proxy_rules_duration_seconds_count [1-9]\d*$/m);
    expect(m.stdout).toMatch(/^kubeproxy_sync_proxy_rules_last_timestamp_seconds \d/m);
    const h = await hostA.exec(['curl', '-s', '-m', '3', 'http://127.0.0.1:10256/healthz'], { timeoutMs: 10_000 });
    const body = JSON.parse(h.stdout) as { lastUpdated: string; lastSyncAgeSeconds: number };
    expect(body.lastSyncAgeSeconds).toBeGreaterThanOrEqual(0);
    expect(body.lastSyncAgeSeconds).toBeLessThan(120);
  });
});
