// A dual-stack service end to end: the apiserver with a v4 and a v6 service range, the controller manager,
// two nodes whose underlay carries IPv6 too, flanneld leasing both families (EnableIPv6, IPv6Network),
// dockerd on each with its v4 bridge from flanneld's Docker options and --ipv6 --fixed-cidr-v6 from
// FLANNEL_IPV6_SUBNET (mk-docker-opts.sh writes no IPv6 option), kubelet and kube-proxy (with a v4 and a v6
// --cluster-cidr, so `table ip6 kube-proxy` too) on the API. A Deployment's pod on node a reports both
// addresses in status.podIPs, a `RequireDualStack` service gets a ClusterIP of each family and Endpoints of
// each family, and a pod on node b reaches the service over both ClusterIPs; the endpoint sees the client
// pod's own address of that family (no masquerade inside the cluster). Node b itself reaches the v6 ClusterIP
// (by its v6 default route, as a real node has), a dual-stack NodePort answers on node a's v6 and v4 underlay
// addresses, and a replaced pod's new addresses of both families take over.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contains, parseCidr, parseIp } from '../../core/index.js';
import { BUSYBOX_IMAGE } from './docker.js';
import { REPO, waitFor } from './flannel.js';
import { FAST_FLAGS, KubeLab, NETWORK } from './kubelet.js';
import type { Host, Proc } from './lab.js';
import { startProxy } from './proxy.js';
import { SECURE_APISERVER_ARGS, writeDaemonKubeconfig } from '../harness/index.js';

const KUBECTL = path.join(REPO, '.cache', 'kubernetes-client', 'usr', 'bin', 'kubectl');
const APISERVER = path.join(REPO, 'dist', 'apiserver', 'main.js');
const CONTROLLER_MANAGER = path.join(REPO, 'dist', 'controllers', 'main.js');
const SECURE = 6443;
const NETWORK6 = 'fc00::/48';
const SERVICE_RANGES = '10.254.0.0/16,fd00:254::/112';

interface PodJson {
  metadata: { name: string };
  spec: { nodeName?: string };
  status: { phase?: string; podIP?: string; podIPs?: { ip: string }[] };
}
interface SvcJson {
  spec: { clusterIP?: string; clusterIPs?: string[]; ipFamilies?: string[]; ipFamilyPolicy?: string };
}
interface EndpointsJson {
  subsets?: { addresses?: { ip: string; targetRef?: { name?: string } }[]; ports?: { port: number }[] }[];
}

/** `fc00:0:0:3::1/64` (FLANNEL_IPV6_SUBNET) → `fc00:0:0:3::/64`, the network dockerd's --fixed-cidr-v6 takes. */
const v6Network = (subnet: string): string => subnet.replace(/::1\/(\d+)$/, '::/$1');
const isV6 = (ip: string): boolean => ip.includes(':');
const within = (cidr: string, ip: string): boolean => contains(parseCidr(cidr), parseIp(ip));

