// Cluster DNS as pods: the control plane of cluster.test.ts (kube-apiserver under Node,RBAC with the
// ServiceAccount admission, kube-controller-manager, kube-scheduler, each with its own identity) on host a,
// and two nodes with flanneld (vxlan), dockerd, a kubelet (--cluster-dns=10.254.0.10,
// --cluster-domain=cluster.local, --resolv-conf naming the lab's outside DNS) and kube-proxy. The project's
// image (flannel-ts:dev, images.ts) is imported on both nodes; `kubectl create -f dns/kube-dns.yaml` starts
// kube-dns as a Deployment in kube-system, reaching the API in-cluster (its service-account token, the
// `kubernetes` Service's ClusterIP). The outside world is a dnsmasq in the lab's switch namespace. From a
// busybox pod on the node kube-dns is NOT on, busybox's own nslookup (the seed's `nslookup webapp`) finds a
// service, a headless service's pods, a pod name and an outside name, through kube-proxy's 10.254.0.10.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE } from './docker.js';
import { REPO, waitFor } from './flannel.js';
import { importProjectImage, PROJECT_IMAGE, type ProjectImageTimings } from './images.js';
import { FAST_FLAGS, KubeLab } from './kubelet.js';
import type { Host, Proc } from './lab.js';
import { startProxy } from './proxy.js';
import { SECURE_APISERVER_ARGS, writeDaemonKubeconfig } from '../harness/index.js';

const KUBECTL = path.join(REPO, '.cache', 'kubernetes-client', 'usr', 'bin', 'kubectl');
const APISERVER = path.join(REPO, 'dist', 'apiserver', 'main.js');
const CONTROLLER_MANAGER = path.join(REPO, 'dist', 'controllers', 'main.js');
const SCHEDULER = path.join(REPO, 'dist', 'scheduler', 'main.js');
const MANIFEST = path.join(REPO, 'dns', 'kube-dns.yaml');
const DNSMASQ = '/usr/sbin/dnsmasq';
const SECURE = 6443;
const CLUSTER_DNS = '10.254.0.10';
const DOMAIN = 'cluster.local';

