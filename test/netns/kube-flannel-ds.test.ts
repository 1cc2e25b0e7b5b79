// flanneld as users run it: `kubectl apply -f manifests/kube-flannel.yml`, nothing of flannel's started by
// the lab. The control plane in the switch namespace (kube-apiserver under Node,RBAC, kube-controller-manager
// with its node IPAM, --allocate-node-cidrs over the manifest's Network, and its DaemonSet controller;
// kube-scheduler binds the daemon pods, as in Kubernetes); two nodes with containerd, dockerd and a kubelet in
// a mount namespace of the node's own (node-root.ts: the manifest's hostPaths /run/flannel, /etc/cni/net.d,
// /opt/cni/bin, /opt/flannel-ts, /run/xtables.lock are the node's, never the machine's) and kube-proxy (the
// host-network pods reach the API in-cluster through the `kubernetes` Service).
// Checked: the daemon pods land on the NotReady, tainted nodes (the manifest's toleration and the DaemonSet
// controller's), run their init containers (the CNI plugin and conflist into the node's directories) and
// flanneld with the service account's in-cluster config and the downward API's POD_NAME/POD_NAMESPACE;
// subnet.env is the Node's podCIDR, the Nodes get flannel's annotations, NetworkUnavailable=False and Ready;
// a daemon pod deleted is recreated, and the new flanneld rebuilds the VXLAN device deleted meanwhile.
//
// The kubelets run with --network-plugin=cni, as a kubelet of Kubernetes 1.20–1.23 under kube-flannel.yml:
// NotReady until the init container installs the conflist (the host-network daemon pods run meanwhile),
// then ordinary pods get their interface and address from it (flannel → bridge cni0 → host-local, from
// /opt/cni/bin and Debian's /usr/lib/cni), in the node's podCIDR; a restarted kubelet adds no pod again,
// and a deleted pod's address is released. Docker's own bridge is out of the way on 172.31.254.0/24.
import { existsSync } from 'node:fs';
import { readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { SECURE_APISERVER_ARGS, writeDaemonKubeconfig, type EtcdServer } from '../harness/index.js';
import { BUSYBOX_IMAGE, type Dockerd, startDockerd } from './docker.js';
import { REPO, ipJson, readEnvFile, startLabEtcd, waitFor } from './flannel.js';
import { importProjectImage } from './images.js';
import { FAST_FLAGS, KUBELET } from './kubelet.js';
import { type Host, Lab, type Proc } from './lab.js';
import { type NodeRoot, startNodeRoot } from './node-root.js';
import { startProxy } from './proxy.js';

const KUBECTL = path.join(REPO, '.cache', 'kubernetes-client', 'usr', 'bin', 'kubectl');
const KUBECTL_133 = '/usr/lib/google-cloud-sdk/bin/kubectl.1.33';
const APISERVER = path.join(REPO, 'dist', 'apiserver', 'main.js');
const CONTROLLER_MANAGER = path.join(REPO, 'dist', 'controllers', 'main.js');
const SCHEDULER = path.join(REPO, 'dist', 'scheduler', 'main.js');
const MANIFEST = path.join(REPO, 'manifests', 'kube-flannel.yml');
const SECURE = 6443;
const NETWORK = '10.244.0.0/16';
const P = 'flannel.alpha.coreos.com';
const NOT_READY = 'node.kubernetes.io/not-ready';
/** The top directories of the manifest's hostPath volumes, each an overlay in a node's mount namespace. */
const TOPS = ['/run', '/etc', '/opt', '/var'];
/** The kubelet's CNI flags: the manifest's conf dir and plugin dir, and Debian's plugins for the bridge. */
const CNI_FLAGS = ['--network-plugin=cni', '--cni-conf-dir=/etc/cni/net.d', '--cni-bin-dir=/opt/cni/bin,/usr/lib/cni'];
const NOT_READY_CNI = 'container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:docker: network plugin is not ready: cni config uninitialized';

interface ContainerStatusJson {
  name: string;
  ready?: boolean;
  restartCount?: number;
  state?: { running?: object; terminated?: { exitCode: number; reason?: string }; waiting?: { reason?: string } };
}
interface PodJson {
  metadata: { name: string; uid: string; deletionTimestamp?: string };
  spec: { nodeName?: string; hostNetwork?: boolean };
  status?: { phase?: string; podIP?: string; hostIP?: string; conditions?: { type: string; status: string }[]; initContainerStatuses?: ContainerStatusJson[] };
}
interface NodeJson {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: { podCIDR?: string; taints?: { key: string; effect: string }[] };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}
const isReady = (p: PodJson): boolean => p.status?.phase === 'Running' && !!p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
const gw = (cidr: string): string => cidr.split('/')[0]!.replace(/\.0$/, '.1');

describe.skipIf(!existsSync(KUBECTL))('kube-flannel.yml: flanneld as a DaemonSet of the project image', () => {
  let lab: Lab;
  let etcd: EtcdServer;
  const procs: Proc[] = [];
  const docker = new Map<string, Dockerd>();
  const roots = new Map<string, NodeRoot>();
  const cidr = new Map<string, string>();
  const kubelets = new Map<string, Proc>();
  let kubeletSeq = 0;
  let dir: string;
  let kubeconfig: string;
  let cniConf: string;

  const kubectlWith = (bin: string, args: readonly string[], input?: string) =>
    lab.switch.exec([bin, `--kubeconfig=${kubeconfig}`, `--cache-dir=${path.join(dir, `kubectl-cache-${path.basename(bin)}`)}`, ...args], { timeoutMs: 60_000, env: { PATH: process.env.PATH ?? '', HOME: dir }, ...(input !== undefined && { input }) });
  const kubectl = async (args: readonly string[], input?: string, bin = KUBECTL): Promise<string> => {
    const r = await kubectlWith(bin, args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: exit ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const flannelPods = async (): Promise<PodJson[]> =>
    (JSON.parse(await kubectl(['get', 'pods', '-n', 'kube-flannel', '-l', 'app=flannel', '-o', 'json'])) as { items: PodJson[] }).items.filter((p) => !p.metadata.deletionTimestamp);
  const getNode = async (name: string): Promise<NodeJson> => JSON.parse(await kubectl(['get', 'node', name, '-o', 'json'])) as NodeJson;
  const containerIds = async (node: string, container: string, pod?: string): Promise<string[]> =>
    (await docker.get(node)!.docker(['ps', '-a', '-q', '--filter', `label=io.kubernetes.container.name=${container}`, ...(pod ? ['--filter', `label=io.kubernetes.pod.name=${pod}`] : [])])).split('\n').filter(Boolean);
  const flannelLogs = async (node: string): Promise<string> => {
    const out = await Promise.all((await containerIds(node, 'kube-flannel')).map(async (id) => (await docker.get(node)!.dockerExec(['logs', '--tail', '40', id])).stderr));
    return `${node}: ${out.join('\n---\n') || '(no kube-flannel container)'}`;
  };
  const diagnose = async (e: unknown): Promise<never> => {
    const describe = await kubectl(['describe', 'pods', '-n', 'kube-flannel']).catch(String);
    const logs = await Promise.all(lab.hosts.map((h) => flannelLogs(h.name).catch(String)));
    const kl = lab.hosts.map((h) => `${h.name} kubelet: ${(kubelets.get(h.name)?.stderr() ?? '').split('\n').filter((l) => /"level":(40|50)/.test(l)).slice(-15).join('\n')}`);
    throw new Error(`${String(e)}\n${describe}\n${logs.join('\n')}\n${kl.join('\n')}`.slice(-15_000));
  };
  /** `docker exec` in the single container of an ordinary pod. */
  const execIn = async (node: string, pod: string, argv: readonly string[]) => {
    const [id] = await containerIds(node, 'c', pod);
    if (!id) throw new Error(`no container of pod ${pod} on ${node}`);
    return docker.get(node)!.dockerExec(['exec', id, ...argv], { timeoutMs: 20_000 });
  };
  /** The full ID of a pod's running sandbox (libcni's cache names it). */
  const sandboxOf = async (node: string, pod: string): Promise<string> => {
    const out = await docker.get(node)!.docker(['ps', '--no-trunc', '-q', '--filter', 'label=io.kubernetes.container.name=POD', '--filter', `label=io.kubernetes.pod.name=${pod}`]);
    const id = out.split('\n').find(Boolean);
    if (!id) throw new Error(`no running sandbox of ${pod} on ${node}`);
    return id;
  };
  const pingOk = async (node: string, pod: string, ip: string): Promise<boolean> => (await execIn(node, pod, ['ping', '-c', '2', '-W', '2', ip])).code === 0;

  const kubeletArgv = new Map<string, string[]>();
  const startKubelet = (h: Host): Proc => {
    const p = h.spawn(roots.get(h.name)!.wrap(kubeletArgv.get(h.name)!), { logFile: path.join(h.dir, `kubelet-${++kubeletSeq}.log`) });
    procs.push(p);
    kubelets.set(h.name, p);
    return p;
  };

  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['a', 'b'] });
    const sw = lab.switch;
    etcd = await startLabEtcd(lab);
    dir = path.join(lab.dir, 'control-plane');
    const certs = path.join(dir, 'certs');
    kubeconfig = path.join(dir, 'admin.kubeconfig');
    const api = sw.spawn(
      [process.execPath, APISERVER, `--etcd-servers=${etcd.endpoint}`, `--bind-address=${sw.ip}`, `--advertise-address=${sw.ip}`, `--secure-port=${SECURE}`, `--cert-dir=${certs}`, `--write-kubeconfig=${kubeconfig}`, ...SECURE_APISERVER_ARGS],
      { logFile: path.join(dir, 'apiserver.log') },
    );
    procs.push(api);
    let last = '';
    const ok = await waitFor('the apiserver ready', async () => existsSync(kubeconfig) && (await kubectl(['get', '--raw=/readyz']).catch((e: unknown) => ((last = String(e)), ''))).trim() === 'ok', 60_000, 250).catch(() => false);
    if (!ok) throw new Error(`the apiserver did not become ready: ${last}\n${api.stderr()}`.slice(0, 4000));
    const server = `https://${sw.ip}:${SECURE}`;
    const cm = await writeDaemonKubeconfig(certs, server, dir, 'kube-controller-manager');
    procs.push(sw.spawn([process.execPath, CONTROLLER_MANAGER, `--kubeconfig=${cm}`, '--secure-port=0', '--allocate-node-cidrs=true', `--cluster-cidr=${NETWORK}`, '--node-cidr-mask-size=24'], { logFile: path.join(dir, 'controller-manager.log') }));
    const sched = await writeDaemonKubeconfig(certs, server, dir, 'kube-scheduler');
    procs.push(sw.spawn([process.execPath, SCHEDULER, `--kubeconfig=${sched}`, '--secure-port=0'], { logFile: path.join(dir, 'scheduler.log') }));
    const proxyConfig = await writeDaemonKubeconfig(certs, server, dir, 'kube-proxy');

    // The kubelets first: each registers its Node (NotReady: no CNI config yet) while Docker is not up,
    // and the node IPAM gives it a podCIDR, which flanneld takes, and the CNI plugins from it.
    for (const h of lab.hosts) {
      const root = await startNodeRoot(h, TOPS);
      roots.set(h.name, root);
      const kc = await writeDaemonKubeconfig(certs, server, dir, 'kubelet', h.name);
      const argv = [process.execPath, KUBELET, `--kubeconfig=${kc}`, `--hostname-override=${h.name}`, `--node-ip=${h.ip}`, `--docker-endpoint=unix://${path.join(h.dir, 'dk', 'd.sock')}`, `--root-dir=${path.join(h.dir, 'kubelet')}`, '--healthz-port=10248', ...FAST_FLAGS, ...CNI_FLAGS];
      kubeletArgv.set(h.name, argv);
      startKubelet(h);
      procs.push(startProxy(h, etcd, { tag: 'api', storeArgs: [`--kubeconfig=${proxyConfig}`], args: [`--cluster-cidr=${NETWORK}`, '--min-sync-period=200ms'] }));
    }
    await waitFor('both Nodes registered with a podCIDR', async () => {
      const ns = await Promise.all(lab.hosts.map((h) => getNode(h.name).catch(() => undefined)));
      if (!ns.every((n) => n?.spec.podCIDR)) return false;
      for (const n of ns) cidr.set(n!.metadata.name, n!.spec.podCIDR!);
      return true;
    }, 90_000, 500);
    const started = await Promise.allSettled(lab.hosts.map(async (h) => docker.set(h.name, await startDockerd(h, { wrap: roots.get(h.name)!.wrap, bip: '172.31.254.1/24', ipMasq: false }))));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const image = await importProjectImage([...docker.values()]);
    process.stdout.write(`project image: tar ${image.tar.built ? 'built' : 'from the cache'} in ${image.tar.ms} ms, docker import ${image.importMs.join(' / ')} ms\n`);
    const manifest = await readFile(MANIFEST, 'utf8');
    const cfg = parseAllDocuments(manifest).map((d) => d.toJSON() as { kind: string; data?: Record<string, string> }).find((d) => d.kind === 'ConfigMap')!;
    cniConf = cfg.data!['cni-conf.json']!;
    expect(JSON.parse(cfg.data!['net-conf.json']!)).toMatchObject({ Network: NETWORK });
  }, 300_000);

  afterAll(async () => {
    await Promise.allSettled([...docker.values()].map((d) => d.stop()));
    for (const p of [...procs].reverse()) await p.stop(5_000).catch(() => undefined);
    await Promise.allSettled([...roots.values()].map((r) => r.stop()));
    await etcd?.destroy().catch(() => undefined);
    await lab?.destroy();
  }, 120_000);

  it('kubectl apply -f manifests/kube-flannel.yml: a kube-flannel pod Running and Ready on each node, on the node network, its init containers done', async () => {
    // Before flannel the nodes are NotReady (no CNI config) and tainted not-ready:NoSchedule, which the
    // manifest's toleration lets the daemon pods through (no NoExecute taint: with every node of the zone
    // NotReady, a full disruption, the node lifecycle controller adds none, as Kubernetes').
    for (const h of lab.hosts) {
      const n = await waitFor(`${h.name} tainted not-ready`, async () => {
        const n = await getNode(h.name);
        return (n.spec.taints ?? []).some((t) => t.key === NOT_READY && t.effect === 'NoSchedule') ? n : undefined;
      }, 60_000, 500);
      expect(n.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', message: NOT_READY_CNI });
    }
    const out = await kubectl(['apply', '-f', MANIFEST]);
    for (const o of ['namespace/kube-flannel', 'serviceaccount/flannel', 'clusterrole.rbac.authorization.k8s.io/flannel', 'clusterrolebinding.rbac.authorization.k8s.io/flannel', 'configmap/kube-flannel-cfg', 'daemonset.apps/kube-flannel-ds']) {
      expect(out).toContain(`${o} created`);
    }
    const pods = await waitFor('a Ready kube-flannel pod per node', async () => {
      const ps = await flannelPods();
      return ps.length === 2 && ps.every(isReady) ? ps : undefined;
    }, 240_000, 1000).catch(diagnose);
    // kubectl 1.33 sees the rollout done.
    expect(await kubectl(['rollout', 'status', '-n', 'kube-flannel', 'daemonset/kube-flannel-ds', '--timeout=60s'], undefined, KUBECTL_133)).toContain('successfully rolled out');
    expect(pods.map((p) => p.spec.nodeName).sort()).toEqual(['a', 'b']);
    // Applied again, by the other kubectl: nothing changes, no daemon pod is replaced.
    const again = await kubectl(['apply', '-f', MANIFEST], undefined, KUBECTL_133);
    for (const o of ['namespace/kube-flannel', 'configmap/kube-flannel-cfg', 'daemonset.apps/kube-flannel-ds']) expect(again).toContain(`${o} unchanged`);
    for (const p of pods) {
      const h = lab.host(p.spec.nodeName!);
      expect(p.spec.hostNetwork).toBe(true);
      expect(p.status?.podIP).toBe(h.ip);
      expect(p.status?.hostIP).toBe(h.ip);
    }
    // Not privileged: only the two capabilities added to Docker's defaults.
    const [id] = await containerIds('a', 'kube-flannel');
    const hc = JSON.parse(await docker.get('a')!.docker(['inspect', '--format', '{{json .HostConfig}}', id!])) as { Privileged: boolean; CapAdd: string[] | null };
    expect(hc.Privileged).toBe(false);
    expect([...(hc.CapAdd ?? [])].sort()).toEqual(['CAP_NET_ADMIN', 'CAP_NET_RAW']);
    expect((await flannelPods()).map((p) => p.metadata.uid).sort()).toEqual(pods.map((p) => p.metadata.uid).sort());
    const logs = await flannelLogs('a');
    expect(logs).toContain('using the Kubernetes subnet manager');
    expect(logs).toContain('"server":"https://10.254.0.1:443"');
    for (const p of pods) {
      expect(p.status?.initContainerStatuses?.map((s) => [s.name, s.state?.terminated?.exitCode])).toEqual([
        ['install-cni-plugin', 0],
        ['install-cni', 0],
      ]);
    }
  }, 400_000);

  it("the init containers installed the CNI plugin and the conflist into the node's own directories", async () => {
    for (const h of lab.hosts) {
      const r = roots.get(h.name)!;
      expect(await readFile(r.pathOf('/etc/cni/net.d/10-flannel.conflist'), 'utf8')).toBe(cniConf);
      expect(await readlink(r.pathOf('/opt/cni/bin/flannel'))).toBe('/opt/flannel-ts/dist/cni/flannel');
      expect(existsSync(r.pathOf('/opt/flannel-ts/dist/cni/flannel'))).toBe(true);
      expect(existsSync(r.pathOf('/opt/flannel-ts/dist/flanneld/main.js'))).toBe(true);
      // The plugin runs on the node, from what the init container copied there.
      const v = await h.exec(r.wrap(['sh', '-c', 'CNI_COMMAND=VERSION exec /opt/cni/bin/flannel </dev/null']), { timeoutMs: 20_000 });
      expect(v.code, v.stderr).toBe(0);
      expect(JSON.parse(v.stdout)).toMatchObject({ supportedVersions: expect.arrayContaining(['1.0.0']) as unknown });
    }
    // The machine's own directories were never written.
    for (const p of ['/run/flannel', '/etc/cni', '/opt/cni', '/opt/flannel-ts', '/var/lib/cni']) expect(existsSync(p)).toBe(false);
  });

  it("each node's /run/flannel/subnet.env is its podCIDR; the Nodes carry flannel's annotations, NetworkUnavailable=False and become Ready", async () => {
    expect(cidr.get('a')).not.toBe(cidr.get('b'));
    for (const h of lab.hosts) {
      const env = await waitFor(`subnet.env of ${h.name}`, () => readEnvFile(roots.get(h.name)!.pathOf('/run/flannel/subnet.env')), 30_000, 500);
      expect(env).toEqual({ FLANNEL_NETWORK: NETWORK, FLANNEL_SUBNET: `${gw(cidr.get(h.name)!)}/24`, FLANNEL_MTU: '1450', FLANNEL_IPMASQ: 'true' });
      const n = await waitFor(`${h.name} Ready`, async () => {
        const n = await getNode(h.name);
        return n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? n : undefined;
      }, 60_000, 500);
      expect(await waitFor(`${h.name} without the not-ready taints`, async () => ((await getNode(h.name)).spec.taints ?? []).every((t) => t.key !== NOT_READY) || undefined, 60_000, 500)).toBe(true);
      const a = n.metadata.annotations ?? {};
      expect(a[`${P}/kube-subnet-manager`]).toBe('true');
      expect(a[`${P}/backend-type`]).toBe('vxlan');
      expect(a[`${P}/public-ip`]).toBe(h.ip);
      expect(JSON.parse(a[`${P}/backend-data`] ?? '{}')).toEqual({ VNI: 1, VtepMAC: expect.stringMatching(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/) as unknown });
      expect(n.status?.conditions?.find((x) => x.type === 'NetworkUnavailable')).toMatchObject({ status: 'False', reason: 'FlannelIsUp' });
    }
  }, 120_000);

  const routeTo = async (h: Host, dst: string) => (await ipJson<{ dst: string; gateway?: string }[]>(h, ['route', 'show', 'dev', 'flannel.1'])).find((r) => r.dst === dst);
  const podIp = new Map<string, string>();

  it('ordinary pods on the two nodes reach each other over the flannel network', async () => {
    for (const node of ['a', 'b']) {
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: `p-${node}`, namespace: 'default' }, spec: { nodeName: node, terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: BUSYBOX_IMAGE, imagePullPolicy: 'Never', command: ['sleep', '3600'] }] } };
      await kubectl(['create', '-f', '-'], JSON.stringify(pod));
    }
    for (const node of ['a', 'b']) {
      const p = await waitFor(`pod p-${node} Running`, async () => {
        const p = JSON.parse(await kubectl(['get', 'pod', `p-${node}`, '-o', 'json'])) as PodJson;
        return p.status?.phase === 'Running' && p.status.podIP ? p : undefined;
      }, 90_000, 500).catch(diagnose);
      // The flannel plugin's host-local range is the node's podCIDR, so the pod's address is in it.
      expect(p.status!.podIP!.startsWith(cidr.get(node)!.split('.').slice(0, 3).join('.') + '.')).toBe(true);
      podIp.set(node, p.status!.podIP!);
      // Through CNI: the sandbox on NetworkMode none, the address host-local's, the result in libcni's cache, cni0 the gateway.
      const sb = await sandboxOf(node, `p-${node}`);
      expect((await docker.get(node)!.docker(['inspect', '--format', '{{.HostConfig.NetworkMode}}', sb])).trim()).toBe('none');
      const r = roots.get(node)!;
      expect(existsSync(r.pathOf(`/var/lib/cni/networks/cbr0/${p.status!.podIP!}`))).toBe(true);
      const cached = JSON.parse(await readFile(r.pathOf(`/var/lib/cni/cache/results/cbr0-${sb}-eth0`), 'utf8')) as { kind: string; result: { ips: { address: string }[] } };
      expect(cached.kind).toBe('cniCacheV1');
      expect(cached.result.ips.map((i) => i.address.split('/')[0])).toContain(p.status!.podIP);
      const cni0 = await ipJson<{ addr_info: { local: string; family: string }[] }[]>(lab.host(node), ['addr', 'show', 'dev', 'cni0']);
      expect(cni0[0]!.addr_info.filter((a) => a.family === 'inet').map((a) => a.local)).toEqual([gw(cidr.get(node)!)]);
    }
    for (const h of lab.hosts) {
      const other = cidr.get(h.name === 'a' ? 'b' : 'a')!;
      const r = await waitFor(`${h.name}'s route to ${other}`, () => routeTo(h, other), 30_000, 500);
      expect(r.gateway).toBe(other.split('/')[0]);
    }
    expect(await pingOk('a', 'p-a', podIp.get('b')!)).toBe(true);
    expect(await pingOk('b', 'p-b', podIp.get('a')!)).toBe(true);
  }, 200_000);

  it("a deleted kube-flannel pod is recreated by the DaemonSet, and the new one heals its node's network", async () => {
    const b = lab.host('b');
    const aCidr = cidr.get('a')!;
    const old = (await flannelPods()).find((p) => p.spec.nodeName === 'b')!;
    const [oldId] = await containerIds('b', 'kube-flannel', old.metadata.name);
    await kubectl(['delete', 'pod', '-n', 'kube-flannel', old.metadata.name, '--wait=false']);
    // Between the old flanneld's exit and the new one's start, b's VXLAN device goes, with its routes,
    // neighbours and FDB entries (a running flanneld would put it back at once: it watches for drift).
    await waitFor('the old kube-flannel container stopped', async () => (await docker.get('b')!.dockerExec(['inspect', '--format', '{{.State.Running}}', oldId!])).stdout.trim() !== 'true', 60_000, 100);
    await b.run(['ip', 'link', 'del', 'flannel.1']);
    const fresh = await waitFor('a new Ready kube-flannel pod on b', async () => {
      const p = (await flannelPods()).find((x) => x.spec.nodeName === 'b' && x.metadata.uid !== old.metadata.uid);
      return p && isReady(p) ? p : undefined;
    }, 180_000, 1000).catch(diagnose);
    expect(fresh.metadata.name).not.toBe(old.metadata.name);
    const r = await waitFor("b's route to a again", () => routeTo(b, aCidr), 60_000, 500);
    expect(r.gateway).toBe(aCidr.split('/')[0]);
    expect(await waitFor('b to reach a again', async () => (await pingOk('b', 'p-b', podIp.get('a')!)) || undefined, 30_000, 1000)).toBe(true);
    expect(await pingOk('a', 'p-a', podIp.get('b')!)).toBe(true);
  }, 300_000);

  it("a restarted kubelet adds no pod again; a deleted pod's address is released", async () => {
    const a = lab.host('a');
    const r = roots.get('a')!;
    await kubelets.get('a')!.stop(10_000);
    const fresh = startKubelet(a);
    await waitFor('the new kubelet reading the CNI cache', () => fresh.stderr().includes('CNI results read back from the cache'), 60_000, 250);
    // A few pod syncs and heartbeats.
    await new Promise((res) => setTimeout(res, 5_000));
    const p = JSON.parse(await kubectl(['get', 'pod', 'p-a', '-o', 'json'])) as PodJson;
    expect(p.status?.podIP).toBe(podIp.get('a'));
    expect(fresh.stderr()).not.toContain('pod network set up');
    expect(await pingOk('a', 'p-a', podIp.get('b')!)).toBe(true);
    const ipFile = r.pathOf(`/var/lib/cni/networks/cbr0/${podIp.get('a')!}`);
    expect(existsSync(ipFile)).toBe(true);
    const sb = await sandboxOf('a', 'p-a');
    await kubectl(['delete', 'pod', 'p-a', '--wait=false']);
    await waitFor("p-a's address released", () => !existsSync(ipFile), 60_000, 250).catch(diagnose);
    expect(existsSync(r.pathOf(`/var/lib/cni/cache/results/cbr0-${sb}-eth0`))).toBe(false);
    expect(fresh.stderr()).toContain('pod network torn down');
  }, 120_000);
});