describe.skipIf(!existsSync(KUBECTL))('a dual-stack service over v4 and v6 from a dual-stack pod', () => {
  let k: KubeLab;
  let apiserver: Proc | undefined;
  let cm: Proc | undefined;
  const proxies: Proc[] = [];
  let apiDir: string;
  let kubeconfig: string;
  const daemonConfigs = new Map<string, string>();
  let hostA: Host;

  const kubectl = async (args: readonly string[], input?: string): Promise<string> => {
    const r = await hostA.exec([KUBECTL, `--kubeconfig=${kubeconfig}`, `--cache-dir=${path.join(apiDir, 'kubectl-cache')}`, ...args], { timeoutMs: 30_000, env: { PATH: process.env.PATH ?? '', HOME: apiDir }, ...(input !== undefined && { input }) });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: exit ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const logs = async (): Promise<string> => {
    const nft = await k.lab.host('b').exec(['nft', 'list', 'table', 'ip6', 'kube-proxy']).then((r) => r.stdout + r.stderr).catch((e: unknown) => String(e));
    return `\n--- nft ip6 on b\n${nft.slice(0, 5000)}\n--- controller manager\n${(cm?.stderr() ?? '').slice(-1500)}\n--- proxies\n${proxies.map((p) => p.stderr().slice(-1500)).join('\n')}`;
  };
  /** GET from the client pod on b: the body, or undefined when nothing answered. */
  const fromPod = async (url: string): Promise<string | undefined> => {
    const r = await k.execIn('b', 'client', 'c', ['timeout', '5', 'wget', '-qO-', url], 10_000).catch(() => undefined);
    return r?.code === 0 ? r.stdout.trim() : undefined;
  };
  const podJson = async (name: string): Promise<PodJson> => JSON.parse(await kubectl(['get', 'pod', name, '-o', 'json'])) as PodJson;

  beforeAll(async () => {
    k = await KubeLab.start({
      hosts: ['a', 'b'],
      kubeletArgs: FAST_FLAGS,
      config: JSON.stringify({ Network: NETWORK, EnableIPv6: true, IPv6Network: NETWORK6, Backend: { Type: 'vxlan' } }),
      // Host N (1-based) has underlay fd00:5::(10+N) beside its IPv4 address: flanneld's v6 VXLAN runs over it.
      prepare: async (h) => {
        await h.ipCmd(['-6', 'addr', 'add', `fd00:5::${h.index + 10}/64`, 'dev', 'eth0', 'nodad']);
      },
      dockerArgs: (env) => (env.FLANNEL_IPV6_SUBNET ? ['--ipv6', `--fixed-cidr-v6=${v6Network(env.FLANNEL_IPV6_SUBNET)}`] : []),
      beforeKubelets: async (kl) => {
        // A node reaches a ClusterIP by the route its destination takes before kube-proxy's DNAT reroutes it:
        // as a real node's v6 default route, one via the switch (fd00:5::1), like the v4 one.
        await kl.lab.switch.ipCmd(['-6', 'addr', 'add', 'fd00:5::1/64', 'dev', kl.lab.switch.bridge, 'nodad']);
        for (const h of kl.lab.hosts) await h.ipCmd(['-6', 'route', 'add', 'default', 'via', 'fd00:5::1', 'dev', 'eth0']);
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
            `--service-cluster-ip-range=${SERVICE_RANGES}`,
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
    for (const h of k.lab.hosts) proxies.push(startProxy(h, k.etcd, { tag: 'api', storeArgs: [proxyConfig], args: [`--cluster-cidr=${NETWORK},${NETWORK6}`, '--min-sync-period=200ms'] }));
    await waitFor('the default ServiceAccount', async () => (await kubectl(['get', 'serviceaccount', 'default']).then(() => true).catch(() => false)), 90_000, 500);
  }, 240_000);

  afterAll(async () => {
    await Promise.allSettled(proxies.map((p) => p.stop(5_000)));
    await k?.destroy();
    await cm?.stop(5_000);
    await apiserver?.stop(5_000);
  }, 90_000);

  it("flanneld leases both families and dockerd's bridge carries the v6 subnet", async () => {
    for (const h of k.lab.hosts) {
      const env = k.net.env.get(h.name)!;
      expect(env.FLANNEL_IPV6_NETWORK).toBe(NETWORK6);
      expect(env.FLANNEL_IPV6_SUBNET).toMatch(/^fc00:0:0:[0-9a-f]+::1\/64$/);
      expect(k.node(h.name).dockerd.proc.running).toBe(true);
    }
  });

  it('a Deployment’s pod on a reports both addresses in status.podIPs; a pod on b too', async () => {
    const deployment = [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata:',
      '  name: web',
      'spec:',
      '  replicas: 1',
      '  selector:',
      '    matchLabels:',
      '      app: web',
      '  template:',
      '    metadata:',
      '      labels:',
      '        app: web',
      '    spec:',
      '      nodeName: a',
      '      terminationGracePeriodSeconds: 1',
      '      containers:',
      '      - name: c',
      `        image: ${BUSYBOX_IMAGE}`,
      '        imagePullPolicy: Never',
      '        command: ["sh", "-c", "echo web > /www/who && exec httpd -f -p 8080 -h /www"]',
      '        ports:',
      '        - containerPort: 8080',
      '',
    ].join('\n');
    expect(await kubectl(['create', '-f', '-'], deployment)).toMatch(/deployment\.apps\/web created/);
    const client = ['apiVersion: v1', 'kind: Pod', 'metadata:', '  name: client', 'spec:', '  nodeName: b', '  terminationGracePeriodSeconds: 1', '  containers:', '  - name: c', `    image: ${BUSYBOX_IMAGE}`, '    imagePullPolicy: Never', '    command: ["sleep", "3600"]', ''].join('\n');
    await kubectl(['create', '-f', '-'], client);
    const pods = await waitFor('the web pod and the client Running with two addresses', async () => {
      const items = (JSON.parse(await kubectl(['get', 'pods', '-o', 'json'])) as { items: PodJson[] }).items;
      const ok = items.filter((p) => p.status.phase === 'Running' && (p.status.podIPs ?? []).length === 2);
      return ok.length === 2 ? ok : undefined;
    }, 90_000, 500).catch(async (e: unknown) => {
      throw new Error(`${String(e)}\n${await kubectl(['get', 'pods', '-o', 'yaml']).catch((x: unknown) => String(x))}`.slice(0, 6000));
    });
    for (const p of pods) {
      const [v4, v6] = p.status.podIPs!.map((x) => x.ip);
      // The primary family first, as the kubelet reports it; podIP is the first of podIPs.
      expect(p.status.podIP).toBe(v4);
      expect(v4).toMatch(/^10\.5\.\d+\.\d+$/);
      expect(within(NETWORK6, v6!)).toBe(true);
      const node = k.net.env.get(p.spec.nodeName!)!;
      // From the node's own v6 lease, as dockerd's --fixed-cidr-v6 hands it out.
      expect(within(v6Network(node.FLANNEL_IPV6_SUBNET!), v6!)).toBe(true);
    }
  });

  it('a RequireDualStack service gets a ClusterIP of each family and Endpoints of each family', async () => {
    const svc = ['apiVersion: v1', 'kind: Service', 'metadata:', '  name: web', 'spec:', '  ipFamilyPolicy: RequireDualStack', '  selector:', '    app: web', '  ports:', '  - port: 80', '    targetPort: 8080', ''].join('\n');
    expect(await kubectl(['create', '-f', '-'], svc)).toMatch(/service\/web created/);
    const s = JSON.parse(await kubectl(['get', 'service', 'web', '-o', 'json'])) as SvcJson;
    expect(s.spec.ipFamilyPolicy).toBe('RequireDualStack');
    expect(s.spec.ipFamilies).toEqual(['IPv4', 'IPv6']);
    expect(s.spec.clusterIPs).toHaveLength(2);
    expect(s.spec.clusterIPs![0]).toMatch(/^10\.254\.\d+\.\d+$/);
    expect(s.spec.clusterIPs![1]).toMatch(/^fd00:254::/);
    const web = (JSON.parse(await kubectl(['get', 'pods', '-l', 'app=web', '-o', 'json'])) as { items: PodJson[] }).items[0]!;
    const want = web.status.podIPs!.map((x) => x.ip).sort();
    const got = await waitFor('Endpoints of both families', async () => {
      const ep = JSON.parse(await kubectl(['get', 'endpoints', 'web', '-o', 'json'])) as EndpointsJson;
      const ips = (ep.subsets ?? []).flatMap((ss) => (ss.addresses ?? []).map((a) => a.ip)).sort();
      return ips.length === 2 ? ips : undefined;
    }, 30_000, 500).catch(async (e: unknown) => {
      throw new Error(`${String(e)}${await logs()}`);
    });
    expect(got).toEqual(want);
  });

  it('a pod on b reaches the service over its v4 ClusterIP and its v6 ClusterIP; the endpoint sees the client’s own address of each family', async () => {
    const s = JSON.parse(await kubectl(['get', 'service', 'web', '-o', 'json'])) as SvcJson;
    const [ip4, ip6] = s.spec.clusterIPs!;
    const client = (await podJson('client')).status.podIPs!.map((x) => x.ip);
    const v4 = await waitFor(`http://${ip4!}/who from the client pod`, () => fromPod(`http://${ip4!}/who`), 30_000, 500).catch(async (e: unknown) => {
      throw new Error(`${String(e)}${await logs()}`);
    });
    expect(v4).toBe('web');
    const v6 = await waitFor(`http://[${ip6!}]/who from the client pod`, () => fromPod(`http://[${ip6!}]/who`), 30_000, 500).catch(async (e: unknown) => {
      throw new Error(`${String(e)}${await logs()}`);
    });
    expect(v6).toBe('web');
    // busybox httpd's REMOTE_ADDR is bracketed (a v6 socket); a v4 client shows v4-mapped.
    const seen6 = (await fromPod(`http://[${ip6!}]/cgi-bin/remote`))?.replace(/^\[(.*)\]$/, '$1');
    expect(seen6).toBe(client.find(isV6));
    const seen4 = (await fromPod(`http://${ip4!}/cgi-bin/remote`))?.replace(/^\[(?:::ffff:)?(.*)\]$/, '$1');
    expect(seen4).toBe(client.find((ip) => !isV6(ip)));
  });

  it('a SingleStack IPv6 service gets only a v6 ClusterIP and v6 Endpoints, and answers the pod on b over v6', async () => {
    const svc = ['apiVersion: v1', 'kind: Service', 'metadata:', '  name: web6', 'spec:', '  ipFamilyPolicy: SingleStack', '  ipFamilies: [IPv6]', '  selector:', '    app: web', '  ports:', '  - port: 8086', '    targetPort: 8080', ''].join('\n');
    await kubectl(['create', '-f', '-'], svc);
    const s = JSON.parse(await kubectl(['get', 'service', 'web6', '-o', 'json'])) as SvcJson;
    expect(s.spec.ipFamilies).toEqual(['IPv6']);
    expect(s.spec.clusterIPs).toEqual([s.spec.clusterIP]);
    expect(isV6(s.spec.clusterIP!)).toBe(true);
    const ips = await waitFor('the Endpoints of web6', async () => {
      const ep = JSON.parse(await kubectl(['get', 'endpoints', 'web6', '-o', 'json'])) as EndpointsJson;
      const got = (ep.subsets ?? []).flatMap((ss) => (ss.addresses ?? []).map((a) => a.ip));
      return got.length ? got : undefined;
    }, 30_000, 500);
    expect(ips.length).toBe(1);
    expect(isV6(ips[0]!)).toBe(true);
    const body = await waitFor(`http://[${s.spec.clusterIP!}]:8086/who`, () => fromPod(`http://[${s.spec.clusterIP!}]:8086/who`), 30_000, 500).catch(async (e: unknown) => {
      throw new Error(`${String(e)}${await logs()}`);
    });
    expect(body).toBe('web');
  });

  it("from node b itself the v6 ClusterIP answers, and a dual-stack NodePort answers on node a's v6 underlay address", async () => {
    const b = k.lab.host('b');
    const curl = async (url: string): Promise<string | undefined> => {
      const r = await b.exec(['curl', '-s', '-g', '-m', '3', url], { timeoutMs: 10_000 });
      return r.code === 0 ? r.stdout.trim() : undefined;
    };
    const ip6 = (JSON.parse(await kubectl(['get', 'service', 'web', '-o', 'json'])) as SvcJson).spec.clusterIPs![1]!;
    expect(await waitFor(`http://[${ip6}]/who from node b`, () => curl(`http://[${ip6}]/who`), 30_000, 500).catch(async (e: unknown) => {
      throw new Error(`${String(e)}${await logs()}`);
    })).toBe('web');
    const svc = ['apiVersion: v1', 'kind: Service', 'metadata:', '  name: web-np', 'spec:', '  type: NodePort', '  ipFamilyPolicy: RequireDualStack', '  selector:', '    app: web', '  ports:', '  - port: 80', '    targetPort: 8080', ''].join('\n');
    await kubectl(['create', '-f', '-'], svc);
    const port = Number(await kubectl(['get', 'service', 'web-np', '-o', 'jsonpath={.spec.ports[0].nodePort}']));
    expect(port).toBeGreaterThanOrEqual(30000);
    const a6 = `fd00:5::${hostA.index + 10}`;
    expect(await waitFor(`http://[${a6}]:${port}/who from node b`, () => curl(`http://[${a6}]:${port}/who`), 30_000, 500).catch(async (e: unknown) => {
      throw new Error(`${String(e)}${await logs()}`);
    })).toBe('web');
    expect(await waitFor(`http://${hostA.ip}:${port}/who from node b`, () => curl(`http://${hostA.ip}:${port}/who`), 30_000, 500)).toBe('web');
  });

  it('a replaced pod of the Deployment: its new addresses of both families reach the Endpoints and the v6 ClusterIP answers again', async () => {
    const old = (JSON.parse(await kubectl(['get', 'pods', '-l', 'app=web', '-o', 'json'])) as { items: PodJson[] }).items[0]!;
    await kubectl(['delete', 'pod', old.metadata.name, '--timeout=30s']);
    const fresh = await waitFor('the new web pod Running with two addresses', async () => {
      const items = (JSON.parse(await kubectl(['get', 'pods', '-l', 'app=web', '-o', 'json'])) as { items: PodJson[] }).items;
      return items.find((p) => p.metadata.name !== old.metadata.name && p.status.phase === 'Running' && (p.status.podIPs ?? []).length === 2);
    }, 60_000, 500);
    const want = fresh.status.podIPs!.map((x) => x.ip).sort();
    await waitFor('the Endpoints of the new pod', async () => {
      const ep = JSON.parse(await kubectl(['get', 'endpoints', 'web', '-o', 'json'])) as EndpointsJson;
      return JSON.stringify((ep.subsets ?? []).flatMap((ss) => (ss.addresses ?? []).map((a) => a.ip)).sort()) === JSON.stringify(want);
    }, 30_000, 500);
    const ip6 = (JSON.parse(await kubectl(['get', 'service', 'web', '-o', 'json'])) as SvcJson).spec.clusterIPs![1]!;
    expect(await waitFor(`http://[${ip6}]/who again`, () => fromPod(`http://[${ip6}]/who`), 30_000, 500)).toBe('web');
  });
});
