// flanneld on the Kubernetes API (--kube-subnet-mgr), as kube-flannel runs it: etcd, the apiserver (Node,RBAC)
// and the controller manager's node IPAM (--allocate-node-cidrs) in the lab's switch namespace; two hosts
// with a Node each and flanneld (vxlan) under the flannel ServiceAccount's identity, bound by the
// ClusterRole of manifests/kube-flannel.yml, the network config its ConfigMap's net-conf.json. The subnet
// is the Node's podCIDR, the Node carries flannel's annotations and NetworkUnavailable=False, pods on the
// two hosts reach each other over VXLAN, a Node with garbage annotations is skipped, and a deleted Node's
// route, neighbour and FDB entry go.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { writeUserKubeconfig } from '../../apiserver/index.js';
import { type EtcdServer, SECURE_APISERVER_ARGS, writeDaemonKubeconfig } from '../harness/index.js';
import { FLANNELD, REPO, gwOf, hasLog, ipJson, netOf, readEnvFile, startLabEtcd, subnetFileOf, waitFor } from './flannel.js';
import { type Host, Lab, type Pod, type Proc, ping } from './lab.js';

const KUBECTL = path.join(REPO, '.cache', 'kubernetes-client', 'usr', 'bin', 'kubectl');
const APISERVER = path.join(REPO, 'dist', 'apiserver', 'main.js');
const CONTROLLER_MANAGER = path.join(REPO, 'dist', 'controllers', 'main.js');
const MANIFEST = path.join(REPO, 'manifests', 'kube-flannel.yml');
const PORT = 6443;
const P = 'flannel.alpha.coreos.com';

interface NodeJson {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: { podCIDR?: string; podCIDRs?: string[] };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

const routesOn = (h: Host) => ipJson<{ dst: string; gateway?: string; flags?: string[] }[]>(h, ['route', 'show', 'dev', 'flannel.1']);
const neighsOn = (h: Host) => ipJson<{ dst: string; lladdr?: string }[]>(h, ['neigh', 'show', 'dev', 'flannel.1']);
const fdbOn = async (h: Host) => JSON.parse((await h.run(['bridge', '-j', 'fdb', 'show', 'dev', 'flannel.1'])) || '[]') as { mac: string; dst?: string }[];
const macOf = async (h: Host) => (await ipJson<{ address: string }[]>(h, ['link', 'show', 'flannel.1']))[0]!.address;

describe.skipIf(!existsSync(KUBECTL))('flanneld --kube-subnet-mgr', () => {
  let lab: Lab;
  let etcd: EtcdServer;
  let apiserver: Proc;
  let cm: Proc;
  let dir: string;
  let admin: string;
  let flannelKubeconfig: string;
  let netConf: string;
  let networkCidr: string;
  const flanneld = new Map<string, Proc>();
  const pods = new Map<string, Pod>();
  const env = new Map<string, Record<string, string>>();

  const kubectl = async (args: readonly string[], input?: string): Promise<string> => {
    const r = await lab.switch.exec([KUBECTL, `--kubeconfig=${admin}`, `--cache-dir=${path.join(dir, 'kubectl-cache')}`, ...args], { timeoutMs: 30_000, env: { HOME: dir }, ...(input !== undefined && { input }) });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: exit ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const getNode = async (name: string): Promise<NodeJson> => JSON.parse(await kubectl(['get', 'node', name, '-o', 'json'])) as NodeJson;
  const createNode = (name: string, ip: string, extra: { annotations?: Record<string, string>; podCIDR?: string } = {}) =>
    kubectl(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name, ...(extra.annotations && { annotations: extra.annotations }) }, spec: extra.podCIDR ? { podCIDR: extra.podCIDR, podCIDRs: [extra.podCIDR] } : {}, status: { addresses: [{ type: 'InternalIP', address: ip }] } }));
  const nodeName = (h: Host) => `node-${h.name}`;

