// flanneld as kube-flannel.yml runs it: a DaemonSet of the project image, no flanneld process of the lab's.
// The control plane (kube-apiserver under Node,RBAC, kube-controller-manager with its node IPAM,
// --allocate-node-cidrs over the manifest's Network, kube-scheduler: the DaemonSet controller's pods carry a
// node affinity and are bound by the scheduler, as in Kubernetes) on host a; two nodes with dockerd, a kubelet and
// kube-proxy (the pods reach the API in-cluster through the `kubernetes` Service). Each node's daemons see
// the manifest's host paths (/run/flannel, the CNI dirs) as binds of the node's own directory (node-root.ts).
// `kubectl apply -f manifests/kube-flannel.yml`, then: a kube-flannel pod Running and Ready on each node in
// the node's network (hostNetwork, NET_ADMIN and NET_RAW, not privileged), each node's /run/flannel/subnet.env
// its podCIDR, flannel.1 with a route to the other node's podCIDR and traffic through it, the Nodes'
// annotations flannel's and NetworkUnavailable=False.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECURE_APISERVER_ARGS, writeDaemonKubeconfig } from '../harness/index.js';
import { type Dockerd, startDockerd } from './docker.js';
import { REPO, ipJson, readEnvFile, startLabEtcd, waitFor } from './flannel.js';
import { importProjectImage } from './images.js';
import { FAST_FLAGS, KUBELET } from './kubelet.js';
import { type Host, Lab, type Proc, ping } from './lab.js';
import { cleanupNodeRoots, type NodeRoot, nodeRoot } from './node-root.js';
import { startProxy } from './proxy.js';

const KUBECTL = path.join(REPO, '.cache', 'kubernetes-client', 'usr', 'bin', 'kubectl');
const APISERVER = path.join(REPO, 'dist', 'apiserver', 'main.js');
const CONTROLLER_MANAGER = path.join(REPO, 'dist', 'controllers', 'main.js');
const SCHEDULER = path.join(REPO, 'dist', 'scheduler', 'main.js');
const MANIFEST = path.join(REPO, 'manifests', 'kube-flannel.yml');
const SECURE = 6443;
const NETWORK = '10.244.0.0/16';
const P = 'flannel.alpha.coreos.com';
/** The manifest's hostPath volumes. */
const HOST_PATHS = ['/run/flannel', '/opt/cni/bin', '/etc/cni/net.d', '/opt/flannel-ts'];

interface PodJson {
  metadata: { name: string; deletionTimestamp?: string };
  spec: { nodeName?: string; hostNetwork?: boolean };
  status?: { phase?: string; podIP?: string; hostIP?: string; conditions?: { type: string; status: string }[] };
}
interface NodeJson {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: { podCIDR?: string };
  status?: { conditions?: { type: string; status: string; reason?: string }[] };
}
const isReady = (p: PodJson): boolean => p.status?.phase === 'Running' && !!p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