interface PodJson {
  metadata: { name: string; deletionTimestamp?: string };
  spec: { nodeName?: string };
  status?: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };
}
const isReady = (p: PodJson): boolean => p.status?.phase === 'Running' && !!p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe.skipIf(!existsSync(KUBECTL) || !existsSync(DNSMASQ))('cluster DNS as pods: kube-dns from the project image, nslookup from a pod on the other node', () => {
  let k: KubeLab;
  const procs: Proc[] = [];
  let apiDir: string;
  let kubeconfig: string;
  let hostA: Host;
  let image: ProjectImageTimings;
  /** The nodes' resolv.conf (kubelet --resolv-conf): the lab's outside DNS. */
  let nodeResolv = '';
  const daemonConfigs = new Map<string, string>();

  const kubectlResult = (args: readonly string[], input?: string) =>
    hostA.exec([KUBECTL, `--kubeconfig=${kubeconfig}`, `--cache-dir=${path.join(apiDir, 'kubectl-cache')}`, ...args], { timeoutMs: 30_000, env: { PATH: process.env.PATH ?? '', HOME: apiDir }, ...(input !== undefined && { input }) });
  const kubectl = async (args: readonly string[], input?: string): Promise<string> => {
    const r = await kubectlResult(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: exit ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const getPods = async (ns: string, selector: string): Promise<PodJson[]> =>
    (JSON.parse(await kubectl(['get', 'pods', '-n', ns, '-l', selector, '-o', 'json'])) as { items: PodJson[] }).items.filter((p) => !p.metadata.deletionTimestamp);
  /** kube-dns's container output, through the node's Docker. */
  const dnsLogs = async (node: string, pod: string): Promise<string> => {
    const [c] = await k.containers(node, pod, 'kubedns');
    if (!c) return '(no kubedns container)';
    const r = await k.node(node).dockerd.dockerExec(['logs', '--tail', '60', c.id]);
    return r.stdout + r.stderr;
  };

  beforeAll(async () => {
    k = await KubeLab.start({
      hosts: ['a', 'b'],
      kubeletArgs: [...FAST_FLAGS, `--cluster-dns=${CLUSTER_DNS}`, `--cluster-domain=${DOMAIN}`],
      beforeKubelets: async (kl) => {
        const a = kl.lab.host('a');
        hostA = a;
        apiDir = path.join(a.dir, 'apiserver');
        kubeconfig = path.join(apiDir, 'admin.kubeconfig');
        await mkdir(apiDir, { recursive: true });
        const api = a.spawn(
          [process.execPath, APISERVER, `--etcd-servers=${kl.etcd.endpoint}`, `--bind-address=${a.ip}`, `--advertise-address=${a.ip}`, `--secure-port=${SECURE}`, `--cert-dir=${path.join(apiDir, 'certs')}`, `--write-kubeconfig=${kubeconfig}`, ...SECURE_APISERVER_ARGS],
          { logFile: path.join(apiDir, 'apiserver.log') },
        );
        procs.push(api);
        let last = '';
        const ok = await waitFor('the apiserver ready', async () => existsSync(kubeconfig) && (await kubectl(['get', '--raw=/readyz']).catch((e: unknown) => ((last = String(e)), ''))).trim() === 'ok', 30_000, 250).catch(() => false);
        if (!ok) throw new Error(`the apiserver did not become ready: ${last}\n${api.stderr()}`.slice(0, 4000));
        const server = `https://${a.ip}:${SECURE}`;
        const certs = path.join(apiDir, 'certs');
        for (const h of kl.lab.hosts) daemonConfigs.set(h.name, await writeDaemonKubeconfig(certs, server, apiDir, 'kubelet', h.name));
        for (const d of ['kube-proxy', 'kube-controller-manager', 'kube-scheduler'] as const) daemonConfigs.set(d, await writeDaemonKubeconfig(certs, server, apiDir, d));
        procs.push(a.spawn([process.execPath, CONTROLLER_MANAGER, `--kubeconfig=${daemonConfigs.get('kube-controller-manager')!}`, '--secure-port=0'], { logFile: path.join(apiDir, 'controller-manager.log') }));
        procs.push(a.spawn([process.execPath, SCHEDULER, `--kubeconfig=${daemonConfigs.get('kube-scheduler')!}`, '--secure-port=0'], { logFile: path.join(apiDir, 'scheduler.log') }));
        // The lab's outside world: dnsmasq in the switch namespace, the nodes' resolver (their resolv.conf).
        const sw = kl.lab.switch;
        const outside = path.join(kl.lab.dir, 'outside');
        await mkdir(outside, { recursive: true });
        await writeFile(path.join(outside, 'hosts'), '198.18.0.7 outside.test\n');
        procs.push(sw.spawn([DNSMASQ, '--no-daemon', '--no-resolv', '--no-hosts', `--addn-hosts=${path.join(outside, 'hosts')}`, `--listen-address=${sw.ip}`, '--bind-interfaces', '--port=53', '--user=root', '--pid-file='], { logFile: path.join(outside, 'dnsmasq.log') }));
        nodeResolv = path.join(outside, 'resolv.conf');
        await writeFile(nodeResolv, `nameserver ${sw.ip}\n`);
      },
      storeArgs: (n) => [`--kubeconfig=${daemonConfigs.get(n.host.name)!}`, `--resolv-conf=${nodeResolv}`],
    });
    for (const h of k.lab.hosts) procs.push(startProxy(h, k.etcd, { tag: 'api', storeArgs: [`--kubeconfig=${daemonConfigs.get('kube-proxy')!}`], args: ['--cluster-cidr=10.5.0.0/16', '--min-sync-period=200ms'] }));
    image = await importProjectImage([...k.nodes.values()].map((n) => n.dockerd));
    process.stdout.write(`project image: tar ${image.tar.built ? 'built' : 'from the cache'} in ${image.tar.ms} ms (${(image.tar.bytes / 2 ** 20).toFixed(0)} MiB), docker import ${image.importMs.join(' / ')} ms\n`);
    await waitFor('the default ServiceAccount', async () => (await kubectlResult(['get', 'serviceaccount', 'default'])).code === 0, 30_000, 500);
  }, 240_000);

  afterAll(async () => {
    await k?.destroy();
    await Promise.allSettled([...procs].reverse().map((p) => p.stop(5_000)));
  }, 90_000);

  it('the project image runs node and our daemons; kube-dns outside a pod says what it lacks', async () => {
    const d = k.node('b').dockerd;
    const v = await d.dockerExec(['run', '--rm', '--network', 'none', PROJECT_IMAGE, 'kube-dns', '--version'], { timeoutMs: 60_000 });
    expect(v.stdout.trim(), v.stderr).toMatch(/^\d+\.\d+\.\d+$/);
    const r = await d.dockerExec(['run', '--rm', '--network', 'none', PROJECT_IMAGE, 'kube-dns', '--healthz-port=0', '--dns-port=5353'], { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('kube-dns: unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined (outside a pod, give --kubecfg-file or --kube-master-url)');
  }, 120_000);

  it('kubectl create -f dns/kube-dns.yaml: kube-dns Running and Ready in kube-system behind 10.254.0.10, on the API in-cluster', async () => {
    const out = await kubectl(['create', '-f', MANIFEST]);
    expect(out).toMatch(/^serviceaccount\/kube-dns created$/m);
    expect(out).toMatch(/^service\/kube-dns created$/m);
    expect(out).toMatch(/^deployment\.apps\/kube-dns created$/m);
    const svc = await kubectl(['get', 'service', 'kube-dns', '-n', 'kube-system']);
    expect(svc).toMatch(new RegExp(`^kube-dns\\s+ClusterIP\\s+${esc(CLUSTER_DNS)}\\s+<none>\\s+53/UDP,53/TCP\\s`, 'm'));
    const [p] = await waitFor('kube-dns Ready', async () => {
      const ps = await getPods('kube-system', 'k8s-app=kube-dns');
      return ps.length === 1 && isReady(ps[0]!) ? ps : undefined;
    }, 120_000, 1000).catch(async (e: unknown) => {
      const ps = await getPods('kube-system', 'k8s-app=kube-dns').catch(() => []);
      const logs = ps[0]?.spec.nodeName ? await dnsLogs(ps[0].spec.nodeName, ps[0].metadata.name) : '';
      throw new Error(`${String(e)}\n${await kubectl(['describe', 'pods', '-n', 'kube-system']).catch(String)}\n${logs}`);
    });
    const logs = await dnsLogs(p!.spec.nodeName!, p!.metadata.name);
    expect(logs).toContain('using the in-cluster configuration');
    expect(logs).toContain('"server":"https://10.254.0.1:443"');
    expect(logs).toContain('services listed');
    const eps = await waitFor('the kube-dns endpoints', async () => {
      const t = await kubectl(['get', 'endpoints', 'kube-dns', '-n', 'kube-system', '-o', 'jsonpath={.subsets[*].addresses[*].ip}']);
      return t.trim() || undefined;
    }, 30_000, 500);
    expect(eps).toBe(p!.status!.podIP);
  }, 180_000);

  it('from a busybox pod on the other node: a service, a headless service, a pod name and an outside name', async () => {
    const [dnsPod] = await getPods('kube-system', 'k8s-app=kube-dns');
    const other = dnsPod!.spec.nodeName === 'a' ? 'b' : 'a';
    const pod = (name: string, node: string, labels: string) =>
      ['apiVersion: v1', 'kind: Pod', `metadata: {name: ${name}, labels: {${labels}}}`, 'spec:', `  nodeName: ${node}`, '  terminationGracePeriodSeconds: 1', `  containers: [{name: c, image: "${BUSYBOX_IMAGE}", command: [sleep, "3600"]}]`].join('\n');
    const yaml = [
      'apiVersion: v1\nkind: Service\nmetadata: {name: webapp}\nspec: {ports: [{port: 80, name: http}]}',
      'apiVersion: v1\nkind: Service\nmetadata: {name: db}\nspec: {clusterIP: None, selector: {app: db}, ports: [{port: 5432, name: pg}]}',
      pod('db-a', 'a', 'app: db'),
      pod('db-b', 'b', 'app: db'),
      pod('busybox', other, 'app: client'),
    ].join('\n---\n');
    await kubectl(['create', '-f', '-'], `${yaml}\n`);
    const ip = (await kubectl(['get', 'service', 'webapp', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    expect(ip).toMatch(/^10\.254\.\d+\.\d+$/);
    const dbs = await waitFor('the db pods Ready', async () => {
      const ps = await getPods('default', 'app=db');
      return ps.length === 2 && ps.every(isReady) ? ps.map((p) => p.status!.podIP!).sort() : undefined;
    }, 60_000, 500);
    await waitFor('the busybox pod Ready', async () => {
      const [b] = await getPods('default', 'app=client');
      return b && isReady(b);
    }, 60_000, 500);
    const resolv = await k.execIn(other, 'busybox', 'c', ['cat', '/etc/resolv.conf']);
    expect(resolv.stdout).toContain(`nameserver ${CLUSTER_DNS}`);
    expect(resolv.stdout).toContain(`search default.svc.${DOMAIN} svc.${DOMAIN} ${DOMAIN}`);
    expect(resolv.stdout).toContain('options ndots:5');
    // What an in-cluster client finds in every pod: the kubelet's variables of the `kubernetes` Service and
    // the service-account volume (token, ca.crt, namespace).
    const env = (await k.execIn(other, 'busybox', 'c', ['env'])).stdout;
    expect(env).toMatch(/^KUBERNETES_SERVICE_HOST=10\.254\.0\.1$/m);
    expect(env).toMatch(/^KUBERNETES_SERVICE_PORT=443$/m);
    expect(env).toMatch(/^KUBERNETES_PORT_443_TCP=tcp:\/\/10\.254\.0\.1:443$/m);
    const sa = await k.execIn(other, 'busybox', 'c', ['sh', '-c', 'cd /var/run/secrets/kubernetes.io/serviceaccount && ls && cat namespace && head -c 27 ca.crt']);
    expect(sa.stdout).toMatch(/^ca\.crt\nnamespace\ntoken\ndefault-----BEGIN CERTIFICATE/);

    const nslookup = async (name: string): Promise<string> => {
      const r = await k.execIn(other, 'busybox', 'c', ['nslookup', name], 20_000);
      return r.stdout + r.stderr;
    };
    /** Retried (bounded): the headless service's endpoints reach kube-dns through the controller manager's sync. */
    const lookup = (name: string, ok: (t: string) => boolean): Promise<string> =>
      waitFor(`nslookup ${name}`, async () => {
        const t = await nslookup(name).catch(() => '');
        return ok(t) ? t : undefined;
      }, 30_000, 500).catch(async (e: unknown) => {
        throw new Error(`${String(e)}\nlast: ${await nslookup(name).catch(String)}\nkube-dns: ${await dnsLogs(dnsPod!.spec.nodeName!, dnsPod!.metadata.name)}`);
      });

    // The seed's line: busybox's nslookup expands the dotless name through the search list.
    const web = await lookup('webapp', (t) => t.includes(ip));
    expect(web).toMatch(new RegExp(`Server:\\s+${esc(CLUSTER_DNS)}`));
    expect(web).toMatch(new RegExp(`Name:\\s+webapp\\.default\\.svc\\.${esc(DOMAIN)}`));
    expect(web).toMatch(new RegExp(`Address(?: 1)?:\\s+${esc(ip)}`));
    const db = await lookup('db', (t) => dbs.every((x) => t.includes(x)));
    for (const x of dbs) expect(db).toMatch(new RegExp(`Address(?: \\d)?:\\s+${esc(x)}`));
    const dashed = `${dbs[0]!.replace(/\./g, '-')}.default.pod.${DOMAIN}`;
    expect(await lookup(dashed, (t) => t.includes(dbs[0]!))).toMatch(new RegExp(`Address(?: 1)?:\\s+${esc(dbs[0]!)}`));
    expect(await lookup('outside.test', (t) => t.includes('198.18.0.7'))).toMatch(/Address(?: 1)?:\s+198\.18\.0\.7/);
    expect(await nslookup(`nothere.default.svc.${DOMAIN}`)).toMatch(/NXDOMAIN/);
  }, 180_000);
});