  const startFlanneld = (h: Host): Proc => {
    const p = h.spawn([process.execPath, FLANNELD, '--kube-subnet-mgr', `--kubeconfig-file=${flannelKubeconfig}`, `--net-config-path=${netConf}`, `--subnet-file=${subnetFileOf(h)}`, '--iface=eth0'], {
      env: { NODE_NAME: nodeName(h) },
      logFile: path.join(h.dir, 'flanneld.log'),
    });
    flanneld.set(h.name, p);
    return p;
  };
  const waitSubnetFile = async (h: Host): Promise<Record<string, string>> => {
    const p = flanneld.get(h.name)!;
    await waitFor(`flanneld on ${h.name} to write its subnet file`, () => {
      if (!p.running) throw new Error(`flanneld on ${h.name} exited: ${p.stderr().slice(-3000)}`);
      return hasLog(p, 'wrote subnet file');
    }, 60_000, 200);
    const e = await waitFor(`subnet.env on ${h.name}`, () => readEnvFile(subnetFileOf(h)), 5_000);
    env.set(h.name, e);
    return e;
  };

  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['a', 'b'] });
    dir = path.join(lab.dir, 'control-plane');
    etcd = await startLabEtcd(lab);
    const certs = path.join(dir, 'certs');
    admin = path.join(dir, 'admin.kubeconfig');
    const server = `https://${lab.switch.ip}:${PORT}`;
    apiserver = lab.switch.spawn(
      [process.execPath, APISERVER, `--etcd-servers=${etcd.endpoint}`, `--bind-address=${lab.switch.ip}`, `--advertise-address=${lab.switch.ip}`, `--secure-port=${PORT}`, `--cert-dir=${certs}`, `--write-kubeconfig=${admin}`, ...SECURE_APISERVER_ARGS],
      { logFile: path.join(lab.dir, 'apiserver.log') },
    );
    let last = '';
    const ok = await waitFor('the apiserver ready', async () => existsSync(admin) && (await kubectl(['get', '--raw=/readyz']).catch((e: unknown) => ((last = String(e)), ''))).trim() === 'ok', 60_000, 250).catch(() => false);
    if (!ok) throw new Error(`the apiserver did not become ready: ${last}\n${apiserver.stderr()}`.slice(0, 4000));

    // The manifest as a user applies it: every object must be accepted (no DaemonSet controller runs here).
    const manifest = await readFile(MANIFEST, 'utf8');
    await kubectl(['apply', '-f', '-'], manifest);
    const docs = parseAllDocuments(manifest).map((d) => d.toJSON() as { kind: string; data?: Record<string, string> });
    const cfgMap = docs.find((d) => d.kind === 'ConfigMap')!;
    netConf = path.join(lab.dir, 'net-conf.json');
    await writeFile(netConf, cfgMap.data!['net-conf.json']!);
    networkCidr = (JSON.parse(cfgMap.data!['net-conf.json']!) as { Network: string }).Network;

    const cmConfig = await writeDaemonKubeconfig(certs, server, dir, 'kube-controller-manager');
    cm = lab.switch.spawn(
      [process.execPath, CONTROLLER_MANAGER, `--kubeconfig=${cmConfig}`, '--secure-port=0', '--controllers=nodeipam', '--allocate-node-cidrs=true', `--cluster-cidr=${networkCidr}`, '--node-cidr-mask-size=24'],
      { logFile: path.join(lab.dir, 'controller-manager.log') },
    );
    // flanneld as the DaemonSet's pods are: the flannel ServiceAccount of kube-flannel.
    flannelKubeconfig = path.join(dir, 'flannel.kubeconfig');
    await writeUserKubeconfig({ certDir: certs, server, file: flannelKubeconfig, user: 'system:serviceaccount:kube-flannel:flannel', groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-flannel'] });
  }, 120_000);

  afterAll(async () => {
    await etcd?.destroy().catch(() => undefined);
    await lab?.destroy();
  });

  it('waits for its Node and podCIDR, then takes the podCIDR as its subnet', async () => {
    const a = lab.host('a');
    const fa = startFlanneld(a);
    await waitFor('the wait for the Node', () => hasLog(fa, /^waiting for the node: it does not exist yet/), 30_000);
    await createNode(nodeName(a), a.ip);
    const ea = await waitSubnetFile(a);
    const na = await getNode(nodeName(a));
    expect(na.spec.podCIDR).toMatch(/^10\.244\.\d+\.0\/24$/);
    expect(ea).toEqual({ FLANNEL_NETWORK: networkCidr, FLANNEL_SUBNET: na.spec.podCIDR!.replace(/\.0\/24$/, '.1/24'), FLANNEL_MTU: '1450', FLANNEL_IPMASQ: 'false' });

    const b = lab.host('b');
    await createNode(nodeName(b), b.ip);
    startFlanneld(b);
    const eb = await waitSubnetFile(b);
    const nb = await getNode(nodeName(b));
    expect(eb.FLANNEL_SUBNET).toBe(nb.spec.podCIDR!.replace(/\.0\/24$/, '.1/24'));
    expect(nb.spec.podCIDR).not.toBe(na.spec.podCIDR);
  });

  it('writes flannel\'s annotations and NetworkUnavailable=False (FlannelIsUp) on each Node', async () => {
    for (const h of lab.hosts) {
      const n = await waitFor(`the condition on ${nodeName(h)}`, async () => {
        const n = await getNode(nodeName(h));
        return n.status?.conditions?.some((c) => c.type === 'NetworkUnavailable') ? n : undefined;
      }, 30_000, 500);
      const ann = n.metadata.annotations ?? {};
      expect(ann[`${P}/kube-subnet-manager`]).toBe('true');
      expect(ann[`${P}/backend-type`]).toBe('vxlan');
      expect(JSON.parse(ann[`${P}/backend-data`]!)).toEqual({ VNI: 1, VtepMAC: await macOf(h) });
      expect(ann[`${P}/public-ip`]).toBe(h.ip);
      expect(n.status!.conditions!.find((c) => c.type === 'NetworkUnavailable')).toMatchObject({ status: 'False', reason: 'FlannelIsUp', message: 'Flannel is running on this node' });
    }
    // flanneld held only the ClusterRole's rights: nothing it did was refused.
    const log = await readFile(path.join(lab.dir, 'apiserver.log'), 'utf8').catch(() => '');
    expect(log.split('\n').filter((l) => l.includes('"request forbidden"') && l.includes('system:serviceaccount:kube-flannel:flannel'))).toEqual([]);
  });

  it('programs the route, neighbour and FDB entry to the peer, and pods on the two hosts talk', async () => {
    const [a, b] = [lab.host('a'), lab.host('b')];
    for (const [h, peer] of [
      [a, b],
      [b, a],
    ] as const) {
      const sn = env.get(peer.name)!.FLANNEL_SUBNET!;
      await waitFor(`${h.name}'s route to ${peer.name}`, async () => (await routesOn(h)).some((r) => r.dst === netOf(sn)), 30_000, 200);
      expect((await routesOn(h)).find((r) => r.dst === netOf(sn))).toMatchObject({ gateway: gwOf(sn), flags: expect.arrayContaining(['onlink']) as unknown });
      const mac = await macOf(peer);
      expect(await neighsOn(h)).toContainEqual(expect.objectContaining({ dst: gwOf(sn), lladdr: mac }));
      expect(await fdbOn(h)).toContainEqual(expect.objectContaining({ mac, dst: peer.ip }));
    }
    for (const h of [a, b]) pods.set(h.name, await h.addPod('p1', { cidr: env.get(h.name)!.FLANNEL_SUBNET!, mtu: Number(env.get(h.name)!.FLANNEL_MTU) }));
    expect((await ping(pods.get('a')!, pods.get('b')!.ip, { count: 3, timeoutMs: 15_000 })).ok).toBe(true);
    expect((await ping(pods.get('b')!, pods.get('a')!.ip, { count: 3, timeoutMs: 15_000 })).ok).toBe(true);
  });

  it('logs and skips a Node with garbage backend-data, and keeps running', async () => {
    const a = lab.host('a');
    const garbage = { [`${P}/kube-subnet-manager`]: 'true', [`${P}/backend-type`]: 'vxlan', [`${P}/backend-data`]: '{"VNI":1,"VtepMAC":', [`${P}/public-ip`]: '192.0.2.200' };
    await createNode('node-garbage', '192.0.2.200', { annotations: garbage, podCIDR: '10.244.250.0/24' });
    const fa = flanneld.get('a')!;
    await waitFor('the skipped node in the log', () => hasLog(fa, 'skipping corrupt lease', { key: 'node-garbage' }), 30_000, 200);
    const rec = fa.stderr().split('\n').find((l) => l.includes('skipping corrupt lease') && l.includes('node-garbage'))!;
    expect(rec).toContain(`annotation ${P}/backend-data is not JSON`);
    expect(fa.running).toBe(true);
    expect((await routesOn(a)).some((r) => r.dst === '10.244.250.0/24')).toBe(false);
    expect((await ping(pods.get('a')!, pods.get('b')!.ip, { count: 2, timeoutMs: 10_000 })).ok).toBe(true);
    await kubectl(['delete', 'node', 'node-garbage']);
  });

  it('annotates its Node again when a user strips the annotations', async () => {
    const [a, b] = [lab.host('a'), lab.host('b')];
    const fa = flanneld.get('a')!;
    await kubectl(['annotate', 'node', nodeName(a), `${P}/kube-subnet-manager-`, `${P}/backend-data-`]);
    await waitFor('flanneld to notice', () => hasLog(fa, /^our Node lost its flannel annotations/), 30_000, 200);
    const n = await waitFor('the annotations back', async () => {
      const n = await getNode(nodeName(a));
      return n.metadata.annotations?.[`${P}/kube-subnet-manager`] === 'true' && n.metadata.annotations[`${P}/backend-data`] ? n : undefined;
    }, 30_000, 300);
    expect(JSON.parse(n.metadata.annotations![`${P}/backend-data`]!)).toEqual({ VNI: 1, VtepMAC: await macOf(a) });
    const sa = env.get('a')!.FLANNEL_SUBNET!;
    await waitFor('b to route to a again', async () => (await routesOn(b)).some((r) => r.dst === netOf(sa)), 30_000, 200);
    expect(await readEnvFile(subnetFileOf(a))).toEqual(env.get('a'));
    expect((await ping(pods.get('b')!, pods.get('a')!.ip, { count: 2, timeoutMs: 10_000 })).ok).toBe(true);
  });

  it('removes a deleted Node\'s route, neighbour and FDB entry', async () => {
    const [a, b] = [lab.host('a'), lab.host('b')];
    const sb = env.get('b')!.FLANNEL_SUBNET!;
    const bMac = await macOf(b);
    const fb = flanneld.get('b')!;
    fb.kill('SIGTERM');
    expect(await fb.wait(15_000)).toMatchObject({ code: 0 });
    await kubectl(['delete', 'node', nodeName(b)]);
    await waitFor('a to forget b', async () => {
      const [routes, neighs, fdb] = await Promise.all([routesOn(a), neighsOn(a), fdbOn(a)]);
      return !routes.some((r) => r.dst === netOf(sb)) && !neighs.some((n) => n.dst === gwOf(sb)) && !fdb.some((f) => f.mac === bMac);
    }, 30_000, 200);
    expect(flanneld.get('a')!.running).toBe(true);
    expect(cm.running).toBe(true);
  });
});