// Skipped: runc refuses every --network host container of a dockerd that runs in a mount namespace other
// than the machine's ("runc create failed: unable to start container process: can't get final child's PID
// from pipe: EOF", with or without privileged, seccomp, AppArmor, a fresh sysfs), and without one the nodes'
// hostPath volumes would be the machine's /run/flannel, /etc/cni/net.d. Up to there it ran: the DaemonSet
// applied, its pods bound by the scheduler to a and b, their sandboxes asked for on the host network.
describe.skip('kube-flannel.yml: flanneld as a DaemonSet of the project image', () => {
  let lab: Lab;
  const procs: Proc[] = [];
  const docker = new Map<string, Dockerd>();
  const roots = new Map<string, NodeRoot>();
  let dir: string;
  let kubeconfig: string;
  let hostA: Host;

  const kubectlResult = (args: readonly string[], input?: string) =>
    hostA.exec([KUBECTL, `--kubeconfig=${kubeconfig}`, `--cache-dir=${path.join(dir, 'kubectl-cache')}`, ...args], { timeoutMs: 30_000, env: { PATH: process.env.PATH ?? '', HOME: dir }, ...(input !== undefined && { input }) });
  const kubectl = async (args: readonly string[], input?: string): Promise<string> => {
    const r = await kubectlResult(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: exit ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const flannelPods = async (): Promise<PodJson[]> =>
    (JSON.parse(await kubectl(['get', 'pods', '-n', 'kube-flannel', '-l', 'app=flannel', '-o', 'json'])) as { items: PodJson[] }).items.filter((p) => !p.metadata.deletionTimestamp);
  const getNode = async (name: string): Promise<NodeJson> => JSON.parse(await kubectl(['get', 'node', name, '-o', 'json'])) as NodeJson;
  const flannelLogs = async (node: string): Promise<string> => {
    const d = docker.get(node)!;
    const ids = (await d.docker(['ps', '-a', '-q', '--filter', 'label=io.kubernetes.container.name=kube-flannel'])).split('\n').filter(Boolean);
    const out = await Promise.all(ids.map(async (id) => (await d.dockerExec(['logs', '--tail', '40', id])).stderr));
    return out.join('\n---\n') || '(no kube-flannel container)';
  };

  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['a', 'b'] });
    hostA = lab.host('a');
    const etcd = await startLabEtcd(lab);
    procs.push({ stop: () => etcd.destroy() } as unknown as Proc);
    dir = path.join(hostA.dir, 'control-plane');
    await mkdir(dir, { recursive: true });
    const certs = path.join(dir, 'certs');
    kubeconfig = path.join(dir, 'admin.kubeconfig');
    const api = hostA.spawn(
      [process.execPath, APISERVER, `--etcd-servers=${etcd.endpoint}`, `--bind-address=${hostA.ip}`, `--advertise-address=${hostA.ip}`, `--secure-port=${SECURE}`, `--cert-dir=${certs}`, `--write-kubeconfig=${kubeconfig}`, ...SECURE_APISERVER_ARGS],
      { logFile: path.join(dir, 'apiserver.log') },
    );
    procs.push(api);
    let last = '';
    const ok = await waitFor('the apiserver ready', async () => existsSync(kubeconfig) && (await kubectl(['get', '--raw=/readyz']).catch((e: unknown) => ((last = String(e)), ''))).trim() === 'ok', 60_000, 250).catch(() => false);
    if (!ok) throw new Error(`the apiserver did not become ready: ${last}\n${api.stderr()}`.slice(0, 4000));
    const server = `https://${hostA.ip}:${SECURE}`;
    const cm = await writeDaemonKubeconfig(certs, server, dir, 'kube-controller-manager');
    procs.push(hostA.spawn([process.execPath, CONTROLLER_MANAGER, `--kubeconfig=${cm}`, '--secure-port=0', '--allocate-node-cidrs=true', `--cluster-cidr=${NETWORK}`, '--node-cidr-mask-size=24'], { logFile: path.join(dir, 'controller-manager.log') }));
    // The DaemonSet controller pins each pod to its node by a required node affinity; the scheduler binds it.
    const sched = await writeDaemonKubeconfig(certs, server, dir, 'kube-scheduler');
    procs.push(hostA.spawn([process.execPath, SCHEDULER, `--kubeconfig=${sched}`, '--secure-port=0'], { logFile: path.join(dir, 'scheduler.log') }));
    const proxyConfig = await writeDaemonKubeconfig(certs, server, dir, 'kube-proxy');

    // The nodes: no flanneld, Docker's own bridge (no pod here is off the node's network).
    for (const h of lab.hosts) roots.set(h.name, await nodeRoot(h, HOST_PATHS));
    const started = await Promise.allSettled(lab.hosts.map(async (h) => docker.set(h.name, await startDockerd(h, { wrap: roots.get(h.name)!.wrap }))));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const image = await importProjectImage([...docker.values()]);
    process.stdout.write(`project image: tar ${image.tar.built ? 'built' : 'from the cache'} in ${image.tar.ms} ms, docker import ${image.importMs.join(' / ')} ms\n`);
    for (const h of lab.hosts) {
      const kc = await writeDaemonKubeconfig(certs, server, dir, 'kubelet', h.name);
      const manifests = path.join(h.dir, 'manifests');
      await mkdir(manifests, { recursive: true });
      const argv = [process.execPath, KUBELET, `--kubeconfig=${kc}`, `--hostname-override=${h.name}`, `--node-ip=${h.ip}`, `--docker-endpoint=unix://${docker.get(h.name)!.socket}`, `--root-dir=${path.join(h.dir, 'kubelet')}`, `--pod-manifest-path=${manifests}`, '--healthz-port=10248', ...FAST_FLAGS];
      procs.push(h.spawn(roots.get(h.name)!.wrap(argv), { logFile: path.join(h.dir, 'kubelet.log') }));
      procs.push(startProxy(h, etcd, { tag: 'api', storeArgs: [`--kubeconfig=${proxyConfig}`], args: [`--cluster-cidr=${NETWORK}`, '--min-sync-period=200ms'] }));
    }
    await waitFor('both Nodes registered with a podCIDR', async () => {
      const ns = await Promise.all(lab.hosts.map((h) => getNode(h.name).catch(() => undefined)));
      return ns.every((n) => n?.spec.podCIDR);
    }, 60_000, 500);
  }, 300_000);

  afterAll(async () => {
    await Promise.allSettled([...docker.values()].map((d) => d.stop()));
    for (const p of [...procs].reverse()) await p.stop(5_000).catch(() => undefined);
    await lab?.destroy();
    await cleanupNodeRoots();
  }, 120_000);

  it('kubectl apply -f manifests/kube-flannel.yml: a kube-flannel pod Running and Ready on each node, in the node network', async () => {
    const out = await kubectl(['apply', '-f', MANIFEST]);
    expect(out).toMatch(/^daemonset\.apps\/kube-flannel-ds created$/m);
    const pods = await waitFor('a Ready kube-flannel pod per node', async () => {
      const ps = await flannelPods();
      return ps.length === 2 && ps.every(isReady) ? ps : undefined;
    }, 180_000, 1000).catch(async (e: unknown) => {
      const describe = await kubectl(['describe', 'pods', '-n', 'kube-flannel']).catch(String);
      throw new Error(`${String(e)}\n${describe}\n${(await Promise.all(lab.hosts.map((h) => flannelLogs(h.name)))).join('\n')}`.slice(-12_000));
    });
    expect(pods.map((p) => p.spec.nodeName).sort()).toEqual(['a', 'b']);
    for (const p of pods) {
      const h = lab.host(p.spec.nodeName!);
      expect(p.spec.hostNetwork).toBe(true);
      expect(p.status?.podIP).toBe(h.ip);
      expect(p.status?.hostIP).toBe(h.ip);
    }
    // Not privileged: only the two capabilities added to Docker's defaults.
    const d = docker.get('a')!;
    const [id] = (await d.docker(['ps', '-q', '--filter', 'label=io.kubernetes.container.name=kube-flannel'])).split('\n');
    const hc = JSON.parse(await d.docker(['inspect', '--format', '{{json .HostConfig}}', id!])) as { Privileged: boolean; CapAdd: string[] | null };
    expect(hc.Privileged).toBe(false);
    expect([...(hc.CapAdd ?? [])].sort()).toEqual(['CAP_NET_ADMIN', 'CAP_NET_RAW']);
    const logs = await flannelLogs('a');
    expect(logs).toContain('using the Kubernetes subnet manager');
    expect(logs).toContain('"server":"https://10.254.0.1:443"');
  }, 240_000);

  it("each node's /run/flannel/subnet.env is its podCIDR; flannel.1 routes to the other's; the Nodes carry flannel's annotations and NetworkUnavailable=False", async () => {
    const cidr = new Map<string, string>();
    for (const h of lab.hosts) cidr.set(h.name, (await getNode(h.name)).spec.podCIDR!);
    expect(cidr.get('a')).not.toBe(cidr.get('b'));
    for (const h of lab.hosts) {
      const file = path.join(roots.get(h.name)!.dir, 'run', 'flannel', 'subnet.env');
      const env = await waitFor(`subnet.env of ${h.name}`, () => readEnvFile(file), 30_000, 500);
      expect(env.FLANNEL_NETWORK).toBe(NETWORK);
      const [net] = cidr.get(h.name)!.split('/');
      expect(env.FLANNEL_SUBNET).toBe(`${net!.replace(/\.0$/, '.1')}/24`);
      expect(env.FLANNEL_IPMASQ).toBe('true');
      const other = cidr.get(h.name === 'a' ? 'b' : 'a')!;
      const routes = await waitFor(`${h.name}'s route to ${other}`, async () => {
        const rs = await ipJson<{ dst: string; gateway?: string }[]>(h, ['route', 'show', 'dev', 'flannel.1']);
        return rs.some((r) => r.dst === other) ? rs : undefined;
      }, 30_000, 500);
      expect(routes.find((r) => r.dst === other)?.gateway).toBe(other.split('/')[0]);
      const n = await getNode(h.name);
      const a = n.metadata.annotations ?? {};
      expect(a[`${P}/kube-subnet-manager`]).toBe('true');
      expect(a[`${P}/backend-type`]).toBe('vxlan');
      expect(a[`${P}/public-ip`]).toBe(h.ip);
      expect(JSON.parse(a[`${P}/backend-data`] ?? '{}')).toEqual({ VNI: 1, VtepMAC: expect.stringMatching(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/) });
      const c = n.status?.conditions?.find((x) => x.type === 'NetworkUnavailable');
      expect(c).toMatchObject({ status: 'False', reason: 'FlannelIsUp' });
    }
    // Through the overlay: node a to node b's flannel.1 address (the .0 of its podCIDR), over VXLAN.
    const bVtep = cidr.get('b')!.split('/')[0]!;
    expect((await ping(lab.host('a'), bVtep, { count: 3, timeoutMs: 15_000 })).ok).toBe(true);
  }, 120_000);
});
